//! The `api_request` target: one HTTP request per input, through the real axum router
//! ([`switchyard_api::router`]) in-process (`tower::ServiceExt::oneshot`), over a state that
//! serves a small real graph (120 nodes of the 2019-05-14 snapshot, `fuzz/data/`) with its
//! analytics computed, a bearer token, no Lightning node, and a store whose pool points at a
//! socket that does not exist.
//!
//! **Input.** Byte 0 picks the route: its index in [`switchyard_api::ROUTES`] (modulo their
//! number), so every route is covered, new ones included. For a route with a path parameter
//! (`{pubkey}`, `{scid}`, ...) the bytes up to the first newline fill it (percent-encoded).
//! The rest is the query string of a GET (kept as is where a query allows it, so `&`, `=` and
//! `%XX` keep their meaning) or the JSON body of a POST. POSTs carry the token and
//! `Content-Type: application/json`, so their bodies are parsed, not refused unread.
//!
//! **Properties.** No panic anywhere (the AFL binary aborts on any panic, caught or not), never
//! a 500, and a 5xx only as a 503 that names why: `store_unavailable` (the route needs the
//! database, which this harness has not) or `node_not_running` (it needs the Lightning node);
//! `/readyz` says not ready. Every error answer is the API's JSON error object.

use std::str::FromStr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode, Uri};
use axum::Router;
use switchyard_api::metrics::Metrics;
use switchyard_api::{AnalyticsView, AppState, GraphView, ROUTES};
use switchyard_graph::analytics::{AnalyticsConfig, NetworkAnalytics};
use switchyard_graph::{load, Snapshot};
use switchyard_store::Store;
use tower::ServiceExt;

/// The bearer token the harness configures and sends.
pub const TOKEN: &str = "fuzz-token";

/// The graph the harness serves: a connected cut of the 2019-05-14 snapshot (CLN JSON).
pub const GRAPH_JSON: &str = include_str!("../data/graph-2019-05-14-cut.json");

/// 503 codes a request may get from this harness, and why.
const EXPECTED_UNAVAILABLE: &[&str] = &["store_unavailable", "node_not_running"];

/// The largest response body read back (the biggest real answer is a few MiB).
const MAX_RESPONSE: usize = 64 << 20;

/// The router and the runtime it runs on; built once per process.
pub struct Harness {
    runtime: tokio::runtime::Runtime,
    router: Router,
}

/// The store of the harness: a pool that connects lazily to a socket directory that does not
/// exist, so every query fails at once as unavailable.
fn unreachable_store() -> Store {
    let options = sqlx::postgres::PgConnectOptions::from_str(
        "postgres://fuzz@localhost/fuzz?host=/nonexistent/switchyard-fuzz",
    )
    .unwrap_or_else(|e| panic!("static connection URL: {e}"));
    Store::connect_lazy(options, 1)
}

/// The served graph, its analytics and the state around them.
fn state() -> AppState {
    let mut records = Vec::new();
    load::read_records(GRAPH_JSON.as_bytes(), "graph-2019-05-14-cut.json", |r| {
        records.push(r);
        true
    })
    .unwrap_or_else(|e| panic!("the committed graph reads: {e}"));
    let view = GraphView::new(Snapshot::from_records(records), 1);
    let analytics = NetworkAnalytics::compute(&view.snapshot, &AnalyticsConfig::default())
        .unwrap_or_else(|e| panic!("analytics of the committed graph: {e}"));
    let mut state = AppState::new(unreachable_store(), Arc::new(Metrics::new()));
    state.auth = Arc::new(switchyard_api::auth::Auth::fixed(Some(TOKEN), Some(TOKEN)));
    state.graph.store(Some(Arc::new(view)));
    state.analytics.store(Some(Arc::new(AnalyticsView {
        version: 1,
        computed_at: 0,
        seconds: 0.0,
        analytics,
        as_of: None,
    })));
    state
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness {
    /// The API router over the committed graph (with analytics), and a runtime to drive it.
    pub fn new() -> Harness {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("tokio runtime: {e}"));
        let router = runtime.block_on(async { switchyard_api::router(state()) });
        Harness { runtime, router }
    }

    /// Sends the request `data` describes (see the module documentation) and checks the
    /// answer; panics on a property violation. Returns the answer's status and error code.
    pub fn request(&self, data: &[u8]) -> Option<(StatusCode, Option<String>)> {
        let request = build_request(data)?;
        let path = request.uri().path().to_owned();
        let router = self.router.clone();
        let (status, body) = self.runtime.block_on(async move {
            let response = router.oneshot(request).await.unwrap_or_else(|e| match e {});
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), MAX_RESPONSE).await;
            (status, body)
        });
        let body = body.unwrap_or_else(|e| panic!("{path}: reading the answer: {e}"));
        Some((status, check_answer(&path, status, &body)))
    }
}

/// The request `data` describes, or `None` when it cannot be one (no route byte).
pub fn build_request(data: &[u8]) -> Option<Request<Body>> {
    let (&pick, rest) = data.split_first()?;
    let (method, template, _) = ROUTES[usize::from(pick) % ROUTES.len()];
    let (param, rest) = if template.contains('{') {
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &[][..]),
        }
    } else {
        (&[][..], rest)
    };
    let path = fill_template(template, param);
    let post = method == "post";
    let uri = if post || rest.is_empty() {
        Uri::try_from(path)
    } else {
        Uri::try_from(format!("{path}?{}", query(rest)))
            .or_else(|_| Uri::try_from(format!("{path}?{}", encode(rest, b""))))
    }
    .ok()?;
    let mut request = Request::builder()
        .method(if post { Method::POST } else { Method::GET })
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
    if post {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let body = if post {
        Body::from(rest.to_vec())
    } else {
        Body::empty()
    };
    request.body(body).ok()
}

/// `template` with its `{parameter}` replaced by `value`, percent-encoded.
fn fill_template(template: &str, value: &[u8]) -> String {
    match (template.find('{'), template.find('}')) {
        (Some(open), Some(close)) if open < close => format!(
            "{}{}{}",
            &template[..open],
            encode(value, b""),
            &template[close + 1..]
        ),
        _ => template.to_owned(),
    }
}

/// Bytes that may stand as they are in a query (RFC 3986), `%` included.
const QUERY_SAFE: &[u8] = b"-._~!$&'()*+,;=:@/?%";

fn query(bytes: &[u8]) -> String {
    encode(bytes, QUERY_SAFE)
}

/// Percent-encodes every byte that is not alphanumeric or in `keep`.
fn encode(bytes: &[u8], keep: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The properties every answer has (see the module documentation); returns the error code
/// of an error answer.
pub fn check_answer(path: &str, status: StatusCode, body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    assert_ne!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{path}: 500: {text}"
    );
    if path == "/readyz" {
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {text}");
        return None;
    }
    if status.is_success() {
        return None;
    }
    let json: serde_json::Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{path}: {status} with a body that is not JSON ({e}): {text}"));
    let code = json["error"]["code"].as_str();
    let message = json["error"]["message"].as_str();
    assert!(
        code.is_some() && message.is_some(),
        "{path}: {status} without an error code and message: {text}"
    );
    if status.is_server_error() {
        assert!(
            status == StatusCode::SERVICE_UNAVAILABLE
                && code.is_some_and(|c| EXPECTED_UNAVAILABLE.contains(&c)),
            "{path}: {status} not explained by the harness (no database, no node): {text}"
        );
    }
    code.map(str::to_owned)
}
