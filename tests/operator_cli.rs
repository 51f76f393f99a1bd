//! The operator's commands as a user runs them, against a real node: `switchyard node` on a
//! regtest bitcoind (a separate process with its own Postgres), driven only through the CLI
//! (`wallet address/balance`, `channel open/list/policy/close`, `invoice`, `pay`,
//! `earnings`), with an in-process switchyard node as its peer. The channel is opened,
//! used both ways (balances move by exactly the amounts paid), repriced, and closed
//! cooperatively: the funds are back in the wallet after a few blocks, with no force-close
//! delay.

#[path = "support/line.rs"]
mod line;
#[path = "support/process.rs"]
mod process;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use process::{call, free_port, spawn_logged, wait_ready};
use serde_json::Value;
use switchyard_node::PeerSpec;
use switchyard_regtest::Bitcoind;
use switchyard_store::testing::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_switchyard");
const CAPACITY_SAT: u64 = 1_000_000;
const PUSH_MSAT: u64 = 100_000_000;

/// The operator's CLI pointed at O's API and data directory (for the token files).
struct Cli {
    api: SocketAddr,
    data: PathBuf,
}

impl Cli {
    /// Runs `switchyard <args> --api .. --data-dir ..`: (success, stdout as JSON if it is).
    async fn run(&self, args: &[&str]) -> (bool, Value, String) {
        let out = tokio::process::Command::new(BIN)
            .args(args)
            .args(["--api", &self.api.to_string()])
            .arg("--data-dir")
            .arg(&self.data)
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .expect("run the CLI");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let text = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
        (
            out.status.success(),
            serde_json::from_str(&stdout).unwrap_or(Value::Null),
            text,
        )
    }

    /// Like [`Cli::run`], failing the test with the CLI's output when it fails.
    async fn ok(&self, args: &[&str]) -> Value {
        let (ok, v, text) = self.run(args).await;
        assert!(ok, "switchyard {}: {text}", args.join(" "));
        v
    }

    async fn channel(&self) -> Option<Value> {
        let v = self.ok(&["channel", "list", "--json"]).await;
        v["channels"].as_array()?.first().cloned()
    }

    async fn confirmed_sat(&self) -> u64 {
        self.ok(&["wallet", "balance"]).await["confirmed_sat"]
            .as_u64()
            .unwrap_or(0)
    }
}

/// O's node id from `GET /v1/node` with the read token O wrote at start.
async fn node_id(api: SocketAddr, data: &Path) -> Option<String> {
    let token = std::fs::read_to_string(data.join("api_read_token")).ok()?;
    let (status, body) = call(api, "GET", "/v1/node", token.trim(), "").await;
    if status != 200 {
        return None;
    }
    Some(
        serde_json::from_str::<Value>(&body).ok()?["node_id"]
            .as_str()?
            .to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_opens_uses_reprices_and_cooperatively_closes_a_channel_from_the_cli() {
    let btc = tokio::task::block_in_place(Bitcoind::start)
        .expect("regtest bitcoind (scripts/build-bitcoind.sh)");
    let (db_o, db_p) = (TestDb::new().await, TestDb::new().await);
    let dir = tempfile::tempdir().unwrap();
    let p = line::start(&btc, &db_p, &dir.path().join("p")).await;
    let burn = line::address(&p);

    // O: the operator's node, as they run it.
    let (user, password) = btc.rpc_user_pass();
    let (p2p, api) = (free_port(), free_port());
    let data = dir.path().join("o");
    let log = dir.path().join("o.log");
    let mut o = spawn_logged(
        tokio::process::Command::new(BIN)
            .args(["node", "--network", "regtest", "--no-dns-bootstrap"])
            .args(["--p2p-listen", &format!("127.0.0.1:{p2p}")])
            .args(["--listen", &format!("127.0.0.1:{api}")])
            .args(["--bitcoind-rpc", &btc.rpc_addr().to_string()])
            .args(["--bitcoind-rpc-user", &user])
            .args(["--bitcoind-rpc-password", &password])
            .arg("--database-url")
            .arg(db_o.url())
            .arg("--data-dir")
            .arg(&data)
            .env("RUST_LOG", "info"),
        &log,
    );
    let api: SocketAddr = format!("127.0.0.1:{api}").parse().unwrap();
    let cli = Cli {
        api,
        data: data.clone(),
    };
    wait_ready(&mut o, &log, Duration::from_secs(120), || async {
        node_id(api, &data).await.is_some() && cli.run(&["wallet", "balance"]).await.0
    })
    .await;
    let o_id = node_id(api, &data).await.unwrap();

    // Fund O's wallet from an address the CLI gives.
    let address = cli.ok(&["wallet", "address"]).await["address"]
        .as_str()
        .expect("an address")
        .to_owned();
    let address: bitcoin::Address = address
        .parse::<bitcoin::Address<_>>()
        .unwrap()
        .assume_checked();
    line::mine(&btc, 1, &address);
    line::mine(&btc, 100, &burn);
    line::wait_for("O's wallet to see its coinbase", 60, async || {
        cli.confirmed_sat().await > 0
    })
    .await;

    // P connects; O opens a channel to it from the CLI, pushing P some balance.
    let spec: PeerSpec = format!("{o_id}@127.0.0.1:{p2p}").parse().unwrap();
    p.add_peer(spec, "test").await.expect("P connects to O");
    let p_id = p.node_id().to_string();
    let opened = cli
        .ok(&[
            "channel",
            "open",
            "--peer",
            &p_id,
            "--amount-sat",
            &CAPACITY_SAT.to_string(),
            "--push-msat",
            &PUSH_MSAT.to_string(),
        ])
        .await;
    // The id `open` answers is LDK's temporary one: the channel's id is derived from the
    // funding outpoint once that exists, and `channel list` shows it.
    assert!(opened["channel_id"].is_string(), "{opened}");
    line::wait_for("the funding transaction", 60, async || {
        cli.channel()
            .await
            .is_some_and(|c| !c["funding_txo"].is_null())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    line::mine(&btc, 6, &burn);
    line::wait_for("the channel usable on both sides", 90, async || {
        cli.channel().await.is_some_and(|c| c["is_usable"] == true)
            && line::usable_with(&p, &o_id.parse().unwrap())
    })
    .await;
    let ch = cli.channel().await.unwrap();
    let channel_id = ch["channel_id"].as_str().expect("channel_id").to_owned();
    assert_eq!(ch["counterparty"], p_id.as_str());
    assert_eq!(ch["capacity_sat"], CAPACITY_SAT);
    assert_eq!(ch["remote_balance_msat"], PUSH_MSAT);

    // Repricing from the CLI shows in the channel list.
    cli.ok(&[
        "channel",
        "policy",
        "--channel",
        &channel_id,
        "--fee-ppm",
        "321",
        "--base-fee-msat",
        "1500",
    ])
    .await;
    let ch = cli.channel().await.unwrap();
    assert_eq!(ch["policy"]["fee_ppm"], 321, "{ch}");
    assert_eq!(ch["policy"]["base_fee_msat"], 1500, "{ch}");

    // O pays P's invoice with `pay`: O's balance drops by exactly the amount (a direct
    // channel: no fee).
    let local = |c: &Value| c["local_balance_msat"].as_u64().unwrap();
    let before = local(&cli.channel().await.unwrap());
    let invoice = p
        .lightning()
        .create_invoice(Some(20_000_000), "from the operator", 3600)
        .expect("P's invoice");
    let paid = cli.ok(&["pay", &invoice.to_string()]).await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
    let after_pay = local(&cli.channel().await.unwrap());
    assert_eq!(before - after_pay, 20_000_000);

    // P pays O's `invoice`: O's balance rises by exactly the amount.
    let inv = cli
        .ok(&[
            "invoice",
            "--amount-msat",
            "5000000",
            "--description",
            "to the operator",
        ])
        .await;
    let bolt11: lightning_invoice::Bolt11Invoice =
        inv["bolt11"].as_str().expect("bolt11").parse().unwrap();
    p.lightning()
        .pay_invoice(&bolt11, None, None)
        .expect("P pays");
    line::wait_for("P's payment to arrive", 60, async || {
        cli.channel()
            .await
            .is_some_and(|c| local(&c) == after_pay + 5_000_000)
    })
    .await;

    // Earnings answer (nothing forwarded through a two-node line).
    let earned = cli.ok(&["earnings", "--group-by", "peer"]).await;
    assert!(earned.is_object(), "{earned}");

    // Cooperative close from the CLI: the funds come back after a few blocks, where a
    // force close would wait out the to_self_delay.
    let wallet_before = cli.confirmed_sat().await;
    let ours_sat = local(&cli.channel().await.unwrap()) / 1000;
    let closed = cli.ok(&["channel", "close", &channel_id]).await;
    assert_eq!(closed["force"], false, "{closed}");
    line::wait_for("the closing transaction", 60, async || {
        cli.channel().await.is_none_or(|c| c["state"] != "active")
    })
    .await;
    for _ in 0..30 {
        line::mine(&btc, 1, &burn);
        tokio::time::sleep(Duration::from_millis(500)).await;
        if cli.confirmed_sat().await > wallet_before {
            break;
        }
    }
    let back = cli.confirmed_sat().await - wallet_before;
    assert!(
        back + 10_000 >= ours_sat && back <= ours_sat,
        "O's share {ours_sat} sat, {back} sat back in the wallet"
    );
    line::wait_for("the channel gone from the list", 60, async || {
        cli.channel().await.is_none()
    })
    .await;
    assert!(o.try_wait().unwrap().is_none(), "O exited");
}
