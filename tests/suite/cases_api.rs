//! The case workflow through the real router, on SQLite and on PostgreSQL/PostGIS: every
//! transition (legal and illegal), routing, deadlines and overdue, the role × action ×
//! ownership matrix, races, duplicates, appraisal, the live stream and the case tiles.

use crate::common;

use axum::http::StatusCode;
use common::cases::{
    BACKENDS, Backend, CaseApp, EventStream, START_MS, TEST_CLASS, TEST_POINT, case_app,
    routed_unit,
};
use gridlink::cases::{Action, Status, workflow};
use serde_json::{Value, json};

const HOUR: i64 = 3_600_000;

fn body_for(action: Action) -> Value {
    match action {
        Action::Extend => json!({"action": "extend", "hours": 24, "note": "需要协调施工队"}),
        Action::Publish => json!({"action": "publish", "public_note": "已安排处理，感谢反映"}),
        a => json!({"action": a.as_str(), "note": "现场已处理"}),
    }
}

/// The actions (all legal for an admin) that take a new case to `status`.
fn path_to(status: Status) -> Vec<Action> {
    use Action as A;
    let handled = vec![A::File, A::Dispatch, A::Start, A::Feedback];
    match status {
        Status::Reported => vec![],
        Status::Filed => vec![A::File],
        Status::Rejected => vec![A::Reject],
        Status::Dispatched => vec![A::File, A::Dispatch],
        Status::InProgress => vec![A::File, A::Dispatch, A::Start],
        Status::Handled => handled,
        Status::Verifying => [handled, vec![A::VerifyOk]].concat(),
        Status::Closed => [handled, vec![A::VerifyOk, A::Close]].concat(),
        Status::Returned => vec![A::File, A::Dispatch, A::Return],
        Status::Suspended => vec![A::File, A::Dispatch, A::Suspend],
        Status::Reopened => [handled, vec![A::VerifyFail]].concat(),
    }
}

async fn case_in(app: &CaseApp, status: Status) -> i64 {
    let id = app.report().await;
    for action in path_to(status) {
        app.act(id, &app.keys.admin, body_for(action)).await;
    }
    let (_, case) = app
        .call(
            "GET",
            &format!("/api/cases/{id}"),
            Some(&app.keys.admin),
            None,
        )
        .await;
    assert_eq!(case["status"], status.as_str());
    id
}

#[tokio::test]
async fn the_main_line_routes_sets_deadlines_and_records_history() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let id = app.report().await;
        let k = &app.keys;
        let filed = app.act(id, &k.dispatcher, json!({"action": "file"})).await;
        assert_eq!(filed["status"], "filed");
        assert_eq!(filed["unit"], routed_unit(), "{backend:?}");
        assert_eq!(filed["unit_basis"], "jurisdiction");
        assert_eq!(filed["cell"].as_str().map(str::len), Some(15));
        app.clock.advance(HOUR);
        let dispatched = app
            .act(id, &k.dispatcher, json!({"action": "dispatch"}))
            .await;
        // C0101 (上水井盖), normal urgency: 24 h from dispatch.
        assert_eq!(dispatched["deadline"], START_MS + HOUR + 24 * HOUR);
        assert_eq!(dispatched["deadline_time"], "2026-11-30T01:00:00Z");
        app.act(id, app.unit_key(), json!({"action": "start"}))
            .await;
        app.act(id, app.unit_key(), json!({"action": "feedback", "note": "已更换井盖", "photos": ["https://example.org/after.jpg"]})).await;
        app.act(
            id,
            &k.supervisor,
            json!({"action": "verify_ok", "note": "现场核查通过"}),
        )
        .await;
        let closed = app.act(id, &k.dispatcher, json!({"action": "close"})).await;
        assert_eq!(closed["status"], "closed");
        assert_eq!(closed["overdue"], false);
        let (status, case) = app
            .call(
                "GET",
                &format!("/api/cases/{id}"),
                Some(&k.dispatcher),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let actions: Vec<&str> = case["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            [
                "report",
                "file",
                "dispatch",
                "start",
                "feedback",
                "verify_ok",
                "close"
            ]
        );
        let feedback = &case["history"][4];
        assert_eq!(feedback["role"], "unit");
        assert_eq!(feedback["note"], "已更换井盖");
        assert_eq!(feedback["photos"][0], "https://example.org/after.jpg");
        // A closed case takes nothing but a note for the public.
        assert_eq!(
            case["available_actions"],
            json!([{"action": "publish", "name": "公开发布"}])
        );
    }
}

#[tokio::test]
async fn every_illegal_transition_is_a_409_listing_the_allowed_ones() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        for status in Status::ALL {
            let id = case_in(&app, status).await;
            let legal: Vec<&str> = workflow::legal(status).iter().map(|a| a.as_str()).collect();
            for action in Action::REQUESTABLE {
                if workflow::next(status, action).is_some() {
                    continue;
                }
                let (code, body) = app
                    .call(
                        "POST",
                        &format!("/api/cases/{id}/actions"),
                        Some(&app.keys.admin),
                        Some(body_for(action)),
                    )
                    .await;
                assert_eq!(
                    code,
                    StatusCode::CONFLICT,
                    "{backend:?} {status:?} {action:?}: {body}"
                );
                assert_eq!(body["error"]["code"], "illegal_transition");
                assert_eq!(body["error"]["allowed"], json!(legal));
                assert_eq!(body["error"]["status"], status.as_str());
            }
        }
        // …and every legal one moves the case where the table says.
        for status in Status::ALL {
            for action in workflow::legal(status) {
                let id = case_in(&app, status).await;
                let after = app.act(id, &app.keys.admin, body_for(action)).await;
                let expected = workflow::next(status, action).unwrap();
                assert_eq!(
                    after["status"],
                    expected.as_str(),
                    "{backend:?} {status:?} {action:?}"
                );
            }
        }
    }
}

/// Who may take each action, written out independently of the workflow module.
fn may(action: Action, actor: &str) -> bool {
    use Action as A;
    match actor {
        "admin" => true,
        "anonymous" | "unit_other" => false,
        "dispatcher" => matches!(
            action,
            A::File
                | A::Reject
                | A::Dispatch
                | A::Suspend
                | A::Resume
                | A::Close
                | A::Extend
                | A::Publish
        ),
        "unit_own" => matches!(action, A::Start | A::Feedback | A::Return | A::Extend),
        "supervisor" => matches!(action, A::VerifyOk | A::VerifyFail | A::Supervise),
        other => panic!("{other}"),
    }
}

fn where_legal(action: Action) -> Status {
    Status::ALL
        .into_iter()
        .find(|&s| s != Status::Reported || matches!(action, Action::File | Action::Reject))
        .filter(|&s| workflow::next(s, action).is_some())
        .or_else(|| {
            Status::ALL
                .into_iter()
                .find(|&s| workflow::next(s, action).is_some())
        })
        .unwrap()
}

#[tokio::test]
async fn the_role_matrix_holds_for_every_role_action_and_ownership() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let actors: Vec<(&str, Option<&str>)> = vec![
            ("anonymous", None),
            ("dispatcher", Some(&app.keys.dispatcher)),
            ("unit_own", Some(app.unit_key())),
            ("unit_other", Some(app.other_unit_key())),
            ("supervisor", Some(&app.keys.supervisor)),
            ("admin", Some(&app.keys.admin)),
        ];
        let mut checked = 0;
        for action in Action::REQUESTABLE {
            let status = where_legal(action);
            for (name, key) in &actors {
                let id = case_in(&app, status).await;
                let (code, body) = app
                    .call(
                        "POST",
                        &format!("/api/cases/{id}/actions"),
                        *key,
                        Some(body_for(action)),
                    )
                    .await;
                let expected = if may(action, name) {
                    StatusCode::OK
                } else if key.is_none() {
                    StatusCode::UNAUTHORIZED
                } else {
                    StatusCode::FORBIDDEN
                };
                assert_eq!(
                    code, expected,
                    "{backend:?} {name} {action:?} in {status:?}: {body}"
                );
                if *name == "unit_other" {
                    let reason = if may(action, "unit_own") {
                        "not_your_case"
                    } else {
                        "forbidden"
                    };
                    assert_eq!(body["error"]["code"], reason, "{action:?}");
                    // …though every unit sees every case (information sharing).
                    let (seen, _) = app
                        .call("GET", &format!("/api/cases/{id}"), *key, None)
                        .await;
                    assert_eq!(seen, StatusCode::OK);
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 14 * 6);
        // Reading cases needs a key; a wrong key is refused, not treated as anonymous.
        let (code, _) = app.call("GET", "/api/cases", None, None).await;
        assert_eq!(code, StatusCode::UNAUTHORIZED);
        let (code, body) = app.call("GET", "/api/cases", Some("glk_nope"), None).await;
        assert_eq!(code, StatusCode::UNAUTHORIZED, "{body}");
    }
}

#[tokio::test]
async fn deadlines_overdue_supervision_and_extension() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let k = &app.keys;
        let id = case_in(&app, Status::Dispatched).await;
        let on_time = case_in(&app, Status::Dispatched).await;
        app.act(
            on_time,
            app.unit_key(),
            json!({"action": "extend", "hours": 48, "note": "材料未到"}),
        )
        .await;
        let (_, list) = app
            .call("GET", "/api/cases?overdue=true", Some(&k.dispatcher), None)
            .await;
        assert_eq!(list["total"], 0);
        app.clock.advance(25 * HOUR);
        let (_, list) = app
            .call("GET", "/api/cases?overdue=true", Some(&k.dispatcher), None)
            .await;
        let ids: Vec<i64> = list["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect();
        assert_eq!(
            ids,
            vec![id],
            "{backend:?}: only the unextended case is overdue"
        );
        assert_eq!(list["cases"][0]["overdue"], true);
        // The sweep flags it once, with an event.
        assert_eq!(app.service.sweep_overdue().await.unwrap(), vec![id]);
        assert!(app.service.sweep_overdue().await.unwrap().is_empty());
        let sup = app
            .act(
                id,
                &k.supervisor,
                json!({"action": "supervise", "note": "超期督办"}),
            )
            .await;
        assert_eq!(sup["supervised"], true);
        assert_eq!(sup["overdue_flag"], true);
        let (_, list) = app
            .call(
                "GET",
                "/api/cases?supervised=true",
                Some(&k.dispatcher),
                None,
            )
            .await;
        assert_eq!(list["total"], 1);
        // Handling late keeps it counted as overdue; extending first would not have.
        let handled = app
            .act(
                id,
                app.unit_key(),
                json!({"action": "feedback", "note": "已处理"}),
            )
            .await;
        assert_eq!(handled["overdue"], true);
        let (_, case) = app
            .call(
                "GET",
                &format!("/api/cases/{id}"),
                Some(&k.dispatcher),
                None,
            )
            .await;
        let actions: Vec<&str> = case["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert!(
            actions.contains(&"overdue") && actions.contains(&"supervise"),
            "{actions:?}"
        );
        // Extension validation.
        let (code, body) = app
            .call(
                "POST",
                &format!("/api/cases/{on_time}/actions"),
                Some(&k.dispatcher),
                Some(json!({"action": "extend", "hours": 0, "note": "x"})),
            )
            .await;
        assert_eq!(
            (code, body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("hours"))
        );
        let (code, body) = app
            .call(
                "POST",
                &format!("/api/cases/{on_time}/actions"),
                Some(&k.dispatcher),
                Some(json!({"action": "extend", "hours": 5})),
            )
            .await;
        assert_eq!(
            (code, body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("note"))
        );
    }
}

#[tokio::test]
async fn the_dispatcher_may_override_the_unit_and_a_return_goes_back_to_dispatch() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let k = &app.keys;
        let id = case_in(&app, Status::Dispatched).await;
        let returned = app
            .act(
                id,
                app.unit_key(),
                json!({"action": "return", "note": "不属于本单位职责"}),
            )
            .await;
        assert_eq!(returned["status"], "returned");
        assert_eq!(returned["deadline"], Value::Null);
        let other = &app.keys.units[1].0;
        let again = app
            .act(
                id,
                &k.dispatcher,
                json!({"action": "dispatch", "unit": other}),
            )
            .await;
        assert_eq!(again["unit"], other.as_str());
        assert_eq!(again["unit_basis"], "dispatcher");
        // Now the other unit owns it and the first does not.
        let (code, _) = app
            .call(
                "POST",
                &format!("/api/cases/{id}/actions"),
                Some(app.unit_key()),
                Some(json!({"action": "start"})),
            )
            .await;
        assert_eq!(code, StatusCode::FORBIDDEN);
        app.act(id, app.other_unit_key(), json!({"action": "start"}))
            .await;
        let (code, body) = app
            .call(
                "POST",
                &format!("/api/cases/{}/actions", case_in(&app, Status::Filed).await),
                Some(&k.dispatcher),
                Some(json!({"action": "dispatch", "unit": "NO-SUCH-UNIT"})),
            )
            .await;
        assert_eq!(
            (code, body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("unit")),
            "{body}"
        );
    }
}

#[tokio::test]
async fn two_actors_racing_the_same_transition_one_wins() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        for _ in 0..5 {
            let id = case_in(&app, Status::Filed).await;
            let path = format!("/api/cases/{id}/actions");
            let a = app.call(
                "POST",
                &path,
                Some(&app.keys.dispatcher),
                Some(json!({"action": "dispatch"})),
            );
            let b = app.call(
                "POST",
                &path,
                Some(&app.keys.admin),
                Some(json!({"action": "dispatch"})),
            );
            let ((sa, ba), (sb, bb)) = tokio::join!(a, b);
            let mut codes = [sa, sb];
            codes.sort();
            assert_eq!(
                codes,
                [StatusCode::OK, StatusCode::CONFLICT],
                "{backend:?}: {ba} / {bb}"
            );
            let (_, case) = app
                .call(
                    "GET",
                    &format!("/api/cases/{id}"),
                    Some(&app.keys.admin),
                    None,
                )
                .await;
            let dispatches = case["history"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["action"] == "dispatch")
                .count();
            assert_eq!(dispatches, 1);
        }
    }
}

#[tokio::test]
async fn reports_are_validated_located_and_checked_for_duplicates() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let first = app.report().await;
        let report = |lon: f64, lat: f64, extra: Value| {
            let mut body =
                json!({"class": TEST_CLASS, "lon": lon, "lat": lat, "description": "井盖破损"});
            if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
                b.extend(e.clone());
            }
            app.call("POST", "/api/cases", None, Some(body))
        };
        // 20 m north: a possible duplicate; 120 m: not. A citizen hears how many, and the ids
        // of those listed publicly anyway — never another report's text or exact place.
        let (code, near) = report(TEST_POINT.0, TEST_POINT.1 + 20.0 / 111_000.0, json!({})).await;
        assert_eq!(code, StatusCode::CREATED);
        assert!(near.get("possible_duplicates").is_none(), "{near}");
        assert_eq!(
            near["duplicates_nearby"],
            json!({"count": 1, "radius_m": 50.0, "listed_ids": [first]}),
            "{backend:?}"
        );
        let (_, far) = report(TEST_POINT.0, TEST_POINT.1 + 120.0 / 111_000.0, json!({})).await;
        assert_eq!(far["duplicates_nearby"]["count"], 0);
        // Staff see the duplicates themselves, with distance and text.
        let (code, staff) = app
            .call(
                "POST",
                "/api/cases",
                Some(&app.keys.dispatcher),
                Some(json!({"class": TEST_CLASS, "lon": TEST_POINT.0, "lat": TEST_POINT.1 - 30.0 / 111_000.0, "description": "井盖破损", "channel": "hotline_12345"})),
            )
            .await;
        assert_eq!(code, StatusCode::CREATED, "{staff}");
        let dups = staff["possible_duplicates"].as_array().unwrap();
        assert_eq!(dups.len(), 2, "{staff}");
        assert_eq!(dups[0]["id"], first);
        assert!((dups[0]["distance_m"].as_f64().unwrap() - 30.0).abs() < 1.0);
        assert_eq!(dups[0]["description"], "井盖缺失，有行人跌落风险");
        for (extra, field, status) in [
            (json!({"class": "NOPE"}), "class", StatusCode::BAD_REQUEST),
            (
                json!({"urgency": "whenever"}),
                "urgency",
                StatusCode::BAD_REQUEST,
            ),
            (
                json!({"description": " "}),
                "description",
                StatusCode::BAD_REQUEST,
            ),
            (
                json!({"description": "长".repeat(4001)}),
                "description",
                StatusCode::BAD_REQUEST,
            ),
            (
                json!({"photos": ["ftp://x"]}),
                "photos[0]",
                StatusCode::BAD_REQUEST,
            ),
            (json!({"lon": 200.0}), "lon", StatusCode::BAD_REQUEST),
            (
                json!({"lon": 121.0, "lat": 31.5}),
                "lon",
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (json!({"crs": "epsg:9999"}), "crs", StatusCode::BAD_REQUEST),
            (json!({"bogus": 1}), "bogus", StatusCode::BAD_REQUEST),
            // Without a key: no staff-only class, and only the public channels.
            (json!({"class": "C0502"}), "class", StatusCode::BAD_REQUEST),
            (
                json!({"channel": "hotline_12345"}),
                "channel",
                StatusCode::BAD_REQUEST,
            ),
        ] {
            let (code, body) = report(TEST_POINT.0, TEST_POINT.1, extra.clone()).await;
            assert_eq!(code, status, "{extra}: {body}");
            let named = body["error"]["field"].as_str().unwrap_or("");
            assert!(
                named == field
                    || body["error"]["message"]
                        .as_str()
                        .unwrap_or("")
                        .contains(field),
                "{extra}: {body}"
            );
        }
        // GCJ-02 input is converted before locating.
        let (code, body) = report(121.4649, 30.9164, json!({"crs": "gcj02"})).await;
        assert_eq!(code, StatusCode::CREATED, "{body}");
        assert!((body["lon"].as_f64().unwrap() - 121.4649).abs() > 1e-4);
        // Nothing refused was stored.
        let (_, list) = app
            .call("GET", "/api/cases", Some(&app.keys.admin), None)
            .await;
        assert_eq!(list["total"], 5);
    }
}

#[tokio::test]
async fn the_list_filters_and_pages() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let k = &app.keys.dispatcher;
        let a = case_in(&app, Status::Dispatched).await;
        let b = case_in(&app, Status::Filed).await;
        let c = app.report_at((121.55, 30.85), "C0101").await;
        let ids = |v: &Value| -> Vec<i64> {
            v["cases"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_i64().unwrap())
                .collect()
        };
        let (_, all) = app.call("GET", "/api/cases", Some(k), None).await;
        assert_eq!(ids(&all), vec![c, b, a]);
        let (_, v) = app
            .call("GET", "/api/cases?status=filed,dispatched", Some(k), None)
            .await;
        assert_eq!(ids(&v), vec![b, a]);
        let (_, v) = app
            .call(
                "GET",
                &format!("/api/cases?unit={}", routed_unit()),
                Some(k),
                None,
            )
            .await;
        assert_eq!(ids(&v), vec![b, a]);
        let town = all["cases"][2]["town"].as_str().unwrap().to_string();
        let (_, v) = app
            .call("GET", &format!("/api/cases?town={town}"), Some(k), None)
            .await;
        assert!(ids(&v).contains(&a));
        let (_, v) = app
            .call(
                "GET",
                "/api/cases?bbox=121.54,30.84,121.56,30.86",
                Some(k),
                None,
            )
            .await;
        assert_eq!(ids(&v), vec![c]);
        let (_, v) = app
            .call("GET", "/api/cases?limit=1&offset=1", Some(k), None)
            .await;
        assert_eq!((ids(&v), v["total"].as_i64()), (vec![b], Some(3)));
        let (_, v) = app
            .call(
                "GET",
                "/api/cases?from=2026-11-29&to=2026-11-30",
                Some(k),
                None,
            )
            .await;
        assert_eq!(v["total"], 3);
        let (_, v) = app
            .call("GET", "/api/cases?from=2026-11-30", Some(k), None)
            .await;
        assert_eq!(v["total"], 0);
        for bad in [
            "status=open",
            "limit=0",
            "limit=5000",
            "bbox=1,2,3",
            "from=yesterday",
            "overdue=maybe",
        ] {
            let (code, body) = app
                .call("GET", &format!("/api/cases?{bad}"), Some(k), None)
                .await;
            assert_eq!(code, StatusCode::BAD_REQUEST, "{bad}: {body}");
            assert!(body["error"]["field"].is_string(), "{bad}");
        }
        let (code, _) = app.call("GET", "/api/cases/999999", Some(k), None).await;
        assert_eq!(code, StatusCode::NOT_FOUND);
        let (code, _) = app.call("GET", "/api/cases/abc", Some(k), None).await;
        assert_eq!(code, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn appraisal_figures_follow_a_known_history() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let unit = routed_unit();
        let k = &app.keys;
        // Case 1: handled in 2 h, verified, closed.
        let one = case_in(&app, Status::Dispatched).await;
        app.clock.advance(2 * HOUR);
        app.act(
            one,
            app.unit_key(),
            json!({"action": "feedback", "note": "已修复"}),
        )
        .await;
        app.act(one, &k.supervisor, json!({"action": "verify_ok"}))
            .await;
        app.act(one, &k.dispatcher, json!({"action": "close"}))
            .await;
        // Case 2: handled 30 h after dispatch (limit 24 h), then fails the check.
        let two = case_in(&app, Status::Dispatched).await;
        app.clock.advance(30 * HOUR);
        app.act(
            two,
            app.unit_key(),
            json!({"action": "feedback", "note": "已修复"}),
        )
        .await;
        app.act(
            two,
            &k.supervisor,
            json!({"action": "verify_fail", "note": "井盖仍松动"}),
        )
        .await;
        // Case 3: returned as not theirs.
        let three = case_in(&app, Status::Dispatched).await;
        app.act(
            three,
            app.unit_key(),
            json!({"action": "return", "note": "非本单位职责"}),
        )
        .await;
        // Case 4: still on the clock, past its deadline at the period's end.
        let _four = case_in(&app, Status::Dispatched).await;
        app.clock.advance(25 * HOUR);
        let (code, body) = app
            .call(
                "GET",
                "/api/appraisal?from=2026-11-28&to=2026-12-31&level=all",
                Some(&k.supervisor),
                None,
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{body}");
        let row = body["units"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["unit"] == unit.as_str())
            .unwrap()
            .clone();
        assert_eq!(row["received"], 4, "{backend:?} {row}");
        assert_eq!(row["handled"], 2);
        assert_eq!(row["handled_on_time"], 1);
        // One handled late + case 2 reopened with a fresh deadline that has now passed + case 4.
        assert_eq!(row["overdue"], 3, "{row}");
        assert_eq!(row["returned"], 1);
        assert_eq!(row["reopened"], 1);
        assert_eq!(row["closed"], 1);
        assert_eq!(row["on_time_rate"], 0.25);
        assert_eq!(row["closure_rate"], 0.25);
        assert_eq!(row["mean_handling_h"], 16.0);
        // Other units are listed with zeros; the level filter narrows them.
        assert!(body["units"].as_array().unwrap().len() > 40);
        let (_, district) = app
            .call(
                "GET",
                "/api/appraisal?from=2026-11-28&to=2026-12-31&level=district",
                Some(&k.supervisor),
                None,
            )
            .await;
        assert!(
            district["units"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["level"] == "district")
        );
        // CSV export.
        let request =
            axum::http::Request::get("/api/appraisal?from=2026-11-28&to=2026-12-31&format=csv")
                .header("authorization", format!("Bearer {}", k.supervisor))
                .body(axum::body::Body::empty())
                .unwrap();
        let (code, content_type, csv) = common::send(app.app(), request).await;
        assert_eq!(code, StatusCode::OK);
        assert!(content_type.starts_with("text/csv"));
        let csv = String::from_utf8(csv.to_vec()).unwrap();
        assert!(
            csv.lines()
                .any(|l| l.starts_with(&format!("{unit},"))
                    && l.contains(",4,2,1,3,1,1,1,0.25,0.25,16")),
            "{}",
            csv.lines().take(3).collect::<Vec<_>>().join("\n")
        );
        for bad in ["level=city", "from=2026-12-31&to=2026-11-01", "format=xls"] {
            let (code, _) = app
                .call(
                    "GET",
                    &format!("/api/appraisal?{bad}"),
                    Some(&k.supervisor),
                    None,
                )
                .await;
            assert_eq!(code, StatusCode::BAD_REQUEST, "{bad}");
        }
        let (code, _) = app.call("GET", "/api/appraisal", None, None).await;
        assert_eq!(code, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn staff_layers_need_a_key_everywhere() {
    let app = case_app(Backend::Sqlite).await;
    let key = Some(app.keys.unit_key_owned());
    for (path, staff_only) in [
        ("/api/layers", "hazard_sources"),
        ("/ogc/collections", "hazard_sources"),
        ("/tiles/catalog.json", "cameras"),
    ] {
        let (_, public) = app.call("GET", path, None, None).await;
        let (_, staff) = app.call("GET", path, key.as_deref(), None).await;
        assert!(!public.to_string().contains(staff_only), "{path}");
        assert!(staff.to_string().contains(staff_only), "{path}");
    }
    for path in [
        "/api/nearest/hazard_sources?lon=121.46&lat=30.92",
        "/ogc/collections/cameras/items?limit=1",
        "/tiles/hazard_sources/14/13719/6738.mvt",
    ] {
        let (code, _) = app.call("GET", path, None, None).await;
        assert_eq!(code, StatusCode::NOT_FOUND, "{path}");
        let (code, body) = app.call("GET", path, key.as_deref(), None).await;
        assert!(code.is_success(), "{path}: {code} {body}");
    }
    let (_, around) = app
        .call(
            "GET",
            "/api/around?lon=121.4602&lat=30.9191&radius=3000",
            None,
            None,
        )
        .await;
    assert!(
        around["sections"].get("hazard_source").is_none(),
        "{}",
        around["withheld"]
    );
    assert!(
        around["withheld"].to_string().contains("hazard"),
        "{}",
        around["withheld"]
    );
    let (_, around) = app
        .call(
            "GET",
            "/api/around?lon=121.4602&lat=30.9191&radius=3000",
            key.as_deref(),
            None,
        )
        .await;
    assert!(around["sections"]["hazard_source"].is_object());
    assert_eq!(around["withheld"], json!([]));
}

#[tokio::test]
async fn changes_stream_live_and_cases_show_in_tiles() {
    let app = case_app(Backend::Sqlite).await;
    let mut stream = EventStream::open(app.app(), &app.keys.dispatcher).await;
    assert!(stream.next_text().await.contains("event: ready"));
    let id = app.report().await;
    let created = stream.next_text().await;
    assert!(
        created.contains("event: case") && created.contains("\"change\":\"created\""),
        "{created}"
    );
    app.act(id, &app.keys.dispatcher, json!({"action": "file"}))
        .await;
    let filed = stream.next_text().await;
    assert!(
        filed.contains("\"change\":\"file\"") && filed.contains("\"status\":\"filed\""),
        "{filed}"
    );
    let (code, _) = app.call("GET", "/api/stream", None, None).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);

    // The case layer: z16 tile holding the test point.
    let (z, lon, lat) = (16u32, TEST_POINT.0, TEST_POINT.1);
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n) as u64;
    let y = ((1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n) as u64;
    let path = format!("/tiles/cases/{z}/{x}/{y}.mvt");
    let (code, _) = app.call("GET", &path, None, None).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let request = axum::http::Request::get(&path)
        .header("authorization", format!("Bearer {}", app.keys.dispatcher))
        .body(axum::body::Body::empty())
        .unwrap();
    let (code, _, bytes) = common::send(app.app(), request).await;
    assert_eq!(code, StatusCode::OK);
    let reader = mvt_reader::Reader::new(bytes.to_vec()).expect("decodes");
    let names = reader.get_layer_names().unwrap();
    assert_eq!(names, vec!["cases".to_string()]);
    let features = reader.get_features(0).unwrap();
    assert_eq!(features.len(), 1);
    assert_eq!(features[0].id, Some(id as u64));
    let props = features[0].properties.as_ref().unwrap();
    assert_eq!(
        props.get("status"),
        Some(&mvt_reader::feature::Value::String("filed".into()))
    );
}

#[tokio::test]
async fn servers_sharing_postgresql_see_each_others_changes() {
    let schema = format!(
        "t_{}_{}_fanout",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        std::process::id()
    );
    let url = common::cases::pg_url();
    let db_a = gridlink::db::Db::connect_postgres_schema(&url, &schema)
        .await
        .unwrap();
    let db_b = gridlink::db::Db::connect_postgres_schema(&url, &schema)
        .await
        .unwrap();
    let clock = gridlink::cases::Clock::fixed(START_MS);
    let a = gridlink::cases::CaseService::start(db_a, clock.clone())
        .await
        .unwrap();
    let b = gridlink::cases::CaseService::start(db_b, clock)
        .await
        .unwrap();
    let mut b_changes = b.subscribe();
    // B must LISTEN before A speaks.
    tokio::time::timeout(std::time::Duration::from_secs(10), b.fanout_ready())
        .await
        .expect("B listens within 10 s");
    let report = gridlink::cases::Report {
        class: TEST_CLASS.into(),
        lon: TEST_POINT.0,
        lat: TEST_POINT.1,
        description: "路灯不亮".into(),
        ..Default::default()
    };
    let store = common::demo_store();
    let done = a
        .report(
            store,
            &common::tables(),
            report,
            &gridlink::cases::Actor::anonymous(),
        )
        .await
        .unwrap();
    let change = tokio::time::timeout(std::time::Duration::from_secs(5), b_changes.recv())
        .await
        .expect("B hears of A's case within 5 s")
        .unwrap();
    assert_eq!(change.case.id, done.case.id);
    assert_eq!(change.kind, "created");
    assert_eq!(b.dots().len(), 1, "B's case layer has it too");
}

#[tokio::test]
async fn the_health_check_probes_the_database() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let (code, body) = app.call("GET", "/healthz", None, None).await;
        assert_eq!(code, StatusCode::OK);
        let expected = match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        };
        assert_eq!(body["database"], json!({"backend": expected, "ok": true}));
        app.service.db.close().await;
        let (code, body) = app.call("GET", "/healthz", None, None).await;
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["status"], "degraded");
    }
}

#[tokio::test]
async fn a_filed_case_still_names_its_village_and_town() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let (lon, lat) = TEST_POINT;
        let (_, place) = app
            .call(
                "GET",
                &format!("/api/locate?lon={lon}&lat={lat}"),
                None,
                None,
            )
            .await;
        let village = place["village"]["name"].as_str().expect("a village name");
        let town = place["town"]["name"].as_str().expect("a town name");
        let id = app.report().await;
        let k = &app.keys;
        let filed = app.act(id, &k.dispatcher, json!({"action": "file"})).await;
        let (_, listed) = app
            .call("GET", "/api/cases?status=filed", Some(&k.dispatcher), None)
            .await;
        let (_, detail) = app
            .call(
                "GET",
                &format!("/api/cases/{id}"),
                Some(&k.dispatcher),
                None,
            )
            .await;
        for (what, case) in [
            ("the file answer", &filed),
            ("the list", &listed["cases"][0]),
            ("the detail", &detail),
        ] {
            assert_eq!(case["id"], id, "{backend:?} {what}");
            assert_eq!(
                case["village"], place["village"]["id"],
                "{backend:?} {what}"
            );
            assert_eq!(case["village_name"], village, "{backend:?} {what}");
            assert_eq!(case["town_name"], town, "{backend:?} {what}");
        }
    }
}
