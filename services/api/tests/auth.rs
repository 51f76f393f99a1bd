//! Who may call what, over real HTTP, for every route in `switchyard_api::ROUTES`: a route
//! showing the node's own data refuses without the read token, a change refuses without the
//! admin token, public data stays open (unless private reads are configured).

use std::sync::Arc;

use switchyard_api::auth::Auth;
use switchyard_api::Access;

use crate::http::send_with;
use crate::{error_code, start};

pub(crate) const READ: &str = "read-token-read-token-read-token-0001";
const ADMIN: &str = "admin-token-admin-token-admin-token-01";

/// A request path for a route template (the values need not exist: the refusal comes first).
fn concrete(path: &str) -> String {
    path.replace(
        "{pubkey}",
        "0250373555232cec757ea141273e75381c84cc3ab22f1e3a3ca5a2dc55b1904c24",
    )
    .replace("{scid}", "505149x622x0")
    .replace("{channel}", "505149x622x0")
    .replace("{id}", "00")
}

/// The least class a route must have, decided from what the route is, not from the table:
/// a route added under these prefixes (or any new change) that is classified too openly fails.
fn least_class(method: &str, path: &str) -> Access {
    const OWN_DATA: &[&str] = &[
        "/v1/node",
        "/v1/peers",
        "/v1/channels/own",
        "/v1/wallet",
        "/v1/invoices",
        "/v1/payments",
        "/v1/forwards",
        "/v1/earnings",
        "/v1/fees",
    ];
    // Computations over the public graph: POST only because their input is a body.
    const PUBLIC_COMPUTATIONS: &[&str] = &[
        "/v1/routes",
        "/v1/routes/batch",
        "/v1/routes/matrix",
        "/v1/routes/mpp",
        // A what-if over the graph; under /v1/fees, so still the read token (own balances).
        "/v1/fees/simulate",
    ];
    let own = OWN_DATA.iter().any(|p| {
        path == *p || path.starts_with(&format!("{p}/")) || path.starts_with(&format!("{p}?"))
    });
    if method != "get" && !PUBLIC_COMPUTATIONS.contains(&path) {
        Access::Admin
    } else if own {
        Access::Read
    } else if ["/healthz", "/readyz", "/v1/openapi.json"].contains(&path) {
        Access::Open
    } else {
        Access::Public
    }
}

fn rank(a: Access) -> u8 {
    match a {
        Access::Open => 0,
        Access::Public => 1,
        Access::Read => 2,
        Access::Admin => 3,
    }
}

#[test]
fn every_route_is_classified_at_least_as_strictly_as_what_it_is() {
    for (method, path, access) in switchyard_api::ROUTES {
        let least = least_class(method, path);
        assert!(
            rank(*access) >= rank(least),
            "{method} {path} is {access:?} but must be at least {least:?}"
        );
    }
    // A route the table forgets needs the admin token.
    assert_eq!(
        switchyard_api::auth::route_access(&axum_method("POST"), "/v1/not/in/the/table"),
        Access::Admin
    );
    assert_eq!(
        switchyard_api::auth::route_access(&axum_method("HEAD"), "/v1/wallet"),
        Access::Read
    );
}

fn axum_method(m: &str) -> axum::http::Method {
    m.parse().expect("method")
}

/// (status, error code) of `method path` with an optional bearer token.
async fn call(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (u16, String) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    let body = if method == "post" { "{}" } else { "" };
    let r = send_with(
        addr,
        &method.to_uppercase(),
        &concrete(path),
        body,
        &headers,
    )
    .await;
    let code = error_code(&r);
    (r.status, code)
}

/// A second API over the server's state, with these tokens.
pub(crate) async fn serve_with(s: &crate::Server, auth: Auth) -> std::net::SocketAddr {
    let mut state = s.state.clone();
    state.auth = Arc::new(auth);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(switchyard_api::serve(
        listener,
        state,
        std::future::pending(),
    ));
    addr
}

fn refused(status: u16) -> bool {
    status == 401 || status == 403
}

#[tokio::test]
async fn every_route_refuses_what_its_class_refuses() {
    let s = start(&[]).await;
    let addr = serve_with(&s, Auth::fixed(Some(READ), Some(ADMIN))).await;

    for (method, path, access) in switchyard_api::ROUTES {
        let what = format!("{method} {path} ({access:?})");
        let none = call(addr, method, path, None).await;
        let wrong = call(
            addr,
            method,
            path,
            Some("not-a-token-not-a-token-not-a-token"),
        )
        .await;
        let read = call(addr, method, path, Some(READ)).await;
        let admin = call(addr, method, path, Some(ADMIN)).await;
        assert!(!refused(admin.0), "{what}: admin token refused: {admin:?}");
        match access {
            Access::Open | Access::Public => {
                assert!(
                    !refused(none.0),
                    "{what}: refused without a token: {none:?}"
                );
                assert!(!refused(read.0), "{what}: {read:?}");
            }
            Access::Read => {
                assert_eq!(none, (401, "unauthorized".into()), "{what}");
                assert_eq!(wrong, (401, "unauthorized".into()), "{what}");
                assert!(!refused(read.0), "{what}: read token refused: {read:?}");
            }
            Access::Admin => {
                assert_eq!(none, (401, "unauthorized".into()), "{what}");
                assert_eq!(wrong, (401, "unauthorized".into()), "{what}");
                assert_eq!(read, (403, "admin_token_required".into()), "{what}");
            }
        }
    }
    let m = &s.state.metrics;
    let refusals = crate::node::metric(
        m,
        "switchyard_http_refused_total",
        &[("reason", "admin_token_required")],
    );
    assert!(refusals >= 1.0, "refusals counted: {refusals}");
}

#[tokio::test]
async fn private_reads_close_the_public_routes_but_not_the_probes() {
    let s = start(&[]).await;
    let mut auth = Auth::fixed(Some(READ), Some(ADMIN));
    auth.private_reads = true;
    let addr = serve_with(&s, auth).await;
    for (method, path, access) in switchyard_api::ROUTES {
        let none = call(addr, method, path, None).await;
        match access {
            Access::Open => assert!(!refused(none.0), "{path}: {none:?}"),
            _ => assert_eq!(none.0, 401, "{method} {path}"),
        }
        if *access == Access::Public {
            let read = call(addr, method, path, Some(READ)).await;
            assert!(!refused(read.0), "{path}: {read:?}");
        }
    }
}

#[tokio::test]
async fn without_tokens_private_routes_are_refused_as_not_configured() {
    let s = start(&[]).await;
    for (method, path, access) in switchyard_api::ROUTES {
        if matches!(access, Access::Read | Access::Admin) {
            let r = call(s.addr, method, path, Some(ADMIN)).await;
            assert_eq!(r, (403, "auth_not_configured".into()), "{method} {path}");
        }
    }
}
