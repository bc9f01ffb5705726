//! What the public sees of a case, on SQLite and on PostgreSQL: four cases — a public-class
//! report by a citizen on the web, the same through Open311, a citizen's report of a private
//! class (a domestic dispute), and a case a dispatcher entered from a hotline call — each looked
//! at by seven viewers: the anonymous Open311 list, Open311's single request without and with
//! the tracking token, the tracking view with the right and a wrong token, a unit key and a
//! dispatcher key on the staff API. The expected outcome of every pair is written out below,
//! before the description is approved, after it is, and with `[public] descriptions = "never"`.

use crate::common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::cases::{BACKENDS, CaseApp, case_app};
use common::send;
use gridlink::cases::public_view::Descriptions;
use gridlink::spatial::distance::metres;
use serde_json::{Value, json};

/// A public class (上水井盖) and a private one (家庭纠纷).
const PUBLIC_CLASS: &str = "C0101";
const PRIVATE_CLASS: &str = "Z0203";
/// Written by the dispatcher for the staff only.
const INTERNAL_NOTE: &str = "内部：请派出所民警核实502室住户";
/// Written by the dispatcher for the public.
const PUBLIC_NOTE: &str = "已转交相关部门处理，感谢您的反映";
/// The web case's description as the dispatcher approves it (the flat number taken out).
const REDACTED: &str = "井盖缺失（门牌已隐去）";
/// Who reported: never public.
const REPORTER_NAME: &str = "张三";
const REPORTER_PHONE: &str = "13800000000";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Web,
    Open311,
    Private,
    Staff,
}

/// One row of the table: what each viewer gets of one kind of case.
struct Expected {
    kind: Kind,
    /// In the anonymous Open311 list.
    listed: bool,
    open311_without_token: StatusCode,
    open311_with_token: StatusCode,
    track_right_token: StatusCode,
    track_wrong_token: StatusCode,
    unit_key: StatusCode,
    dispatcher: StatusCode,
}

const OK: StatusCode = StatusCode::OK;
const NOT_FOUND: StatusCode = StatusCode::NOT_FOUND;

/// The table. A staff-entered case has no token at all: "right token" is tried with a made-up
/// one, and nothing public ever shows it.
const EXPECTED: [Expected; 4] = [
    Expected {
        kind: Kind::Web,
        listed: true,
        open311_without_token: OK,
        open311_with_token: OK,
        track_right_token: OK,
        track_wrong_token: NOT_FOUND,
        unit_key: OK,
        dispatcher: OK,
    },
    Expected {
        kind: Kind::Open311,
        listed: true,
        open311_without_token: OK,
        open311_with_token: OK,
        track_right_token: OK,
        track_wrong_token: NOT_FOUND,
        unit_key: OK,
        dispatcher: OK,
    },
    Expected {
        kind: Kind::Private,
        listed: false,
        open311_without_token: NOT_FOUND,
        open311_with_token: OK,
        track_right_token: OK,
        track_wrong_token: NOT_FOUND,
        unit_key: OK,
        dispatcher: OK,
    },
    Expected {
        kind: Kind::Staff,
        listed: false,
        open311_without_token: NOT_FOUND,
        open311_with_token: NOT_FOUND,
        track_right_token: NOT_FOUND,
        track_wrong_token: NOT_FOUND,
        unit_key: OK,
        dispatcher: OK,
    },
];

/// Which description a public viewer who may see the case reads, per phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    BeforeApproval,
    Approved,
    NeverPublished,
}

/// A reported case: its id, true position, description and token.
struct Reported {
    kind: Kind,
    id: i64,
    lon: f64,
    lat: f64,
    description: String,
    token: Option<String>,
}

impl Reported {
    /// The description public viewers read in a phase (when they may see the case at all).
    fn public_description(&self, phase: Phase) -> Option<&str> {
        match (phase, self.kind) {
            (Phase::Approved, Kind::Web) => Some(REDACTED),
            (Phase::Approved, _) => Some(&self.description),
            _ => None,
        }
    }
}

/// Points a few hundred metres apart in Nanqiao, with more digits than the 100 m squares'
/// centres have, so the exact values cannot hide in a coarsened one.
const POINTS: [(f64, f64); 4] = [
    (121.460217, 30.919134),
    (121.463273, 30.916562),
    (121.457384, 30.922417),
    (121.462051, 30.923789),
];

async fn get_text(app: &CaseApp, path: &str, key: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::get(path);
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    let (status, _, body) = send(app.app(), request.body(Body::empty()).unwrap()).await;
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

async fn report_all(app: &CaseApp) -> Vec<Reported> {
    let mut out = Vec::new();
    for (i, kind) in [Kind::Web, Kind::Open311, Kind::Private, Kind::Staff]
        .into_iter()
        .enumerate()
    {
        let (lon, lat) = POINTS[i];
        let description = format!("{kind:?}：井盖缺失，我家住3号楼502室");
        let (id, token, answer) = match kind {
            Kind::Web | Kind::Private => {
                let class = if kind == Kind::Web {
                    PUBLIC_CLASS
                } else {
                    PRIVATE_CLASS
                };
                let (status, body) = app
                    .call(
                        "POST",
                        "/api/cases",
                        None,
                        Some(json!({"class": class, "lon": lon, "lat": lat, "description": description,
                            "reporter": format!("{REPORTER_NAME} {REPORTER_PHONE}"), "address": "解放东路100弄3号502室"})),
                    )
                    .await;
                assert_eq!(status, StatusCode::CREATED, "{body}");
                let token = body["tracking_token"]
                    .as_str()
                    .expect("a token")
                    .to_string();
                assert_eq!(
                    body["tracking_url"],
                    format!("/api/track/{}?token={token}", body["id"])
                );
                (body["id"].as_i64().unwrap(), Some(token), body)
            }
            Kind::Open311 => {
                let form = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs([
                        ("service_code", PUBLIC_CLASS),
                        ("lat", &lat.to_string()),
                        ("long", &lon.to_string()),
                        ("description", &description),
                        ("first_name", "三"),
                        ("last_name", "张"),
                        ("phone", REPORTER_PHONE),
                        ("address_string", "解放东路100弄3号502室"),
                    ])
                    .finish();
                let request = Request::post("/open311/v2/requests.json")
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(Body::from(form))
                    .unwrap();
                let (status, _, bytes) = send(app.app(), request).await;
                let body: Value = serde_json::from_slice(&bytes).unwrap();
                assert_eq!(status, StatusCode::CREATED, "{body}");
                let token = body[0]["token"].as_str().expect("a token").to_string();
                (
                    body[0]["service_request_id"].as_i64().unwrap(),
                    Some(token),
                    body,
                )
            }
            Kind::Staff => {
                let (status, body) = app
                    .call(
                        "POST",
                        "/api/cases",
                        Some(&app.keys.dispatcher),
                        Some(json!({"class": PUBLIC_CLASS, "lon": lon, "lat": lat, "description": description,
                            "channel": "hotline_12345", "reporter": format!("{REPORTER_NAME} {REPORTER_PHONE}")})),
                    )
                    .await;
                assert_eq!(status, StatusCode::CREATED, "{body}");
                assert!(body.get("tracking_token").is_none(), "{body}");
                // Staff see their case as staff: exact place, text and reporter.
                assert_eq!(body["lon"], lon);
                assert_eq!(body["description"], description.as_str());
                (body["id"].as_i64().unwrap(), None, body)
            }
        };
        let reported = Reported {
            kind,
            id,
            lon,
            lat,
            description,
            token,
        };
        // A citizen's own answer is already the public view.
        if kind != Kind::Staff {
            let text = answer.to_string();
            assert_public_body(&text, &reported, Phase::BeforeApproval);
            if kind != Kind::Open311 {
                assert_coarsened(&answer, &reported);
                assert_eq!(answer["description"], Value::Null, "{answer}");
                assert_eq!(answer["listed"], kind == Kind::Web, "{answer}");
            }
        }
        out.push(reported);
    }
    out
}

/// Nothing a public body may never hold: the exact place, the reporter, the internal note,
/// the reporter's address, and an unapproved description.
fn assert_public_body(text: &str, case: &Reported, phase: Phase) {
    for secret in [
        INTERNAL_NOTE,
        "内部",
        REPORTER_NAME,
        "三 张",
        REPORTER_PHONE,
        "解放东路",
        &format!("{}", case.lon),
        &format!("{}", case.lat),
        "\"actor\"",
        "\"reporter\"",
        "\"cell\"",
    ] {
        assert!(
            !text.contains(secret),
            "{:?} {phase:?}: {secret:?} in a public body: {text}",
            case.kind
        );
    }
    if case.public_description(phase).is_none() {
        assert!(
            !text.contains("502室"),
            "{:?} {phase:?}: unapproved description in a public body: {text}",
            case.kind
        );
    }
}

/// The place in a public view (`lon`/`lat`, or Open311's `long`/`lat`) is within the 100 m
/// square of the true point, and not the true point.
fn assert_coarsened(view: &Value, case: &Reported) {
    let lon = view
        .get("lon")
        .or_else(|| view.get("long"))
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("no place in {view}"));
    let lat = view["lat"].as_f64().unwrap();
    let d = metres(
        geo::Coord {
            x: case.lon,
            y: case.lat,
        },
        geo::Coord { x: lon, y: lat },
    );
    assert!(d <= 72.0, "{:?}: moved {d} m", case.kind);
    assert!(d > 0.5, "{:?}: the exact point ({d} m)", case.kind);
}

/// Every viewer × every case, as the table says, in one phase.
async fn check_matrix(app: &CaseApp, cases: &[Reported], phase: Phase) {
    let (status, list_text) = get_text(app, "/open311/v2/requests.json", None).await;
    assert_eq!(status, OK, "{list_text}");
    let list = json_of(&list_text);
    let listed: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["service_request_id"].as_i64().unwrap())
        .collect();
    for expected in &EXPECTED {
        let case = cases.iter().find(|c| c.kind == expected.kind).unwrap();
        let what = format!("{:?} {phase:?}", case.kind);
        let id = case.id;
        let token = case.token.clone().unwrap_or_else(|| "0".repeat(32));

        // 1. The anonymous Open311 list.
        assert_eq!(listed.contains(&id), expected.listed, "{what}: list");
        if expected.listed {
            let entry = list
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["service_request_id"] == id)
                .unwrap();
            check_public_request(entry, case, phase);
        }
        assert_public_body(&list_text, case, phase);

        // 2.–5. Open311's single request and the tracking view.
        let viewers = [
            (
                format!("/open311/v2/requests/{id}.json"),
                expected.open311_without_token,
                "open311 without token",
            ),
            (
                format!("/open311/v2/requests/{id}.json?token={token}"),
                expected.open311_with_token,
                "open311 with token",
            ),
            (
                format!("/api/track/{id}?token={token}"),
                expected.track_right_token,
                "tracking, right token",
            ),
            (
                format!("/api/track/{id}?token={}", "f".repeat(32)),
                expected.track_wrong_token,
                "tracking, wrong token",
            ),
            (format!("/api/track/{id}"), NOT_FOUND, "tracking, no token"),
        ];
        for (path, status, viewer) in viewers {
            let (got, text) = get_text(app, &path, None).await;
            assert_eq!(got, status, "{what}: {viewer}: {text}");
            assert_public_body(&text, case, phase);
            if got != OK {
                // The same answer as for an id that does not exist: nothing confirmed.
                assert!(
                    !text.contains("502室") && !text.contains("token\":"),
                    "{text}"
                );
                continue;
            }
            let body = json_of(&text);
            let view = if path.starts_with("/open311") {
                body[0].clone()
            } else {
                body.clone()
            };
            if path.starts_with("/open311") {
                check_public_request(&view, case, phase);
            } else {
                check_tracking(&view, case, phase);
            }
        }

        // 6.–7. Staff see everything: exact place, the text, the internal note, the reporter.
        for (key, status, viewer) in [
            (app.unit_key(), expected.unit_key, "unit key"),
            (
                app.keys.dispatcher.as_str(),
                expected.dispatcher,
                "dispatcher",
            ),
        ] {
            let (got, text) = get_text(app, &format!("/api/cases/{id}"), Some(key)).await;
            assert_eq!(got, status, "{what}: {viewer}: {text}");
            let body = json_of(&text);
            assert_eq!(body["lon"], case.lon, "{what}: {viewer}");
            assert_eq!(body["description"], case.description.as_str());
            assert!(text.contains(INTERNAL_NOTE), "{what}: {viewer}");
            assert!(text.contains(REPORTER_PHONE), "{what}: {viewer}");
        }
    }
}

/// An Open311 request of a case the viewer may see.
fn check_public_request(request: &Value, case: &Reported, phase: Phase) {
    assert_coarsened(request, case);
    assert_eq!(
        request["description"].as_str(),
        case.public_description(phase),
        "{:?} {phase:?}",
        case.kind
    );
    assert_eq!(request["status_notes"], PUBLIC_NOTE, "{:?}", case.kind);
    assert_eq!(request["status"], "open");
    let address = request["address"].as_str().unwrap_or_default();
    assert!(address.starts_with("南桥镇"), "{address}");
}

/// The tracking view of a case the viewer may see.
fn check_tracking(view: &Value, case: &Reported, phase: Phase) {
    assert_coarsened(view, case);
    assert_eq!(view["id"], case.id);
    assert_eq!(
        view["description"].as_str(),
        case.public_description(phase),
        "{:?} {phase:?}",
        case.kind
    );
    assert_eq!(view["status_notes"], PUBLIC_NOTE);
    assert_eq!(view["listed"], case.kind != Kind::Private);
    assert_eq!(view["town_name"], "南桥镇");
    assert!(view["village_name"].is_string(), "{view}");
    // The history in public words: received, accepted, then the note for the public.
    let history: Vec<(String, Option<String>)> = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["status_name"].as_str().unwrap().to_string(),
                s["note"].as_str().map(str::to_string),
            )
        })
        .collect();
    // The approvals that come later are no news to the public (no note, same status).
    let expected = vec![
        ("已受理".to_string(), None),
        ("已立案".to_string(), None),
        ("已立案".to_string(), Some(PUBLIC_NOTE.to_string())),
    ];
    assert_eq!(history, expected, "{:?}", case.kind);
    for step in view["history"].as_array().unwrap() {
        let keys: Vec<&String> = step.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["time", "status", "status_name", "note"], "never who");
    }
}

#[tokio::test]
async fn each_viewer_sees_of_each_case_exactly_what_the_table_says() {
    for backend in BACKENDS {
        let mut app = case_app(backend).await;
        let cases = report_all(&app).await;
        for case in &cases {
            app.act(
                case.id,
                &app.keys.dispatcher,
                json!({"action": "file", "note": INTERNAL_NOTE}),
            )
            .await;
            app.act(
                case.id,
                &app.keys.dispatcher,
                json!({"action": "publish", "public_note": PUBLIC_NOTE}),
            )
            .await;
        }
        check_matrix(&app, &cases, Phase::BeforeApproval).await;

        for case in &cases {
            let body = if case.kind == Kind::Web {
                json!({"action": "publish", "public_description": REDACTED})
            } else {
                json!({"action": "publish", "publish_description": true})
            };
            let after = app.act(case.id, &app.keys.dispatcher, body).await;
            let expected = if case.kind == Kind::Web {
                REDACTED
            } else {
                case.description.as_str()
            };
            assert_eq!(after["public_description"], expected);
            assert_eq!(after["status"], "filed", "publishing moves nothing");
        }
        check_matrix(&app, &cases, Phase::Approved).await;

        app.state.public.descriptions = Descriptions::Never;
        check_matrix(&app, &cases, Phase::NeverPublished).await;
        eprintln!("{backend:?}: matrix holds");
    }
}

#[tokio::test]
async fn filters_that_reach_for_private_or_staff_cases_find_nothing() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let cases = report_all(&app).await;
        let id = |kind: Kind| cases.iter().find(|c| c.kind == kind).unwrap().id;
        let ids = |list: &Value| -> Vec<i64> {
            list.as_array()
                .unwrap_or_else(|| panic!("{list}"))
                .iter()
                .map(|r| r["service_request_id"].as_i64().unwrap())
                .collect()
        };
        let get = |query: String| {
            let app = &app;
            async move {
                let (status, text) =
                    get_text(app, &format!("/open311/v2/requests.json{query}"), None).await;
                (status, json_of(&text))
            }
        };
        let all = cases
            .iter()
            .map(|c| c.id.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let (status, by_id) = get(format!("?service_request_id={all}")).await;
        assert_eq!(status, OK, "{backend:?}");
        assert_eq!(ids(&by_id), [id(Kind::Open311), id(Kind::Web)]);
        // The private service is a service (citizens report it) but lists nothing.
        let (status, private) = get(format!("?service_code={PRIVATE_CLASS}")).await;
        assert_eq!((status, ids(&private)), (OK, vec![]));
        // The staff-entered case shares the public class and still is not there.
        let (_, public) = get(format!("?service_code={PUBLIC_CLASS},{PRIVATE_CLASS}")).await;
        assert_eq!(ids(&public), [id(Kind::Open311), id(Kind::Web)]);
        let (_, open) = get("?status=open".into()).await;
        assert_eq!(ids(&open), [id(Kind::Open311), id(Kind::Web)]);
        // A staff-only class is not a service at all.
        let (status, _) = get("?service_code=C0502".into()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        // A token opens its own case only.
        let private_token = cases
            .iter()
            .find(|c| c.kind == Kind::Private)
            .unwrap()
            .token
            .clone()
            .unwrap();
        let (status, _) = get_text(
            &app,
            &format!("/api/track/{}?token={private_token}", id(Kind::Web)),
            None,
        )
        .await;
        assert_eq!(status, NOT_FOUND);
        let (status, _) = get_text(
            &app,
            &format!("/api/track/999999?token={private_token}"),
            None,
        )
        .await;
        assert_eq!(status, NOT_FOUND);
        let (status, _) = get_text(&app, "/api/track/abc?token=x", None).await;
        assert_eq!(status, NOT_FOUND);
        // Staff lists are for keys.
        let (status, _) = get_text(&app, "/api/cases", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = get_text(&app, &format!("/api/cases/{}", id(Kind::Web)), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn the_class_list_shows_citizens_what_they_may_report_and_whom_to_call() {
    let backend = BACKENDS[0];
    let app = case_app(backend).await;
    let classes = |key: Option<&str>| {
        let app = &app;
        let key = key.map(str::to_string);
        async move {
            let (status, text) = get_text(app, "/api/classes", key.as_deref()).await;
            assert_eq!(status, OK);
            json_of(&text)["majors"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|m| m["classes"].as_array().unwrap().clone())
                .collect::<Vec<Value>>()
        }
    };
    let public = classes(None).await;
    let staff = classes(Some(&app.keys.dispatcher)).await;
    assert_eq!(staff.len(), 260);
    assert_eq!(public.len(), 202 + 45, "public and private classes");
    assert!(public.iter().all(|c| c["visibility"] != "staff"));
    let fire = public.iter().find(|c| c["code"] == "Y0102").unwrap();
    assert_eq!(
        (&fire["visibility"], &fire["call"]),
        (&json!("public"), &json!("119"))
    );
    let dispute = public.iter().find(|c| c["code"] == PRIVATE_CLASS).unwrap();
    assert_eq!(dispute["visibility"], "private");
    assert_eq!(dispute["call"], Value::Null);
}

#[tokio::test]
async fn a_publish_must_publish_something_and_only_dispatchers_publish() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let id = app.report().await;
        let post = |key: Option<String>, body: Value| {
            let app = &app;
            async move {
                app.call(
                    "POST",
                    &format!("/api/cases/{id}/actions"),
                    key.as_deref(),
                    Some(body),
                )
                .await
            }
        };
        let dispatcher = Some(app.keys.dispatcher.clone());
        for (body, field) in [
            (json!({"action": "publish"}), "public_note"),
            (
                json!({"action": "publish", "public_note": "  "}),
                "public_note",
            ),
            (
                json!({"action": "publish", "publish_description": false, "public_description": "x"}),
                "public_description",
            ),
            (
                json!({"action": "file", "publish_description": true}),
                "publish_description",
            ),
            (
                json!({"action": "publish", "public_description": "长".repeat(4001)}),
                "public_description",
            ),
        ] {
            let (status, error) = post(dispatcher.clone(), body.clone()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
            assert_eq!(error["error"]["field"], field, "{body}");
        }
        let note = json!({"action": "publish", "public_note": "已受理"});
        assert_eq!(post(None, note.clone()).await.0, StatusCode::UNAUTHORIZED);
        for key in [&app.keys.supervisor, &app.keys.units[0].1] {
            assert_eq!(
                post(Some(key.clone()), note.clone()).await.0,
                StatusCode::FORBIDDEN
            );
        }
        // Withdrawn again, the description is gone from public view.
        app.act(
            id,
            &app.keys.dispatcher,
            json!({"action": "publish", "publish_description": true}),
        )
        .await;
        let after = app
            .act(
                id,
                &app.keys.dispatcher,
                json!({"action": "publish", "publish_description": false}),
            )
            .await;
        assert_eq!(after["public_description"], Value::Null);
        let (_, text) = get_text(&app, &format!("/open311/v2/requests/{id}.json"), None).await;
        assert_eq!(json_of(&text)[0]["description"], Value::Null, "{backend:?}");
    }
}

/// Rows as an older server stored them (before migration 0004): three reports — a citizen's on
/// the web, a citizen's through the hotline channel, and a dispatcher's on the web.
const OLD_ROWS: &str = "INSERT INTO cases (id, status, class, urgency, channel, description, lon, lat, reported_at, updated_at) VALUES
        (1, 'reported', 'C0101', 'normal', 'web', 'a', 121.46, 30.92, 0, 0),
        (2, 'reported', 'C0101', 'normal', 'hotline_12345', 'b', 121.46, 30.92, 0, 0),
        (3, 'reported', 'C0101', 'normal', 'web', 'c', 121.46, 30.92, 0, 0);
    INSERT INTO case_events (case_id, action, to_status, actor, role, at) VALUES
        (1, 'report', 'reported', 'anonymous', 'anonymous', 0),
        (2, 'report', 'reported', 'anonymous', 'anonymous', 0),
        (3, 'report', 'reported', 'glk_1234', 'dispatcher', 0);";

/// The first three migrations of a back end, in a directory of their own.
fn migrations_before_0004(backend: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    for entry in std::fs::read_dir(&from).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.as_str() < "0004" {
            std::fs::copy(&path, dir.path().join(&name)).unwrap();
        }
    }
    dir
}

#[tokio::test]
async fn migration_0004_marks_old_citizens_reports_from_their_report_event() {
    use gridlink::cases::{CaseFilter, CaseStore};
    use gridlink::db::Db;
    // SQLite.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite");
    {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
        let old = migrations_before_0004("sqlite");
        sqlx::migrate::Migrator::new(old.path())
            .await
            .unwrap()
            .run(&pool)
            .await
            .unwrap();
        sqlx::raw_sql(OLD_ROWS).execute(&pool).await.unwrap();
        pool.close().await;
    }
    let sqlite = CaseStore::new(Db::connect_sqlite(&path).await.unwrap());
    // PostgreSQL, in a schema of its own.
    let schema = format!(
        "t_{}_{}_m4",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        std::process::id()
    );
    let url = common::cases::pg_url();
    {
        let admin = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        let options: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
        let pool = sqlx::PgPool::connect_with(
            options.options([("search_path", format!("{schema},public"))]),
        )
        .await
        .unwrap();
        let old = migrations_before_0004("postgres");
        sqlx::migrate::Migrator::new(old.path())
            .await
            .unwrap()
            .run(&pool)
            .await
            .unwrap();
        sqlx::raw_sql(&format!(
            "{OLD_ROWS} SELECT setval(pg_get_serial_sequence('cases', 'id'), 3);"
        ))
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }
    let postgres = CaseStore::new(Db::connect_postgres_schema(&url, &schema).await.unwrap());
    for db in [sqlite, postgres] {
        let (cases, _) = db
            .list(&CaseFilter {
                limit: 10,
                ..CaseFilter::default()
            })
            .await
            .unwrap();
        let marked: Vec<(i64, bool)> = cases.iter().map(|c| (c.id, c.public_report)).collect();
        // Only the citizen's web report: the hotline channel and the dispatcher's are not.
        assert_eq!(
            marked,
            [(3, false), (2, false), (1, true)],
            "{}",
            db.backend()
        );
        assert!(
            cases
                .iter()
                .all(|c| c.public_description.is_none() && !c.photos_public)
        );
        db.close().await;
    }
}

#[tokio::test]
async fn the_public_map_shows_listed_cases_at_their_squares_and_a_tight_box_finds_no_exact_point() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let cases = report_all(&app).await;
        let web = cases.iter().find(|c| c.kind == Kind::Web).unwrap();
        let ids = |text: &str| -> Vec<i64> {
            json_of(text)["features"]
                .as_array()
                .unwrap_or_else(|| panic!("{text}"))
                .iter()
                .map(|f| f["id"].as_i64().unwrap())
                .collect()
        };
        let (status, text) = get_text(&app, "/api/public/cases", None).await;
        assert_eq!(status, OK, "{backend:?}: {text}");
        let expected = [
            cases.iter().find(|c| c.kind == Kind::Open311).unwrap().id,
            web.id,
        ];
        assert_eq!(ids(&text), expected);
        for case in &cases {
            assert_public_body(&text, case, Phase::BeforeApproval);
        }
        let body = json_of(&text);
        let feature = body["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == web.id)
            .unwrap();
        let [lon, lat] = [
            feature["geometry"]["coordinates"][0].as_f64().unwrap(),
            feature["geometry"]["coordinates"][1].as_f64().unwrap(),
        ];
        assert_eq!(
            (
                feature["properties"]["lon"].as_f64(),
                feature["properties"]["lat"].as_f64()
            ),
            (Some(lon), Some(lat))
        );
        assert_coarsened(&feature["properties"], web);
        // A box of under a metre around the true point finds nothing; one around the square's
        // centre finds the case.
        let tight = 0.000_003;
        let (_, around_truth) = get_text(
            &app,
            &format!(
                "/api/public/cases?bbox={},{},{},{}",
                web.lon - tight,
                web.lat - tight,
                web.lon + tight,
                web.lat + tight
            ),
            None,
        )
        .await;
        assert_eq!(ids(&around_truth), Vec::<i64>::new(), "{backend:?}");
        let (_, around_square) = get_text(
            &app,
            &format!(
                "/api/public/cases?bbox={},{},{},{}",
                lon - tight,
                lat - tight,
                lon + tight,
                lat + tight
            ),
            None,
        )
        .await;
        assert_eq!(ids(&around_square), [web.id]);
        for (query, found) in [
            (format!("class={PRIVATE_CLASS}"), vec![]),
            ("status=closed".to_string(), vec![]),
            ("status=open&limit=1".to_string(), vec![expected[0]]),
        ] {
            let (status, text) = get_text(&app, &format!("/api/public/cases?{query}"), None).await;
            assert_eq!((status, ids(&text)), (OK, found), "{query}");
        }
        for query in ["limit=0", "status=pending", "bbox=1,2,3"] {
            let (status, _) = get_text(&app, &format!("/api/public/cases?{query}"), None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        }
    }
}
