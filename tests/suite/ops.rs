//! Running gridlink as a service: `/metrics` (scraped through the real router, parsed by the
//! Prometheus project's own Python parser), rate limits with `Retry-After`, the cap on event
//! streams per key, the request time limit, trusted proxies — on SQLite and PostgreSQL — and the
//! real binary stopped with SIGTERM: an acknowledged report survives, streams close, exit 0.

use crate::common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use common::cases::{BACKENDS, CaseApp, EventStream, TEST_CLASS, TEST_POINT, case_app};
use gridlink::http::limits::{LimitSettings, Limits, Rate};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// The router tests share one process-wide metrics recorder; they take turns so the
/// differences between two scrapes are this test's own.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A sample's name and labels (sorted), e.g. `gridlink_cases{status="reported"}`.
type Series = String;

/// `/metrics` as the admin sees it, parsed by Python's `prometheus_client` parser.
async fn scrape(app: &CaseApp) -> BTreeMap<Series, f64> {
    let request = Request::get("/metrics")
        .header("authorization", format!("Bearer {}", app.keys.admin))
        .body(Body::empty())
        .unwrap();
    let (status, content_type, body) = common::send(app.app(), request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    parse(&body)
}

fn python() -> &'static str {
    // Debian's interpreter, where scripts/setup-test-env.sh installs python3-prometheus-client
    // (a pyenv shim earlier on PATH would not see it).
    if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

fn parse(text: &[u8]) -> BTreeMap<Series, f64> {
    use std::io::Write;
    let mut child = std::process::Command::new(python())
        .arg(common::repo().join("tests/metrics_parse.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (scripts/setup-test-env.sh installs it)");
    child.stdin.take().unwrap().write_all(text).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Prometheus parser refused the scrape (or python3-prometheus-client is missing: \
         scripts/setup-test-env.sh installs it): {}\n--- scrape ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(text)
    );
    let mut samples = BTreeMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let sample: Value = serde_json::from_str(line).unwrap();
        let labels: BTreeMap<String, String> =
            serde_json::from_value(sample["labels"].clone()).unwrap();
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        let name = sample["name"].as_str().unwrap();
        let series = if labels.is_empty() {
            name.to_string()
        } else {
            format!("{name}{{{}}}", labels.join(","))
        };
        samples.insert(series, sample["value"].as_f64().unwrap());
    }
    samples
}

fn value(samples: &BTreeMap<Series, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

fn moved(before: &BTreeMap<Series, f64>, after: &BTreeMap<Series, f64>, series: &str) -> f64 {
    value(after, series) - value(before, series)
}

async fn get(app: &CaseApp, path: &str, key: Option<&str>) -> StatusCode {
    let mut request = Request::get(path);
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    common::send(app.app(), request.body(Body::empty()).unwrap())
        .await
        .0
}

fn report_body() -> Value {
    json!({"class": TEST_CLASS, "lon": TEST_POINT.0, "lat": TEST_POINT.1, "description": "路灯不亮"})
}

/// The suite runs every module's tests in one process, and the `metrics` facade has one
/// recorder per process: so that the differences between two scrapes are this test's own, the
/// check runs alone in a child process of the suite binary.
#[test]
fn metrics_move_with_the_requests_made() {
    let out = std::process::Command::new(std::env::current_exe().expect("the suite binary"))
        .args([
            "--exact",
            "ops::metrics_alone",
            "--include-ignored",
            "--test-threads",
            "1",
        ])
        .output()
        .expect("the suite binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
#[ignore = "run alone in a child process by metrics_move_with_the_requests_made"]
async fn metrics_alone() {
    let _turn = SERIAL.lock().await;
    for backend in BACKENDS {
        let mut app = case_app(backend).await;
        let feeds = gridlink::feeds::FeedService::start(
            app.service.db.clone(),
            common::shared_store().clone(),
            gridlink::feeds::FeedConfig::load(&common::tables_dir().join("thresholds.toml"))
                .unwrap(),
            app.clock.clone(),
        )
        .await
        .unwrap();
        app.state.feeds = Some(feeds);
        let before = scrape(&app).await;

        // Who may read it: an admin key, nobody else.
        assert_eq!(get(&app, "/metrics", None).await, StatusCode::UNAUTHORIZED);
        assert_eq!(
            get(&app, "/metrics", Some(&app.keys.dispatcher)).await,
            StatusCode::FORBIDDEN
        );

        let (lon, lat) = TEST_POINT;
        for _ in 0..3 {
            let path = format!("/api/locate?lon={lon}&lat={lat}");
            assert_eq!(get(&app, &path, None).await, StatusCode::OK);
        }
        assert_eq!(
            get(&app, "/api/locate?lon=200&lat=0", None).await,
            StatusCode::BAD_REQUEST
        );
        // The same tile twice: rendered once (a miss), then from the cache (a hit).
        let (x, y) = common::tile_of(lon, lat, 14);
        for _ in 0..2 {
            let path = format!("/tiles/towns/14/{x}/{y}.mvt");
            assert_eq!(get(&app, &path, None).await, StatusCode::OK);
        }
        for _ in 0..2 {
            let (status, body) = app
                .call("POST", "/api/cases", None, Some(report_body()))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        let gauge = common::demo_store()
            .by_role(gridlink::catalog::Role::RainGauge)
            .unwrap()
            .id(0)
            .to_string();
        let hour_ago = chrono::DateTime::from_timestamp_millis(common::cases::START_MS - 3_600_000)
            .unwrap()
            .to_rfc3339();
        let now =
            chrono::DateTime::from_timestamp_millis(common::cases::START_MS - 60_000).unwrap();
        let (status, body) = app
            .call(
                "POST",
                "/api/feeds/readings",
                Some(&app.keys.dispatcher),
                Some(json!([
                    {"station": gauge, "time": hour_ago, "kind": "rain_1h", "value": 3.5},
                    {"station": gauge, "time": hour_ago, "kind": "rain_1h", "value": 3.5},
                    {"station": "no-such-station", "time": hour_ago, "kind": "rain_1h", "value": 1.0},
                    {"station": gauge, "time": now.to_rfc3339(), "kind": "rain_1h", "value": 99.0},
                ])),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let raised = body["alerts"].as_array().map_or(0, Vec::len) as f64;
        assert!(raised >= 1.0, "99 mm in an hour raises an alert: {body}");
        let mut stream = EventStream::open(app.app(), &app.keys.dispatcher).await;
        stream.next_text().await; // `ready`
        let during = scrape(&app).await;
        drop(stream);
        let after = scrape(&app).await;

        let ok = r#"method="GET",route="/api/locate",status="200""#;
        assert_eq!(
            moved(
                &before,
                &after,
                &format!("gridlink_http_requests_total{{{ok}}}")
            ),
            3.0,
            "{backend:?}"
        );
        assert_eq!(
            moved(
                &before,
                &after,
                r#"gridlink_http_requests_total{method="GET",route="/api/locate",status="400"}"#
            ),
            1.0
        );
        // The latency histogram counts them too, each in some bucket up to +Inf.
        let count =
            r#"gridlink_http_request_duration_seconds_count{method="GET",route="/api/locate"}"#;
        assert_eq!(moved(&before, &after, count), 4.0);
        let inf = r#"gridlink_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/api/locate"}"#;
        assert_eq!(value(&after, inf), value(&after, count));
        // The route template, not the raw path: one series for every tile.
        let tiles = r#"gridlink_http_requests_total{method="GET",route="/tiles/{layers}/{z}/{x}/{tile}",status="200"}"#;
        assert_eq!(moved(&before, &after, tiles), 2.0);
        assert!(!after.keys().any(|k| k.contains("/api/locate?")));
        assert_eq!(
            moved(
                &before,
                &after,
                r#"gridlink_http_requests_total{method="GET",route="/metrics",status="401"}"#
            ),
            1.0
        );
        assert_eq!(
            moved(&before, &after, "gridlink_tile_cache_misses_total"),
            1.0
        );
        assert_eq!(
            moved(&before, &after, "gridlink_tile_cache_hits_total"),
            1.0
        );
        assert!(moved(&before, &after, "gridlink_tile_rendered_bytes_total") > 0.0);
        assert!(value(&after, "gridlink_tile_cache_entries") >= 1.0);
        // Cases: two reported, in this fresh database; none overdue.
        assert_eq!(
            value(&after, r#"gridlink_cases{status="reported"}"#),
            2.0,
            "{backend:?}"
        );
        assert_eq!(value(&after, r#"gridlink_cases{status="closed"}"#), 0.0);
        assert_eq!(value(&after, "gridlink_cases_overdue"), 0.0);
        // The group commit stored both (in one batch or two).
        let stored = moved(&before, &after, "gridlink_intake_batch_size_sum");
        assert_eq!(stored, 2.0);
        let commits = moved(&before, &after, "gridlink_intake_commit_seconds_count");
        assert!((1.0..=2.0).contains(&commits), "{commits}");
        // Feeds: accepted, the repeat, the unknown station, the alert.
        let reading =
            |outcome: &str| format!("gridlink_feed_readings_total{{outcome=\"{outcome}\"}}");
        assert_eq!(moved(&before, &after, &reading("accepted")), 2.0);
        assert_eq!(moved(&before, &after, &reading("duplicate")), 1.0);
        assert_eq!(moved(&before, &after, &reading("rejected")), 1.0);
        assert_eq!(
            moved(
                &before,
                &after,
                r#"gridlink_feed_alerts_total{change="raised"}"#
            ),
            raised
        );
        // Layers as loaded.
        let store = common::demo_store();
        assert_eq!(
            value(&after, "gridlink_layers_loaded"),
            store.layers().len() as f64
        );
        assert_eq!(
            value(&after, "gridlink_features_loaded"),
            store.feature_count() as f64
        );
        let towns = store.layer("towns").unwrap().len() as f64;
        assert_eq!(
            value(&after, r#"gridlink_layer_features{layer="towns"}"#),
            towns
        );
        // The pool: some connections, none more than the maximum.
        let idle = value(&after, r#"gridlink_db_pool_connections{state="idle"}"#);
        let busy = value(&after, r#"gridlink_db_pool_connections{state="busy"}"#);
        assert!(idle + busy >= 1.0);
        assert!(idle + busy <= value(&after, "gridlink_db_pool_max_connections"));
        // One subscriber while the stream was open, none after.
        assert_eq!(
            value(&during, "gridlink_sse_subscribers") - value(&after, "gridlink_sse_subscribers"),
            1.0
        );
        assert_eq!(
            value(
                &after,
                &format!(
                    "gridlink_build_info{{version=\"{}\"}}",
                    env!("CARGO_PKG_VERSION")
                )
            ),
            1.0
        );
        // Every family scraped is in the documented table, and the dashboard uses only those.
        let documented = documented_metrics();
        for series in after.keys() {
            let family = series.split('{').next().unwrap();
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| family.strip_suffix(s))
                .filter(|b| documented.contains(*b))
                .unwrap_or(family);
            assert!(
                documented.contains(base),
                "{base} is not in src/http/telemetry.rs's table"
            );
        }
    }
    let dashboard = std::fs::read_to_string(common::repo().join("deploy/grafana-gridlink.json"))
        .expect("deploy/grafana-gridlink.json");
    let dashboard: Value = serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    let documented = documented_metrics();
    let mut used = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap();
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if word.starts_with("gridlink_") {
                    used += 1;
                    let base = ["_bucket", "_sum", "_count"]
                        .iter()
                        .find_map(|s| word.strip_suffix(s))
                        .unwrap_or(word);
                    assert!(
                        documented.contains(base),
                        "the dashboard uses {word}, which gridlink does not export"
                    );
                }
            }
        }
    }
    assert!(used > 20, "{used}");
}

/// The metric names in the table of `src/http/telemetry.rs`'s doc comment.
fn documented_metrics() -> std::collections::BTreeSet<String> {
    let text = std::fs::read_to_string(common::repo().join("src/http/telemetry.rs")).unwrap();
    text.lines()
        .filter(|l| l.starts_with("//! | `gridlink_"))
        .flat_map(|l| {
            let first = l.split('|').nth(1).unwrap_or("");
            first
                .split('`')
                .filter(|w| w.starts_with("gridlink_"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A request as it arrives over a connection from `peer`.
fn from(peer: &str, request: axum::http::request::Builder, body: Body) -> Request<Body> {
    let mut request = request.body(body).unwrap();
    let peer: SocketAddr = format!("{peer}:40000").parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    request
}

fn post_report(key: Option<&str>) -> axum::http::request::Builder {
    let mut request = Request::post("/api/cases").header("content-type", "application/json");
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    request
}

async fn status_of(app: &CaseApp, request: Request<Body>) -> (StatusCode, Option<u64>, Value) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let response = app.app().oneshot(request).await.unwrap();
    let status = response.status();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, retry, body)
}

#[tokio::test]
async fn anonymous_reports_and_heavy_calls_are_rate_limited() {
    let _turn = SERIAL.lock().await;
    for backend in BACKENDS {
        let mut app = case_app(backend).await;
        app.state.limits = Limits::new(LimitSettings {
            reports: Rate::new(1, 2),
            heavy: Rate::new(1, 1),
            ..Default::default()
        });
        app.state.proxies = gridlink::http::client::TrustedProxies::new(vec![
            gridlink::http::client::TrustedProxies::parse_net("127.0.0.1").unwrap(),
        ]);
        let report = || Body::from(report_body().to_string());
        let a = "198.51.100.1";
        for _ in 0..2 {
            let (status, _, body) = status_of(&app, from(a, post_report(None), report())).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        let (status, retry, body) = status_of(&app, from(a, post_report(None), report())).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{backend:?} {body}");
        assert_eq!(body["error"]["code"], "rate_limited");
        // One a minute: the next place frees in about a minute.
        let retry = retry.expect("Retry-After");
        assert!((1..=60).contains(&retry), "{retry}");
        assert_eq!(body["error"]["retry_after_s"], json!(retry));
        // Open311 posts share the address's bucket.
        let open311 = Request::post("/open311/v2/requests.json")
            .header("content-type", "application/x-www-form-urlencoded");
        let form = format!(
            "service_code={TEST_CLASS}&lat={}&long={}&description=x",
            TEST_POINT.1, TEST_POINT.0
        );
        let (status, _, _) = status_of(&app, from(a, open311, Body::from(form.clone()))).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        // Another address has its own bucket; a key is never limited.
        let (status, _, _) =
            status_of(&app, from("198.51.100.2", post_report(None), report())).await;
        assert_eq!(status, StatusCode::CREATED);
        let staff = post_report(Some(&app.keys.dispatcher));
        let (status, _, body) = status_of(&app, from(a, staff, report())).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        // Behind the trusted proxy each client is its own; a forged hop left of the proxy's
        // does not move a client to a fresh bucket.
        let via = |client: &str| {
            post_report(None).header("x-forwarded-for", format!("6.6.6.6, {client}"))
        };
        for _ in 0..2 {
            let (status, _, _) =
                status_of(&app, from("127.0.0.1", via("203.0.113.5"), report())).await;
            assert_eq!(status, StatusCode::CREATED);
        }
        let (status, _, _) = status_of(&app, from("127.0.0.1", via("203.0.113.5"), report())).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        let (status, _, _) = status_of(&app, from("127.0.0.1", via("203.0.113.6"), report())).await;
        assert_eq!(status, StatusCode::CREATED);
        // An untrusted peer's X-Forwarded-For is ignored: it is still address a.
        let forged = post_report(None).header("x-forwarded-for", "203.0.113.77");
        let (status, _, _) = status_of(&app, from(a, forged, report())).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

        // Heavy endpoints: one allocation per key in the burst, each key its own.
        let allocate = |key: &str| {
            Request::post("/api/shelters/allocate")
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {key}"))
        };
        let plan = || {
            Body::from(json!({"lon": TEST_POINT.0, "lat": TEST_POINT.1, "people": 10}).to_string())
        };
        let (status, _, body) =
            status_of(&app, from(a, allocate(&app.keys.dispatcher), plan())).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, retry, _) =
            status_of(&app, from(a, allocate(&app.keys.dispatcher), plan())).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert!(retry.is_some());
        let (status, _, _) = status_of(&app, from(a, allocate(&app.keys.supervisor), plan())).await;
        assert_eq!(status, StatusCode::OK);
        // Locating one point is not heavy.
        let locate = Request::get(format!(
            "/api/locate?lon={}&lat={}",
            TEST_POINT.0, TEST_POINT.1
        ))
        .header("authorization", format!("Bearer {}", app.keys.dispatcher));
        let (status, _, _) = status_of(&app, from(a, locate, Body::empty())).await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn event_streams_are_capped_per_key_and_end_when_the_server_stops() {
    let _turn = SERIAL.lock().await;
    for backend in BACKENDS {
        let mut app = case_app(backend).await;
        app.state.limits = Limits::new(LimitSettings {
            streams_per_key: Some(2),
            ..Default::default()
        });
        let key = app.keys.dispatcher.clone();
        let mut first = EventStream::open(app.app(), &key).await;
        let _second = EventStream::open(app.app(), &key).await;
        let third = Request::get(format!("/api/stream?key={key}"))
            .body(Body::empty())
            .unwrap();
        let (status, retry, body) = status_of(&app, third).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{backend:?}");
        assert_eq!(body["error"]["code"], "too_many_streams");
        assert!(retry.is_some());
        // Another key still gets one (the header form counts the same key as ?key=).
        let _other = EventStream::open(app.app(), &app.keys.supervisor).await;
        let header_form = Request::get("/api/stream")
            .header("authorization", format!("Bearer {key}"))
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            status_of(&app, header_form).await.0,
            StatusCode::TOO_MANY_REQUESTS
        );
        first.next_text().await;
        drop(first);
        let mut again = EventStream::open(app.app(), &key).await;
        again.next_text().await; // `ready`
        // Stopping the server ends every stream (so a graceful stop can finish).
        app.state.shutdown.trigger();
        use http_body_util::BodyExt;
        let rest = tokio::time::timeout(Duration::from_secs(5), again.into_body().collect())
            .await
            .expect("the stream ends within 5 s of the stop");
        assert!(rest.is_ok());
    }
}

#[tokio::test]
async fn a_request_that_takes_too_long_is_stopped_with_408() {
    let _turn = SERIAL.lock().await;
    let mut app = case_app(common::cases::Backend::Sqlite).await;
    app.state.limits = Limits::new(LimitSettings {
        request_timeout: Some(Duration::from_millis(300)),
        ..Default::default()
    });
    // A body whose end never comes (a slow or stalled client).
    let stalled = futures_util::StreamExt::chain(
        futures_util::stream::once(async {
            Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"{\"class\": "))
        }),
        futures_util::stream::pending(),
    );
    let request = from(
        "198.51.100.9",
        post_report(None),
        Body::from_stream(stalled),
    );
    let started = std::time::Instant::now();
    let (status, _, body) = tokio::time::timeout(Duration::from_secs(10), status_of(&app, request))
        .await
        .expect("answered");
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT, "{body}");
    assert_eq!(body["error"]["code"], "request_timeout");
    assert!(started.elapsed() < Duration::from_secs(5));
    // Nothing was stored.
    let (status, list) = app
        .call("GET", "/api/cases", Some(&app.keys.dispatcher), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["total"], 0, "{list}");
}

mod binary {
    //! The real binary over TCP.
    use crate::common;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    fn gridlink() -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gridlink"));
        cmd.current_dir(common::repo());
        cmd
    }

    /// One HTTP/1.1 exchange on a fresh connection; (status, body).
    fn http(address: &str, request: &str) -> Option<(u16, String)> {
        let mut stream = TcpStream::connect(address).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .ok()?;
        stream.write_all(request.as_bytes()).ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let status = response.get(9..12)?.parse().ok()?;
        let body = response.split_once("\r\n\r\n")?.1.to_string();
        Some((status, body))
    }

    fn report(address: &str, description: &str) -> String {
        let body = serde_json::json!({
            "class": super::TEST_CLASS,
            "lon": super::TEST_POINT.0,
            "lat": super::TEST_POINT.1,
            "description": description,
        })
        .to_string();
        format!(
            "POST /api/cases HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    }

    /// SIGTERM: the server stops accepting, answers what it took in (each acknowledged report
    /// is in the database afterwards), closes the event stream and exits 0. It also logs JSON
    /// with `--log-format json` and drops a client that sends no headers.
    #[test]
    fn sigterm_keeps_every_acknowledged_report_closes_streams_and_exits_0() {
        let dir = tempfile::tempdir().unwrap();
        let database = format!("sqlite:{}", dir.path().join("gridlink.sqlite").display());
        let out = gridlink()
            .args(["--database", &database, "--data-dir"])
            .arg(common::demo_dir())
            .args(["keys", "create", "--role", "dispatcher"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
        assert!(key.starts_with("glk_"), "{key}");

        let mut child = gridlink()
            .args([
                "--database",
                &database,
                "--log-format",
                "json",
                "--data-dir",
            ])
            .arg(common::demo_dir())
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--header-read-timeout",
                "1",
            ])
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut log = BufReader::new(child.stderr.take().unwrap());
        let mut address = None;
        let mut line = String::new();
        while log.read_line(&mut line).unwrap() > 0 {
            let entry: serde_json::Value = serde_json::from_str(line.trim())
                .unwrap_or_else(|e| panic!("a log line is not JSON ({e}): {line}"));
            if let Some(rest) = entry["message"]
                .as_str()
                .and_then(|m| m.strip_prefix("listening on http://"))
            {
                address = Some(rest.to_string());
                break;
            }
            line.clear();
        }
        let address = address.expect("the server says where it listens");
        // The rest of the log, read in the background (a full pipe would stall the server).
        let rest = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = log.read_to_string(&mut text);
            text
        });

        // A client that connects and sends nothing is dropped after the header-read timeout.
        let mut idle = TcpStream::connect(&address).unwrap();
        idle.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 256];
        let n = idle.read(&mut buf).unwrap_or(0);
        assert!(
            n == 0 || String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408"),
            "{}",
            String::from_utf8_lossy(&buf[..n])
        );
        assert!(started.elapsed() < Duration::from_secs(8));

        // An open event stream.
        let mut stream = TcpStream::connect(&address).unwrap();
        write!(
            stream,
            "GET /api/stream?key={key} HTTP/1.1\r\nHost: {address}\r\n\r\n"
        )
        .unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        let mut seen = String::new();
        while !seen.contains("event: ready") {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "stream closed early: {seen}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");

        // One report acknowledged before the stop, then more in flight while it comes.
        let (status, body) = http(&address, &report(&address, "停止前")).expect("answered");
        assert_eq!(status, 201, "{body}");
        let first: serde_json::Value = serde_json::from_str(&body).unwrap();
        let mut acknowledged = vec![first["id"].as_i64().unwrap()];
        let senders: Vec<_> = (0..8)
            .map(|i| {
                let address = address.clone();
                std::thread::spawn(move || {
                    http(&address, &report(&address, &format!("停止中 {i}")))
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(20));
        let kill = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        for sender in senders {
            if let Some((201, body)) = sender.join().unwrap() {
                let case: serde_json::Value = serde_json::from_str(&body).unwrap();
                acknowledged.push(case["id"].as_i64().unwrap());
            }
        }
        // The stream ends (the server closes it) rather than hanging the stop.
        let started = Instant::now();
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => panic!("the stream was not closed: {e}"),
            }
        }
        assert!(started.elapsed() < Duration::from_secs(10));
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "still running 20 s after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let log = rest.join().unwrap();
        assert!(status.success(), "exit {status:?}; log:\n{log}");
        assert!(log.contains("stop requested"), "{log}");

        // Every acknowledged report is in the database.
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let stored: Vec<i64> = runtime.block_on(async {
            let db = gridlink::db::Db::connect_sqlite(&dir.path().join("gridlink.sqlite"))
                .await
                .unwrap();
            let gridlink::db::Pool::Sqlite(pool) = db.pool() else {
                unreachable!()
            };
            sqlx::query_scalar("SELECT id FROM cases")
                .fetch_all(pool)
                .await
                .unwrap()
        });
        for id in &acknowledged {
            assert!(
                stored.contains(id),
                "case {id} was acknowledged but is not stored"
            );
        }
    }
}
