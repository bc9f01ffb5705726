//! Incidents through the real router, on SQLite and on PostgreSQL: the synthetic rainstorm
//! proposes one flood incident whose level follows the alerts (checked against the plan's
//! triggers written out here, not read from the code), confirming it creates the plan's tasks
//! with patrols of the flood points near the alerting stations and shelter openings; a chlorine
//! leak over a protected target proposes the hazardous-chemicals plan at the level its plan
//! says; team and stock bookings hold under 50 concurrent requests on two servers; every bad
//! input is refused naming its field; changes reach the stream.

use crate::common;

use axum::http::StatusCode;
use common::cases::{BACKENDS, Backend, CaseApp, EventStream, START_MS, case_app};
use gridlink::catalog::Role;
use gridlink::cli::replay::{HttpClient, Options, Recording, replay};
use gridlink::feeds::{FeedConfig, FeedService};
use gridlink::spatial::PropertyValue;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

const RAINSTORM: &str = "data/rainstorm-2026-typhoon.csv";

async fn feed_app(backend: Backend) -> CaseApp {
    let mut app = case_app(backend).await;
    let config =
        FeedConfig::load(&common::tables_dir().join("thresholds.toml")).expect("thresholds");
    let feeds = FeedService::start(
        app.service.db.clone(),
        common::shared_store().clone(),
        config,
        app.clock.clone(),
    )
    .await
    .expect("feed service starts");
    app.state.feeds = Some(feeds);
    app
}

/// The flood plan's feed triggers as `data/plans.toml` states them: level, alert kinds, least
/// signal. Written out here so the test does not ask the code it checks.
const FLOOD_TRIGGERS: [(&str, &[&str], u8); 4] = [
    ("IV", &["rain_1h", "rain_12h", "rain_24h", "water_level"], 0),
    (
        "III",
        &[
            "rain_1h",
            "rain_6h",
            "rain_24h",
            "water_level",
            "wind_speed",
        ],
        1,
    ),
    (
        "II",
        &[
            "rain_1h",
            "rain_3h",
            "rain_24h",
            "water_level",
            "wind_speed",
        ],
        2,
    ),
    (
        "I",
        &[
            "rain_1h",
            "rain_3h",
            "rain_24h",
            "water_level",
            "wind_speed",
        ],
        3,
    ),
];

fn rank(signal: &str) -> u8 {
    ["blue", "yellow", "orange", "red"]
        .iter()
        .position(|s| *s == signal)
        .expect("a signal colour") as u8
}

fn level_rank(level: &str) -> usize {
    ["IV", "III", "II", "I"]
        .iter()
        .position(|l| *l == level)
        .expect("a level")
}

/// The flood level an alert warrants, if any.
fn flood_level(kind: &str, signal: &str) -> Option<&'static str> {
    FLOOD_TRIGGERS
        .iter()
        .filter(|(_, kinds, min)| kinds.contains(&kind) && rank(signal) >= *min)
        .map(|(l, _, _)| *l)
        .max_by_key(|l| level_rank(l))
}

fn text(role: Role, id: &str, field: &str) -> Option<String> {
    let layer = common::demo_store().by_role(role)?;
    let i = layer.find(id)?;
    match layer.property(i, field) {
        Some(PropertyValue::Text(s)) => Some(s.to_string()),
        _ => None,
    }
}

/// The town unit of `unit_type` whose jurisdiction lists `town` (read from the unit layer).
fn town_unit(unit_type: &str, town: &str) -> Option<String> {
    let units = common::demo_store().by_role(Role::TownUnit)?;
    (0..units.len())
        .map(|i| units.id(i).to_string())
        .find(|id| {
            text(Role::TownUnit, id, "unit_type").as_deref() == Some(unit_type)
                && text(Role::TownUnit, id, "jurisdiction")
                    .is_some_and(|j| j.split(',').any(|c| c.trim() == town))
        })
}

async fn incident(app: &CaseApp, id: i64) -> Value {
    let (status, body) = app
        .call(
            "GET",
            &format!("/api/incidents/{id}"),
            Some(&app.keys.dispatcher),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn act(app: &CaseApp, id: i64, body: Value) -> Value {
    let (status, answer) = app
        .call(
            "POST",
            &format!("/api/incidents/{id}/actions"),
            Some(&app.keys.dispatcher),
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body} → {answer}");
    answer
}

#[tokio::test]
async fn replaying_the_rainstorm_proposes_flood_incidents_at_the_alert_times_and_levels() {
    for backend in BACKENDS {
        let app = feed_app(backend).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(axum::serve(listener, app.app()).into_future());
        let recording = Recording::load(&common::repo().join(RAINSTORM)).expect("recording");
        let mut client =
            HttpClient::new(&format!("http://{addr}"), &app.keys.dispatcher).expect("client");
        let options = Options {
            speed: None,
            retime: false,
            batch_max: 10_000,
        };
        let summary = replay(&recording, &mut client, options, |_| {})
            .await
            .expect("replays");
        server.abort();

        // Expected, from the alerts and the plan's triggers alone: the first flood alert
        // proposes at its level; each later alert warranting more raises the proposal.
        let mut alerts: Vec<&Value> = summary.alerts.iter().collect();
        alerts.sort_by_key(|a| (a["reading_at"].as_i64(), a["id"].as_i64()));
        let mut expected: Vec<(&str, &str, i64)> = Vec::new();
        let mut matching = 0;
        let mut current: Option<&str> = None;
        let mut flood_points: BTreeSet<String> = BTreeSet::new();
        for a in &alerts {
            let Some(level) =
                flood_level(a["kind"].as_str().unwrap(), a["level"].as_str().unwrap())
            else {
                continue;
            };
            matching += 1;
            for p in a["flood_points"].as_array().unwrap() {
                flood_points.insert(p["id"].as_str().unwrap().to_string());
            }
            let t = a["reading_at"].as_i64().unwrap();
            match current {
                None => expected.push(("proposed", level, t)),
                Some(c) if level_rank(level) > level_rank(c) => expected.push(("raised", level, t)),
                _ => continue,
            }
            current = Some(level);
        }
        assert_eq!(
            expected.first().map(|e| e.1),
            Some("IV"),
            "{backend:?}: a blue signal first"
        );
        assert_eq!(current, Some("I"), "{backend:?}: the storm reaches red");

        let (status, list) = app
            .call(
                "GET",
                "/api/incidents?status=proposed",
                Some(&app.keys.supervisor),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let flood: Vec<&Value> = list["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["plan"] == "flood")
            .collect();
        assert_eq!(
            flood.len(),
            1,
            "{backend:?}: one proposal per plan and episode: {list}"
        );
        let id = flood[0]["id"].as_i64().unwrap();
        assert_eq!(flood[0]["level"], "I");
        assert_eq!(flood[0]["status"], "proposed");
        // A gale at orange proposes the marine plan too (wind_speed ≥ orange).
        let gale = alerts
            .iter()
            .any(|a| a["kind"] == "wind_speed" && rank(a["level"].as_str().unwrap()) >= 2);
        let marine = list["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["plan"] == "marine");
        assert_eq!(gale, marine, "{backend:?}");

        let page = incident(&app, id).await;
        let timeline = page["timeline"].as_array().unwrap();
        let got: Vec<(&str, &str, i64)> = timeline
            .iter()
            .filter(|e| e["kind"] == "proposed" || e["kind"] == "raised")
            .map(|e| {
                (
                    e["kind"].as_str().unwrap(),
                    e["level"].as_str().unwrap(),
                    e["data"]["reading_time"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got, expected,
            "{backend:?}: proposals at the alerts' times and levels"
        );
        let triggers = timeline
            .iter()
            .filter(|e| matches!(e["kind"].as_str(), Some("proposed" | "raised" | "trigger")))
            .count();
        assert_eq!(
            triggers, matching,
            "{backend:?}: every flood alert is on the timeline"
        );
        assert!(
            page["tasks"].as_array().unwrap().is_empty(),
            "nothing is tasked before a person confirms"
        );

        // Confirmed: the plan's level-I list.
        let page = act(&app, id, json!({"action": "confirm", "note": "值班长确认"})).await;
        assert_eq!(page["incident"]["status"], "active");
        let tasks = page["tasks"].as_array().unwrap();
        let of = |pred: &dyn Fn(&Value) -> bool| tasks.iter().filter(|t| pred(t)).count();
        // Units named in the level-I list: CZD004 twice, CZD036 once.
        assert_eq!(of(&|t| t["unit"] == "CZD004" && t["place"].is_null()), 2);
        assert_eq!(of(&|t| t["unit"] == "CZD036"), 1);
        // Teams: militia 4 + flood 8, each one task waiting for a team.
        assert_eq!(
            of(&|t| t["target"] == "team" && t["team_kind"] == "militia"),
            4
        );
        assert_eq!(
            of(&|t| t["target"] == "team" && t["team_kind"] == "flood"),
            8
        );
        assert_eq!(
            of(&|t| t["target"] == "depot" && t["item"] == "tent" && t["quantity"] == 100),
            1
        );
        assert_eq!(
            of(&|t| t["target"] == "depot" && t["item"] == "folding_bed" && t["quantity"] == 500),
            1
        );
        // One patrol per flood point near the alerting stations, for its town's water unit.
        let patrols: BTreeMap<String, String> = tasks
            .iter()
            .filter(|t| t["kind"] == "patrol" && !t["place"].is_null())
            .map(|t| {
                (
                    t["place"].as_str().unwrap().to_string(),
                    t["unit"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let expected_patrols: BTreeMap<String, String> = flood_points
            .iter()
            .filter_map(|p| {
                let town = text(Role::FloodPoint, p, "town_code")?;
                Some((p.clone(), town_unit("shuiwu", &town)?))
            })
            .collect();
        assert!(!expected_patrols.is_empty());
        assert_eq!(patrols, expected_patrols, "{backend:?}");
        // Fifteen shelters opened, each by its town's civil-affairs unit, all open with room.
        let shelters: Vec<&Value> = tasks
            .iter()
            .filter(|t| t["kind"] == "open_shelters")
            .collect();
        assert_eq!(shelters.len(), 15, "{backend:?}");
        for t in &shelters {
            let place = t["place"].as_str().unwrap();
            let town = text(Role::Shelter, place, "town_code").unwrap();
            assert_eq!(t["unit"].as_str(), town_unit("minzheng", &town).as_deref());
            assert_eq!(
                text(Role::Shelter, place, "status").as_deref(),
                Some("open")
            );
        }
        assert!(
            of(&|t| t["kind"] == "evacuate") >= 1,
            "every affected town's 街镇 evacuates"
        );
        // The timeline: complete and in order.
        let timeline = page["timeline"].as_array().unwrap();
        let ids: Vec<i64> = timeline.iter().map(|e| e["id"].as_i64().unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let ats: Vec<i64> = timeline.iter().map(|e| e["at"].as_i64().unwrap()).collect();
        assert!(ats.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(
            timeline
                .iter()
                .filter(|e| e["kind"] == "task_added")
                .count(),
            tasks.len()
        );
        assert_eq!(
            timeline.iter().filter(|e| e["kind"] == "confirmed").count(),
            1
        );
        // The duty report prints it.
        let request = axum::http::Request::get(format!(
            "/incidents/{id}/report?key={}",
            app.keys.dispatcher
        ))
        .body(axum::body::Body::empty())
        .unwrap();
        let (status, content_type, body) = common::send(app.app(), request).await;
        assert_eq!(status, StatusCode::OK);
        assert!(content_type.starts_with("text/html"));
        let html = String::from_utf8(body.to_vec()).unwrap();
        assert!(html.contains("@media print") && html.contains("值班快报") && html.contains("I级"));
        assert!(html.matches("<tr><td>").count() >= tasks.len());
    }
}

/// The chlorine sources of the demo whose large night-time release, with an east wind, lies
/// over at least one protected target, and the level the hazardous-chemicals plan gives it by
/// the rules written out here: a target with ≥ 1000 people in the isolation zone → I; any
/// protected target or hazard source in either zone → II.
fn chlorine_source_over_a_target() -> (String, &'static str) {
    use gridlink::services::hazmat::{Origin, Request, analyse};
    let tables = common::tables();
    let store = common::demo_store();
    let sources = store.by_role(Role::HazardSource).unwrap();
    for i in 0..sources.len() {
        let id = sources.id(i);
        let holds = matches!(sources.property(i, "chemical_ids"), Some(PropertyValue::Text(ids)) if ids.split(',').any(|c| c.trim() == "chlorine"));
        if !holds {
            continue;
        }
        let request = Request {
            origin: Origin::HazardSource(id),
            chemical: Some("chlorine"),
            spill: gridlink::catalog::Spill::Large,
            time: gridlink::catalog::TimeOfDay::Night,
            wind_from_deg: 90.0,
            wind_speed_ms: 3.0,
        };
        let a = analyse(
            store,
            &tables,
            &request,
            gridlink::services::Viewer::Staff,
            &Default::default(),
        )
        .unwrap();
        let Some(targets) = a.groups.iter().find(|g| g.role == Role::ProtectedTarget) else {
            continue;
        };
        if targets.hits.is_empty() {
            continue;
        }
        // The plan's level I: a target in the isolation zone and ≥ 1000 people in the targets
        // the zones cover; otherwise any target in either zone: II.
        let level =
            if targets.hits.iter().any(|e| e.in_isolation) && targets.people.unwrap_or(0) >= 1000 {
                "I"
            } else {
                "II"
            };
        return (id.to_string(), level);
    }
    panic!("no chlorine source lies near a protected target in the demo data")
}

#[tokio::test]
async fn a_chlorine_leak_over_a_protected_target_proposes_hazmat_at_the_plans_level() {
    let (source, level) = chlorine_source_over_a_target();
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let zone = json!({"hazard_source": source, "chemical": "chlorine", "spill": "large", "time": "night", "wind_from_deg": 90.0, "wind_speed_ms": 3.0});
        let (status, body) = app
            .call(
                "POST",
                "/api/incidents/propose-from-zone",
                None,
                Some(zone.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        let (status, body) = app
            .call(
                "POST",
                "/api/incidents/propose-from-zone",
                Some(&app.keys.dispatcher),
                Some(zone.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{backend:?}: {body}");
        let hazmat: Vec<&Value> = body["proposals"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["plan"] == "hazmat")
            .collect();
        assert_eq!(hazmat.len(), 1, "{body}");
        assert_eq!(hazmat[0]["level"], level, "{backend:?}: {body}");
        assert_eq!(hazmat[0]["change"], "proposed");
        let id = hazmat[0]["incident"].as_i64().unwrap();
        let targets: Vec<String> = body["protected_targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_string())
            .collect();
        assert!(!targets.is_empty());
        // The same release again is the same episode: added to the proposal, not a second one.
        let (_, again) = app
            .call(
                "POST",
                "/api/incidents/propose-from-zone",
                Some(&app.keys.dispatcher),
                Some(zone),
            )
            .await;
        let again: Vec<&Value> = again["proposals"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["plan"] == "hazmat")
            .collect();
        assert_eq!(
            (again[0]["incident"].as_i64(), again[0]["change"].as_str()),
            (Some(id), Some("added"))
        );
        let page = incident(&app, id).await;
        assert!(
            page["incident"]["area"].is_object(),
            "the zones are the incident's area"
        );
        // Confirmed: one evacuation task per protected target with a town unit.
        let page = act(&app, id, json!({"action": "confirm"})).await;
        let evacuations: BTreeSet<String> = page["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["kind"] == "evacuate" && !t["place"].is_null())
            .map(|t| t["place"].as_str().unwrap().to_string())
            .collect();
        let expected: BTreeSet<String> = targets
            .iter()
            .filter(|t| {
                text(Role::ProtectedTarget, t, "town_code")
                    .and_then(|town| town_unit("jiezhen", &town))
                    .is_some()
            })
            .cloned()
            .collect();
        assert_eq!(evacuations, expected, "{backend:?}");
    }
}

/// Opens a flood incident at the test point at level III as the dispatcher; its page.
async fn open_flood(app: &CaseApp) -> Value {
    let (status, body) = app
        .call(
            "POST",
            "/api/incidents",
            Some(&app.keys.dispatcher),
            Some(json!({"plan": "flood", "level": "III", "lon": common::cases::TEST_POINT.0, "lat": common::cases::TEST_POINT.1, "note": "低洼地区积水"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

async fn add_task(app: &CaseApp, id: i64, body: Value) -> i64 {
    let (status, task) = app
        .call(
            "POST",
            &format!("/api/incidents/{id}/tasks"),
            Some(&app.keys.dispatcher),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    task["id"].as_i64().unwrap()
}

/// A second server on the same database as `app` (its own services and pools).
async fn second_server(app: &CaseApp, backend: Backend) -> gridlink::http::AppState {
    let db = match backend {
        Backend::Sqlite => {
            let path = match app.service.db.pool() {
                gridlink::db::Pool::Sqlite(pool) => {
                    pool.connect_options().get_filename().to_path_buf()
                }
                gridlink::db::Pool::Postgres(_) => unreachable!(),
            };
            gridlink::db::Db::connect_sqlite(&path)
                .await
                .expect("second handle")
        }
        Backend::Postgres => {
            let schema: String = match app.service.db.pool() {
                gridlink::db::Pool::Postgres(pool) => {
                    sqlx::query_scalar("SELECT current_schema()::text")
                        .fetch_one(pool)
                        .await
                        .unwrap()
                }
                gridlink::db::Pool::Sqlite(_) => unreachable!(),
            };
            gridlink::db::Db::connect_postgres_schema(&common::cases::pg_url(), &schema)
                .await
                .expect("second handle")
        }
    };
    let cases = gridlink::cases::CaseService::start(db, app.clock.clone())
        .await
        .expect("case service");
    let mut state = gridlink::http::AppState::new(common::shared_store().clone(), common::tables());
    state.cases = Some(cases);
    state
}

/// Sends every request at once — each on its own task of a multi-threaded runtime, released
/// together by a barrier, alternating between the two servers — and answers them in order,
/// with the most requests that were in flight at the same time.
async fn all_at_once(
    routers: [axum::Router; 2],
    requests: Vec<axum::http::Request<axum::body::Body>>,
) -> (Vec<(StatusCode, Value)>, usize) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let barrier = Arc::new(tokio::sync::Barrier::new(requests.len()));
    let (in_flight, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let handles: Vec<_> = requests
        .into_iter()
        .enumerate()
        .map(|(n, request)| {
            let router = routers[n % 2].clone();
            let (barrier, in_flight, peak) = (barrier.clone(), in_flight.clone(), peak.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                let (status, _, body) = common::send(router, request).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(handles.len());
    for h in handles {
        answers.push(h.await.expect("request task"));
    }
    (answers, peak.load(Ordering::SeqCst))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn team_and_stock_bookings_never_go_below_zero_under_50_concurrent_requests() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let other = gridlink::http::router(second_server(&app, backend).await);
        let id = open_flood(&app).await["incident"]["id"].as_i64().unwrap();
        // The nearest flood team on standby.
        let (lon, lat) = common::cases::TEST_POINT;
        let (status, teams) = app
            .call(
                "GET",
                &format!("/api/teams?kind=flood&lon={lon}&lat={lat}&available=true&limit=3"),
                Some(&app.keys.dispatcher),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{teams}");
        let team = teams["teams"][0]["id"].as_str().unwrap().to_string();
        assert_eq!(teams["teams"][0]["status"], "standby");
        let mut tasks = Vec::new();
        for _ in 0..50 {
            tasks.push(add_task(&app, id, json!({"kind": "send_team", "title": "防汛抢险队增援", "team_kind": "flood", "deadline_min": 60})).await);
        }
        // 50 requests for one team, half through each server, all at once.
        let post = |task: i64, body: Value| {
            axum::http::Request::post(format!("/api/incidents/{id}/tasks/{task}/actions"))
                .header("authorization", format!("Bearer {}", app.keys.dispatcher))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_string()))
                .unwrap()
        };
        let requests = tasks
            .iter()
            .map(|task| post(*task, json!({"action": "assign", "team": team})))
            .collect();
        let (answers, peak) = all_at_once([app.app(), other.clone()], requests).await;
        assert!(
            peak > 1,
            "{backend:?}: the requests overlapped (at most {peak} in flight)"
        );
        let won = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
        let busy: Vec<Value> = answers
            .iter()
            .filter(|(s, _)| *s == StatusCode::CONFLICT)
            .map(|(_, b)| b.clone())
            .collect();
        assert_eq!(won, 1, "{backend:?}: one request books the team");
        assert_eq!(busy.len(), 49, "{backend:?}: the others get 409");
        assert!(
            busy.iter()
                .all(|b| b["error"]["code"] == "team_busy" && b["error"]["field"] == "team"),
            "{busy:?}"
        );
        let page = incident(&app, id).await;
        let booked = page["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["team"] == team.as_str())
            .count();
        assert_eq!(booked, 1);
        let (_, teams) = app
            .call(
                "GET",
                &format!("/api/teams?kind=flood&lon={lon}&lat={lat}&available=true&limit=3"),
                Some(&app.keys.dispatcher),
                None,
            )
            .await;
        assert!(
            teams["teams"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["id"] != team.as_str()),
            "a booked team is not available"
        );

        // Stock: 50 draws of a twentieth of a depot's sandbags each, half through each server.
        let (_, depots) = app
            .call(
                "GET",
                &format!("/api/depots?item=sandbag&min=1000&lon={lon}&lat={lat}&limit=1"),
                Some(&app.keys.dispatcher),
                None,
            )
            .await;
        let depot = depots["depots"][0]["id"].as_str().unwrap().to_string();
        let stock = depots["depots"][0]["stock"]["sandbag"].as_i64().unwrap();
        let each = stock / 20 + 1;
        let mut draws = Vec::new();
        for _ in 0..50 {
            draws.push(add_task(&app, id, json!({"kind": "move_supplies", "title": "调拨沙袋", "item": "sandbag", "quantity": each, "deadline_min": 60})).await);
        }
        let requests = draws
            .iter()
            .map(|task| post(*task, json!({"action": "draw", "depot": depot})))
            .collect();
        let (answers, peak) = all_at_once([app.app(), other.clone()], requests).await;
        assert!(peak > 1, "{backend:?}: the draws overlapped");
        let drawn = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count() as i64;
        let short = answers
            .iter()
            .filter(|(s, b)| *s == StatusCode::CONFLICT && b["error"]["field"] == "quantity")
            .count() as i64;
        assert_eq!(
            drawn,
            stock / each,
            "{backend:?}: as many draws as the stock allows"
        );
        assert_eq!(drawn + short, 50);
        let (_, after) = app
            .call(
                "GET",
                "/api/depots?item=sandbag&limit=100",
                Some(&app.keys.dispatcher),
                None,
            )
            .await;
        let left = after["depots"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == depot.as_str())
            .map_or(0, |d| d["stock"]["sandbag"].as_i64().unwrap_or(0));
        assert_eq!(
            left,
            stock - drawn * each,
            "{backend:?}: never below zero, nothing lost"
        );
        assert!(left >= 0);
    }
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let (lon, lat) = common::cases::TEST_POINT;
        let post = |body: Value| {
            let app = &app;
            async move {
                app.call(
                    "POST",
                    "/api/incidents",
                    Some(&app.keys.dispatcher),
                    Some(body),
                )
                .await
            }
        };
        let cases = [
            (
                json!({"plan": "nope", "level": "III", "lon": lon, "lat": lat}),
                StatusCode::BAD_REQUEST,
                "plan",
            ),
            (
                json!({"plan": "flood", "level": "V", "lon": lon, "lat": lat}),
                StatusCode::BAD_REQUEST,
                "level",
            ),
            (
                json!({"plan": "flood", "lon": lon, "lat": lat}),
                StatusCode::BAD_REQUEST,
                "level",
            ),
            (
                json!({"plan": "flood", "level": "III"}),
                StatusCode::BAD_REQUEST,
                "lon",
            ),
            (
                json!({"plan": "flood", "level": "III", "lon": lon, "lat": lat, "area": {"type": "Point", "coordinates": [lon, lat]}}),
                StatusCode::BAD_REQUEST,
                "area",
            ),
            (
                json!({"plan": "flood", "level": "III", "hazard_source": "NOPE"}),
                StatusCode::BAD_REQUEST,
                "hazard_source",
            ),
            (
                json!({"plan": "flood", "level": "III", "case": 999_999}),
                StatusCode::BAD_REQUEST,
                "case",
            ),
            (
                json!({"plan": "flood", "level": "III", "lon": lon, "lat": lat, "extra": 1}),
                StatusCode::BAD_REQUEST,
                "body",
            ),
        ];
        for (body, status, field) in cases {
            let (got, answer) = post(body.clone()).await;
            assert_eq!(got, status, "{backend:?}: {body} → {answer}");
            let named = answer["error"]["field"].as_str().unwrap_or("");
            assert!(
                named == field || (field == "body" && !named.is_empty()),
                "{body} → {answer}"
            );
        }
        // Anonymous and unit keys may not open incidents.
        let (status, _) = app
            .call(
                "POST",
                "/api/incidents",
                None,
                Some(json!({"plan": "flood", "level": "III", "lon": lon, "lat": lat})),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = app.call("GET", "/api/incidents", None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = app
            .call(
                "POST",
                "/api/incidents",
                Some(app.unit_key()),
                Some(json!({"plan": "flood", "level": "III", "lon": lon, "lat": lat})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        let id = open_flood(&app).await["incident"]["id"].as_i64().unwrap();
        let tasks_path = format!("/api/incidents/{id}/tasks");
        let (status, answer) = app
            .call(
                "POST",
                &tasks_path,
                Some(&app.keys.dispatcher),
                Some(json!({"kind": "notify", "title": "x", "unit": "CZD043", "deadline_min": 30})),
            )
            .await;
        assert!(
            status.is_client_error() && answer["error"]["field"] == "unit",
            "not a flood member: {answer}"
        );
        let (status, answer) = app
            .call(
                "POST",
                &tasks_path,
                Some(&app.keys.dispatcher),
                Some(json!({"kind": "dance", "title": "x", "unit": "CZD004", "deadline_min": 30})),
            )
            .await;
        assert_eq!(
            (status, answer["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("kind"))
        );
        let (status, answer) = app
            .call("POST", &tasks_path, Some(&app.keys.dispatcher), Some(json!({"kind": "move_supplies", "title": "x", "item": "sandbag", "quantity": 0, "deadline_min": 30})))
            .await;
        assert_eq!(
            (status, answer["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("quantity"))
        );
        // Stock that is not there: a depot holding no such line, and more than a depot holds.
        let item_task = add_task(&app, id, json!({"kind": "move_supplies", "title": "调拨", "item": "sandbag", "quantity": 10_000_000, "deadline_min": 60})).await;
        let action = |task: i64, body: Value| {
            let app = &app;
            async move {
                app.call(
                    "POST",
                    &format!("/api/incidents/{id}/tasks/{task}/actions"),
                    Some(&app.keys.dispatcher),
                    Some(body),
                )
                .await
            }
        };
        let depot = common::demo_store()
            .by_role(Role::SupplyDepot)
            .unwrap()
            .id(0)
            .to_string();
        let (status, answer) = action(item_task, json!({"action": "draw", "depot": depot})).await;
        assert_eq!(
            (status, answer["error"]["field"].as_str()),
            (StatusCode::CONFLICT, Some("quantity")),
            "{answer}"
        );
        let (status, answer) = action(
            item_task,
            json!({"action": "draw", "depot": "NO-SUCH-DEPOT"}),
        )
        .await;
        assert_eq!(
            (status, answer["error"]["field"].as_str()),
            (StatusCode::CONFLICT, Some("depot")),
            "{answer}"
        );
        // An unknown level to raise to; an unknown team, a team of another type, a second team
        // for a task that has one.
        let (status, answer) = app
            .call(
                "POST",
                &format!("/api/incidents/{id}/actions"),
                Some(&app.keys.dispatcher),
                Some(json!({"action": "raise", "level": "V"})),
            )
            .await;
        assert_eq!(
            (status, answer["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("level")),
            "{answer}"
        );
        let team_task = add_task(
            &app,
            id,
            json!({"kind": "send_team", "title": "增援", "team_kind": "flood", "deadline_min": 60}),
        )
        .await;
        let (status, answer) = action(team_task, json!({"action": "assign", "team": "NOPE"})).await;
        assert_eq!(
            (status, answer["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("team")),
            "{answer}"
        );
        let (_, teams) = app
            .call(
                "GET",
                &format!("/api/teams?available=true&lon={lon}&lat={lat}&limit=100"),
                Some(&app.keys.dispatcher),
                None,
            )
            .await;
        let of_kind = |flood: bool| {
            teams["teams"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| (t["kind_id"] == "flood") == flood)
                .map(|t| t["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        let (flood_teams, others) = (of_kind(true), of_kind(false));
        let (status, answer) =
            action(team_task, json!({"action": "assign", "team": others[0]})).await;
        assert_eq!(
            (status, answer["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("team")),
            "{answer}"
        );
        let (status, _) = action(
            team_task,
            json!({"action": "assign", "team": flood_teams[0]}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (status, answer) = action(
            team_task,
            json!({"action": "assign", "team": flood_teams[1]}),
        )
        .await;
        assert_eq!(
            (
                status,
                answer["error"]["code"].as_str(),
                answer["error"]["field"].as_str()
            ),
            (StatusCode::CONFLICT, Some("already_booked"), Some("team")),
            "no double booking: {answer}"
        );
        let (_, teams) = app
            .call(
                "GET",
                "/api/teams?kind=flood&limit=100",
                Some(&app.keys.dispatcher),
                None,
            )
            .await;
        let status_of = |team: &str| {
            teams["teams"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["id"] == team)
                .map(|t| t["status"].as_str().unwrap().to_string())
        };
        assert_eq!(
            status_of(&flood_teams[1]).as_deref(),
            Some("standby"),
            "the refused booking left the second team free"
        );
        // A unit acts on its own tasks only; a refusal needs a reason.
        let office_key = gridlink::cases::keys::create(
            &app.service.db,
            gridlink::cases::Role::Unit,
            Some("CZD004"),
            Some("防汛办"),
            START_MS,
        )
        .await
        .expect("key")
        .secret;
        let czd004 = add_task(
            &app,
            id,
            json!({"kind": "notify", "title": "通知", "unit": "CZD004", "deadline_min": 30}),
        )
        .await;
        let czd006 = add_task(&app, id, json!({"kind": "close_roads", "title": "交通管制", "unit": "CZD006", "deadline_min": 30})).await;
        let as_office = |task: i64, body: Value| {
            let (app, key) = (&app, office_key.clone());
            async move {
                app.call(
                    "POST",
                    &format!("/api/incidents/{id}/tasks/{task}/actions"),
                    Some(&key),
                    Some(body),
                )
                .await
            }
        };
        let (status, answer) = as_office(czd006, json!({"action": "acknowledge"})).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("not_your_task")),
            "{answer}"
        );
        let (status, answer) =
            as_office(czd004, json!({"action": "assign", "team": "DW001"})).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "a unit does not book teams: {answer}"
        );
        let (status, answer) = as_office(czd004, json!({"action": "refuse"})).await;
        assert_eq!(
            (status, answer["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("reason"))
        );
        // Done before acknowledged is out of order.
        let (status, answer) = as_office(czd004, json!({"action": "done"})).await;
        assert_eq!(
            (status, answer["error"]["field"].as_str()),
            (StatusCode::CONFLICT, Some("action"))
        );
        let (status, answer) = as_office(czd004, json!({"action": "acknowledge"})).await;
        assert_eq!(
            (status, answer["status"].as_str()),
            (StatusCode::OK, Some("acknowledged")),
            "{answer}"
        );
        let (status, answer) = as_office(czd006, json!({"action": "refuse", "reason": "x"})).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
        // Closing with open tasks needs a reason.
        let (status, answer) = app
            .call(
                "POST",
                &format!("/api/incidents/{id}/actions"),
                Some(&app.keys.dispatcher),
                Some(json!({"action": "close"})),
            )
            .await;
        assert_eq!(
            (status, answer["error"]["field"].as_str()),
            (StatusCode::CONFLICT, Some("reason")),
            "{answer}"
        );
        let page = act(
            &app,
            id,
            json!({"action": "close", "reason": "积水已退，其余任务转日常处置"}),
        )
        .await;
        assert_eq!(page["incident"]["status"], "closed");
        let (status, _) = app
            .call(
                "POST",
                &format!("/api/incidents/{id}/actions"),
                Some(&app.keys.dispatcher),
                Some(json!({"action": "raise"})),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::CONFLICT,
            "a closed incident takes nothing"
        );
    }
}

#[tokio::test]
async fn levels_move_tasks_finish_overdue_is_marked_and_the_stream_tells() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let mut stream = EventStream::open(app.app(), &app.keys.dispatcher).await;
        assert!(stream.next_text().await.contains("event: ready"));
        let page = open_flood(&app).await;
        let id = page["incident"]["id"].as_i64().unwrap();
        let mut seen = String::new();
        while !seen.contains("event: incident") {
            seen.push_str(&stream.next_text().await);
        }
        assert!(seen.contains("\"change\":\"opened\""), "{seen}");
        let before = page["tasks"].as_array().unwrap().len();
        assert!(before > 0);
        // Raising an active incident adds the new level's tasks; lowering adds none.
        let raised = act(&app, id, json!({"action": "raise"})).await;
        assert_eq!(raised["incident"]["level"], "II");
        let after = raised["tasks"].as_array().unwrap().len();
        assert!(after > before);
        let lowered = act(&app, id, json!({"action": "lower", "level": "IV"})).await;
        assert_eq!(lowered["incident"]["level"], "IV");
        assert_eq!(lowered["tasks"].as_array().unwrap().len(), after);
        let (status, answer) = app
            .call(
                "POST",
                &format!("/api/incidents/{id}/actions"),
                Some(&app.keys.dispatcher),
                Some(json!({"action": "lower"})),
            )
            .await;
        assert_eq!(
            (status, answer["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("level")),
            "IV is the lowest"
        );
        // A team task: assign the nearest flood team, start, done with a note.
        let task = raised["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["team_kind"] == "flood")
            .unwrap()["id"]
            .as_i64()
            .unwrap();
        let (lon, lat) = common::cases::TEST_POINT;
        let (_, teams) = app
            .call(
                "GET",
                &format!("/api/teams?kind=flood&lon={lon}&lat={lat}&available=true&limit=1"),
                Some(&app.keys.dispatcher),
                None,
            )
            .await;
        let team = teams["teams"][0]["id"].as_str().unwrap().to_string();
        for (body, status) in [
            (json!({"action": "assign", "team": team}), "assigned"),
            (json!({"action": "start"}), "started"),
            (
                json!({"action": "done", "note": "积水点已排除", "photo": "https://example.org/p.jpg"}),
                "done",
            ),
        ] {
            let (code, answer) = app
                .call(
                    "POST",
                    &format!("/api/incidents/{id}/tasks/{task}/actions"),
                    Some(&app.keys.dispatcher),
                    Some(body),
                )
                .await;
            assert_eq!(code, StatusCode::OK, "{answer}");
            assert_eq!(answer["status"], status);
            // The booked team's equipment goes with the task (the panel and report show it).
            let kit = answer["team_equipment"].as_str().unwrap_or("");
            assert!(
                kit.contains("抽水泵"),
                "a flood team carries pumps: {answer}"
            );
        }
        let (_, _, html) = get_raw(
            &app,
            &format!("/incidents/{id}/report"),
            Some(&app.keys.dispatcher),
        )
        .await;
        assert!(
            String::from_utf8(html).unwrap().contains("（装备：抽水泵"),
            "the duty report names the team's equipment"
        );
        let (_, teams) = app
            .call(
                "GET",
                &format!("/api/teams?kind=flood&lon={lon}&lat={lat}&limit=1"),
                Some(&app.keys.dispatcher),
                None,
            )
            .await;
        assert_eq!(teams["teams"][0]["status"], "returning");
        let mut seen = String::new();
        while !seen.contains("\"change\":\"task_done\"") {
            seen.push_str(&stream.next_text().await);
        }
        assert!(seen.contains("event: task"));
        // Back at base: standby again, bookable.
        let (status, back) = app
            .call(
                "PATCH",
                &format!("/api/teams/{team}"),
                Some(&app.keys.dispatcher),
                Some(json!({"status": "standby"})),
            )
            .await;
        assert_eq!(
            (status, back["status"].as_str()),
            (StatusCode::OK, Some("standby"))
        );
        // Two hours on, tasks due in an hour are overdue.
        app.clock.advance(2 * 3600 * 1000);
        let page = incident(&app, id).await;
        let overdue = page["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["overdue"] == true)
            .count();
        assert!(overdue > 0 && page["counts"]["overdue"].as_u64() == Some(overdue as u64));
        assert!(
            page["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["status"] != "done" || t["overdue"] == false)
        );
    }
}

/// A multipart/form-data body: text parts, then file parts `(name, file name, type, bytes)`.
fn multipart(texts: &[(&str, &str)], files: &[(&str, &str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "gridlink-incident-boundary-41c9";
    let mut body = Vec::new();
    for (name, value) in texts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    for (name, file, content_type, data) in files {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: {content_type}\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A real JPEG of a flooded street's colours, 640 × 480.
fn jpeg() -> Vec<u8> {
    let image = image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x / 3) as u8, (y / 2) as u8, 160])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encodes");
    out.into_inner()
}

/// POSTs a multipart body; status and JSON answer.
async fn post_multipart(
    app: &CaseApp,
    path: &str,
    key: &str,
    (content_type, body): (String, Vec<u8>),
) -> (StatusCode, Value) {
    let request = axum::http::Request::post(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", content_type)
        .body(axum::body::Body::from(body))
        .unwrap();
    let (status, _, bytes) = common::send(app.app(), request).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn get_raw(app: &CaseApp, path: &str, key: Option<&str>) -> (StatusCode, String, Vec<u8>) {
    let mut request = axum::http::Request::get(path);
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    let (status, content_type, body) =
        common::send(app.app(), request.body(axum::body::Body::empty()).unwrap()).await;
    (status, content_type, body.to_vec())
}

#[tokio::test]
async fn a_task_is_done_with_an_uploaded_photo_served_back_only_to_staff() {
    let photo = jpeg();
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let id = open_flood(&app).await["incident"]["id"].as_i64().unwrap();
        let task = add_task(
            &app,
            id,
            json!({"kind": "patrol", "title": "巡查积水点", "unit": "CZD004", "deadline_min": 60}),
        )
        .await;
        let other = add_task(
            &app,
            id,
            json!({"kind": "notify", "title": "通知", "unit": "CZD004", "deadline_min": 60}),
        )
        .await;
        let actions = format!("/api/incidents/{id}/tasks/{task}/actions");
        let key = app.keys.dispatcher.clone();
        // A photo goes with done only.
        let (status, answer) = post_multipart(
            &app,
            &actions,
            &key,
            multipart(
                &[("action", "acknowledge")],
                &[("photos", "a.jpg", "image/jpeg", &photo)],
            ),
        )
        .await;
        assert_eq!(
            (status, answer["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("photos")),
            "{backend:?}: {answer}"
        );
        let (status, _) = app
            .call(
                "POST",
                &actions,
                Some(&key),
                Some(json!({"action": "acknowledge"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        // HTML named and typed like a photo is refused by its content, and nothing changes.
        let html = b"<!doctype html><script>alert(document.cookie)</script>".to_vec();
        let (status, answer) = post_multipart(
            &app,
            &actions,
            &key,
            multipart(
                &[("action", "done"), ("note", "已排除")],
                &[("photos", "IMG_0001.jpg", "image/jpeg", &html)],
            ),
        )
        .await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{answer}");
        assert_eq!(answer["error"]["field"], "photos[0]", "{answer}");
        let page = incident(&app, id).await;
        let stored = |page: &Value, t: i64| -> Value {
            page["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["id"] == t)
                .unwrap()
                .clone()
        };
        assert_eq!(stored(&page, task)["status"], "acknowledged");
        // Two photos, or a photo and a URL: one photo per task.
        let (status, answer) = post_multipart(
            &app,
            &actions,
            &key,
            multipart(
                &[("action", "done")],
                &[
                    ("photos", "a.jpg", "image/jpeg", &photo),
                    ("photos", "b.jpg", "image/jpeg", &photo),
                ],
            ),
        )
        .await;
        assert_eq!(
            (status, answer["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("photos")),
            "{answer}"
        );
        // The real JPEG: done, with the note, the photo linked to the task.
        let (status, done) = post_multipart(
            &app,
            &actions,
            &key,
            multipart(
                &[("action", "done"), ("note", "积水已排除，泵车撤离")],
                &[("photos", "IMG_0002.jpg", "image/jpeg", &photo)],
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{backend:?}: {done}");
        assert_eq!(done["status"], "done");
        assert_eq!(done["note"], "积水已排除，泵车撤离");
        let url = done["photo_url"].as_str().unwrap().to_string();
        assert_eq!(url, format!("/api/incidents/{id}/tasks/{task}/photo"));
        let (status, content_type, bytes) = get_raw(&app, &url, Some(&key)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "image/jpeg");
        assert_eq!(
            bytes, photo,
            "{backend:?}: the original comes back byte for byte"
        );
        let thumb_url = done["photo_thumb_url"].as_str().unwrap();
        let (status, content_type, thumb) = get_raw(&app, thumb_url, Some(&key)).await;
        assert_eq!(
            (status, content_type.as_str()),
            (StatusCode::OK, "image/jpeg")
        );
        let thumb = image::load_from_memory(&thumb).expect("the thumbnail decodes");
        assert_eq!((thumb.width(), thumb.height()), (320, 240));
        // An <img> passes the key in the query; without a key there is nothing.
        let (status, _, _) = get_raw(&app, &format!("{url}?key={key}"), None).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, _) = get_raw(&app, &url, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _, _) = get_raw(
            &app,
            &format!("/api/incidents/{id}/tasks/{other}/photo"),
            Some(&key),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "a task without a photo");
        let (status, _, _) = get_raw(
            &app,
            &format!("/api/incidents/{}/tasks/{task}/photo", id + 1000),
            Some(&key),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "the task of another incident"
        );
        // Content-addressed in the photo store; the timeline names it.
        let hash = done["photo"]
            .as_str()
            .and_then(|p| p.strip_prefix("/api/photos/"))
            .unwrap()
            .to_string();
        let on_disk = walk(app.photos_dir.path());
        assert!(
            on_disk.iter().any(|f| f.ends_with(&hash)),
            "{backend:?}: {on_disk:?}"
        );
        let page = incident(&app, id).await;
        assert!(
            page["timeline"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["kind"] == "task_done"
                    && e["task"] == task
                    && e["data"]["photo"] == done["photo"])
        );
        // The duty report carries the thumbnail inline (no key in an image address).
        let (status, _, html) = get_raw(&app, &format!("/incidents/{id}/report"), Some(&key)).await;
        assert_eq!(status, StatusCode::OK);
        let html = String::from_utf8(html).unwrap();
        assert!(html.contains(&format!("data-task-photo=\"{task}\"")));
        assert!(html.contains("src=\"data:image/jpeg;base64,"));
        assert!(!html.contains(&key));
    }
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path.to_string_lossy().into_owned());
        }
    }
    out
}

/// The equipment names a team carries (count > 0), read from the layer's text here.
fn carried(team: &str) -> BTreeSet<String> {
    text(Role::Team, team, "equipment")
        .unwrap_or_default()
        .split(';')
        .filter_map(|part| {
            let mut words = part.split_whitespace();
            let (name, n) = (words.next()?, words.next()?.parse::<i64>().ok()?);
            (n > 0).then(|| name.to_string())
        })
        .collect()
}

#[tokio::test]
async fn teams_carry_equipment_and_the_nearest_query_filters_by_it() {
    let teams = common::demo_store().by_role(Role::Team).unwrap();
    let all: Vec<String> = (0..teams.len()).map(|i| teams.id(i).to_string()).collect();
    assert!(
        all.iter().all(|t| !carried(t).is_empty()),
        "every demo team carries something"
    );
    let with_boat = all.iter().filter(|t| carried(t).contains("冲锋舟")).count();
    assert!(with_boat > 0 && with_boat < all.len());
    let (lon, lat) = common::cases::TEST_POINT;
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let get = |query: String| {
            let app = &app;
            async move {
                app.call(
                    "GET",
                    &format!("/api/teams?{query}"),
                    Some(&app.keys.dispatcher),
                    None,
                )
                .await
            }
        };
        let (status, body) = get(format!("equipment=boat&lon={lon}&lat={lat}&limit=100")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let found = body["teams"].as_array().unwrap();
        assert_eq!(found.len(), with_boat.min(100), "{backend:?}");
        let distances: Vec<f64> = found
            .iter()
            .map(|t| t["distance_m"].as_f64().unwrap())
            .collect();
        assert!(distances.windows(2).all(|w| w[0] <= w[1]), "nearest first");
        for t in found {
            let id = t["id"].as_str().unwrap();
            assert!(carried(id).contains("冲锋舟"), "{id}");
            let boat = t["equipment"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["id"] == "boat")
                .unwrap_or_else(|| panic!("{t}"));
            assert!(boat["count"].as_i64().unwrap() > 0 && boat["unit"] == "艘");
        }
        // By name, with a type and two pieces: each carried.
        let (_, body) = get(format!(
            "kind=flood&equipment=冲锋舟,pump&available=true&lon={lon}&lat={lat}&limit=100"
        ))
        .await;
        let flood: Vec<&Value> = body["teams"].as_array().unwrap().iter().collect();
        assert!(!flood.is_empty());
        for t in &flood {
            let kit = carried(t["id"].as_str().unwrap());
            assert!(kit.contains("冲锋舟") && kit.contains("抽水泵"));
            assert_eq!(t["kind_id"], "flood");
        }
        // Without lon/lat: register order, same filter.
        let (_, body) = get("equipment=breathing_apparatus&limit=100".into()).await;
        assert!(
            body["teams"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| carried(t["id"].as_str().unwrap()).contains("正压式空气呼吸器"))
        );
        let (status, answer) = get("equipment=submarine".into()).await;
        assert_eq!(
            (status, answer["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("equipment")),
            "{answer}"
        );
    }
}

/// A rain-gauge reading through `POST /api/feeds/readings`; the flood proposals it made.
async fn rain(app: &CaseApp, station: &str, minutes_ago: i64, mm: f64) -> Vec<Value> {
    let time = gridlink::cases::clock::rfc3339(app.clock.now() - minutes_ago * 60_000);
    let (status, body) = app
        .call(
            "POST",
            "/api/feeds/readings",
            Some(&app.keys.dispatcher),
            Some(json!([{"station": station, "time": time, "kind": "rain_1h", "value": mm}])),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["plan"] == "flood")
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_dismissed_proposal_cools_its_trigger_down_but_not_a_higher_level() {
    let cooldown = common::tables().plans.dismissal_cooldown_min;
    assert!(cooldown > 0);
    let gauges = common::demo_store().by_role(Role::RainGauge).unwrap();
    let (s1, s2) = (gauges.id(0).to_string(), gauges.id(1).to_string());
    let (source, _) = chlorine_source_over_a_target();
    for backend in BACKENDS {
        let app = feed_app(backend).await;
        let dismiss = |id: i64| act(&app, id, json!({"action": "dismiss", "reason": "误报"}));
        // 40 mm/h is yellow (thresholds.toml), flood level III.
        let first = rain(&app, &s1, 50, 40.0).await;
        assert_eq!(first.len(), 1, "{first:?}");
        assert_eq!(
            (first[0]["change"].as_str(), first[0]["level"].as_str()),
            (Some("proposed"), Some("III"))
        );
        let a = first[0]["incident"].as_i64().unwrap();
        dismiss(a).await;
        // The same station falls back and crosses yellow again, then blue: held, not proposed.
        rain(&app, &s1, 45, 0.0).await;
        let again = rain(&app, &s1, 40, 40.0).await;
        assert_eq!(
            (again[0]["change"].as_str(), again[0]["incident"].as_i64()),
            (Some("held"), Some(a)),
            "{backend:?}: {again:?}"
        );
        rain(&app, &s1, 35, 0.0).await;
        let lower = rain(&app, &s1, 30, 25.0).await;
        assert_eq!(lower[0]["change"], "held", "a lower level is held too");
        let (_, list) = app
            .call(
                "GET",
                "/api/incidents?status=proposed,active",
                Some(&app.keys.dispatcher),
                None,
            )
            .await;
        assert_eq!(list["count"], 0, "{backend:?}: nothing proposed: {list}");
        let page = incident(&app, a).await;
        assert_eq!(page["incident"]["status"], "dismissed");
        assert_eq!(
            page["timeline"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["kind"] == "held")
                .count(),
            2,
            "the held triggers are on the dismissed incident's timeline"
        );
        // Another station is another trigger.
        let other = rain(&app, &s2, 30, 40.0).await;
        assert_eq!(other[0]["change"], "proposed", "{other:?}");
        let b = other[0]["incident"].as_i64().unwrap();
        assert_ne!(a, b);
        dismiss(b).await;
        // A higher level from the first station proposes at once.
        let higher = rain(&app, &s1, 25, 60.0).await;
        assert_eq!(
            (higher[0]["change"].as_str(), higher[0]["level"].as_str()),
            (Some("proposed"), Some("II")),
            "{higher:?}"
        );
        let c = higher[0]["incident"].as_i64().unwrap();
        dismiss(c).await;
        // Once the window has passed, the same trigger proposes again.
        app.clock.advance((cooldown + 1) * 60_000);
        rain(&app, &s2, 20, 0.0).await;
        let later = rain(&app, &s2, 10, 40.0).await;
        assert_eq!(later[0]["change"], "proposed", "{backend:?}: {later:?}");
        assert!(![a, b, c].contains(&later[0]["incident"].as_i64().unwrap()));

        // A leak: the same release after a dismissal is held.
        let zone = json!({"hazard_source": source, "chemical": "chlorine", "spill": "large", "time": "night", "wind_from_deg": 90.0, "wind_speed_ms": 3.0});
        let propose = || {
            let (app, zone) = (&app, zone.clone());
            async move {
                let (_, body) = app
                    .call(
                        "POST",
                        "/api/incidents/propose-from-zone",
                        Some(&app.keys.dispatcher),
                        Some(zone),
                    )
                    .await;
                body["proposals"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|p| p["plan"] == "hazmat")
                    .cloned()
                    .unwrap()
            }
        };
        let leak = propose().await;
        assert_eq!(leak["change"], "proposed");
        dismiss(leak["incident"].as_i64().unwrap()).await;
        let leak_again = propose().await;
        assert_eq!(
            (
                leak_again["change"].as_str(),
                leak_again["incident"].as_i64()
            ),
            (Some("held"), leak["incident"].as_i64()),
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn incidents_open_at_an_area_a_hazard_source_or_from_a_case_with_an_append_only_timeline() {
    let (source, _) = chlorine_source_over_a_target();
    let (lon, lat) = common::cases::TEST_POINT;
    // The hazardous-chemicals plan's level for a Y0101 case, as data/plans.toml states it.
    let case_level = "IV";
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let open = |body: Value| {
            let app = &app;
            async move {
                let (status, page) = app
                    .call(
                        "POST",
                        "/api/incidents",
                        Some(&app.keys.dispatcher),
                        Some(body),
                    )
                    .await;
                assert_eq!(status, StatusCode::CREATED, "{page}");
                page
            }
        };
        let d = 0.004;
        let ring = json!([
            [lon - d, lat - d],
            [lon + d, lat - d],
            [lon + d, lat + d],
            [lon - d, lat + d],
            [lon - d, lat - d]
        ]);
        let area = json!({"type": "Polygon", "coordinates": [ring]});
        let page =
            open(json!({"plan": "flood", "level": "IV", "lon": lon, "lat": lat, "area": area}))
                .await;
        let id = page["incident"]["id"].as_i64().unwrap();
        assert_eq!(page["incident"]["area"], area);
        assert_eq!(page["incident"]["source"], "manual");
        assert!(!page["tasks"].as_array().unwrap().is_empty());
        let (status, content_type, body) = get_raw(
            &app,
            &format!("/api/incidents/{id}/features"),
            Some(&app.keys.dispatcher),
        )
        .await;
        assert_eq!(
            (status, content_type.as_str()),
            (StatusCode::OK, "application/geo+json")
        );
        let features: Value = serde_json::from_slice(&body).unwrap();
        let roles: Vec<&str> = features["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["properties"]["role"].as_str().unwrap())
            .collect();
        assert!(
            roles.contains(&"area") && roles.contains(&"incident"),
            "{roles:?}"
        );

        let page = open(json!({"plan": "hazmat", "level": "II", "hazard_source": source})).await;
        assert_eq!(page["incident"]["source_ref"], source.as_str());
        let at = common::demo_store().by_role(Role::HazardSource).unwrap();
        let i = at.find(&source).unwrap();
        let gridlink::spatial::GeometryRef::Point(p) = at.geometry(i) else {
            panic!("a point source")
        };
        assert_eq!(
            (
                page["incident"]["lon"].as_f64(),
                page["incident"]["lat"].as_f64()
            ),
            (Some(p.x), Some(p.y))
        );

        let (status, case) = app
            .call(
                "POST",
                "/api/cases",
                Some(&app.keys.dispatcher),
                Some(json!({"class": "Y0101", "lon": lon, "lat": lat, "description": "厂区储罐阀门泄漏，有刺激性气味"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{case}");
        let case_id = case["id"].as_i64().unwrap();
        let page = open(json!({"plan": "hazmat", "case": case_id})).await;
        assert_eq!(page["incident"]["source"], "case");
        assert_eq!(page["incident"]["source_ref"], case_id.to_string());
        assert_eq!(page["incident"]["level"], case_level, "{backend:?}");
        let escalated = page["incident"]["id"].as_i64().unwrap();
        assert_eq!(page["timeline"][0]["kind"], "opened");

        // The timeline is append-only in the database itself.
        let refused = match app.service.db.pool() {
            gridlink::db::Pool::Sqlite(pool) => {
                let update =
                    sqlx::query("UPDATE incident_events SET note = 'x' WHERE incident = ?")
                        .bind(escalated)
                        .execute(pool)
                        .await;
                let delete = sqlx::query("DELETE FROM incident_events WHERE incident = ?")
                    .bind(escalated)
                    .execute(pool)
                    .await;
                update.is_err() && delete.is_err()
            }
            gridlink::db::Pool::Postgres(pool) => {
                let update =
                    sqlx::query("UPDATE incident_events SET note = 'x' WHERE incident = $1")
                        .bind(escalated)
                        .execute(pool)
                        .await;
                let delete = sqlx::query("DELETE FROM incident_events WHERE incident = $1")
                    .bind(escalated)
                    .execute(pool)
                    .await;
                update.is_err() && delete.is_err()
            }
        };
        assert!(
            refused,
            "{backend:?}: incident_events refuses updates and deletes"
        );
        let again = incident(&app, escalated).await;
        assert_eq!(again["timeline"], page["timeline"]);
    }
}
