//! What one client may ask of the API: body size, a per-client rate on the expensive
//! endpoints, and time.
//!
//! * **Body size**: every request body is capped at [`Limits::max_body_bytes`]; a larger one is
//!   answered 413 `body_too_large` before it is read (axum's `DefaultBodyLimit`).
//! * **Rate**: the endpoints in [`RATE_LIMITED`] (each request can cost seconds of CPU: batches,
//!   matrices, multi-part routes, fee simulations and plans) draw from a token bucket per client
//!   IP address: [`RateLimit::burst`] requests at once, refilled at
//!   [`RateLimit::per_minute`]. An empty bucket answers 429 `rate_limited` with `Retry-After`
//!   (whole seconds until the next token). Behind a reverse proxy every client shares the
//!   proxy's address: raise the limit or rate-limit at the proxy. Cheap endpoints are not
//!   limited.
//! * **Time**: a request whose handler runs longer than [`Limits::request_timeout`] is answered
//!   503 `timeout` (work already handed to the thread pool finishes in the background; its result
//!   is dropped). Admin routes are exempt: they change the node (open, pay, close), and cutting
//!   their answer would hide the outcome. The connection layer also closes a connection whose
//!   request headers take longer than [`Limits::header_read_timeout`] (slow-header clients).
//!
//! Must not: know any route's logic, or keep state that grows with the number of clients
//! beyond [`MAX_CLIENTS`] buckets.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::auth::{route_access, Access};
use crate::AppState;

/// The endpoints whose requests draw from the per-client bucket.
pub const RATE_LIMITED: &[(&str, &str)] = &[
    ("post", "/v1/routes/batch"),
    ("post", "/v1/routes/matrix"),
    ("post", "/v1/routes/mpp"),
    ("post", "/v1/fees/simulate"),
    ("get", "/v1/fees/plan"),
];

/// At most this many clients are tracked; when full, clients whose bucket has refilled are
/// forgotten first (they lose nothing), then everyone.
pub const MAX_CLIENTS: usize = 10_000;

/// The per-client rate on [`RATE_LIMITED`] endpoints.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Tokens added per minute (0 turns the limit off).
    pub per_minute: u32,
    /// The bucket's size: requests a client may make at once.
    pub burst: u32,
}

/// The API's limits (see the module docs); `Limits::default()` is what `serve` and `up` use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Longest a non-admin handler may run.
    pub request_timeout: Duration,
    /// Longest a client may take to send its request headers.
    pub header_read_timeout: Duration,
    /// The rate on the expensive endpoints.
    pub rate: RateLimit,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1 << 20,
            request_timeout: Duration::from_secs(60),
            header_read_timeout: Duration::from_secs(10),
            rate: RateLimit {
                per_minute: 120,
                burst: 20,
            },
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets per client address (see the module docs).
#[derive(Debug)]
pub struct RateLimiter {
    rate: RateLimit,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    /// A limiter with `rate` and no clients yet.
    pub fn new(rate: RateLimit) -> RateLimiter {
        RateLimiter {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn per_second(&self) -> f64 {
        f64::from(self.rate.per_minute) / 60.0
    }

    fn refilled(&self, b: Bucket, now: Instant) -> Bucket {
        let tokens = b.tokens + now.duration_since(b.at).as_secs_f64() * self.per_second();
        Bucket {
            tokens: tokens.min(f64::from(self.rate.burst)),
            at: now,
        }
    }

    /// Takes one token for `client`: `Ok` if it had one, else `Err(wait)` with the time until
    /// the next token.
    pub fn take(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.rate.per_minute == 0 {
            return Ok(());
        }
        let full = f64::from(self.rate.burst);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_CLIENTS && !buckets.contains_key(&client) {
            buckets.retain(|_, b| self.refilled(*b, now).tokens < full);
            if buckets.len() >= MAX_CLIENTS {
                buckets.clear();
            }
        }
        let b = buckets.entry(client).or_insert(Bucket {
            tokens: full,
            at: now,
        });
        *b = self.refilled(*b, now);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - b.tokens) / self.per_second(),
            ))
        }
    }

    /// How many clients are tracked now.
    pub fn clients(&self) -> usize {
        self.buckets.lock().map(|b| b.len()).unwrap_or(0)
    }
}

fn is_rate_limited(method: &Method, path: &str) -> bool {
    RATE_LIMITED
        .iter()
        .any(|(m, p)| method.as_str().eq_ignore_ascii_case(m) && *p == path)
}

fn refuse(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

/// The middleware: the client's bucket on [`RATE_LIMITED`] routes, then the handler under
/// the request timeout (admin routes exempt).
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let method = req.method().clone();
    if is_rate_limited(&method, &path) {
        let client = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        if let Err(wait) = state.rate_limiter.take(client, Instant::now()) {
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            let rate = state.limits.rate;
            let mut response = refuse(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "{method} {path} is limited to {} requests per minute per client (bursts of {}); retry in {secs} s",
                    rate.per_minute, rate.burst
                ),
            );
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
            return response;
        }
    }
    if route_access(&method, &path) == Access::Admin {
        return next.run(req).await;
    }
    let limit = state.limits.request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(%method, %path, ?limit, "request timed out");
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                format!(
                    "{method} {path} took longer than {} s; ask for less (fewer pairs, payments or candidates) or retry",
                    limit.as_secs_f64()
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_the_rate() {
        let l = RateLimiter::new(RateLimit {
            per_minute: 60,
            burst: 3,
        });
        let (a, t0) = (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), Instant::now());
        for _ in 0..3 {
            assert_eq!(l.take(a, t0), Ok(()));
        }
        let wait = l.take(a, t0).expect_err("burst used up");
        assert!((wait.as_secs_f64() - 1.0).abs() < 1e-6, "{wait:?}");
        // Another client has its own bucket.
        assert_eq!(l.take(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), t0), Ok(()));
        // Half a token later: still empty, half a second to wait.
        let wait = l
            .take(a, t0 + Duration::from_millis(500))
            .expect_err("half a token");
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-3, "{wait:?}");
        assert_eq!(l.take(a, t0 + Duration::from_millis(1001)), Ok(()));
        // Never more than the burst, however long the pause.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(l.take(a, later), Ok(()));
        }
        assert!(l.take(a, later).is_err());
    }

    #[test]
    fn zero_per_minute_turns_the_limit_off() {
        let l = RateLimiter::new(RateLimit {
            per_minute: 0,
            burst: 0,
        });
        let a = IpAddr::V4(Ipv4Addr::LOCALHOST);
        assert!((0..1000).all(|_| l.take(a, Instant::now()).is_ok()));
        assert_eq!(l.clients(), 0);
    }

    #[test]
    fn tracked_clients_stay_bounded() {
        let l = RateLimiter::new(RateLimit {
            per_minute: 1,
            burst: 2,
        });
        let now = Instant::now();
        for i in 0..(MAX_CLIENTS as u32 + 500) {
            let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            assert_eq!(l.take(ip, now), Ok(()));
        }
        assert!(l.clients() <= MAX_CLIENTS, "{}", l.clients());
    }

    #[test]
    fn every_rate_limited_route_exists() {
        for (m, p) in RATE_LIMITED {
            assert!(
                crate::ROUTES.iter().any(|(rm, rp, _)| rm == m && rp == p),
                "{m} {p} is not a route"
            );
        }
    }
}
