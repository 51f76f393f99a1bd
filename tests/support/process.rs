//! Running `switchyard` as a child process the way an operator does, for integration tests:
//! a free port, a spawn that logs to a file and dies with the test, and a wait for readiness
//! that fails with the child's log when it exits or takes too long.

use std::future::Future;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

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
