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

#[tokio::test]
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
        let calls = tasks.iter().enumerate().map(|(n, task)| {
            let router = if n % 2 == 0 { app.app() } else { other.clone() };
            let request =
                axum::http::Request::post(format!("/api/incidents/{id}/tasks/{task}/actions"))
                    .header("authorization", format!("Bearer {}", app.keys.dispatcher))
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(
                        json!({"action": "assign", "team": team}).to_string(),
                    ))
                    .unwrap();
            common::send(router, request)
        });
        let answers = futures_util::future::join_all(calls).await;
        let won = answers
            .iter()
            .filter(|(s, _, _)| *s == StatusCode::OK)
            .count();
        let busy: Vec<Value> = answers
            .iter()
            .filter(|(s, _, _)| *s == StatusCode::CONFLICT)
            .map(|(_, _, b)| serde_json::from_slice(b).unwrap())
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
        let calls = draws.iter().enumerate().map(|(n, task)| {
            let router = if n % 2 == 0 { app.app() } else { other.clone() };
            let request =
                axum::http::Request::post(format!("/api/incidents/{id}/tasks/{task}/actions"))
                    .header("authorization", format!("Bearer {}", app.keys.dispatcher))
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(
                        json!({"action": "draw", "depot": depot}).to_string(),
                    ))
                    .unwrap();
            common::send(router, request)
        });
        let answers = futures_util::future::join_all(calls).await;
        let drawn = answers
            .iter()
            .filter(|(s, _, _)| *s == StatusCode::OK)
            .count() as i64;
        let short = answers
            .iter()
            .filter(|(s, _, b)| {
                *s == StatusCode::CONFLICT
                    && serde_json::from_slice::<Value>(b).unwrap()["error"]["field"] == "quantity"
            })
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
        }
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
