//! Limits that keep one client from taking the server: anonymous reports per client address,
//! heavy endpoints per key, concurrent event streams per key, and a time limit per request.
//!
//! Rates are GCRA buckets from the `governor` crate (the limiter `tower_governor` wraps), used
//! directly so the refusal is the API's own JSON error with `Retry-After`, and so a request
//! with a key is told apart from an anonymous one before the handler runs. Which routes are
//! limited is one table here ([`REPORT_ROUTES`], [`HEAVY_ROUTES`]), matched on the route
//! template, so the route modules stay as they are.

use super::ApiError;
use super::client::ClientAddr;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where anyone may file a case without a key: limited per client address when no key is sent.
/// (An Open311 `api_key` travels in the form body, which is not read here: such posts count as
/// anonymous, while a key in `Authorization` exempts them.)
pub const REPORT_ROUTES: [(Method, &str); 2] = [
    (Method::POST, "/api/cases"),
    (Method::POST, "/open311/v2/requests.json"),
];

/// Endpoints that cost seconds of CPU per call: limited per key (per address without one).
pub const HEAVY_ROUTES: [(Method, &str); 3] = [
    (Method::POST, "/api/locate/batch"),
    (Method::POST, "/api/shelters/allocate"),
    (Method::POST, "/api/hazmat/zone"),
];

/// A sustained rate with a burst allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_minute: NonZeroU32,
    pub burst: NonZeroU32,
}

impl Rate {
    /// `per_minute` 0 means no limit; a burst of 0 means the rate's own minute.
    pub fn new(per_minute: u32, burst: u32) -> Option<Rate> {
        let per_minute = NonZeroU32::new(per_minute)?;
        Some(Rate {
            per_minute,
            burst: NonZeroU32::new(burst).unwrap_or(per_minute),
        })
    }

    fn limiter(self) -> DefaultKeyedRateLimiter<String> {
        RateLimiter::keyed(Quota::per_minute(self.per_minute).allow_burst(self.burst))
    }
}

/// What the server is configured to allow (`serve` flags); the default allows everything, as
/// the in-process router of the tests and benchmarks wants.
#[derive(Debug, Clone, Default)]
pub struct LimitSettings {
    /// Anonymous reports (and Open311 posts) per client address.
    pub reports: Option<Rate>,
    /// Calls of [`HEAVY_ROUTES`] per key, or per address without one.
    pub heavy: Option<Rate>,
    /// Event streams open at once per key.
    pub streams_per_key: Option<usize>,
    /// The longest a handler may take to produce its response (a streamed body may go on).
    pub request_timeout: Option<Duration>,
}

/// The limits in force; cheap to clone (one set per server).
#[derive(Clone, Default)]
pub struct Limits {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    settings: LimitSettings,
    reports: Option<DefaultKeyedRateLimiter<String>>,
    heavy: Option<DefaultKeyedRateLimiter<String>>,
    /// Open streams per key.
    streams: Mutex<HashMap<String, usize>>,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits")
            .field("settings", &self.inner.settings)
            .finish()
    }
}

impl Limits {
    pub fn new(settings: LimitSettings) -> Limits {
        Limits {
            inner: Arc::new(Inner {
                reports: settings.reports.map(Rate::limiter),
                heavy: settings.heavy.map(Rate::limiter),
                settings,
                streams: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn settings(&self) -> &LimitSettings {
        &self.inner.settings
    }

    /// Forgets buckets that have refilled, so the maps hold only recent clients.
    pub fn forget_idle(&self) {
        for limiter in [&self.inner.reports, &self.inner.heavy]
            .into_iter()
            .flatten()
        {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// A place on the event stream for `key`, or `429 too_many_streams` when the key already
    /// holds as many as allowed. The place is given back when the permit is dropped (the
    /// stream ends or its client goes away). The refusal is boxed: a `Response` is large and
    /// the place is taken on every stream.
    pub fn open_stream(&self, key: String) -> Result<StreamPermit, Box<Response>> {
        let mut streams = self
            .inner
            .streams
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let open = streams.entry(key.clone()).or_insert(0);
        if let Some(cap) = self.inner.settings.streams_per_key
            && *open >= cap
        {
            metrics::counter!("gridlink_rate_limited_total", "limit" => "streams").increment(1);
            return Err(Box::new(too_many(
                "too_many_streams",
                format!("this key already holds {cap} open event streams; close one first"),
                Duration::from_secs(5),
            )));
        }
        *open += 1;
        metrics::gauge!("gridlink_sse_subscribers").increment(1.0);
        Ok(StreamPermit {
            limits: self.clone(),
            key,
        })
    }
}

/// One open event stream, counted against its key until dropped.
pub struct StreamPermit {
    limits: Limits,
    key: String,
}

impl StreamPermit {
    /// `stream` until `stop` resolves (the server stops), holding this place while it runs.
    pub fn hold<S>(
        self,
        stream: S,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> impl futures_util::Stream<Item = S::Item> + Send + 'static
    where
        S: futures_util::Stream + Send + 'static,
    {
        use futures_util::StreamExt;
        stream.take_until(stop).map(move |item| {
            let _held = &self;
            item
        })
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        metrics::gauge!("gridlink_sse_subscribers").decrement(1.0);
        let mut streams = self
            .limits
            .inner
            .streams
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(open) = streams.get_mut(&self.key) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                streams.remove(&self.key);
            }
        }
    }
}

/// Who a request counts as for per-key limits: the key (by a hash prefix, never the secret
/// itself) from `Authorization` or `?key=`, else the client address.
pub fn caller_key(request: &axum::http::request::Parts) -> String {
    let bearer = request
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .map(str::to_string)
        .or_else(|| {
            form_urlencoded::parse(request.uri.query().unwrap_or("").as_bytes())
                .find(|(k, _)| k == "key")
                .map(|(_, v)| v.into_owned())
        })
        .filter(|s| !s.is_empty());
    match bearer {
        Some(secret) => {
            use sha2::Digest;
            let digest = sha2::Sha256::digest(secret.as_bytes());
            format!("key:{}", hex::encode(&digest[..8]))
        }
        None => address_key(request.extensions.get::<ClientAddr>()),
    }
}

fn address_key(client: Option<&ClientAddr>) -> String {
    match client.and_then(|c| c.0) {
        Some(ip) => format!("addr:{ip}"),
        None => "addr:unknown".into(),
    }
}

/// `429` with `Retry-After` (whole seconds, at least 1) and the API's JSON error.
pub fn too_many(code: &'static str, message: String, wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let mut response = ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, message)
        .with_detail("retry_after_s", serde_json::json!(seconds))
        .into_response();
    response
        .headers_mut()
        .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// Middleware (inside routing, so the route template is known): the rate limits of the two
/// route tables, then the request time limit.
pub async fn guard(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    let inner = &limits.inner;
    let (parts, body) = request.into_parts();
    if let Some(limiter) = &inner.reports
        && is_anonymous(&parts)
        && is_route(&parts, &REPORT_ROUTES)
        && let Err(wait) = check(limiter, address_key(parts.extensions.get::<ClientAddr>()))
    {
        metrics::counter!("gridlink_rate_limited_total", "limit" => "reports").increment(1);
        return too_many(
            "rate_limited",
            "too many reports from this address; try again later".into(),
            wait,
        );
    }
    if let Some(limiter) = &inner.heavy
        && is_route(&parts, &HEAVY_ROUTES)
        && let Err(wait) = check(limiter, caller_key(&parts))
    {
        metrics::counter!("gridlink_rate_limited_total", "limit" => "heavy").increment(1);
        return too_many(
            "rate_limited",
            "too many heavy requests for this key; try again later".into(),
            wait,
        );
    }
    let request = Request::from_parts(parts, body);
    match inner.settings.request_timeout {
        Some(limit) => match tokio::time::timeout(limit, next.run(request)).await {
            Ok(response) => response,
            Err(_) => {
                metrics::counter!("gridlink_request_timeouts_total").increment(1);
                ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    format!(
                        "the request took longer than {} s and was stopped",
                        limit.as_secs_f64()
                    ),
                )
                .into_response()
            }
        },
        None => next.run(request).await,
    }
}

fn is_route(parts: &axum::http::request::Parts, table: &[(Method, &str)]) -> bool {
    let Some(route) = parts.extensions.get::<MatchedPath>() else {
        return false;
    };
    table
        .iter()
        .any(|(m, path)| *m == parts.method && *path == route.as_str())
}

/// No key in `Authorization` or `?key=`: a key that turns out unknown is refused (401) by the
/// handler, before anything is stored.
fn is_anonymous(parts: &axum::http::request::Parts) -> bool {
    !parts
        .headers
        .contains_key(axum::http::header::AUTHORIZATION)
        && !form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .any(|(k, _)| k == "key")
}

fn check(limiter: &DefaultKeyedRateLimiter<String>, key: String) -> Result<(), Duration> {
    limiter
        .check_key(&key)
        .map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_turns_a_rate_off_and_a_zero_burst_is_the_rate() {
        assert_eq!(Rate::new(0, 5), None);
        let r = Rate::new(30, 0).unwrap();
        assert_eq!(r.burst.get(), 30);
    }

    #[test]
    fn a_bucket_refuses_past_its_burst_and_says_how_long_to_wait() {
        let limiter = Rate::new(60, 2).unwrap().limiter();
        assert!(check(&limiter, "a".into()).is_ok());
        assert!(check(&limiter, "a".into()).is_ok());
        let wait = check(&limiter, "a".into()).unwrap_err();
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        // Another client has its own bucket.
        assert!(check(&limiter, "b".into()).is_ok());
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up() {
        let r = too_many("rate_limited", "x".into(), Duration::from_millis(1500));
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[axum::http::header::RETRY_AFTER], "2");
        let r = too_many("rate_limited", "x".into(), Duration::ZERO);
        assert_eq!(r.headers()[axum::http::header::RETRY_AFTER], "1");
    }

    #[test]
    fn stream_places_are_given_back_when_dropped() {
        let limits = Limits::new(LimitSettings {
            streams_per_key: Some(1),
            ..Default::default()
        });
        let first = limits.open_stream("k".into()).ok().unwrap();
        assert!(limits.open_stream("k".into()).is_err());
        assert!(limits.open_stream("other".into()).is_ok());
        drop(first);
        assert!(limits.open_stream("k".into()).is_ok());
    }
}
