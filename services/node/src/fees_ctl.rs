//! # The fee controller: prices our channels with `switchyard-fees` and announces the result
//!
//! A run ([`run`]) takes the graph (the store's snapshot, or the caller's), our channels'
//! real balances from LDK and their settled forwards over the activity window from the books,
//! plans with the rules file ([`switchyard_fees::plan()`]), then decides per channel
//! direction leaving us:
//!
//! * `pinned`: the rule pins it; never touched;
//! * `unchanged`: the proposal equals the current fee;
//! * `interval`: a change was applied to it less than one interval ago (read from the
//!   `fee_changes` table, so it holds across restarts; peers drop or rate-limit frequent
//!   `channel_update`s);
//! * `not_selected`: the run was limited to other channels;
//! * otherwise the proposal, its ppm moved at most `max_step_ppm` from the current one, is
//!   `planned` (dry run) or applied through the node's policy path (`applied`, or `refused`
//!   when LDK refuses it).
//!
//! **Dry run writes nothing**: no policy, no `fee_changes` row; the plan is returned and
//! logged. An applied (or refused) change is one `fee_changes` row. Runs are serialised (the
//! scheduled run and `POST /v1/fees/apply` never interleave), so the interval check holds.
//!
//! The schedule ([`control_loop`]) runs every `interval` in the configured mode, first one
//! interval after start. Planning is CPU work: it runs on the blocking pool.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use switchyard_fees::demand::RandomDemand;
use switchyard_fees::rules::Strategy;
use switchyard_fees::{
    Balances, ChannelBalance, ChannelPlan, ChannelState, DemandSpec, FeePolicy, Plan, PlanRequest,
    Rules,
};
use switchyard_graph::{NodeId, Scid, Snapshot};
use switchyard_store::queries::fees::{self as fq, FeeMode, NewFeeChange};
use tokio::sync::watch;

use crate::error::NodeError;
use crate::ln::{ChannelRef, OwnChannel, PolicyUpdate};
use crate::Node;

/// The controller's settings (`switchyard node --fees-*`).
#[derive(Debug, Clone)]
pub struct FeesConfig {
    /// What the scheduled runs do (default dry run).
    pub mode: FeeMode,
    /// Time between scheduled runs, and the least time between two changes of a channel
    /// (default 60 min). Zero: no scheduled runs (on demand only).
    pub interval: Duration,
    /// Which strategy prices which channel (default: `Rules::default`).
    pub rules: Rules,
    /// Most a change moves a channel's ppm in one step (default 500).
    pub max_step_ppm: u32,
    /// Forwards over this window count as a channel's activity (default 7 days).
    pub activity_window: Duration,
    /// The demand a plan simulates: random payments from `seed`.
    pub payments: usize,
    /// Seed of the demand.
    pub seed: u64,
}

impl Default for FeesConfig {
    fn default() -> Self {
        FeesConfig {
            mode: FeeMode::DryRun,
            interval: Duration::from_secs(3600),
            rules: Rules::default(),
            max_step_ppm: 500,
            activity_window: Duration::from_secs(7 * 86_400),
            payments: 2_000,
            seed: 0,
        }
    }
}

/// What one run does.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// Dry run or apply.
    pub mode: FeeMode,
    /// Replaces every rule's strategy (pinning still holds).
    pub strategy: Option<Strategy>,
    /// Only these channels (`None`: all).
    pub channels: Option<Vec<Scid>>,
}

/// One channel direction's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The channel.
    pub scid: Scid,
    /// Our node.
    pub from: NodeId,
    /// The peer.
    pub to: NodeId,
    /// The rules-file section that matched.
    pub rule: String,
    /// Its strategy (or `pinned`).
    pub strategy: String,
    /// The fee now.
    pub current: FeePolicy,
    /// What the run set (or would set): the plan's proposal after the step limit.
    pub proposed: FeePolicy,
    /// `applied`, `planned`, `refused`, `pinned`, `unchanged`, `interval`, `not_selected`.
    pub outcome: &'static str,
    /// The plan's reason.
    pub reason: String,
    /// Revenue the plan expects on this direction, msat.
    pub expected_revenue_msat: u64,
}

/// A run's answer (`POST /v1/fees/apply`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// `dry-run` or `apply`.
    pub mode: &'static str,
    /// Our node.
    pub node: NodeId,
    /// The strategy forced on every channel, or `rules`.
    pub strategy: String,
    /// Our revenue over the demand at the current fees, msat.
    pub current_revenue_msat: u64,
    /// Our revenue over the demand under the plan, msat.
    pub expected_revenue_msat: u64,
    /// One decision per channel direction leaving us.
    pub channels: Vec<Decision>,
}

/// Every outcome (the metrics' `outcome` label values).
pub const OUTCOMES: [&str; 7] = [
    "applied",
    "planned",
    "refused",
    "pinned",
    "unchanged",
    "interval",
    "not_selected",
];

/// The controller's state in the node: its settings and the lock that serialises runs.
pub(crate) struct FeeController {
    pub(crate) config: FeesConfig,
    lock: tokio::sync::Mutex<()>,
}

impl FeeController {
    pub(crate) fn new(config: FeesConfig) -> Self {
        FeeController {
            config,
            lock: tokio::sync::Mutex::new(()),
        }
    }
}

/// Our node's inputs to a plan: channel states (real balances, activity) and balances.
#[derive(Debug, Clone)]
pub struct OwnInputs {
    /// Our node id.
    pub node: NodeId,
    /// The controller's rules.
    pub rules: Rules,
    /// Our channels with an scid.
    pub channels: Vec<ChannelState>,
    /// Their balances.
    pub balances: Balances,
}

fn state_of(c: &OwnChannel, activity: &[fq::ChannelActivity]) -> Option<ChannelState> {
    let scid: Scid = c.short_channel_id.as_deref()?.parse().ok()?;
    let act = activity.iter().find(|a| a.scid == scid);
    Some(ChannelState {
        scid,
        peer: c.counterparty.parse().ok()?,
        capacity_sat: c.capacity_sat,
        local_msat: c.local_balance_msat,
        remote_msat: c.remote_balance_msat,
        age_days: c.confirmations.unwrap_or(0) / 144,
        forwards: act.map_or(0, |a| a.forwards),
        forward_volume_msat: act.map_or(0, |a| a.volume_msat),
        public: c.is_announced,
    })
}

/// Our channels as the fees crate sees them (channels without an scid yet are left out).
pub(crate) async fn inputs(node: &Node) -> Result<OwnInputs, NodeError> {
    let cfg = &node.fees.config;
    let window = i64::try_from(cfg.activity_window.as_secs()).unwrap_or(i64::MAX);
    let activity = fq::activity(node.store.pool(), window).await?;
    let channels: Vec<ChannelState> = node
        .ln
        .channels()
        .iter()
        .filter_map(|c| state_of(c, &activity))
        .collect();
    let balances = Balances::Known(
        channels
            .iter()
            .map(|c| ChannelBalance {
                scid: c.scid,
                local_msat: c.local_msat,
                remote_msat: c.remote_msat,
            })
            .collect(),
    );
    Ok(OwnInputs {
        node: NodeId::from_bytes_unchecked(node.node_id.serialize()),
        rules: cfg.rules.clone(),
        channels,
        balances,
    })
}

/// `proposed` with its ppm at most `max_step` away from `current`'s.
pub fn limit_step(current: FeePolicy, proposed: FeePolicy, max_step: u32) -> FeePolicy {
    let lo = current.fee_ppm.saturating_sub(max_step);
    let hi = current.fee_ppm.saturating_add(max_step);
    FeePolicy::new(proposed.base_fee_msat, proposed.fee_ppm.clamp(lo, hi))
}

/// The decision for one plan row before anything is applied (`planned` when it would change).
fn decide(
    row: &ChannelPlan,
    recent: &HashSet<Scid>,
    only: Option<&[Scid]>,
    max_step: u32,
) -> Decision {
    let proposed = limit_step(row.current, row.proposed, max_step);
    let outcome = if row.pinned {
        "pinned"
    } else if only.is_some_and(|o| !o.contains(&row.scid)) {
        "not_selected"
    } else if proposed == row.current {
        "unchanged"
    } else if recent.contains(&row.scid) {
        "interval"
    } else {
        "planned"
    };
    Decision {
        scid: row.scid,
        from: row.from,
        to: row.to,
        rule: row.rule.clone(),
        strategy: row.strategy.clone(),
        current: row.current,
        proposed: if outcome == "planned" {
            proposed
        } else {
            row.current
        },
        outcome,
        reason: row.reason.clone(),
        expected_revenue_msat: row.expected_revenue_msat,
    }
}

async fn plan_on(snapshot: Arc<Snapshot>, req: PlanRequest) -> Result<Plan, NodeError> {
    tokio::task::spawn_blocking(move || switchyard_fees::plan(&snapshot, &req))
        .await
        .map_err(|e| NodeError::Internal(format!("fee plan worker: {e}")))?
        .map_err(|e| match e {
            switchyard_fees::FeesError::UnknownNode(_) => NodeError::Unavailable(
                "our node is not in the graph yet (no announced channel)".into(),
            ),
            other => NodeError::Rejected(other.to_string()),
        })
}

/// Applies one planned change and books it; returns the outcome.
async fn apply(node: &Node, d: &Decision, mode: FeeMode) -> Result<&'static str, NodeError> {
    let update = PolicyUpdate {
        base_fee_msat: Some(d.proposed.base_fee_msat),
        fee_ppm: Some(d.proposed.fee_ppm),
        cltv_expiry_delta: None,
        htlc_minimum_msat: None,
    };
    let applied = match node.ln.set_policy(Some(ChannelRef::Scid(d.scid.0)), update) {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(scid = %d.scid, error = %e, "fee change refused by the node");
            false
        }
    };
    let row = NewFeeChange {
        scid: d.scid,
        from: d.from,
        old_base_fee_msat: d.current.base_fee_msat,
        old_fee_ppm: d.current.fee_ppm,
        new_base_fee_msat: d.proposed.base_fee_msat,
        new_fee_ppm: d.proposed.fee_ppm,
        strategy: d.strategy.clone(),
        rule: d.rule.clone(),
        reason: d.reason.clone(),
        expected_revenue_msat: d.expected_revenue_msat,
        mode,
        applied,
    };
    fq::record_change(node.store.pool(), &row).await?;
    Ok(if applied { "applied" } else { "refused" })
}

/// One run of the controller (see the module documentation). `snapshot`: the graph to plan
/// on; `None` loads the store's.
pub(crate) async fn run(
    node: &Node,
    snapshot: Option<Arc<Snapshot>>,
    req: RunRequest,
) -> Result<RunReport, NodeError> {
    let _serial = node.fees.lock.lock().await;
    let cfg = &node.fees.config;
    let m = &node.metrics;
    let snapshot = match snapshot {
        Some(s) => s,
        None => Arc::new(switchyard_store::graph::load_snapshot(&node.store).await?.0),
    };
    let own = inputs(node).await?;
    let plan_req = PlanRequest {
        node: own.node,
        rules: own.rules,
        strategy: req.strategy.clone(),
        channels: own.channels,
        balances: own.balances,
        demand: DemandSpec::Random(RandomDemand::new(cfg.payments, cfg.seed)),
    };
    let plan = match plan_on(snapshot, plan_req).await {
        Ok(p) => p,
        Err(e) => {
            m.fee_plans
                .with_label_values(&[req.mode.as_str(), "failed"])
                .inc();
            return Err(e);
        }
    };
    let interval = i64::try_from(cfg.interval.as_secs()).unwrap_or(i64::MAX);
    let recent: HashSet<Scid> = fq::recently_changed(node.store.pool(), &own.node, interval)
        .await?
        .into_iter()
        .collect();
    let mut channels = Vec::with_capacity(plan.channels.len());
    for row in &plan.channels {
        let mut d = decide(row, &recent, req.channels.as_deref(), cfg.max_step_ppm);
        if d.outcome == "planned" && req.mode == FeeMode::Apply {
            d.outcome = apply(node, &d, req.mode).await?;
        }
        m.fee_changes.with_label_values(&[d.outcome]).inc();
        channels.push(d);
    }
    m.fee_plans
        .with_label_values(&[req.mode.as_str(), "ok"])
        .inc();
    m.fee_last_plan_timestamp.set(crate::now().as_secs() as i64);
    m.fee_expected_revenue_msat
        .set(i64::try_from(plan.expected_revenue_msat).unwrap_or(i64::MAX));
    m.fee_current_revenue_msat
        .set(i64::try_from(plan.current_revenue_msat).unwrap_or(i64::MAX));
    let changed = channels.iter().filter(|d| d.outcome == "applied").count();
    tracing::info!(
        mode = req.mode.as_str(),
        channels = channels.len(),
        changed,
        expected_revenue_msat = plan.expected_revenue_msat,
        current_revenue_msat = plan.current_revenue_msat,
        "fee plan run"
    );
    for d in channels.iter().filter(|d| d.outcome == "planned") {
        tracing::info!(scid = %d.scid, from_ppm = d.current.fee_ppm, to_ppm = d.proposed.fee_ppm,
            reason = %d.reason, "fee change planned (dry run)");
    }
    Ok(RunReport {
        mode: req.mode.as_str(),
        node: own.node,
        strategy: plan.strategy,
        current_revenue_msat: plan.current_revenue_msat,
        expected_revenue_msat: plan.expected_revenue_msat,
        channels,
    })
}

/// Runs the controller every interval in the configured mode until shutdown.
pub(crate) async fn control_loop(node: Arc<Node>, mut shutdown: watch::Receiver<bool>) {
    let every = node.fees.config.interval;
    if every.is_zero() {
        return;
    }
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        let req = RunRequest {
            mode: node.fees.config.mode,
            strategy: None,
            channels: None,
        };
        if let Err(e) = run(&node, None, req).await {
            tracing::warn!(error = %e, "scheduled fee plan failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(current: FeePolicy, proposed: FeePolicy, pinned: bool) -> ChannelPlan {
        ChannelPlan {
            scid: Scid(1 << 40),
            from: NodeId::from_bytes_unchecked([2; 33]),
            to: NodeId::from_bytes_unchecked([3; 33]),
            rule: "default".into(),
            strategy: "flow".into(),
            pinned,
            current,
            proposed,
            reason: "r".into(),
            expected_revenue_msat: 7,
        }
    }

    #[test]
    fn a_step_moves_ppm_at_most_the_limit_even_near_u32_max() {
        let f = FeePolicy::new;
        assert_eq!(limit_step(f(0, 100), f(5, 2000), 500), f(5, 600));
        assert_eq!(limit_step(f(0, 100), f(5, 0), 500), f(5, 0));
        assert_eq!(limit_step(f(0, 900), f(0, 10), 500), f(0, 400));
        assert_eq!(
            limit_step(f(0, u32::MAX - 1), f(0, 0), 500),
            f(0, u32::MAX - 501)
        );
        assert_eq!(
            limit_step(f(0, u32::MAX - 1), f(0, u32::MAX), 500),
            f(0, u32::MAX)
        );
        assert_eq!(limit_step(f(0, 7), f(0, 9), 0), f(0, 7));
    }

    #[test]
    fn decisions_follow_pin_selection_interval_and_change() {
        let (cur, new) = (FeePolicy::new(0, 100), FeePolicy::new(0, 300));
        let none = HashSet::new();
        let recent: HashSet<Scid> = [Scid(1 << 40)].into_iter().collect();
        let other = [Scid(2 << 40)];
        let d = |r: &ChannelPlan, recent: &HashSet<Scid>, only: Option<&[Scid]>| {
            decide(r, recent, only, 500)
        };
        let planned = d(&row(cur, new, false), &none, None);
        assert_eq!((planned.outcome, planned.proposed), ("planned", new));
        assert_eq!(d(&row(cur, new, true), &none, None).outcome, "pinned");
        assert_eq!(d(&row(cur, cur, false), &none, None).outcome, "unchanged");
        // Still "unchanged" inside the interval: nothing to hold back.
        assert_eq!(d(&row(cur, cur, false), &recent, None).outcome, "unchanged");
        let held = d(&row(cur, new, false), &recent, None);
        assert_eq!((held.outcome, held.proposed), ("interval", cur));
        assert_eq!(
            d(&row(cur, new, false), &none, Some(&other)).outcome,
            "not_selected"
        );
        // The step limit applies before deciding: a step of 0 leaves nothing to change.
        assert_eq!(
            decide(&row(cur, new, false), &none, None, 0).outcome,
            "unchanged"
        );
        for o in [planned.outcome, held.outcome] {
            assert!(OUTCOMES.contains(&o));
        }
    }
}
