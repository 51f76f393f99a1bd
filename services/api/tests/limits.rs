//! The API's limits over a real socket: 413 for a body over the limit, 429 with Retry-After
//! once a client's burst on an expensive endpoint is spent (other clients and cheap endpoints
//! unaffected), 503 `timeout` for a handler over the time limit, and a slow-header client
//! disconnected.

use std::time::{Duration, Instant};

use serde_json::json;
use switchyard_api::limits::{Limits, RateLimit};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::http::{get, post_json, send};
use super::{error_code, start_limited};

const FILES: &[&str] = &["channels-2019-05-14.json.xz", "nodes-2019-05-14.json.xz"];

async fn node_ids(addr: std::net::SocketAddr, n: usize) -> Vec<String> {
    let r = get(addr, &format!("/v1/nodes?limit={n}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_and_bursts_over_the_rate_get_429() {
    let limits = Limits {
        max_body_bytes: 4096,
        rate: RateLimit {
            per_minute: 6,
            burst: 3,
        },
        ..Limits::default()
    };
    let s = start_limited(&[FILES], limits).await;
    s.state.refresh_graph().await.unwrap();
    let ids = node_ids(s.addr, 3).await;

    // A body one byte over the limit is refused before any parsing; at the limit it is parsed.
    let pad = |len: usize| {
        let base = json!({"source": ids[0], "destination": ids[1], "amount_msat": 1_000_000u64, "pad": ""}).to_string();
        let fill = "x".repeat(len - base.len());
        base.replace("\"pad\":\"\"", &format!("\"pad\":\"{fill}\""))
    };
    let r = send(s.addr, "POST", "/v1/routes", &pad(4097)).await;
    assert_eq!(
        (r.status, error_code(&r).as_str()),
        (413, "body_too_large"),
        "{}",
        r.body
    );
    let r = send(s.addr, "POST", "/v1/routes", &pad(4096)).await;
    assert_ne!(r.status, 413, "{}", r.body);
    assert_ne!(r.status / 100, 5, "{}", r.body);

    // The batch endpoint: three at once, then 429 with a Retry-After of about 10 s
    // (6 per minute); single routes and stats are not limited.
    let batch = json!({"queries": [{"source": ids[0], "destination": ids[1], "amount_msat": 1_000_000u64}]});
    for i in 0..3 {
        let r = post_json(s.addr, "/v1/routes/batch", &batch).await;
        assert_eq!(r.status, 200, "request {i}: {}", r.body);
    }
    let r = post_json(s.addr, "/v1/routes/batch", &batch).await;
    assert_eq!(
        (r.status, error_code(&r).as_str()),
        (429, "rate_limited"),
        "{}",
        r.body
    );
    let wait: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=10).contains(&wait), "Retry-After {wait}");
    assert!(r.body.contains("6 requests per minute"), "{}", r.body);
    let r = post_json(
        s.addr,
        "/v1/routes/matrix",
        &json!({"sources": [ids[0]], "destinations": [ids[1]], "amount_msat": 1_000_000u64}),
    )
    .await;
    assert_eq!(r.status, 429, "the bucket is per client, not per endpoint");
    for _ in 0..10 {
        let r = get(s.addr, "/v1/network/stats").await;
        assert_eq!(r.status, 200, "cheap endpoints are not limited");
    }
    let single = json!({"source": ids[0], "destination": ids[1], "amount_msat": 1_000_000u64});
    assert_eq!(post_json(s.addr, "/v1/routes", &single).await.status, 200);

    // After the Retry-After, one more batch goes through.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let r = post_json(s.addr, "/v1/routes/batch", &batch).await;
    assert_eq!(r.status, 200, "after Retry-After: {}", r.body);
}

#[tokio::test]
async fn slow_handlers_get_503_timeout_and_slow_headers_are_cut() {
    let limits = Limits {
        request_timeout: Duration::from_millis(1),
        header_read_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let s = start_limited(&[FILES], limits).await;
    s.state.refresh_graph().await.unwrap();
    let ids = s
        .state
        .graph()
        .unwrap()
        .snapshot
        .nodes()
        .iter()
        .take(40)
        .map(|n| n.id.to_string())
        .collect::<Vec<_>>();
    // 40 x 40 routes on the 2019 graph take well over a millisecond.
    let matrix = json!({"sources": ids, "destinations": ids, "amount_msat": 1_000_000u64});
    let r = post_json(s.addr, "/v1/routes/matrix", &matrix).await;
    assert_eq!(
        (r.status, error_code(&r).as_str()),
        (503, "timeout"),
        "{}",
        r.body
    );

    // Half a request line, then silence: the server hangs up after the header timeout.
    let mut c = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), c.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "connection still open after 10 s");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "closed after {took:?}"
    );
}
