//! Open311 GeoReport v2 under `/open311/v2`, on SQLite and on PostgreSQL/PostGIS: a citizen's
//! app discovers the endpoint, lists the services, reports a problem with a form post and follows
//! it from `open` to `closed`; every refusal comes back in the spec's error array.

use crate::common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::cases::{BACKENDS, CaseApp, START_MS, TEST_CLASS, TEST_POINT, case_app, routed_unit};
use common::{demo_store, send, tables};
use gridlink::cases::clock::rfc3339;
use gridlink::services::routing::unit_name;
use serde_json::{Value, json};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
/// A public class other than `TEST_CLASS` (污水井盖) and a staff-only one (人防工事).
const OTHER_CLASS: &str = "C0102";
const STAFF_CLASS: &str = "C0502";

/// A form body as name/value pairs.
type Form = Vec<(String, String)>;

const REQUEST_KEYS: [&str; 17] = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
];

/// Sends a request with optional headers and body; the status and the body as JSON.
async fn raw(
    app: &CaseApp,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let (status, content_type, bytes) = send(
        app.app(),
        request.body(Body::from(body.to_string())).unwrap(),
    )
    .await;
    assert!(
        content_type.starts_with("application/json"),
        "{method} {path}: {status} {content_type}: {}",
        String::from_utf8_lossy(&bytes)
    );
    let value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{path}: not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, value)
}

async fn get(app: &CaseApp, path: &str) -> (StatusCode, Value) {
    raw(app, "GET", &format!("/open311/v2{path}"), &[], "").await
}

/// `POST /requests.json` with a form-encoded body.
async fn post_form(app: &CaseApp, fields: &[(&str, &str)]) -> (StatusCode, Value) {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    raw(
        app,
        "POST",
        "/open311/v2/requests.json",
        &[("content-type", "application/x-www-form-urlencoded")],
        &body,
    )
    .await
}

fn lon() -> String {
    TEST_POINT.0.to_string()
}

fn lat() -> String {
    TEST_POINT.1.to_string()
}

/// Reports `class` at the test point as an anonymous Open311 client; the new id.
async fn report(app: &CaseApp, class: &str, description: &str) -> i64 {
    let (status, body) = post_form(
        app,
        &[
            ("service_code", class),
            ("lat", &lat()),
            ("long", &lon()),
            ("description", description),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body[0]["service_request_id"].as_i64().expect("id")
}

/// The error array of the spec: one `{code, description}` naming `field`.
fn assert_spec_error(body: &Value, status: StatusCode, field: &str) {
    let errors = body
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {body}"));
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["code"], status.as_u16(), "{body}");
    let description = errors[0]["description"].as_str().unwrap_or_default();
    assert!(description.contains(field), "{field} not named in {body}");
    let keys: Vec<&String> = errors[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["code", "description"], "{body}");
}

fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|r| r["service_request_id"].as_i64().expect("id"))
        .collect()
}

#[tokio::test]
async fn discovery_and_services_describe_the_public_classes() {
    let tables = tables();
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let (status, discovery) = raw(
            &app,
            "GET",
            "/open311/v2/discovery.json",
            &[("host", "map.example.org")],
            "",
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(discovery["changeset"].is_string());
        assert!(discovery["contact"].is_string());
        assert!(discovery["key_service"].is_string());
        let endpoints = discovery["endpoints"].as_array().unwrap();
        assert_eq!(endpoints.len(), 1);
        assert_eq!(
            endpoints[0]["specification"],
            "http://wiki.open311.org/GeoReport_v2"
        );
        assert_eq!(endpoints[0]["url"], "http://map.example.org/open311/v2");
        assert_eq!(endpoints[0]["type"], "production");
        assert_eq!(endpoints[0]["formats"], json!(["application/json"]));
        assert_eq!(endpoints[0]["changeset"], discovery["changeset"]);

        let (status, services) = get(&app, "/services.json").await;
        assert_eq!(status, StatusCode::OK, "{backend:?}");
        let services = services.as_array().unwrap();
        let public: Vec<&str> = tables
            .classes
            .iter()
            .filter(|c| c.offered_to_public())
            .map(|c| c.code.as_str())
            .collect();
        let listed: Vec<&str> = services
            .iter()
            .map(|s| s["service_code"].as_str().unwrap())
            .collect();
        assert_eq!(listed, public);
        assert!(!listed.contains(&STAFF_CLASS));
        for s in services {
            let keys: Vec<&String> = s.as_object().unwrap().keys().collect();
            assert_eq!(
                keys,
                [
                    "service_code",
                    "service_name",
                    "description",
                    "metadata",
                    "type",
                    "keywords",
                    "group"
                ]
            );
            assert_eq!(s["metadata"], false);
            assert_eq!(s["type"], "realtime");
            assert!(s["group"].is_string() && s["keywords"].is_string(), "{s}");
        }
        let manhole = services
            .iter()
            .find(|s| s["service_code"] == TEST_CLASS)
            .unwrap();
        assert_eq!(manhole["service_name"], "上水井盖");
        assert_eq!(manhole["group"], "公用设施");
        assert!(
            manhole["keywords"]
                .as_str()
                .unwrap()
                .split(',')
                .any(|k| k == "公用设施"),
            "{manhole}"
        );
        assert!(
            manhole["description"].as_str().unwrap().contains("24 h"),
            "{manhole}"
        );

        let (status, definition) = get(&app, &format!("/services/{TEST_CLASS}.json")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            definition,
            json!({"service_code": TEST_CLASS, "attributes": []})
        );
        for path in [
            format!("/services/{STAFF_CLASS}.json"),
            "/services/NOPE.json".to_string(),
            format!("/services/{TEST_CLASS}.xml"),
            "/services.xml".to_string(),
            "/nothing/here.json".to_string(),
        ] {
            let (status, body) = get(&app, &path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
            assert_spec_error(&body, StatusCode::NOT_FOUND, "");
        }
        let (status, body) = raw(&app, "DELETE", "/open311/v2/services.json", &[], "").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_spec_error(&body, StatusCode::METHOD_NOT_ALLOWED, "DELETE");
    }
}

#[tokio::test]
async fn a_citizen_reports_a_problem_with_a_form_post() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let (status, created) = post_form(
            &app,
            &[
                ("service_code", TEST_CLASS),
                ("lat", &lat()),
                ("long", &lon()),
                ("description", "南桥路口井盖缺失，有行人跌落风险"),
                ("media_url", "https://example.org/manhole.jpg"),
                ("address_string", "南桥镇解放东路 100 号"),
                ("first_name", "三"),
                ("last_name", "张"),
                ("email", "zhang.san@example.org"),
                ("phone", "13800000000"),
                ("device_id", "phone-1"),
                ("jurisdiction_id", "fengxian"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{backend:?}: {created}");
        let created = created.as_array().expect("an array");
        assert_eq!(created.len(), 1);
        let keys: Vec<&String> = created[0].as_object().unwrap().keys().collect();
        // Beyond the spec: the citizen's tracking token.
        assert_eq!(
            keys,
            [
                "service_request_id",
                "service_notice",
                "account_id",
                "token"
            ]
        );
        assert_eq!(created[0]["token"].as_str().map(str::len), Some(32));
        assert_eq!(created[0]["account_id"], Value::Null);
        assert!(
            created[0]["service_notice"]
                .as_str()
                .unwrap()
                .contains("24 小时"),
            "{}",
            created[0]
        );
        let id = created[0]["service_request_id"].as_i64().unwrap();

        // The dispatcher sees an ordinary case from channel open311, with the reporter.
        let (status, case) = app
            .call(
                "GET",
                &format!("/api/cases/{id}"),
                Some(&app.keys.dispatcher),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{case}");
        assert_eq!(case["channel"], "open311");
        assert_eq!(case["class"], TEST_CLASS);
        assert_eq!(case["status"], "reported");
        assert_eq!(case["urgency"], "normal");
        assert_eq!(case["description"], "南桥路口井盖缺失，有行人跌落风险");
        assert_eq!(case["photos"], json!(["https://example.org/manhole.jpg"]));
        assert_eq!(case["address"], "南桥镇解放东路 100 号");
        let reporter = case["reporter"].as_str().unwrap();
        for part in ["三 张", "zhang.san@example.org", "13800000000"] {
            assert!(reporter.contains(part), "{reporter}");
        }
        assert_eq!(case["history"][0]["actor"], "open311:anonymous");
        assert_eq!(case["history"][0]["role"], "anonymous");
        assert_eq!(case["cell"].as_str().map(str::len), Some(15));

        // The public sees it as an open service request in its public view: no reporter, the
        // place as village and town within ~100 m, no description or photo until a dispatcher
        // approves them.
        let (status, one) = get(&app, &format!("/requests/{id}.json")).await;
        assert_eq!(status, StatusCode::OK);
        let request = &one.as_array().expect("an array")[0];
        assert_eq!(one.as_array().unwrap().len(), 1);
        let keys: Vec<&String> = request.as_object().unwrap().keys().collect();
        assert_eq!(keys, REQUEST_KEYS);
        assert_eq!(request["service_request_id"], id);
        assert_eq!(request["status"], "open");
        assert_eq!(request["status_notes"], "已受理");
        assert_eq!(request["service_code"], TEST_CLASS);
        assert_eq!(request["service_name"], "上水井盖");
        assert_eq!(request["description"], Value::Null);
        assert_eq!(request["agency_responsible"], Value::Null);
        assert_eq!(request["expected_datetime"], Value::Null);
        assert_eq!(request["requested_datetime"], rfc3339(START_MS));
        assert_eq!(request["updated_datetime"], rfc3339(START_MS));
        let address = request["address"].as_str().unwrap();
        assert!(address.starts_with("南桥镇 "), "{address}");
        assert_eq!(request["media_url"], Value::Null);
        let moved = gridlink::spatial::distance::metres(
            geo::Coord {
                x: TEST_POINT.0,
                y: TEST_POINT.1,
            },
            geo::Coord {
                x: request["long"].as_f64().unwrap(),
                y: request["lat"].as_f64().unwrap(),
            },
        );
        assert!(moved <= 72.0, "{moved}");
        let text = one.to_string();
        for secret in [
            "zhang.san",
            "13800000000",
            "解放东路",
            "南桥路口井盖缺失",
            "manhole.jpg",
        ] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        // Approved, the reporter's text and photo are public.
        app.act(
            id,
            &app.keys.dispatcher,
            json!({"action": "publish", "publish_description": true, "publish_photos": true}),
        )
        .await;
        let request = &get(&app, &format!("/requests/{id}.json")).await.1[0];
        assert_eq!(request["description"], "南桥路口井盖缺失，有行人跌落风险");
        assert_eq!(request["media_url"], "https://example.org/manhole.jpg");

        // A key holder reports under the key; a bare report gets the service name as its
        // description and hears about the open case next to it.
        let (status, keyed) = post_form(
            &app,
            &[
                ("api_key", &app.keys.dispatcher),
                ("service_code", TEST_CLASS),
                ("lat", &lat()),
                ("long", &lon()),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{keyed}");
        assert!(
            keyed[0].get("token").is_none(),
            "staff reports get no token"
        );
        let notice = keyed[0]["service_notice"].as_str().unwrap();
        assert!(notice.contains("已有 1 件"), "{notice}");
        let keyed_id = keyed[0]["service_request_id"].as_i64().unwrap();
        let (_, case) = app
            .call(
                "GET",
                &format!("/api/cases/{keyed_id}"),
                Some(&app.keys.dispatcher),
                None,
            )
            .await;
        assert_eq!(case["history"][0]["role"], "dispatcher");
        assert_eq!(case["description"], "上水井盖");
        assert_eq!(case["channel"], "open311");
        assert_eq!(case["reporter"], Value::Null);
    }
}

#[tokio::test]
async fn bad_reports_get_the_spec_error_array() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let (lat, lon) = (lat(), lon());
        let long_text = "长".repeat(4001);
        let base = |drop: &[&str], extra: &[(&'static str, &str)]| -> Form {
            let mut fields: Vec<(String, String)> = [
                ("service_code", TEST_CLASS),
                ("lat", lat.as_str()),
                ("long", lon.as_str()),
                ("description", "井盖破损"),
            ]
            .into_iter()
            .filter(|(k, _)| !drop.contains(k))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            for (k, v) in extra {
                fields.retain(|(key, _)| key != k);
                fields.push((k.to_string(), v.to_string()));
            }
            fields
        };
        let cases: Vec<(&str, Form, StatusCode, &str)> = vec![
            (
                "missing lat",
                base(&["lat"], &[]),
                StatusCode::BAD_REQUEST,
                "lat",
            ),
            (
                "missing long",
                base(&["long"], &[]),
                StatusCode::BAD_REQUEST,
                "long",
            ),
            (
                "address alone",
                base(
                    &["lat", "long"],
                    &[("address_string", "南桥镇解放东路 100 号")],
                ),
                StatusCode::BAD_REQUEST,
                "lat/long",
            ),
            (
                "missing service_code",
                base(&["service_code"], &[]),
                StatusCode::BAD_REQUEST,
                "service_code",
            ),
            (
                "unknown service_code",
                base(&[], &[("service_code", "NOPE")]),
                StatusCode::BAD_REQUEST,
                "service_code",
            ),
            (
                "staff-only class",
                base(&[], &[("service_code", STAFF_CLASS)]),
                StatusCode::BAD_REQUEST,
                "service_code",
            ),
            (
                "description over 4000",
                base(&[], &[("description", &long_text)]),
                StatusCode::BAD_REQUEST,
                "description",
            ),
            (
                "unknown api_key",
                base(&[], &[("api_key", "glk_not_a_key")]),
                StatusCode::FORBIDDEN,
                "api_key",
            ),
            (
                "lat not a number",
                base(&[], &[("lat", "north")]),
                StatusCode::BAD_REQUEST,
                "lat",
            ),
            (
                "long out of range",
                base(&[], &[("long", "200")]),
                StatusCode::BAD_REQUEST,
                "long",
            ),
            (
                "outside the district",
                base(&[], &[("long", "121.0"), ("lat", "31.5")]),
                StatusCode::BAD_REQUEST,
                "lat/long",
            ),
            (
                "media_url not http",
                base(&[], &[("media_url", "ftp://example.org/a.jpg")]),
                StatusCode::BAD_REQUEST,
                "media_url",
            ),
            (
                "email too long",
                base(&[], &[("email", &"x".repeat(201))]),
                StatusCode::BAD_REQUEST,
                "email",
            ),
        ];
        for (what, fields, status, field) in &cases {
            let pairs: Vec<(&str, &str)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let (got, body) = post_form(&app, &pairs).await;
            assert_eq!(got, *status, "{backend:?} {what}: {body}");
            assert_spec_error(&body, *status, field);
            assert!(
                body[0]["description"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{field}:")),
                "{what}: {body}"
            );
        }
        // Only forms are taken.
        let (status, body) = raw(
            &app,
            "POST",
            "/open311/v2/requests.json",
            &[("content-type", "application/json")],
            &json!({"service_code": TEST_CLASS, "lat": TEST_POINT.1, "long": TEST_POINT.0})
                .to_string(),
        )
        .await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_spec_error(&body, StatusCode::UNSUPPORTED_MEDIA_TYPE, "form-urlencoded");
        // Nothing refused was stored.
        let (_, list) = app
            .call("GET", "/api/cases", Some(&app.keys.admin), None)
            .await;
        assert_eq!(list["total"], 0, "{list}");
    }
}

/// Takes a case from reported to closed through the workflow, with the fixture keys.
async fn close(app: &CaseApp, id: i64) {
    let k = &app.keys;
    app.act(id, &k.dispatcher, json!({"action": "file"})).await;
    app.act(id, &k.dispatcher, json!({"action": "dispatch"}))
        .await;
    app.act(
        id,
        app.unit_key(),
        json!({"action": "feedback", "note": "已更换井盖"}),
    )
    .await;
    app.act(id, &k.supervisor, json!({"action": "verify_ok"}))
        .await;
    app.act(
        id,
        &k.dispatcher,
        json!({"action": "close", "note": "内部：施工单位已结算", "public_note": "井盖已更换，感谢反映"}),
    )
    .await;
}

#[tokio::test]
async fn requests_filter_by_id_service_status_and_date() {
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let a = report(&app, TEST_CLASS, "井盖缺失").await;
        let b = report(&app, OTHER_CLASS, "污水井盖松动").await;
        // Staff report a staff-only class: it never shows through Open311.
        let (status, hidden) = app
            .call(
                "POST",
                "/api/cases",
                Some(&app.keys.dispatcher),
                Some(json!({"class": STAFF_CLASS, "lon": TEST_POINT.0, "lat": TEST_POINT.1, "description": "人防工事入口破损"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{hidden}");
        let hidden = hidden["id"].as_i64().unwrap();
        close(&app, a).await;
        app.clock.advance(10 * DAY);
        let c = report(&app, TEST_CLASS, "井盖又坏了").await;

        let list = |query: String| {
            let app = &app;
            async move {
                let (status, body) = get(app, &format!("/requests.json{query}")).await;
                assert_eq!(status, StatusCode::OK, "{query}: {body}");
                body
            }
        };
        // Default: the last 90 days, newest first, public services only.
        let all = list(String::new()).await;
        assert_eq!(ids(&all), [c, b, a], "{backend:?}");
        let closed = &all[2];
        assert_eq!(closed["status"], "closed");
        // status_notes come from the note written for the public, never the internal one.
        assert_eq!(closed["status_notes"], "井盖已更换，感谢反映");
        assert!(!all.to_string().contains("内部"), "{all}");
        assert_eq!(all[1]["status_notes"], "已受理");
        assert_eq!(all[1]["service_name"], "污水井盖");

        // Ids override every other filter.
        assert_eq!(
            ids(&list(format!("?service_request_id={a},{b},{hidden},999999")).await),
            [b, a]
        );
        assert_eq!(
            ids(&list(format!(
                "?service_request_id={a}&status=open&service_code={OTHER_CLASS}&start_date=2000-01-01T00:00:00Z"
            ))
            .await),
            [a]
        );

        // Services, one or several.
        assert_eq!(
            ids(&list(format!("?service_code={TEST_CLASS}")).await),
            [c, a]
        );
        assert_eq!(
            ids(&list(format!("?service_code={OTHER_CLASS},{TEST_CLASS}")).await),
            [c, b, a]
        );

        // Status: closed = closed or rejected; open = everything else.
        assert_eq!(ids(&list("?status=closed".into()).await), [a]);
        assert_eq!(ids(&list("?status=open".into()).await), [c, b]);
        assert_eq!(ids(&list("?status=open,closed".into()).await), [c, b, a]);
        assert_eq!(
            ids(&list(format!("?status=open&service_code={TEST_CLASS}")).await),
            [c]
        );

        // Dates: requested_datetime within [start_date, end_date].
        let at = |ms: i64| rfc3339(ms);
        assert_eq!(
            ids(&list(format!("?start_date={}", at(START_MS + 5 * DAY))).await),
            [c]
        );
        assert_eq!(
            ids(&list(format!(
                "?start_date={}&end_date={}",
                at(START_MS - DAY),
                at(START_MS + DAY)
            ))
            .await),
            [b, a]
        );
        assert_eq!(
            ids(&list(format!("?end_date={}", at(START_MS + 10 * DAY))).await),
            [c, b, a]
        );
        assert_eq!(
            ids(&list(format!("?end_date={}", at(START_MS - HOUR))).await),
            Vec::<i64>::new()
        );

        // Refusals, in the spec's format.
        for (query, field) in [
            (
                format!(
                    "?start_date={}&end_date={}",
                    at(START_MS - 100 * DAY),
                    at(START_MS + DAY)
                ),
                "end_date",
            ),
            (
                format!(
                    "?start_date={}&end_date={}",
                    at(START_MS + DAY),
                    at(START_MS)
                ),
                "end_date",
            ),
            ("?start_date=yesterday".to_string(), "start_date"),
            ("?status=pending".to_string(), "status"),
            ("?service_code=NOPE".to_string(), "service_code"),
            (format!("?service_code={STAFF_CLASS}"), "service_code"),
            ("?service_request_id=abc".to_string(), "service_request_id"),
        ] {
            let (status, body) = get(&app, &format!("/requests.json{query}")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
            assert_spec_error(&body, StatusCode::BAD_REQUEST, field);
        }

        // The staff-only case is not there one by one either.
        let (status, body) = get(&app, &format!("/requests/{hidden}.json")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_spec_error(&body, StatusCode::NOT_FOUND, "");

        // A hundred days on, the default window is empty.
        app.clock.advance(100 * DAY);
        assert_eq!(ids(&list(String::new()).await), Vec::<i64>::new());
        assert_eq!(ids(&list(format!("?service_request_id={c}")).await), [c]);
    }
}

/// `GET /requests/{id}.json`'s one request.
async fn request(app: &CaseApp, id: i64) -> Value {
    let (status, body) = get(app, &format!("/requests/{id}.json")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body.as_array().map(Vec::len), Some(1), "{body}");
    body[0].clone()
}

#[tokio::test]
async fn a_dispatched_request_names_its_unit_and_deadline() {
    let unit = routed_unit();
    let unit_name = unit_name(demo_store(), &unit).expect("the routed unit has a name");
    for backend in BACKENDS {
        let app = case_app(backend).await;
        let id = report(&app, TEST_CLASS, "井盖缺失").await;
        app.act(id, &app.keys.dispatcher, json!({"action": "file"}))
            .await;
        // Filed: routing has proposed a unit, but nobody answers for it yet.
        let filed = request(&app, id).await;
        assert_eq!(filed["status"], "open");
        assert_eq!(filed["status_notes"], "已立案");
        assert_eq!(filed["agency_responsible"], Value::Null);
        assert_eq!(filed["expected_datetime"], Value::Null);

        app.clock.advance(HOUR);
        app.act(
            id,
            &app.keys.dispatcher,
            json!({"action": "dispatch", "note": "请尽快更换井盖"}),
        )
        .await;
        let dispatched = request(&app, id).await;
        assert_eq!(dispatched["agency_responsible"], unit_name, "{backend:?}");
        // C0101, normal urgency: 24 h from dispatch.
        assert_eq!(
            dispatched["expected_datetime"],
            rfc3339(START_MS + HOUR + 24 * HOUR)
        );
        assert_eq!(dispatched["updated_datetime"], rfc3339(START_MS + HOUR));
        assert_eq!(dispatched["requested_datetime"], rfc3339(START_MS));
        // The dispatcher's instruction is internal: the public reads the status in its words.
        assert_eq!(dispatched["status_notes"], "处理中");
        assert_eq!(dispatched["status"], "open");

        // The list shows the same request.
        let (_, list) = get(&app, "/requests.json").await;
        assert_eq!(list[0], dispatched);

        for path in [
            "/requests/999999.json".to_string(),
            "/requests/abc.json".to_string(),
            format!("/requests/{id}.xml"),
        ] {
            let (status, body) = get(&app, &path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
            assert_spec_error(&body, StatusCode::NOT_FOUND, "");
        }
    }
}
