//! One writer, read-only replicas on a streaming standby, all real: a primary PostgreSQL
//! cluster and a hot standby made from it with `pg_basebackup -R` (the Debian binaries the
//! embedded cluster uses), `switchyard serve` on the primary and two
//! `switchyard serve --read-only` on the standby, as separate processes.
//!
//! The replicas start before the writer has migrated anything and wait for the schema; an
//! import on the primary reaches both within seconds; stats, 200 routes and the analytics
//! (published by the writer, never computed by a replica) answer identically on all three;
//! admin routes on a replica answer 503 `read_only_replica`; with one replica killed the other
//! keeps serving; a second writer on the primary is refused naming the first.

#[path = "support/process.rs"]
mod process;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use process::{call, free_port, spawn_logged, wait_ready};
use serde_json::Value;
use switchyard_store::embedded::EmbeddedPostgres;
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_switchyard");
const DATABASE: &str = "switchyard";

/// A primary and its streaming standby, fresh for this test, stopped when dropped.
struct Clusters {
    primary: EmbeddedPostgres,
    standby: EmbeddedPostgres,
}

impl Clusters {
    async fn start() -> Clusters {
        let base = switchyard_store::testing::test_cluster_dir();
        let dir = |what: &str| PathBuf::from(format!("{}-{what}", base.display()));
        let primary = fresh(&dir("primary")).await;
        primary.start().await.expect("start the primary");
        primary
            .ensure_database(DATABASE)
            .await
            .expect("create the database");
        let standby = fresh(&dir("standby")).await;
        standby
            .init_standby_of(&primary)
            .await
            .expect("pg_basebackup -R from the primary");
        standby.start().await.expect("start the standby");
        Clusters { primary, standby }
    }

    fn url(pg: &EmbeddedPostgres) -> String {
        format!(
            "postgres://postgres@localhost/{DATABASE}?host={}",
            pg.socket_dir().display()
        )
    }
}

impl Drop for Clusters {
    fn drop(&mut self) {
        for pg in [&self.standby, &self.primary] {
            let pg = pg.clone();
            let _ = std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map(|rt| rt.block_on(pg.stop()))
            })
            .join();
        }
    }
}

/// An empty cluster directory at `dir` (a cluster left there by an earlier run is stopped and
/// removed).
async fn fresh(dir: &Path) -> EmbeddedPostgres {
    if dir.exists() {
        let old = EmbeddedPostgres::new(dir).expect("old cluster");
        old.stop().await.expect("stop the old cluster");
        std::fs::remove_dir_all(dir).expect("remove the old cluster");
    }
    EmbeddedPostgres::new(dir).expect("cluster dir")
}

/// One `switchyard serve` process.
struct Api {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
    data: PathBuf,
}

impl Api {
    fn spawn(work: &Path, name: &str, url: &str, read_only: bool) -> Api {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let data = work.join(name);
        let log = work.join(format!("{name}.log"));
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .args(["--database-url", url, "--listen", &addr.to_string()])
            .args(["--refresh-secs", "1", "--rate-limit-per-minute", "0"])
            .arg("--data-dir")
            .arg(&data)
            .env("RUST_LOG", "info,sqlx=warn");
        if read_only {
            cmd.arg("--read-only");
        }
        let child = spawn_logged(&mut cmd, &log);
        Api {
            child,
            addr,
            log,
            data,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let (status, body) = call(self.addr, "GET", path, "", "").await;
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        let (status, body) = call(self.addr, "POST", path, token, &body.to_string()).await;
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    async fn wait_ready(&mut self, within: Duration) {
        let addr = self.addr;
        wait_ready(&mut self.child, &self.log, within, || async move {
            call(addr, "GET", "/readyz", "", "").await.0 == 200
        })
        .await;
    }

    /// The graph version and analytics version served.
    async fn versions(&self) -> (Option<i64>, Option<i64>) {
        let stats = self.get("/v1/network/stats").await.1["graph_version"].as_i64();
        let (status, a) = self
            .get("/v1/analytics/centrality?metric=rank&limit=1")
            .await;
        (
            stats,
            (status == 200)
                .then(|| a["graph_version"].as_i64())
                .flatten(),
        )
    }
}

/// Polls until `ok` holds for every API, failing with their logs after `within`.
async fn until<F>(apis: &[&Api], within: Duration, what: &str, mut ok: F)
where
    F: FnMut(&Api) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + '_>>,
{
    let deadline = Instant::now() + within;
    for api in apis {
        while !ok(api).await {
            assert!(
                Instant::now() < deadline,
                "{what}: not within {within:?}; log of {}:\n{}",
                api.addr,
                api.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn data_file(name: &str) -> String {
    switchyard_graph::testing::data_file(name)
        .display()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_on_a_standby_follow_the_writer() {
    let work = tempfile::tempdir().expect("tempdir");
    let pg = Clusters::start().await;
    let (primary_url, standby_url) = (Clusters::url(&pg.primary), Clusters::url(&pg.standby));

    // Replicas first: the standby has the database but no schema yet; they must wait.
    let mut replicas = [
        Api::spawn(work.path(), "replica-a", &standby_url, true),
        Api::spawn(work.path(), "replica-b", &standby_url, true),
    ];
    until(
        &replicas.iter().collect::<Vec<_>>(),
        Duration::from_secs(30),
        "replicas waiting for the schema",
        |r| {
            Box::pin(async move {
                r.log()
                    .contains("waiting for the writer to apply the migrations")
            })
        },
    )
    .await;
    let mut writer = Api::spawn(work.path(), "writer", &primary_url, false);
    writer.wait_ready(Duration::from_secs(60)).await;
    for r in &mut replicas {
        r.wait_ready(Duration::from_secs(60)).await;
    }

    // A second writer on the same database is refused, naming the first.
    let second = Command::new(BIN)
        .args(["serve", "--database-url", &primary_url, "--listen"])
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--data-dir")
        .arg(work.path().join("second"))
        .output();
    let second = tokio::time::timeout(Duration::from_secs(60), second)
        .await
        .expect("the second writer exits")
        .expect("run the second writer");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        !second.status.success(),
        "a second writer started:\n{stderr}"
    );
    let writer_pid = writer.child.id().expect("writer pid");
    assert!(
        stderr.contains("writer lock")
            && stderr.contains(&format!("switchyard writer (pid {writer_pid})")),
        "the refusal names the lock and its holder:\n{stderr}"
    );

    // An import on the primary reaches both replicas.
    let imported = Command::new(BIN)
        .args(["import", "--database-url", &primary_url])
        .args([
            data_file("channels-2019-01-18.json.xz"),
            data_file("nodes-2019-01-18.json.xz"),
        ])
        .output()
        .await
        .expect("run the import");
    assert!(
        imported.status.success(),
        "import: {}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let import_done = Instant::now();
    let everyone = [&writer, &replicas[0], &replicas[1]];
    until(
        &everyone,
        Duration::from_secs(20),
        "the imported graph served",
        |a| {
            Box::pin(async move {
                a.get("/v1/network/stats").await.1["stats"]["channels"]
                    .as_u64()
                    .is_some_and(|c| c > 0)
            })
        },
    )
    .await;
    println!(
        "import visible on the writer and both replicas {:.2}s after the import finished",
        import_done.elapsed().as_secs_f64()
    );
    let (version, _) = writer.versions().await;
    let version = version.expect("writer's graph version");
    for r in &replicas {
        assert_eq!(
            r.versions().await.0,
            Some(version),
            "replica's graph version"
        );
    }

    // The writer computes and publishes the analytics; the replicas serve those.
    until(
        &everyone,
        Duration::from_secs(300),
        "analytics of the imported graph",
        |a| Box::pin(async move { a.versions().await.1 == Some(version) }),
    )
    .await;
    for r in &replicas {
        assert!(
            r.log()
                .contains("network analytics loaded from the writer's publication")
                && !r.log().contains("network analytics computed"),
            "a replica serves the published analytics and computes none:\n{}",
            r.log()
        );
    }
    compare_answers(&writer, &replicas).await;

    // A replica refuses admin routes without touching the store.
    let admin = std::fs::read_to_string(
        replicas[0]
            .data
            .join(switchyard_api::auth::ADMIN_TOKEN_FILE),
    )
    .expect("replica's admin token");
    let (status, body) = replicas[0]
        .post("/v1/peers", admin.trim(), &serde_json::json!({"peer": "x"}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("read_only_replica")),
        "{body}"
    );

    // A replica started now is ready with the graph and the published analytics at once.
    let started = Instant::now();
    let mut late = Api::spawn(work.path(), "replica-c", &standby_url, true);
    late.wait_ready(Duration::from_secs(60)).await;
    println!(
        "a replica started on the 2019-01-18 graph was ready in {:.2}s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(late.versions().await, (Some(version), Some(version)));
    drop(late);

    // One replica gone, the other keeps serving.
    replicas[0].child.kill().await.expect("kill replica a");
    let (status, stats) = replicas[1].get("/v1/network/stats").await;
    assert_eq!(status, 200);
    assert_eq!(stats["graph_version"].as_i64(), Some(version));
    assert_eq!(
        call(replicas[1].addr, "GET", "/readyz", "", "").await.0,
        200
    );
    // It never tried to write (the standby would have refused; it is still up).
    assert!(
        replicas[1].child.try_wait().expect("replica b").is_none(),
        "replica b exited:\n{}",
        replicas[1].log()
    );
    assert!(
        !replicas[1].log().contains("read-only transaction"),
        "replica b attempted a write:\n{}",
        replicas[1].log()
    );
}

/// Stats, 200 routes and analytics answers are the same on the writer and every replica.
async fn compare_answers(writer: &Api, replicas: &[Api]) {
    let (_, nodes) = writer.get("/v1/nodes?limit=60").await;
    let ids: Vec<&str> = nodes["nodes"]
        .as_array()
        .expect("node list")
        .iter()
        .filter_map(|n| n["node_id"].as_str())
        .collect();
    assert!(ids.len() >= 20, "{nodes}");
    let queries: Vec<Value> = (0..ids.len())
        .flat_map(|i| (0..ids.len()).map(move |j| (i, j)))
        .filter(|(i, j)| i != j)
        .step_by(7)
        .take(200)
        .map(|(i, j)| {
            serde_json::json!({"source": ids[i], "destination": ids[j], "amount_msat": 50_000_000})
        })
        .collect();
    assert_eq!(queries.len(), 200);
    let batch = serde_json::json!({ "queries": queries });
    let (status, expected_routes) = writer.post("/v1/routes/batch", "", &batch).await;
    assert_eq!(status, 200, "{expected_routes}");
    assert!(
        expected_routes["found"].as_u64().unwrap_or(0) > 100,
        "{expected_routes}"
    );
    let stats_of = |v: Value| (v["graph_version"].clone(), v["stats"].clone());
    let expected_stats = stats_of(writer.get("/v1/network/stats").await.1);
    let analytics_paths: Vec<String> = [
        "/v1/analytics/centrality?metric=rank&limit=100".to_owned(),
        "/v1/analytics/centrality?metric=betweenness&weight=fee&limit=100".to_owned(),
        "/v1/analytics/centrality?metric=closeness_out&weight=hops&limit=100".to_owned(),
        format!("/v1/analytics/nodes/{}", ids[0]),
        format!("/v1/analytics/nodes/{}", ids[ids.len() - 1]),
    ]
    .into();
    let mut expected = Vec::new();
    for p in &analytics_paths {
        let (status, body) = writer.get(p).await;
        assert_eq!(status, 200, "{p}: {body}");
        expected.push(body);
    }
    for r in replicas {
        assert_eq!(stats_of(r.get("/v1/network/stats").await.1), expected_stats);
        let (status, routes) = r.post("/v1/routes/batch", "", &batch).await;
        assert_eq!(status, 200);
        assert!(
            routes == expected_routes,
            "routes differ on replica {}",
            r.addr
        );
        for (p, e) in analytics_paths.iter().zip(&expected) {
            let got = r.get(p).await.1;
            assert!(
                &got == e,
                "{p} differs on replica {}:\n{got}\nvs\n{e}",
                r.addr
            );
        }
    }
}
