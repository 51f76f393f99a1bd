//! Observability and deployment files, checked with the real tools: the dashboards' and alert
//! rules' PromQL evaluated by a real Prometheus scraping a real `switchyard up`, `promtool`,
//! Kubernetes schemas (`kubernetes-validate`), the compose spec (`docker compose config` or the
//! compose-spec JSON schema via `check-jsonschema`), `systemd-analyze verify`, and METRICS.md
//! against the registry.
//!
//! `scripts/test.sh` installs what these need when missing: Debian's `prometheus` (with
//! `promtool`) and `systemd`, and a Python venv with the validators
//! (`$SWITCHYARD_VALIDATE_VENV`, default `~/.cache/switchyard/venv-validate`).

#[path = "../services/api/tests/http.rs"]
#[allow(dead_code)]
mod http;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use switchyard_api::metrics::{PLANNED, SERIES_PER_OWN_CHANNEL};
use switchyard_store::testing::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_switchyard");
/// A node of the bundled 2019-05-14 snapshot, passed as --own-node.
const OWN_NODE: &str = "03864ef025fde8fb587d989186ce6a4a186895ee44a926bfc370e2c366597a3f8f";
const DASHBOARDS: [&str; 5] = [
    "network.json",
    "pathfinding.json",
    "service.json",
    "node.json",
    "routing-node.json",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A tool from PATH, or a failure that says how to get it.
fn tool(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("`{name}` not found: run scripts/test.sh, which installs it"))
}

/// A tool from the validators' venv.
fn venv_tool(name: &str) -> PathBuf {
    let venv = std::env::var_os("SWITCHYARD_VALIDATE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/switchyard/venv-validate")
        });
    let path = venv.join("bin").join(name);
    assert!(
        path.is_file(),
        "{} missing: run scripts/test.sh, which creates the validators' venv",
        path.display()
    );
    path
}

/// Runs a command; panics with its output unless it succeeds. Returns stdout + stderr.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// Every document of a YAML file, as JSON (PyYAML from the validators' venv).
fn yaml(rel: &str) -> Vec<Value> {
    let out = run(Command::new(venv_tool("python")).args([
        "-c",
        "import sys, json, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
        root().join(rel).to_str().unwrap(),
    ]));
    let docs: Vec<Value> = serde_json::from_str(out.trim()).expect("yaml as json");
    docs.into_iter().filter(|d| !d.is_null()).collect()
}

// ---------------------------------------------------------------------------------------------
// METRICS.md and the dashboards' JSON
// ---------------------------------------------------------------------------------------------

#[test]
fn metrics_md_is_generated_from_the_registry() {
    let out = Command::new(BIN).arg("metrics-doc").output().unwrap();
    assert!(out.status.success());
    let generated = String::from_utf8(out.stdout).unwrap();
    assert!(
        read("METRICS.md") == generated,
        "METRICS.md is stale: run `cargo run -- metrics-doc > METRICS.md`"
    );
    for name in [
        "switchyard_build_info",
        "switchyard_process_cpu_seconds_total",
        "switchyard_process_resident_memory_bytes",
        "switchyard_process_open_fds",
        "switchyard_db_pool_connections",
    ] {
        assert!(generated.contains(&format!("`{name}`")), "{name}");
    }
}

#[test]
fn registry_metrics_follow_the_naming_rules() {
    let m = switchyard_api::metrics::Metrics::with_build_info("0", "x");
    let catalog = m.catalog();
    let names: HashSet<&str> = catalog.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names.len(), catalog.len(), "unique names");
    use switchyard_api::metrics::MetricKind;
    for d in &catalog {
        assert!(d.name.starts_with("switchyard_"), "{}", d.name);
        assert!(!d.help.trim().is_empty(), "{}: help text", d.name);
        let counter = d.name.ends_with("_total");
        assert_eq!(
            d.kind == MetricKind::Counter,
            counter,
            "{}: counters and only counters end in _total",
            d.name
        );
        if d.kind == MetricKind::Histogram {
            assert!(
                ["_seconds", "_size"].iter().any(|s| d.name.ends_with(s)),
                "{}: histogram unit",
                d.name
            );
        }
        // Bounded label sets: never a label per node, channel id of the network, or raw path.
        for l in &d.labels {
            assert!(
                ![
                    "node",
                    "node_id",
                    "pubkey",
                    "path",
                    "url",
                    "scid",
                    "peer_addr"
                ]
                .contains(&l.as_str()),
                "{}: unbounded label {l}",
                d.name
            );
        }
    }
    for (name, ..) in PLANNED {
        assert!(
            !names.contains(name),
            "{name} is exported: remove it from PLANNED"
        );
    }
}

fn dashboard(name: &str) -> Value {
    serde_json::from_str(&read(&format!("dashboards/{name}")))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Panels, with the panels inside collapsed rows.
fn panels(d: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().expect("panels") {
        out.push(p);
        if let Some(inner) = p["panels"].as_array() {
            out.extend(inner);
        }
    }
    out
}

#[test]
fn dashboards_are_generated_and_well_formed() {
    run(Command::new("python3")
        .arg(root().join("dashboards/generate.py"))
        .arg("--check"));
    let mut on_disk: Vec<String> = std::fs::read_dir(root().join("dashboards"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json"))
        .collect();
    on_disk.sort();
    let mut expected: Vec<String> = DASHBOARDS.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(on_disk, expected, "every dashboard file is tested");
    let mut uids = HashSet::new();
    for name in DASHBOARDS {
        let d = dashboard(name);
        let ctx = |m: &str| format!("{name}: {m}");
        assert!(
            uids.insert(d["uid"].as_str().unwrap().to_owned()),
            "{}",
            ctx("uid")
        );
        assert!(d["title"]
            .as_str()
            .is_some_and(|t| t.starts_with("switchyard / ")));
        assert!(
            d["schemaVersion"].as_u64().unwrap() >= 39,
            "{}",
            ctx("schema")
        );
        assert!(d["id"].is_null(), "{}", ctx("id is null for provisioning"));
        let vars = d["templating"]["list"].as_array().unwrap();
        assert!(
            vars.iter().any(|v| v["name"] == "datasource"
                && v["type"] == "datasource"
                && v["query"] == "prometheus"),
            "{}",
            ctx("datasource variable")
        );
        let ds = json!({"type": "prometheus", "uid": "${datasource}"});
        for v in vars.iter().filter(|v| v["type"] == "query") {
            assert_eq!(v["datasource"], ds, "{}", ctx("variable datasource"));
        }
        let mut ids = HashSet::new();
        let mut cells: Vec<(u64, u64, u64, u64)> = Vec::new();
        let all = panels(&d);
        assert!(all.len() >= 6, "{}", ctx("panels"));
        for p in all {
            let title = p["title"].as_str().unwrap_or_default();
            let ctx = |m: &str| format!("{name} / {title}: {m}");
            assert!(
                ids.insert(p["id"].as_u64().expect("id")),
                "{}",
                ctx("unique id")
            );
            assert!(!title.is_empty(), "{}", ctx("title"));
            let g = &p["gridPos"];
            let (x, y, w, h) = (
                g["x"].as_u64().unwrap(),
                g["y"].as_u64().unwrap(),
                g["w"].as_u64().unwrap(),
                g["h"].as_u64().unwrap(),
            );
            assert!(x + w <= 24 && w > 0 && h > 0, "{}", ctx("gridPos"));
            for &(ox, oy, ow, oh) in &cells {
                let overlap = x < ox + ow && ox < x + w && y < oy + oh && oy < y + h;
                assert!(!overlap, "{}", ctx("overlapping panels"));
            }
            cells.push((x, y, w, h));
            if p["type"] == "row" {
                continue;
            }
            assert!(
                [
                    "timeseries",
                    "stat",
                    "bargauge",
                    "heatmap",
                    "gauge",
                    "table"
                ]
                .contains(&p["type"].as_str().unwrap()),
                "{}",
                ctx("panel type")
            );
            assert_eq!(p["datasource"], ds, "{}", ctx("panel datasource"));
            let targets = p["targets"].as_array().expect("targets");
            assert!(!targets.is_empty(), "{}", ctx("targets"));
            let mut refs = HashSet::new();
            for t in targets {
                assert_eq!(t["datasource"], ds, "{}", ctx("target datasource"));
                assert!(
                    refs.insert(t["refId"].as_str().unwrap()),
                    "{}",
                    ctx("refId")
                );
                assert!(
                    t["expr"].as_str().is_some_and(|e| !e.trim().is_empty()),
                    "{}",
                    ctx("expr")
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Every PromQL expression against a real Prometheus scraping a real switchyard
// ---------------------------------------------------------------------------------------------

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A Prometheus API call; returns `data` or the API's error text.
async fn prom(addr: SocketAddr, path: &str) -> Result<Value, String> {
    let r = http::get(addr, path).await;
    let v: Value = serde_json::from_str(&r.body).map_err(|e| format!("{e}: {}", r.body))?;
    if v["status"] == "success" {
        Ok(v["data"].clone())
    } else {
        Err(format!("{} {}: {}", r.status, v["errorType"], v["error"]))
    }
}

async fn query(addr: SocketAddr, expr: &str) -> Result<Value, String> {
    prom(addr, &format!("/api/v1/query?query={}", encode(expr))).await
}

/// Whether an instant query's result holds any sample.
fn has_data(data: &Value) -> bool {
    match data["resultType"].as_str() {
        Some("vector") | Some("matrix") => data["result"].as_array().is_some_and(|r| !r.is_empty()),
        Some("scalar") | Some("string") => true,
        _ => false,
    }
}

/// Metric names in an expression (`switchyard_*`, and `up`).
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in expr.chars().chain(std::iter::once(' ')) {
        if c == '"' {
            quoted = !quoted;
        }
        if !quoted && (c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            word.push(c);
            continue;
        }
        if word.starts_with("switchyard_") || word == "up" {
            out.insert(std::mem::take(&mut word));
        }
        word.clear();
    }
    out
}

/// The planned metric a series name belongs to (histograms' `_bucket`, `_sum`, `_count`).
fn planned_base(name: &str) -> Option<&'static str> {
    PLANNED.iter().map(|p| p.0).find(|p| {
        name == *p
            || ["_bucket", "_sum", "_count"]
                .iter()
                .any(|s| name.strip_suffix(s) == Some(p))
    })
}

/// Grafana's variables, as an instant query over recent data sees them.
fn substitute(expr: &str) -> String {
    let out = expr
        .replace("$__rate_interval", "1m")
        .replace("$__interval", "15s")
        .replace("$__range", "1h")
        .replace("$instance", ".*");
    assert!(!out.contains('$'), "unknown variable in {expr}");
    out
}

/// Some of every kind of request, so every HTTP and route series exists and moves.
async fn traffic(api: SocketAddr) {
    let nodes = http::get(api, "/v1/nodes?limit=3").await.json();
    let ids: Vec<String> = nodes["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node_id"].as_str().unwrap().to_owned())
        .collect();
    for path in [
        "/v1/network/stats",
        "/readyz",
        "/healthz",
        "/v1/nodes/02zz",
        "/v1/no/such/route",
        "/v1/analytics/centrality",
    ] {
        http::get(api, path).await;
    }
    for model in ["fee", "probability", "balanced"] {
        let q = json!({"source": ids[0], "destination": ids[1], "amount_msat": 100_000_000u64, "cost_model": model});
        let r = http::post_json(api, "/v1/routes", &q).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let unknown = json!({"source": ids[0], "amount_msat": 1000,
        "destination": "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"});
    http::post_json(api, "/v1/routes", &unknown).await;
    let batch = json!({"queries": [{"source": ids[0], "destination": ids[2], "amount_msat": 1000}, unknown]});
    assert_eq!(
        http::post_json(api, "/v1/routes/batch", &batch)
            .await
            .status,
        200
    );
    let matrix =
        json!({"sources": [ids[0]], "destinations": [ids[1], ids[2]], "amount_msat": 1_000_000u64});
    assert_eq!(
        http::post_json(api, "/v1/routes/matrix", &matrix)
            .await
            .status,
        200
    );
    let mpp = json!({"source": ids[0], "destination": ids[1], "amount_msat": 200_000_000u64, "force_split": true});
    assert_eq!(
        http::post_json(api, "/v1/routes/mpp", &mpp).await.status,
        200
    );
}

async fn wait_for<F, Fut>(what: &str, timeout: Duration, mut ready: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !ready().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `promtool check metrics` on a live `/metrics` page: Prometheus's own linter for the
/// exposition conventions (counter suffixes, units, help text, reserved labels such as
/// `quantile` on a gauge). Any complaint fails the test with promtool's words.
async fn promtool_lints_the_exposition(api: SocketAddr) {
    let page = http::get(api, "/metrics").await;
    assert_eq!(page.status, 200, "/metrics: {}", page.body);
    let mut child = Command::new(tool("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("promtool stdin");
        stdin
            .write_all(page.body.as_bytes())
            .expect("feeding promtool");
    }
    let out = child.wait_with_output().expect("promtool output");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics on /metrics:\n{said}"
    );
}

async fn tcp_get_status(addr: SocketAddr, path: &str) -> Option<u16> {
    tokio::net::TcpStream::connect(addr).await.ok()?;
    Some(http::get(addr, path).await.status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_and_alert_rules_evaluate_on_a_real_prometheus() {
    let started = Instant::now();
    let prometheus = tool("prometheus");
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new().await;

    // switchyard up: imports the bundled 2019 snapshot into the empty database, then serves.
    let api: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let log = dir.path().join("switchyard.log");
    let mut switchyard = tokio::process::Command::new(BIN)
        .args(["up", "--refresh-secs", "1", "--own-node", OWN_NODE])
        // An API-only instance: the node's alert rules must stay quiet where no node runs.
        .arg("--no-node")
        .arg("--database-url")
        .arg(db.url())
        .arg("--listen")
        .arg(api.to_string())
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    while tcp_get_status(api, "/readyz").await != Some(200) {
        if let Ok(Some(status)) = switchyard.try_wait() {
            panic!(
                "switchyard exited ({status}):\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "switchyard not ready in 3 minutes"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let ready_after = started.elapsed();
    traffic(api).await;
    promtool_lints_the_exposition(api).await;

    // Prometheus scraping it every second, with the shipped alert rules.
    let prom_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
             rule_files: [{:?}]\n\
             scrape_configs:\n  - job_name: switchyard\n    static_configs: [{{targets: [\"{api}\"]}}]\n",
            root().join("deploy/prometheus/alerts.yml")
        ),
    )
    .unwrap();
    let prom_log = dir.path().join("prometheus.log");
    let _prometheus = tokio::process::Command::new(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address={prom_addr}"))
        .arg("--log.level=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&prom_log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    wait_for("prometheus ready", Duration::from_secs(60), || async {
        tcp_get_status(prom_addr, "/-/ready").await == Some(200)
    })
    .await;
    let scrapes = |n: u32| async move {
        query(prom_addr, "count_over_time(up{job=\"switchyard\"}[5m])")
            .await
            .ok()
            .and_then(|d| d["result"][0]["value"][1].as_str()?.parse::<u32>().ok())
            .is_some_and(|c| c >= n)
    };
    wait_for("3 scrapes", Duration::from_secs(60), || scrapes(3)).await;
    traffic(api).await; // counters move between scrapes: rates are not all zero
    wait_for("6 scrapes", Duration::from_secs(60), || scrapes(6)).await;

    let names: BTreeSet<String> = prom(prom_addr, "/api/v1/label/__name__/values")
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        query(prom_addr, "up{job=\"switchyard\"}").await.unwrap()["result"][0]["value"][1],
        "1",
        "target up"
    );
    let info = query(prom_addr, "switchyard_build_info").await.unwrap();
    assert_eq!(
        info["result"][0]["metric"]["version"],
        env!("CARGO_PKG_VERSION")
    );
    assert!(info["result"][0]["metric"]["commit"]
        .as_str()
        .is_some_and(|c| !c.is_empty()));
    for (name, ..) in PLANNED {
        assert!(
            !names.iter().any(|n| planned_base(n) == Some(name)),
            "{name} is exported now: remove it from switchyard_api::metrics::PLANNED"
        );
    }

    // Each metric an expression uses must be exported, or planned (then "no data yet" is fine).
    let mut no_data_yet: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut evaluated = 0;
    let mut check_metrics = |what: &str, expr: &str, failures: &mut Vec<String>| -> bool {
        let mut planned = false;
        for m in metric_names(expr) {
            if SERIES_PER_OWN_CHANNEL.contains(&m.as_str()) {
                // Exported, with a series per own channel: none on a node without channels.
                planned = true;
            } else if let Some(p) = planned_base(&m) {
                planned = true;
                no_data_yet
                    .entry(p.to_owned())
                    .or_default()
                    .push(what.to_owned());
            } else if !names.contains(&m) {
                failures.push(format!("{what}: {m} is neither exported nor planned"));
            }
        }
        planned
    };
    for name in DASHBOARDS {
        let d = dashboard(name);
        for v in d["templating"]["list"].as_array().unwrap() {
            let Some(def) = v["definition"].as_str() else {
                continue;
            };
            // label_values(metric, label)
            let inner = def
                .strip_prefix("label_values(")
                .and_then(|s| s.strip_suffix(')'))
                .unwrap_or_else(|| panic!("{name}: variable query {def}"));
            let (metric, label) = inner.split_once(',').unwrap();
            let values = prom(
                prom_addr,
                &format!(
                    "/api/v1/label/{}/values?match[]={}",
                    label.trim(),
                    encode(metric.trim())
                ),
            )
            .await
            .unwrap();
            assert!(
                values.as_array().is_some_and(|a| !a.is_empty()),
                "{name}: variable {def} has no values"
            );
        }
        for p in panels(&d) {
            for t in p["targets"].as_array().into_iter().flatten() {
                let expr = t["expr"].as_str().unwrap();
                let what = format!("{name} / {} / {}", p["title"].as_str().unwrap(), t["refId"]);
                let planned = check_metrics(&what, expr, &mut failures);
                evaluated += 1;
                match query(prom_addr, &substitute(expr)).await {
                    Err(e) => failures.push(format!("{what}: {e}\n  {expr}")),
                    Ok(data) if !has_data(&data) && !planned => {
                        failures.push(format!("{what}: no data\n  {expr}"))
                    }
                    Ok(_) => {}
                }
            }
        }
    }

    // Alert rules: loaded, healthy, evaluated, not firing; each expression parses on its own.
    let shipped = read("deploy/prometheus/alerts.yml")
        .lines()
        .filter(|l| l.trim_start().starts_with("- alert:"))
        .count();
    wait_for("rule evaluation", Duration::from_secs(30), || async {
        prom(prom_addr, "/api/v1/rules").await.is_ok_and(|d| {
            d["groups"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
                .all(|r| {
                    r["lastEvaluation"]
                        .as_str()
                        .is_some_and(|t| !t.starts_with("0001"))
                })
        })
    })
    .await;
    let rules: Vec<Value> = prom(prom_addr, "/api/v1/rules").await.unwrap()["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(rules.len(), shipped, "every rule of alerts.yml loaded");
    for r in &rules {
        let what = format!("alert {}", r["name"].as_str().unwrap());
        let expr = r["query"].as_str().unwrap();
        evaluated += 1;
        check_metrics(&what, expr, &mut failures);
        if r["health"] != "ok" {
            failures.push(format!("{what}: health {} {}", r["health"], r["lastError"]));
        }
        if r["state"] != "inactive" {
            failures.push(format!("{what}: {} on a healthy switchyard", r["state"]));
        }
        if let Err(e) = query(prom_addr, expr).await {
            failures.push(format!("{what}: {e}"));
        }
    }

    eprintln!(
        "observability: {evaluated} expressions evaluated ({} dashboards, {} alert rules); \
         switchyard ready after {:.1}s, total {:.1}s",
        DASHBOARDS.len(),
        rules.len(),
        ready_after.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    for (metric, users) in &no_data_yet {
        eprintln!(
            "  no data yet (planned): {metric}: {} expressions",
            users.len()
        );
    }
    assert!(
        failures.is_empty(),
        "{} problems:\n{}\n\nswitchyard log:\n{}\nprometheus log:\n{}",
        failures.len(),
        failures.join("\n"),
        std::fs::read_to_string(&log).unwrap_or_default(),
        std::fs::read_to_string(&prom_log).unwrap_or_default()
    );
    // Every planned metric is used by some dashboard or rule (or it should not be planned).
    for (name, ..) in PLANNED {
        assert!(
            no_data_yet.contains_key(*name),
            "{name} is planned but unused"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Shipped deployment files, with their own validators
// ---------------------------------------------------------------------------------------------

#[test]
fn promtool_accepts_the_prometheus_config_and_rules() {
    let promtool = tool("promtool");
    let out = run(Command::new(&promtool)
        .args(["check", "config"])
        .arg(root().join("deploy/prometheus/prometheus.yml")));
    assert!(out.contains("SUCCESS"), "{out}");
    run(Command::new(&promtool)
        .args(["check", "rules"])
        .arg(root().join("deploy/prometheus/alerts.yml")));
}

#[test]
fn kubernetes_manifests_validate_against_the_schemas() {
    let base = "deploy/k8s/base";
    let kustomization = &yaml(&format!("{base}/kustomization.yaml"))[0];
    assert_eq!(kustomization["kind"], "Kustomization");
    let resources: BTreeSet<String> = kustomization["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect();
    let on_disk: BTreeSet<String> = std::fs::read_dir(root().join(base))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml" && !n.contains(".example."))
        .collect();
    assert_eq!(resources, on_disk, "kustomization lists every manifest");
    let mut files: Vec<PathBuf> = resources
        .iter()
        .map(|r| root().join(base).join(r))
        .collect();
    files.push(root().join(base).join("secret.example.yaml"));
    let out = run(Command::new(venv_tool("kubernetes-validate"))
        .args(["--strict", "--no-warn"])
        .args(&files));
    assert!(!out.contains("ERROR"), "{out}");

    // What the issue asks of the manifests.
    let docs: Vec<Value> = resources
        .iter()
        .flat_map(|r| yaml(&format!("{base}/{r}")))
        .collect();
    let kind = |k: &str| {
        docs.iter()
            .find(|d| d["kind"] == k)
            .unwrap_or_else(|| panic!("{k}"))
    };
    let sts = kind("StatefulSet");
    let pod = &sts["spec"]["template"];
    let c = &pod["spec"]["containers"][0];
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert!(
        c["resources"]["requests"]["cpu"].is_string()
            && c["resources"]["requests"]["memory"].is_string()
    );
    assert_eq!(pod["spec"]["securityContext"]["runAsNonRoot"], true);
    let ann = &pod["metadata"]["annotations"];
    assert_eq!(ann["prometheus.io/scrape"], "true");
    assert_eq!(ann["prometheus.io/path"], "/metrics");
    assert_eq!(
        ann["prometheus.io/port"].as_str().unwrap(),
        c["ports"][0]["containerPort"].to_string()
    );
    let text = serde_json::to_string(sts).unwrap();
    for key in [
        "\"key\":\"api-token\"",
        "\"key\":\"seed\"",
        "\"secretName\":\"switchyard-secrets\"",
    ] {
        assert!(text.contains(key), "StatefulSet references {key}");
    }
    assert!(docs.iter().any(|d| d["kind"] == "ConfigMap"));
    assert_eq!(kind("Service")["spec"]["ports"][0]["targetPort"], "http");
}

#[test]
fn compose_file_validates() {
    let file = root().join("deploy/docker-compose.yml");
    let docker_compose = Command::new("docker")
        .args(["compose", "version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if docker_compose {
        run(Command::new("docker")
            .args(["compose", "-f"])
            .arg(&file)
            .args(["config", "-q"]));
    } else {
        // No compose plugin here: the compose specification's JSON schema instead.
        run(Command::new(venv_tool("check-jsonschema"))
            .args(["--builtin-schema", "vendor.compose-spec"])
            .arg(&file));
    }
    let compose = &yaml("deploy/docker-compose.yml")[0];
    let services = compose["services"].as_object().unwrap();
    for s in [
        "switchyard",
        "postgres",
        "prometheus",
        "grafana",
        "bitcoind",
    ] {
        assert!(services.contains_key(s), "service {s}");
    }
    let deploy = root().join("deploy");
    for (name, s) in services {
        if let Some(b) = s.get("build") {
            let ctx = deploy.join(b["context"].as_str().unwrap());
            assert!(
                ctx.join(b["dockerfile"].as_str().unwrap()).is_file(),
                "{name}: dockerfile"
            );
        }
        for v in s["volumes"].as_array().into_iter().flatten() {
            let src = v.as_str().unwrap().split(':').next().unwrap();
            if src.starts_with('.') {
                assert!(deploy.join(src).exists(), "{name}: volume source {src}");
            }
        }
        for p in s["ports"].as_array().into_iter().flatten() {
            assert!(
                p.as_str().unwrap().starts_with("127.0.0.1:"),
                "{name}: port {p} beyond localhost"
            );
        }
    }
    let sw = &services["switchyard"];
    assert!(sw["environment"]["DATABASE_URL"]
        .as_str()
        .unwrap()
        .contains("@postgres:"));
    // The Dockerfile: multi-stage, runs as a non-root user.
    let dockerfile = read("deploy/Dockerfile");
    assert!(
        dockerfile
            .lines()
            .filter(|l| l.starts_with("FROM "))
            .count()
            >= 2
    );
    let user = dockerfile
        .lines()
        .rfind(|l| l.starts_with("USER "))
        .expect("USER");
    assert!(!user.contains("root") && !user.contains(" 0"), "{user}");
}

#[test]
fn systemd_unit_verifies() {
    let analyze = tool("systemd-analyze");
    let dir = tempfile::tempdir().unwrap();
    // Point the unit at the binary and env file of this checkout, as installed they would be.
    let unit = read("deploy/systemd/switchyard.service")
        .replace("/usr/local/bin/switchyard", BIN)
        .replace(
            "/etc/switchyard/switchyard.env",
            root()
                .join("deploy/systemd/switchyard.env.example")
                .to_str()
                .unwrap(),
        );
    for key in [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "Restart=on-failure",
    ] {
        assert!(unit.contains(key), "{key}");
    }
    let path = dir.path().join("switchyard.service");
    std::fs::write(&path, unit).unwrap();
    // Unknown keys and bad values are warnings with exit code 0: no output is the pass.
    let out = run(Command::new(analyze).arg("verify").arg(&path));
    assert!(out.trim().is_empty(), "systemd-analyze verify:\n{out}");
}

#[test]
fn metric_names_are_found_in_expressions() {
    assert_eq!(
        metric_names(r#"sum(rate(switchyard_a_total{route=~"switchyard_x"}[1m])) / up"#),
        ["switchyard_a_total", "up"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    assert!(Path::new(BIN).is_file());
}
