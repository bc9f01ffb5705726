//! Hydrological and weather feeds through the real router, on SQLite and on PostgreSQL:
//! idempotent ingestion, every reason a row is refused, exactly one alert per upward crossing,
//! the flood-prone points and villages an alert lists (checked against an independent distance
//! computation), the latest values as GeoJSON, the live stream, and the shipped synthetic
//! rainstorm replayed by `gridlink replay`'s code into a real server on a TCP port.

use crate::common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::cases::{BACKENDS, Backend, CaseApp, EventStream, START_MS, case_app};
use gridlink::catalog::Role;
use gridlink::cli::replay::{HttpClient, Options, Recording, replay};
use gridlink::feeds::{FeedConfig, FeedService};
use gridlink::spatial::GeometryRef;
use serde_json::{Value, json};
use std::collections::BTreeMap;

const MINUTE: i64 = 60_000;
const RAINSTORM: &str = "data/rainstorm-2026-typhoon.csv";

fn feed_config() -> FeedConfig {
    FeedConfig::load(&common::tables_dir().join("thresholds.toml")).expect("thresholds load")
}

/// The case app of `backend` with a feed service on the same database and clock.
async fn feed_app(backend: Backend) -> CaseApp {
    let mut app = case_app(backend).await;
    let feeds = FeedService::start(
        app.service.db.clone(),
        common::shared_store().clone(),
        feed_config(),
        app.clock.clone(),
    )
    .await
    .expect("feed service starts");
    app.state.feeds = Some(feeds);
    app
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("time")
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn post_csv(app: &CaseApp, key: Option<&str>, csv: &str) -> (StatusCode, Value) {
    let mut request = Request::post("/api/feeds/readings").header("content-type", "text/csv");
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    let (status, _, body) = common::send(
        app.app(),
        request.body(Body::from(csv.to_string())).unwrap(),
    )
    .await;
    (
        status,
        serde_json::from_slice(&body).unwrap_or_else(|_| json!(String::from_utf8_lossy(&body))),
    )
}

async fn post_json(app: &CaseApp, readings: Value) -> Value {
    let (status, body) = app
        .call(
            "POST",
            "/api/feeds/readings",
            Some(&app.keys.dispatcher),
            Some(readings),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn reading(station: &str, ms: i64, kind: &str, value: f64) -> Value {
    json!({"station": station, "time": iso(ms), "kind": kind, "value": value})
}

/// The first feature id of the layer playing `role`.
fn station_of(role: Role, n: usize) -> String {
    common::demo_store()
        .by_role(role)
        .expect("station layer")
        .id(n)
        .to_string()
}

async fn alerts(app: &CaseApp, query: &str) -> Vec<Value> {
    let (status, body) = app
        .call(
            "GET",
            &format!("/api/alerts{query}"),
            Some(&app.keys.supervisor),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["alerts"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn ingestion_is_idempotent_on_station_kind_and_time() {
    for backend in BACKENDS {
        let app = feed_app(backend).await;
        let gauge = station_of(Role::RainGauge, 0);
        let level = station_of(Role::WaterLevelStation, 0);
        let t = START_MS - 60 * MINUTE;
        let batch = json!([
            reading(&gauge, t, "rain_1h", 3.5),
            reading(&gauge, t + 15 * MINUTE, "rain_1h", 4.0),
            reading(&level, t, "water_level", 2.71),
        ]);
        let first = post_json(&app, batch.clone()).await;
        assert_eq!(
            (first["accepted"].as_u64(), first["duplicates"].as_u64()),
            (Some(3), Some(0)),
            "{backend:?}: {first}"
        );
        assert_eq!(first["rejected"], json!([]));
        // The same again: nothing new.
        let again = post_json(&app, batch).await;
        assert_eq!(
            (again["accepted"].as_u64(), again["duplicates"].as_u64()),
            (Some(0), Some(3)),
            "{backend:?}: {again}"
        );
        // A re-sent key with another value is a duplicate too: the first value stands.
        let changed = post_json(
            &app,
            json!([
                reading(&gauge, t + 15 * MINUTE, "rain_1h", 99.0),
                reading(&gauge, t + 30 * MINUTE, "rain_1h", 5.0),
                reading(&gauge, t + 30 * MINUTE, "rain_1h", 5.0),
            ]),
        )
        .await;
        assert_eq!(
            (changed["accepted"].as_u64(), changed["duplicates"].as_u64()),
            (Some(1), Some(2)),
            "{backend:?}: {changed}"
        );
        // CSV of readings already stored (time written with another offset): duplicates.
        let beijing = "station,time,kind,value\n".to_string()
            + &format!(
                "{level},{},water_level,2.71\n",
                chrono::DateTime::from_timestamp_millis(t)
                    .unwrap()
                    .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
                    .to_rfc3339()
            );
        let (status, csv) = post_csv(&app, Some(&app.keys.dispatcher), &beijing).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            (csv["accepted"].as_u64(), csv["duplicates"].as_u64()),
            (Some(0), Some(1)),
            "{csv}"
        );
        // The latest value is the newest stored, not the re-sent 99.
        let (_, latest) = app
            .call(
                "GET",
                &format!("/api/feeds/latest?station={gauge}"),
                None,
                None,
            )
            .await;
        let series = latest["series"].as_array().expect("series");
        assert_eq!(series.len(), 1, "{latest}");
        assert_eq!(series[0]["value"], json!(5.0));
        assert_eq!(series[0]["reading_time"], iso(t + 30 * MINUTE));
        assert_eq!(series[0]["level"], Value::Null);

        // A restarted service reloads the latest values from the database.
        let restarted = FeedService::start(
            app.service.db.clone(),
            common::shared_store().clone(),
            feed_config(),
            app.clock.clone(),
        )
        .await
        .expect("restarts");
        let reloaded = restarted.latest_of(&gauge);
        assert_eq!(reloaded.len(), 1);
        assert_eq!(reloaded[0].series.value, 5.0);
        assert_eq!(reloaded[0].series.time, t + 30 * MINUTE);
    }
}

#[tokio::test]
async fn every_bad_row_is_refused_with_its_reason_and_the_rest_are_stored() {
    for backend in BACKENDS {
        let app = feed_app(backend).await;
        let gauge = station_of(Role::RainGauge, 1);
        let weather = station_of(Role::WeatherStation, 0);
        let now = START_MS;
        let csv = [
            "station,time,kind,value".to_string(),
            format!("{gauge},{},rain_1h,1.5", iso(now - 30 * MINUTE)), // 1 ok
            format!("NOPE001,{},rain_1h,1.5", iso(now - 30 * MINUTE)), // 2
            format!("{gauge},{},rain_2h,1.5", iso(now - 30 * MINUTE)), // 3
            format!("{gauge},{},water_level,2.5", iso(now - 30 * MINUTE)), // 4
            format!("{gauge},{},rain_1h,NaN", iso(now - 30 * MINUTE)), // 5
            format!("{gauge},{},rain_1h,inf", iso(now - 30 * MINUTE)), // 6
            format!("{gauge},{},rain_1h,-4", iso(now - 30 * MINUTE)),  // 7
            format!("{weather},{},wind_speed,120", iso(now - 30 * MINUTE)), // 8
            format!("{gauge},{},rain_1h,2", iso(now + 11 * MINUTE)),   // 9
            format!("{gauge},{},rain_1h,2", iso(now + 9 * MINUTE)),    // 10 ok (within 10 min)
            format!("{gauge},2026-11-28 23:00,rain_1h,2"),             // 11
            format!("{gauge},2026-11-28T23:00:00,rain_1h,2"),          // 12 (no offset)
            format!("{gauge},{},rain_1h,", iso(now - 20 * MINUTE)),    // 13
            format!("{gauge},{},rain_1h,lots", iso(now - 20 * MINUTE)), // 14
            format!("{gauge},{}", iso(now - 20 * MINUTE)),             // 15
        ]
        .join("\n");
        let (status, body) = post_csv(&app, Some(&app.keys.dispatcher), &csv).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["accepted"], 2, "{backend:?}: {body}");
        let reasons: BTreeMap<u64, String> = body["rejected"]
            .as_array()
            .expect("rejected")
            .iter()
            .map(|r| {
                (
                    r["row"].as_u64().expect("row"),
                    r["reason"].as_str().expect("reason").to_string(),
                )
            })
            .collect();
        let expected: BTreeMap<u64, String> = [
            (2, "unknown_station"),
            (3, "unknown_kind"),
            (4, "kind_not_measured"),
            (5, "not_finite"),
            (6, "not_finite"),
            (7, "out_of_range"),
            (8, "out_of_range"),
            (9, "future_time"),
            (11, "bad_time"),
            (12, "bad_time"),
            (13, "missing_field"),
            (14, "bad_value"),
            (15, "bad_row"),
        ]
        .into_iter()
        .map(|(r, s)| (r, s.to_string()))
        .collect();
        assert_eq!(reasons, expected, "{backend:?}: {body}");
        let unknown = &body["rejected"][0];
        assert_eq!(unknown["station"], "NOPE001");
        assert_eq!(unknown["line"], 3, "the CSV line, header included");
        assert!(
            unknown["message"]
                .as_str()
                .unwrap()
                .contains("no station \"NOPE001\"")
        );

        // JSON: NaN can only come as a string; wrong types are refused per row.
        let body = post_json(
            &app,
            json!([
                {"station": gauge, "time": iso(now - 5 * MINUTE), "kind": "rain_1h", "value": "NaN"},
                {"station": gauge, "time": iso(now - 5 * MINUTE), "kind": "rain_1h", "value": true},
                {"station": gauge, "time": 12345, "kind": "rain_1h", "value": 1},
                "YL,1,2,3",
                {"station": gauge, "time": iso(now - 5 * MINUTE), "kind": "rain_1h", "value": 0.5},
            ]),
        )
        .await;
        let reasons: Vec<(u64, &str)> = body["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["row"].as_u64().unwrap(), r["reason"].as_str().unwrap()))
            .collect();
        assert_eq!(
            reasons,
            vec![
                (1, "not_finite"),
                (2, "bad_value"),
                (3, "bad_time"),
                (4, "bad_row")
            ],
            "{body}"
        );
        assert_eq!(body["accepted"], 1);

        // Requests that are wrong as a whole.
        let (status, body) = post_csv(&app, None, "x").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        let (status, body) = app
            .call(
                "POST",
                "/api/feeds/readings",
                Some(&app.keys.dispatcher),
                Some(json!({"station": gauge})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["field"], "body");
        let request = Request::post("/api/feeds/readings")
            .header("authorization", format!("Bearer {}", app.keys.dispatcher))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from("a=b"))
            .unwrap();
        let (status, _, body) = common::send(app.app(), request).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["field"], "content-type");
    }
}

/// Sends one rain_1h value per request, 15 minutes apart; the alerts raised by each.
async fn feed_series(app: &CaseApp, station: &str, start: i64, values: &[f64]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let body = post_json(
            app,
            json!([reading(
                station,
                start + i as i64 * 15 * MINUTE,
                "rain_1h",
                *v
            )]),
        )
        .await;
        assert_eq!(body["accepted"], 1, "{body}");
        out.push(
            body["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["level"].as_str().unwrap().to_string())
                .collect(),
        );
    }
    out
}

#[tokio::test]
async fn exactly_one_alert_per_upward_crossing() {
    // rain_1h thresholds: blue 20, yellow 35, orange 50, red 80 (data/thresholds.toml).
    let values = [
        5.0, 25.0, 30.0, 22.0, 10.0, 21.0, 40.0, 60.0, 45.0, 90.0, 85.0,
    ];
    let expected: Vec<Vec<&str>> = vec![
        vec![],         // 5: nothing
        vec!["blue"],   // 25: rises into blue
        vec![],         // 30: stays
        vec![],         // 22: stays
        vec![],         // 10: falls out (blue ends)
        vec!["blue"],   // 21: re-crosses: a new blue
        vec!["yellow"], // 40: escalates
        vec!["orange"], // 60: escalates
        vec![],         // 45: falls back to yellow (orange ends)
        vec!["red"],    // 90: jumps to red: one alert
        vec![],         // 85: stays
    ];
    for backend in BACKENDS {
        let app = feed_app(backend).await;
        let gauge = station_of(Role::RainGauge, 2);
        let start = START_MS - 24 * 60 * MINUTE;
        let raised = feed_series(&app, &gauge, start, &values).await;
        assert_eq!(raised, expected, "{backend:?}");

        let all = alerts(&app, &format!("?station={gauge}")).await;
        let summary: Vec<(String, bool)> = all
            .iter()
            .rev()
            .map(|a| {
                (
                    a["level"].as_str().unwrap().to_string(),
                    a["active"].as_bool().unwrap(),
                )
            })
            .collect();
        let s = |l: &str, a: bool| (l.to_string(), a);
        assert_eq!(
            summary,
            vec![
                s("blue", false),
                s("blue", true),
                s("yellow", true),
                s("orange", false),
                s("red", true)
            ],
            "{backend:?}"
        );
        let orange = &all[1];
        assert_eq!(orange["level"], "orange");
        assert_eq!(orange["value"], json!(60.0));
        assert_eq!(orange["threshold"], json!(50.0));
        assert_eq!(orange["reading_time"], iso(start + 7 * 15 * MINUTE));
        assert_eq!(orange["ended_time"], iso(start + 8 * 15 * MINUTE));
        assert_eq!(orange["end_value"], json!(45.0));
        assert_eq!(orange["level_name"], "橙色");

        // A late reading (older than the newest) is stored but changes nothing.
        let late = post_json(
            &app,
            json!([reading(&gauge, start - MINUTE, "rain_1h", 200.0)]),
        )
        .await;
        assert_eq!(late["accepted"], 1);
        assert_eq!(late["alerts"], json!([]));

        // The same series in one request raises the same alerts.
        let other = station_of(Role::RainGauge, 3);
        let batch: Vec<Value> = values
            .iter()
            .enumerate()
            .rev() // order in the request does not matter, time does
            .map(|(i, v)| reading(&other, start + i as i64 * 15 * MINUTE, "rain_1h", *v))
            .collect();
        let body = post_json(&app, json!(batch)).await;
        let levels: Vec<&str> = body["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["level"].as_str().unwrap())
            .collect();
        assert_eq!(levels, vec!["blue", "blue", "yellow", "orange", "red"]);
        assert_eq!(body["ended"], 2, "the first blue at 10 mm, orange at 45 mm");

        // Filters.
        let red_or_more = alerts(&app, "?level=orange").await;
        assert!(
            red_or_more
                .iter()
                .all(|a| a["level"] == "orange" || a["level"] == "red")
        );
        assert_eq!(red_or_more.len(), 4);
        let active = alerts(&app, &format!("?active=true&station={gauge}")).await;
        assert_eq!(active.len(), 3);
        let since = alerts(
            &app,
            &format!(
                "?since={}&kind=rain_1h",
                iso(start + 9 * 15 * MINUTE).replace('+', "%2B")
            ),
        )
        .await;
        assert_eq!(since.len(), 2, "the two red alerts");
        for (query, field) in [
            ("?level=purple", "level"),
            ("?active=maybe", "active"),
            ("?since=soon", "since"),
            ("?kind=rain_2h", "kind"),
            ("?limit=0", "limit"),
        ] {
            let (status, body) = app
                .call(
                    "GET",
                    &format!("/api/alerts{query}"),
                    Some(&app.keys.admin),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
            assert_eq!(body["error"]["field"], field, "{query}");
        }
        let (status, _) = app.call("GET", "/api/alerts", None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        // After a restart the series resumes where it was: 85 → 95 stays red, no new alert.
        let restarted = FeedService::start(
            app.service.db.clone(),
            common::shared_store().clone(),
            feed_config(),
            app.clock.clone(),
        )
        .await
        .expect("restarts");
        let mut state = app.state.clone();
        state.feeds = Some(restarted);
        let router = gridlink::http::router(state);
        let request = Request::post("/api/feeds/readings")
            .header("authorization", format!("Bearer {}", app.keys.dispatcher))
            .header("content-type", "application/json")
            .body(Body::from(
                json!([
                    reading(&gauge, start + 11 * 15 * MINUTE, "rain_1h", 95.0),
                    reading(&gauge, start + 12 * 15 * MINUTE, "rain_1h", 0.0)
                ])
                .to_string(),
            ))
            .unwrap();
        let (_, _, body) = common::send(router, request).await;
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["alerts"], json!([]), "{body}");
        assert_eq!(body["ended"], 3, "blue, yellow and red end at 0 mm: {body}");
        assert!(
            alerts(&app, &format!("?active=true&station={gauge}"))
                .await
                .is_empty()
        );
    }
}

/// Metres between lon/lat points on a sphere (haversine): independent of the server's
/// ellipsoidal formula, and within 0.5 % of it at district scale.
fn haversine(a: (f64, f64), b: (f64, f64)) -> f64 {
    let r = 6_371_008.8;
    let (la1, la2) = (a.1.to_radians(), b.1.to_radians());
    let dlat = la2 - la1;
    let dlon = (b.0 - a.0).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * r * h.sqrt().asin()
}

/// Distance from a point to a (multi)polygon: 0 inside, else to the nearest edge, in a local
/// equirectangular plane (haversine-scaled), computed with geo's own algorithms.
fn to_polygon(p: (f64, f64), polygons: &geo::MultiPolygon<f64>) -> f64 {
    use geo::{Contains, Distance, Euclidean, MapCoords};
    if polygons.contains(&geo::Point::new(p.0, p.1)) {
        return 0.0;
    }
    let kx = haversine(p, (p.0 + 0.01, p.1)) / 0.01;
    let ky = haversine(p, (p.0, p.1 + 0.01)) / 0.01;
    let local = polygons.map_coords(|c| geo::Coord {
        x: (c.x - p.0) * kx,
        y: (c.y - p.1) * ky,
    });
    Euclidean.distance(&geo::Point::new(0.0, 0.0), &local)
}

#[tokio::test]
async fn alerts_list_the_flood_points_and_villages_within_the_radius() {
    let store = common::demo_store();
    let floods = store.by_role(Role::FloodPoint).expect("flood points");
    let villages = store.by_role(Role::Village).expect("villages");
    let levels = store.by_role(Role::WaterLevelStation).expect("stations");
    let radius = feed_config().radius_m;
    let point = |g: GeometryRef<'_>| match g {
        GeometryRef::Point(c) => (c.x, c.y),
        _ => panic!("a point layer"),
    };
    // The water-level station with the most flood points around it.
    let (station, at) = (0..levels.len())
        .map(|i| (i, point(levels.geometry(i))))
        .max_by_key(|&(_, p)| {
            (0..floods.len())
                .filter(|&f| haversine(p, point(floods.geometry(f))) < radius)
                .count()
        })
        .expect("stations");
    let station = levels.id(station).to_string();
    let warning = match levels.property(levels.find(&station).unwrap(), "warning_level_m") {
        Some(gridlink::spatial::PropertyValue::Number(x)) => x,
        other => panic!("warning level {other:?}"),
    };
    for backend in BACKENDS {
        let app = feed_app(backend).await;
        // 5 cm over the warning level: yellow (blue is 0.2 m below it).
        let body = post_json(
            &app,
            json!([reading(
                &station,
                START_MS - 60 * MINUTE,
                "water_level",
                warning + 0.05
            )]),
        )
        .await;
        let alert = &body["alerts"][0];
        assert_eq!(alert["level"], "yellow", "{body}");
        assert!((alert["threshold"].as_f64().unwrap() - warning).abs() < 1e-9);

        let listed: BTreeMap<String, f64> = alert["flood_points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["id"].as_str().unwrap().into(),
                    f["distance_m"].as_f64().unwrap(),
                )
            })
            .collect();
        assert!(
            !listed.is_empty(),
            "the chosen station has flood points near it"
        );
        for f in 0..floods.len() {
            let d = haversine(at, point(floods.geometry(f)));
            let id = floods.id(f);
            match listed.get(id) {
                Some(&shown) => {
                    assert!((shown - d).abs() <= 0.005 * d + 0.5, "{id}: {shown} vs {d}");
                    assert!(d <= radius * 1.005, "{id} at {d} m listed");
                }
                None => assert!(d > radius * 0.995, "{id} at {d} m missing"),
            }
        }
        let listed: BTreeMap<String, (f64, Option<i64>)> = alert["villages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["id"].as_str().unwrap().into(),
                    (v["distance_m"].as_f64().unwrap(), v["population"].as_i64()),
                )
            })
            .collect();
        assert!(!listed.is_empty());
        assert!(
            listed.values().any(|(d, _)| *d == 0.0),
            "the station's own village"
        );
        for v in 0..villages.len() {
            let GeometryRef::Polygons(polygons) = villages.geometry(v) else {
                panic!("villages are polygons");
            };
            let d = to_polygon(at, polygons);
            let id = villages.id(v);
            match listed.get(id) {
                Some(&(shown, population)) => {
                    assert!((shown - d).abs() <= 0.005 * d + 1.0, "{id}: {shown} vs {d}");
                    assert!(population.is_some_and(|p| p >= 0));
                }
                None => assert!(d > radius * 0.995, "village {id} at {d} m missing"),
            }
        }
    }
}

#[tokio::test]
async fn latest_values_as_geojson_colour_every_station() {
    let app = feed_app(Backend::Sqlite).await;
    let gauge = station_of(Role::RainGauge, 4);
    let weather = station_of(Role::WeatherStation, 1);
    let t = START_MS - 30 * MINUTE;
    post_json(
        &app,
        json!([
            reading(&gauge, t, "rain_1h", 55.0),
            reading(&gauge, t, "rain_24h", 120.0),
            reading(&weather, t, "wind_speed", 12.0),
        ]),
    )
    .await;
    let request = Request::get("/api/feeds/latest?format=geojson")
        .body(Body::empty())
        .unwrap();
    let (status, content_type, body) = common::send(app.app(), request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/geo+json");
    let fc: Value = serde_json::from_slice(&body).unwrap();
    let features = fc["features"].as_array().unwrap();
    let store = common::demo_store();
    let stations: usize = [
        Role::RainGauge,
        Role::WaterLevelStation,
        Role::WeatherStation,
    ]
    .iter()
    .map(|&r| store.by_role(r).map_or(0, |l| l.len()))
    .sum();
    assert_eq!(
        features.len(),
        stations,
        "every station, with or without readings"
    );
    let find = |id: &str| {
        features
            .iter()
            .find(|f| f["id"] == id)
            .unwrap_or_else(|| panic!("{id}"))
            .clone()
    };
    let g = find(&gauge)["properties"].clone();
    // rain_1h 55 mm is orange, rain_24h 120 mm is yellow: the station shows orange.
    assert_eq!(g["level"], "orange");
    assert_eq!(g["level_rank"], 3);
    assert_eq!(g["level_kind"], "rain_1h");
    assert_eq!(g["rain_1h"], json!(55.0));
    assert_eq!(g["rain_24h_level"], "yellow");
    assert_eq!(g["rain_1h_time"], iso(t));
    assert_eq!(g["age_s"], 1800);
    assert_eq!(find(&weather)["properties"]["level"], "blue");
    let quiet = find(&station_of(Role::WaterLevelStation, 5))["properties"].clone();
    assert_eq!(
        (quiet["level"].clone(), quiet["level_rank"].clone()),
        (Value::Null, json!(0))
    );

    let (_, only) = app
        .call("GET", "/api/feeds/latest?kind=wind_speed", None, None)
        .await;
    let series = only["series"].as_array().unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0]["level"], "blue");
    assert_eq!(series[0]["threshold"], json!(10.8));
    for (query, field) in [
        ("?kind=rain_2h", "kind"),
        ("?layer=villages", "layer"),
        ("?format=kml", "format"),
    ] {
        let (status, body) = app
            .call("GET", &format!("/api/feeds/latest{query}"), None, None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body["error"]["field"], field);
    }
    let (status, kinds) = app.call("GET", "/api/feeds/kinds", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(kinds["kinds"].as_array().unwrap().iter().any(
        |k| k["name"] == "water_level" && k["relative"]["yellow"]["field"] == "warning_level_m"
    ));
}

#[tokio::test]
async fn alerts_are_pushed_on_the_stream() {
    let app = feed_app(Backend::Sqlite).await;
    let mut stream = EventStream::open(app.app(), &app.keys.supervisor).await;
    assert!(stream.next_text().await.contains("event: ready"));
    let gauge = station_of(Role::RainGauge, 5);
    post_json(
        &app,
        json!([reading(&gauge, START_MS - 20 * MINUTE, "rain_3h", 104.0)]),
    )
    .await;
    let raised = stream.next_of("alert").await;
    assert!(raised.contains("event: alert"), "{raised}");
    assert!(raised.contains("\"change\":\"raised\"") && raised.contains("\"level\":\"red\""));
    assert!(raised.contains(&gauge));
    post_json(
        &app,
        json!([reading(&gauge, START_MS - 5 * MINUTE, "rain_3h", 12.0)]),
    )
    .await;
    let ended = stream.next_of("alert").await;
    assert!(
        ended.contains("event: alert") && ended.contains("\"change\":\"ended\""),
        "{ended}"
    );
}

#[test]
fn the_shipped_rainstorm_is_the_generators_output() {
    let readings = gridlink::feeds::synthetic::rainstorm(common::demo_store(), &feed_config());
    let csv = gridlink::feeds::synthetic::to_csv(&readings);
    let path = common::repo().join(RAINSTORM);
    if std::env::var_os("GRIDLINK_REGENERATE").is_some() {
        std::fs::write(&path, &csv).expect("write the recording");
    }
    let shipped = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        shipped == csv,
        "{RAINSTORM} differs from the generator's output; regenerate it with \
         GRIDLINK_REGENERATE=1 cargo test --test suite feeds::the_shipped_rainstorm"
    );
}

/// The shipped recording, replayed by the replay command's code into a real server on a TCP
/// port, raises alerts of every colour, water levels past their warning level, and lists them;
/// a second replay is all duplicates and raises nothing.
#[tokio::test]
async fn the_replay_drives_alerts_end_to_end() {
    for backend in BACKENDS {
        let app = feed_app(backend).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(axum::serve(listener, app.app()).into_future());
        let recording = Recording::load(&common::repo().join(RAINSTORM)).expect("recording");
        assert!(recording.skipped.is_empty());
        let mut client =
            HttpClient::new(&format!("http://{addr}"), &app.keys.dispatcher).expect("client");
        let options = Options {
            speed: None,
            retime: false,
            batch_max: 10_000,
        };
        let mut batches = 0;
        let summary = replay(&recording, &mut client, options, |_| batches += 1)
            .await
            .expect("replays");
        assert_eq!(batches, 48, "one request per 15-minute timestamp");
        assert_eq!(summary.sent, recording.rows.len());
        assert_eq!(
            summary.accepted as usize,
            recording.rows.len(),
            "{backend:?}"
        );
        assert_eq!(summary.rejected, 0);
        let count = |kind: &str, level: &str| {
            summary
                .alerts
                .iter()
                .filter(|a| a["kind"] == kind && a["level"] == level)
                .count()
        };
        assert!(count("rain_3h", "red") >= 1, "{backend:?}: red rainstorm");
        assert!(count("rain_3h", "orange") >= 1);
        assert!(count("rain_6h", "yellow") >= 1);
        assert!(count("rain_12h", "blue") >= 1);
        assert!(
            count("water_level", "yellow") >= 1,
            "a river above its warning level"
        );
        assert!(count("wind_speed", "yellow") >= 1);
        // Some stations stay quiet: the storm is not everywhere.
        let alerted: std::collections::BTreeSet<&str> = summary
            .alerts
            .iter()
            .filter(|a| a["kind"] == "rain_3h")
            .filter_map(|a| a["station"].as_str())
            .collect();
        let gauges = common::demo_store().by_role(Role::RainGauge).unwrap().len();
        assert!(alerted.len() < gauges, "{} of {gauges}", alerted.len());

        // Listed by the API, with what is around them.
        let red = alerts(&app, "?level=red&kind=rain_3h&limit=1000").await;
        assert_eq!(red.len(), count("rain_3h", "red"));
        assert!(
            red.iter()
                .all(|a| !a["villages"].as_array().unwrap().is_empty())
        );
        assert!(
            red.iter()
                .any(|a| !a["flood_points"].as_array().unwrap().is_empty())
        );
        // By the end the 3-hour totals have fallen: those red alerts are over.
        assert!(
            alerts(&app, "?level=red&kind=rain_3h&active=true")
                .await
                .is_empty()
        );

        // Once more: nothing new, nothing raised.
        let again = replay(&recording, &mut client, options, |_| {})
            .await
            .expect("replays again");
        assert_eq!(again.accepted, 0);
        assert_eq!(again.duplicates as usize, recording.rows.len());
        assert!(again.alerts.is_empty());

        // A wrong key stops the replay with the server's answer.
        let mut intruder = HttpClient::new(&format!("http://{addr}"), "glk_nope").expect("client");
        let error = replay(&recording, &mut intruder, options, |_| {})
            .await
            .expect_err("refused");
        assert!(error.to_string().contains("401"), "{error}");
        server.abort();
    }
}

/// Two servers sharing one PostgreSQL: an alert one of them raises, and its end, show on the
/// other's stream, with the stored alert's id and station.
#[tokio::test]
async fn servers_sharing_postgresql_see_each_others_alerts() {
    use gridlink::feeds::AlertEvent;
    use gridlink::feeds::reading::parse_json;
    let schema = format!(
        "t_{}_{}_alerts",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        std::process::id()
    );
    let url = common::cases::pg_url();
    let clock = gridlink::cases::Clock::fixed(START_MS);
    let mut servers = Vec::new();
    for _ in 0..2 {
        let db = gridlink::db::Db::connect_postgres_schema(&url, &schema)
            .await
            .expect("PostgreSQL on 127.0.0.1:5432");
        let feeds = FeedService::start(
            db,
            common::shared_store().clone(),
            feed_config(),
            clock.clone(),
        )
        .await
        .expect("feed service starts");
        servers.push(feeds);
    }
    let (a, b) = (&servers[0], &servers[1]);
    let mut heard = b.subscribe();
    let gauge = station_of(Role::RainGauge, 0);
    let ingest = |value: f64, minutes_ago: i64| {
        let body = json!([reading(
            &gauge,
            START_MS - minutes_ago * MINUTE,
            "rain_1h",
            value
        )]);
        parse_json(body.to_string().as_bytes()).expect("readings parse")
    };
    let raised = a.ingest(ingest(80.0, 20)).await.expect("stored");
    assert_eq!(raised.alerts.len(), 1, "80 mm/h raises one alert at A");
    match next_alert(&mut heard).await {
        AlertEvent::Raised(alert) => {
            assert_eq!(alert.id, raised.alerts[0].id);
            assert_eq!(alert.station, gauge);
            assert_eq!(alert.value, 80.0);
        }
        other => panic!("expected the raised alert, got {other:?}"),
    }
    let ended = a.ingest(ingest(1.0, 10)).await.expect("stored");
    assert_eq!(ended.ended, 1, "1 mm/h ends it at A");
    match next_alert(&mut heard).await {
        AlertEvent::Ended { id, end_value, .. } => {
            assert_eq!(id, raised.alerts[0].id);
            assert_eq!(end_value, 1.0);
        }
        other => panic!("expected the end, got {other:?}"),
    }
}

async fn next_alert(
    heard: &mut tokio::sync::broadcast::Receiver<gridlink::feeds::AlertEvent>,
) -> gridlink::feeds::AlertEvent {
    tokio::time::timeout(std::time::Duration::from_secs(5), heard.recv())
        .await
        .expect("heard within 5 s")
        .expect("the stream is open")
}
