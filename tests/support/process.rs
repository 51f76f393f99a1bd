//! Running `switchyard` as a child process the way an operator does, for integration tests:
//! a free port, a spawn that logs to a file and dies with the test, and a wait for readiness
//! that fails with the child's log when it exits or takes too long, and a plain HTTP call.

#![allow(dead_code)] // each user takes what it needs

use std::future::Future;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// The URL of `database` on an embedded cluster, over its Unix socket (as `--database-url`).
pub fn pg_url(pg: &switchyard_store::embedded::EmbeddedPostgres, database: &str) -> String {
    let o = pg.connect_options(database);
    format!(
        "postgres://{}@localhost:{}/{database}?host={}",
        o.get_username(),
        o.get_port(),
        pg.socket_dir().display()
    )
}

/// A TCP port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Spawns `cmd` with no stdin, stdout discarded, stderr (the log) into `log`, killed when the
/// returned child is dropped.
pub fn spawn_logged(cmd: &mut Command, log: &Path) -> Child {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"))
        .kill_on_drop(true)
        .spawn()
        .expect("spawn switchyard")
}

/// Polls `ready` until it answers true; panics with the log if `child` exits first or `within`
/// passes.
pub async fn wait_ready<F, Fut>(child: &mut Child, log: &Path, within: Duration, mut ready: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !ready().await {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "switchyard exited ({status}):\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "switchyard not ready in {within:?}:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A plain HTTP/1.1 request with an optional bearer token: (status, body).
pub async fn call(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> (u16, String) {
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return (0, String::new());
    };
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut raw = Vec::new();
    if s.write_all(req.as_bytes()).await.is_err() || s.read_to_end(&mut raw).await.is_err() {
        return (0, String::new());
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, body.to_owned())
}
