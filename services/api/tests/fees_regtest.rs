//! The fee controller against real LDK peers (issue 18): four switchyard nodes on a real
//! regtest bitcoind, each with its own Postgres, joined by announced channels over TCP.
//!
//! ```text
//!        +-- S --+        S: our node, the controller under test (1000 msat + 10 ppm)
//!   P ---+       +--- R   C: a competitor (1000 msat + 500 ppm)
//!        +-- C --+        same capacities and cltv deltas: only the fees differ
//! ```
//!
//! P pays R. At S's low fee the payments cross S (S's books hold the forwards); the
//! simulation (`POST /v1/fees/simulate` on S's graph) predicts that S above C moves them to
//! C, with the fee P will pay; the controller (`POST /v1/fees/apply`, apply mode) raises
//! S -> R above C, the `channel_update` reaches P by gossip, and the next real payments cross
//! C with exactly the predicted fee. All along, S's scheduled controller runs in its default
//! dry-run mode: it plans the same change and applies and records nothing. An applying run
//! inside the interval changes nothing; after it, the next step is applied; each change is one
//! `fee_changes` row, and each is seen in P's graph.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use switchyard_graph::{NodeId, Scid};
use switchyard_node::ln::ForwardingPolicy;
use switchyard_node::FeesConfig;
use switchyard_regtest::Bitcoind;
use switchyard_store::queries::books;
use switchyard_store::queries::fees::FeeMode;
use switchyard_store::testing::TestDb;

use crate::http::{get, get_token, send_with, Reply};
use crate::lightning::spec;
use crate::line::{address, confirm_channels, fund, mine, usable_with};
use crate::node::{metric, node_config, start_node, wait_for, Running};

/// What P pays R each time, msat.
const AMOUNT_MSAT: u64 = 10_000_000;
/// Payments per wave.
const WAVE: usize = 3;
/// S's fee at start (below C's), C's fee, and what S's rules file asks for (above C's).
const S_LOW: (u32, u32) = (1_000, 10);
const C_FEE: (u32, u32) = (1_000, 500);
const S_TARGET_PPM: u32 = 1_500;
/// The controller's step limit: the first step takes S from 10 to 1,010 ppm, above C.
const MAX_STEP_PPM: u32 = 1_000;
/// The controller's interval (and its schedule): short for the test, long enough that two
/// runs in a row fall inside it.
const INTERVAL: Duration = Duration::from_secs(10);

fn fee(policy: (u32, u32), amount_msat: u64) -> u64 {
    u64::from(policy.0) + amount_msat * u64::from(policy.1) / 1_000_000
}

fn gid(r: &Running) -> NodeId {
    NodeId::from_bytes_unchecked(r.node.node_id().serialize())
}

struct Peer {
    db: TestDb,
    _dir: tempfile::TempDir,
    run: Running,
}

async fn start_peer(
    btc: &Bitcoind,
    policy: (u32, u32),
    fees: impl FnOnce(&mut FeesConfig),
) -> Peer {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = node_config(btc, dir.path(), vec![]);
    cfg.policy = ForwardingPolicy {
        base_fee_msat: policy.0,
        fee_ppm: policy.1,
        ..ForwardingPolicy::default()
    };
    fees(&mut cfg.fees);
    let run = start_node(&db, cfg).await;
    Peer { db, _dir: dir, run }
}

/// The four nodes, their channels open, announced and known with both directions to P
/// (who routes) and to S (whose API graph the controller and the simulation use).
struct Net {
    btc: Bitcoind,
    burn: bitcoin::Address,
    p: Peer,
    s: Peer,
    c: Peer,
    r: Peer,
    ps: Scid,
    pc: Scid,
    sr: Scid,
    cr: Scid,
}

/// S's rules: the channel to R at a static fee above C's; every other channel pinned.
fn s_rules(r: &NodeId) -> switchyard_fees::Rules {
    let text = format!(
        "[[rule]]\nname = \"to-payee\"\npeer = [\"{r}\"]\nstrategy = \"static\"\n\
         base_fee_msat = {}\nfee_ppm = {S_TARGET_PPM}\n\n[default]\npin = true\n",
        S_LOW.0
    );
    switchyard_fees::Rules::parse(&text).expect("S's rules")
}

fn scid_with(from: &Running, to: &Running) -> Option<Scid> {
    let to = to.node.node_id().to_string();
    from.node
        .lightning()
        .channels()
        .into_iter()
        .find(|c| c.counterparty == to)?
        .short_channel_id?
        .parse()
        .ok()
}

async fn build() -> Net {
    let btc = tokio::task::block_in_place(Bitcoind::start)
        .expect("regtest bitcoind (scripts/build-bitcoind.sh)");
    let r = start_peer(&btc, (1_000, 100), |_| {}).await;
    let p = start_peer(&btc, (1_000, 100), |_| {}).await;
    let c = start_peer(&btc, C_FEE, |_| {}).await;
    let r_id = gid(&r.run);
    // S as `switchyard node` runs it by default (dry run), with a short interval and rules.
    let s = start_peer(&btc, S_LOW, |f| {
        assert_eq!(
            f.mode,
            FeeMode::DryRun,
            "the controller's default is a dry run"
        );
        f.interval = INTERVAL;
        f.max_step_ppm = MAX_STEP_PPM;
        f.rules = s_rules(&r_id);
        f.payments = 200;
    })
    .await;
    let burn = address(&r.run.node);
    fund(&btc, &[&p.run.node, &s.run.node, &c.run.node], &burn).await;
    for (a, b) in [(&p, &s), (&p, &c), (&s, &r), (&c, &r)] {
        a.run
            .node
            .add_peer(spec(&b.run), "test")
            .await
            .expect("connect");
        a.run
            .node
            .lightning()
            .open_channel(b.run.node.node_id(), 1_000_000, 0, true)
            .expect("open an announced channel");
    }
    confirm_channels(&btc, &[&p.run.node, &s.run.node, &c.run.node], &burn).await;
    wait_for("the four channels usable", 90, async || {
        usable_with(&p.run.node, &s.run.node.node_id())
            && usable_with(&p.run.node, &c.run.node.node_id())
            && usable_with(&s.run.node, &r.run.node.node_id())
            && usable_with(&c.run.node, &r.run.node.node_id())
    })
    .await;
    let scid = |a: &Peer, b: &Peer| scid_with(&a.run, &b.run).expect("short channel id");
    let (ps, pc, sr, cr) = (scid(&p, &s), scid(&p, &c), scid(&s, &r), scid(&c, &r));
    let net = Net {
        btc,
        burn,
        p,
        s,
        c,
        r,
        ps,
        pc,
        sr,
        cr,
    };
    net.await_gossip().await;
    net
}

/// The policy of `scid`'s direction from `from` in `at`'s LDK graph (routers use a channel
/// once both directions have one: `None` until then).
fn ldk_policy(at: &Running, scid: Scid, from: &Running) -> Option<(u32, u32)> {
    let from = lightning::routing::gossip::NodeId::from_pubkey(&from.node.node_id());
    let ro = at.node.graph().read_only();
    let ch = ro.channel(scid.0)?;
    let (mine, other) = if ch.node_one == from {
        (&ch.one_to_two, &ch.two_to_one)
    } else {
        (&ch.two_to_one, &ch.one_to_two)
    };
    other.as_ref()?;
    let d = mine.as_ref()?;
    Some((d.fees.base_msat, d.fees.proportional_millionths))
}

/// Whether S's API serves `scid` with both directions' policies.
async fn api_has(s: &Running, scid: Scid) -> bool {
    let r = get(s.addr, &format!("/v1/channels/{scid}")).await;
    r.status == 200 && {
        let v = r.json();
        !v["policies"]["node_1_to_node_2"].is_null() && !v["policies"]["node_2_to_node_1"].is_null()
    }
}

impl Net {
    fn mine(&self, n: u32) {
        mine(&self.btc, n, &self.burn);
    }

    /// Gossip is lossy by design (an update reaching a node before it checked the
    /// announcement's funding output is dropped; LDK announces again every 6 blocks): as on
    /// mainnet, blocks repair it, 6 whenever 15 s pass without the graphs complete.
    async fn await_gossip(&self) {
        let (p, s) = (&self.p.run, &self.s.run);
        let routes = [
            (self.ps, &self.p.run),
            (self.pc, &self.p.run),
            (self.sr, &self.s.run),
            (self.cr, &self.c.run),
        ];
        let started = Instant::now();
        let mut mined_at = Instant::now();
        loop {
            let mut complete = routes
                .iter()
                .all(|(scid, from)| ldk_policy(p, *scid, from).is_some());
            for (scid, _) in &routes {
                complete = complete && api_has(s, *scid).await;
            }
            if complete {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(180),
                "P's graph and S's API graph incomplete after 180 s"
            );
            if mined_at.elapsed() > Duration::from_secs(15) {
                self.mine(6);
                mined_at = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Every node at bitcoind's tip (so P prices the cltv from the height R checks it at).
    async fn at_tip(&self) {
        let tip = tokio::task::block_in_place(|| self.btc.tip_height()).expect("tip");
        wait_for("every node at bitcoind's tip", 30, async || {
            [&self.p, &self.s, &self.c, &self.r]
                .iter()
                .all(|n| n.run.node.lightning().manager().current_best_block().height == tip)
        })
        .await;
    }

    /// P pays `n` invoices of R, one after the other; returns the fee P paid for each.
    async fn pay_wave(&self, n: usize, label: &str) -> Vec<u64> {
        self.at_tip().await;
        let mut fees = Vec::with_capacity(n);
        for i in 0..n {
            let invoice = self
                .r
                .run
                .node
                .lightning()
                .create_invoice(Some(AMOUNT_MSAT), &format!("{label} {i}"), 3600)
                .expect("invoice");
            let hash: [u8; 32] = *invoice.payment_hash().as_ref();
            self.p
                .run
                .node
                .lightning()
                .pay_invoice(&invoice, None, None)
                .expect("payment sent");
            let db = &self.p.db;
            let mut row = None;
            wait_for(&format!("{label} payment {i} to succeed"), 90, async || {
                row = books::payment(db.store.pool(), &hash)
                    .await
                    .expect("P's books");
                row.as_ref().is_some_and(|p| p.status != "pending")
            })
            .await;
            let row = row.expect("payment row");
            assert_eq!(row.status, "succeeded", "{label} payment {i}: {row:?}");
            fees.push(
                row.fee_msat
                    .and_then(|f| u64::try_from(f).ok())
                    .expect("fee"),
            );
        }
        fees
    }
}

/// Settled forwards in a node's books.
async fn forwards(db: &TestDb) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM forwards WHERE outcome = 'settled'")
        .fetch_one(db.store.pool())
        .await
        .expect("forwards");
    n
}

/// A `fee_changes` row: (scid, old ppm, new ppm, strategy, rule, mode, applied).
type ChangeRow = (i64, i64, i64, String, String, String, bool);

/// Every `fee_changes` row of a node, oldest first.
async fn fee_change_rows(db: &TestDb) -> Vec<ChangeRow> {
    sqlx::query_as(
        "SELECT scid, old_fee_ppm, new_fee_ppm, strategy, rule, mode, applied \
         FROM fee_changes ORDER BY id",
    )
    .fetch_all(db.store.pool())
    .await
    .expect("fee_changes")
}

async fn post(r: &Running, token: &str, path: &str, body: &Value) -> Reply {
    let bearer = format!("Bearer {token}");
    send_with(
        r.addr,
        "POST",
        path,
        &body.to_string(),
        &[("Authorization", bearer.as_str())],
    )
    .await
}

/// One run of S's controller now (`POST /v1/fees/apply`, admin token).
async fn controller_run(s: &Running, dry_run: bool) -> Value {
    let r = post(
        s,
        &s.token,
        "/v1/fees/apply",
        &json!({ "dry_run": dry_run }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// The decision of a run for `scid`.
fn decision(report: &Value, scid: Scid) -> Value {
    report["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .find(|d| d["scid"] == scid.to_string())
        .unwrap_or_else(|| panic!("no decision for {scid}: {report}"))
        .clone()
}

fn policy_json(p: (u32, u32)) -> Value {
    json!({"base_fee_msat": p.0, "fee_ppm": p.1})
}

/// S's live policy on `scid`, from LDK.
fn s_policy(s: &Running, scid: Scid) -> (u32, u32) {
    let text = scid.to_string();
    let ch = s
        .node
        .lightning()
        .channels()
        .into_iter()
        .find(|c| c.short_channel_id.as_deref() == Some(text.as_str()))
        .expect("S's channel");
    let p = ch.policy.expect("policy");
    (p.base_fee_msat, p.fee_ppm)
}

/// A wave at S's low fee crosses S: S books every forward, C none, and P pays S's fee.
async fn low_fee_wave_crosses_s(net: &Net) {
    let fees = net.pay_wave(WAVE, "low").await;
    assert_eq!(fees, vec![fee(S_LOW, AMOUNT_MSAT); WAVE], "P paid S's fee");
    wait_for("S to book the forwards", 30, async || {
        forwards(&net.s.db).await == WAVE as i64
    })
    .await;
    assert_eq!(forwards(&net.c.db).await, 0, "nothing crossed C");
}

/// S's scheduled controller runs in its default dry-run mode: it plans raising S -> R, and
/// changes no policy, writes no `fee_changes` row (its record is the plan it returns and
/// logs, and the metrics). A dry run on demand answers the same plan, equally without effect.
async fn dry_run_plans_and_changes_nothing(net: &Net) {
    let s = &net.s.run;
    let m = &s.metrics;
    wait_for("a scheduled dry run planning S's change", 60, async || {
        metric(
            m,
            "switchyard_fee_plans_total",
            &[("mode", "dry-run"), ("outcome", "ok")],
        ) >= 1.0
            && metric(
                m,
                "switchyard_fee_channel_decisions_total",
                &[("outcome", "planned")],
            ) >= 1.0
    })
    .await;
    let report = controller_run(s, true).await;
    assert_eq!(report["mode"], "dry-run", "{report}");
    assert_eq!(report["node"], gid(s).to_string());
    let sr = decision(&report, net.sr);
    assert_eq!(sr["outcome"], "planned", "{sr}");
    assert_eq!(sr["rule"], "to-payee");
    assert_eq!(sr["strategy"], "static");
    assert_eq!(sr["current"], policy_json(S_LOW));
    // The rule asks 1,500 ppm; one step moves at most MAX_STEP_PPM.
    let step = (S_LOW.0, S_LOW.1 + MAX_STEP_PPM);
    assert_eq!(sr["proposed"], policy_json(step), "{sr}");
    let ps = decision(&report, net.ps);
    assert_eq!(
        (&ps["outcome"], &ps["proposed"]),
        (&json!("pinned"), &ps["current"])
    );
    assert_eq!(
        report["channels"].as_array().map(Vec::len),
        Some(2),
        "{report}"
    );

    let rows = fee_change_rows(&net.s.db).await;
    assert!(rows.is_empty(), "a dry run records nothing: {rows:?}");
    assert_eq!(s_policy(s, net.sr), S_LOW, "a dry run changes no policy");
    assert_eq!(
        metric(
            m,
            "switchyard_fee_channel_decisions_total",
            &[("outcome", "applied")]
        ),
        0.0
    );
    let history = get_token(s.addr, "/v1/fees/history", &s.read_token).await;
    assert_eq!(history.json(), json!({"changes": []}), "{}", history.body);
    assert_eq!(
        ldk_policy(&net.p.run, net.sr, s),
        Some(S_LOW),
        "P still sees S's low fee"
    );
}

/// `POST /v1/fees/simulate` on S's graph for a wave like P's (with its routes), at S's fees
/// now or with S -> R at `s_fee`.
async fn simulate_wave(net: &Net, s_fee: Option<(u32, u32)>) -> Value {
    let s = &net.s.run;
    let list: Vec<Value> = (0..WAVE)
        .map(|_| {
            json!({"source": gid(&net.p.run), "destination": gid(&net.r.run),
                   "amount_msat": AMOUNT_MSAT})
        })
        .collect();
    let overrides: Vec<Value> = s_fee
        .map(|f| {
            json!({"scid": net.sr.to_string(), "from": gid(s), "base_fee_msat": f.0,
                   "fee_ppm": f.1})
        })
        .into_iter()
        .collect();
    let body = json!({"node": gid(s), "overrides": overrides, "demand": {"list": list},
                      "return_routes": true});
    let r = post(s, &s.read_token, "/v1/fees/simulate", &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// Every route of a simulation crosses `via` and costs `fee_msat`.
fn assert_routes(sim: &Value, via: [Scid; 2], fee_msat: u64) {
    let routes = sim["routes"].as_array().expect("routes");
    assert_eq!(routes.len(), WAVE, "{sim}");
    let want: Vec<String> = via.iter().map(Scid::to_string).collect();
    for r in routes {
        let hops: Vec<String> = r["hops"]
            .as_array()
            .unwrap_or_else(|| panic!("a route: {sim}"))
            .iter()
            .map(|h| h["scid"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(hops, want, "{r}");
        assert_eq!(r["total_fee_msat"], fee_msat, "{r}");
    }
}

/// The simulation on S's graph: today the wave crosses S at S's fee; with S -> R one
/// controller step up (above C) every payment moves to C, at C's fee.
async fn simulation_predicts_the_switch(net: &Net, raised: (u32, u32)) {
    let now = simulate_wave(net, None).await;
    assert_eq!(now["succeeded"], WAVE, "{now}");
    assert_eq!(now["node"]["forwarded"], WAVE, "{now}");
    assert_eq!(now["changed_routes"], 0);
    assert_routes(&now, [net.ps, net.sr], fee(S_LOW, AMOUNT_MSAT));
    let what_if = simulate_wave(net, Some(raised)).await;
    assert_eq!(what_if["succeeded"], WAVE, "{what_if}");
    assert_eq!(what_if["node"]["forwarded"], 0, "{what_if}");
    assert_eq!(what_if["node"]["revenue_msat"], 0, "{what_if}");
    assert_eq!(what_if["changed_routes"], WAVE, "{what_if}");
    assert_routes(&what_if, [net.pc, net.cr], fee(C_FEE, AMOUNT_MSAT));
}

/// S's revenue on S -> R over the controller's own demand (200 random payments, seed 0)
/// with S -> R at `f`, as `POST /v1/fees/simulate` computes it.
async fn simulated_revenue(net: &Net, f: (u32, u32)) -> u64 {
    let s = &net.s.run;
    let body = json!({"node": gid(s), "demand": {"payments": 200, "seed": 0},
        "overrides": [{"scid": net.sr.to_string(), "from": gid(s), "base_fee_msat": f.0,
                       "fee_ppm": f.1}]});
    let r = post(s, &s.read_token, "/v1/fees/simulate", &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .filter(|c| c["scid"] == net.sr.to_string() && c["direction"] == "out")
        .map(|c| c["revenue_msat"].as_u64().expect("revenue"))
        .sum()
}

/// One applying run of the controller that changes S -> R from `old` to `new`: the report,
/// S's live policy and the `fee_changes` rows (`rows_before` + 1) agree.
async fn apply_changes_s(net: &Net, old: (u32, u32), new: (u32, u32), rows_before: usize) {
    let s = &net.s.run;
    let report = controller_run(s, false).await;
    assert_eq!(report["mode"], "apply", "{report}");
    let sr = decision(&report, net.sr);
    assert_eq!(sr["outcome"], "applied", "{sr}");
    assert_eq!(
        (&sr["current"], &sr["proposed"]),
        (&policy_json(old), &policy_json(new))
    );
    assert_eq!(
        decision(&report, net.ps)["outcome"],
        "pinned",
        "pinned: untouched"
    );
    assert_eq!(
        s_policy(s, net.sr),
        new,
        "applied through the node's policy path"
    );
    assert_eq!(
        s_policy(s, net.ps),
        S_LOW,
        "the pinned channel kept its fee"
    );
    let rows = fee_change_rows(&net.s.db).await;
    assert_eq!(rows.len(), rows_before + 1, "one row per change: {rows:?}");
    let want = (
        net.sr.to_i64(),
        i64::from(old.1),
        i64::from(new.1),
        "static".to_string(),
        "to-payee".to_string(),
        "apply".to_string(),
        true,
    );
    assert_eq!(rows.last(), Some(&want));
    let expected = sr["expected_revenue_msat"]
        .as_u64()
        .expect("expected revenue");
    assert_eq!(expected, simulated_revenue(net, new).await, "{sr}");
    let history = get_token(s.addr, "/v1/fees/history?limit=1", &s.read_token)
        .await
        .json();
    let h = &history["changes"][0];
    assert_eq!(h["scid"], net.sr.to_string(), "{history}");
    assert_eq!(h["from"], gid(s).to_string());
    assert_eq!(
        (&h["old_base_fee_msat"], &h["new_base_fee_msat"]),
        (&json!(old.0), &json!(new.0))
    );
    assert_eq!(h["reason"], sr["reason"]);
    assert_eq!(h["expected_revenue_msat"], expected);
}

/// Waits for P's graph to hold S -> R at `f`, then for P's router to price it in: it
/// rebuilds its graph at most every 5 s (`switchyard_node::router`), so a payment right
/// after the update could still be routed on the old fee.
async fn p_learns(net: &Net, f: (u32, u32)) {
    let (p, s) = (&net.p.run, &net.s.run);
    wait_for("P to see S's new fee by gossip", 60, async || {
        ldk_policy(p, net.sr, s) == Some(f)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(5_500)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raising_our_fee_above_a_competitor_moves_real_payments_as_simulated() {
    let started = Instant::now();
    let net = build().await;
    eprintln!("network up after {:.1} s", started.elapsed().as_secs_f64());
    low_fee_wave_crosses_s(&net).await;
    dry_run_plans_and_changes_nothing(&net).await;
    let step = (S_LOW.0, S_LOW.1 + MAX_STEP_PPM);
    assert!(
        fee(step, AMOUNT_MSAT) > fee(C_FEE, AMOUNT_MSAT),
        "one step puts S above C"
    );
    simulation_predicts_the_switch(&net, step).await;

    // Apply mode: the step is applied and booked; a second run inside the interval
    // changes nothing, though its plan still asks for 1,500 ppm.
    apply_changes_s(&net, S_LOW, step, 0).await;
    let applied_at = Instant::now();
    let again = controller_run(&net.s.run, false).await;
    let sr = decision(&again, net.sr);
    assert_eq!(sr["outcome"], "interval", "{sr}");
    assert_eq!(fee_change_rows(&net.s.db).await.len(), 1);
    assert_eq!(s_policy(&net.s.run, net.sr), step);

    // The new policy reaches P, and the next real payments cross C at C's fee, as predicted.
    p_learns(&net, step).await;
    let fees = net.pay_wave(WAVE, "high").await;
    assert_eq!(fees, vec![fee(C_FEE, AMOUNT_MSAT); WAVE], "P paid C's fee");
    wait_for("C to book the forwards", 30, async || {
        forwards(&net.c.db).await == WAVE as i64
    })
    .await;
    assert_eq!(
        forwards(&net.s.db).await,
        WAVE as i64,
        "S forwarded none of them"
    );

    // Once the interval has passed the next step is applied (from the fee S now has) and
    // gossiped.
    tokio::time::sleep(INTERVAL.saturating_sub(applied_at.elapsed())).await;
    let target = (S_LOW.0, S_TARGET_PPM);
    apply_changes_s(&net, step, target, 1).await;
    p_learns(&net, target).await;

    // The scheduled dry runs went on all along and recorded none of their plans.
    let rows = fee_change_rows(&net.s.db).await;
    assert!(rows.iter().all(|r| r.5 == "apply" && r.6), "{rows:?}");
    assert_eq!(rows.len(), 2);
    for n in [&net.p, &net.s, &net.c, &net.r] {
        n.run.node.stop().await;
    }
    eprintln!("fees regtest took {:.1} s", started.elapsed().as_secs_f64());
}
