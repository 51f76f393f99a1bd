//! What the node's own payments teach it about other channels' liquidity, kept across
//! restarts: LDK's [`ProbabilisticScorer`] fed with the outcome of every payment path and
//! probe, decayed on LDK's timer, and written to Postgres (LDK's `scorer` key) when it
//! changed. The router reads it back as upper bounds on what a channel direction can carry
//! ([`LiquidityLimits`]).
//!
//! It must not choose routes (the router decides what to do with the bounds) or block the
//! event loop on I/O (the caller writes the bytes it hands out).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lightning::events::Event;
use lightning::routing::gossip::NodeId as LdkNodeId;
use lightning::routing::router::Path;
use lightning::routing::scoring::{
    ProbabilisticScorer, ProbabilisticScoringDecayParameters, ScoreUpdate,
};
use lightning::util::ser::{ReadableArgs, Writeable};

use crate::router::{LearnedLimit, LiquidityLimits};
use crate::{Graph, LdkLogger};

/// LDK's probabilistic scorer over our graph: the liquidity estimates learned from payments.
pub type Scorer = ProbabilisticScorer<Arc<Graph>, Arc<LdkLogger>>;

fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// `(scid, [node_one, node_two])` of the given channels (all when `None`) that the graph has.
fn channel_ends(graph: &Graph, scids: Option<&[u64]>) -> Vec<(u64, [LdkNodeId; 2])> {
    let ro = graph.read_only();
    let channels = ro.channels();
    match scids {
        Some(scids) => scids
            .iter()
            .filter_map(|s| channels.get(s).map(|c| (*s, [c.node_one, c.node_two])))
            .collect(),
        None => channels
            .unordered_iter()
            .map(|(s, c)| (*s, [c.node_one, c.node_two]))
            .collect(),
    }
}

/// The channels among `ends` the scorer holds an estimate for.
fn with_estimates(scorer: &Scorer, ends: Vec<(u64, [LdkNodeId; 2])>) -> HashSet<u64> {
    ends.into_iter()
        .filter(|(scid, [_, two])| {
            scorer
                .estimated_channel_liquidity_range(*scid, two)
                .is_some()
        })
        .map(|(scid, _)| scid)
        .collect()
}

/// The scorer, the channels it holds estimates for, and whether it changed since last written.
pub struct LearnedLiquidity {
    scorer: Mutex<Scorer>,
    graph: Arc<Graph>,
    /// Channels with an estimate (the scorer does not list them).
    learned: Mutex<HashSet<u64>>,
    dirty: AtomicBool,
}

impl LearnedLiquidity {
    /// Restores the scorer from `stored` (LDK's serialization) or starts empty. An unreadable
    /// scorer is only lost knowledge, never funds, so it is logged and replaced.
    pub fn load(graph: Arc<Graph>, logger: Arc<LdkLogger>, stored: Option<&[u8]>) -> Self {
        let params = ProbabilisticScoringDecayParameters::default();
        let scorer = match stored {
            Some(mut bytes) => {
                match Scorer::read(&mut bytes, (params, graph.clone(), logger.clone())) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        tracing::warn!(error = ?e, "stored liquidity estimates unreadable; starting afresh");
                        None
                    }
                }
            }
            None => None,
        }
        .unwrap_or_else(|| Scorer::new(params, graph.clone(), logger));
        // Channel ends are copied out first: the scorer takes the graph's read lock itself,
        // and taking it twice can deadlock against a waiting gossip write.
        let learned = with_estimates(&scorer, channel_ends(&graph, None));
        if !learned.is_empty() {
            tracing::info!(channels = learned.len(), "liquidity estimates restored");
        }
        LearnedLiquidity {
            scorer: Mutex::new(scorer),
            graph,
            learned: Mutex::new(learned),
            dirty: AtomicBool::new(false),
        }
    }

    fn update(&self, path: &Path, f: impl FnOnce(&mut Scorer, Duration)) {
        let mut scorer = self.scorer.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut scorer, since_epoch());
        drop(scorer);
        // Only public channels: the scorer keeps nothing on private ones (our first hops).
        let scids: Vec<u64> = path.hops.iter().map(|h| h.short_channel_id).collect();
        let public = channel_ends(&self.graph, Some(&scids));
        let mut learned = self.learned.lock().unwrap_or_else(|e| e.into_inner());
        learned.extend(public.into_iter().map(|(scid, _)| scid));
        self.dirty.store(true, Ordering::Release);
    }

    /// Learns from the outcome of a payment path or probe; other events are ignored. A path
    /// failed with no channel named (the payee refused it) still proves every hop carried
    /// the amount, as LDK's background processor also reads it.
    pub fn learn(&self, event: &Event) {
        match event {
            Event::PaymentPathFailed {
                path,
                short_channel_id: Some(scid),
                ..
            } => self.update(path, |s, now| s.payment_path_failed(path, *scid, now)),
            Event::PaymentPathFailed {
                path,
                payment_failed_permanently: true,
                ..
            } => self.update(path, |s, now| s.probe_successful(path, now)),
            Event::PaymentPathSuccessful { path, .. } => {
                self.update(path, |s, now| s.payment_path_successful(path, now))
            }
            Event::ProbeSuccessful { path, .. } => {
                self.update(path, |s, now| s.probe_successful(path, now))
            }
            Event::ProbeFailed {
                path,
                short_channel_id: Some(scid),
                ..
            } => self.update(path, |s, now| s.probe_failed(path, *scid, now)),
            _ => {}
        }
    }

    /// Lets old estimates fade back towards "anything up to the capacity" (LDK's half-lives),
    /// and forgets channels with nothing left.
    pub fn decay(&self) {
        let mut scorer = self.scorer.lock().unwrap_or_else(|e| e.into_inner());
        scorer.time_passed(since_epoch());
        let scids = self.learned_scids();
        if scids.is_empty() {
            // Nothing to decay: no rewrite of an unchanged (empty) scorer every minute.
            return;
        }
        let kept = with_estimates(&scorer, channel_ends(&self.graph, Some(&scids)));
        drop(scorer);
        *self.learned.lock().unwrap_or_else(|e| e.into_inner()) = kept;
        self.dirty.store(true, Ordering::Release);
    }

    fn learned_scids(&self) -> Vec<u64> {
        self.learned
            .lock()
            .map(|l| l.iter().copied().collect())
            .unwrap_or_default()
    }

    /// The scorer's bytes if it changed since the last call (the caller writes them; on a
    /// failed write it calls [`LearnedLiquidity::mark_dirty`]).
    pub fn take_changed(&self) -> Option<Vec<u8>> {
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return None;
        }
        let scorer = self.scorer.lock().unwrap_or_else(|e| e.into_inner());
        Some(scorer.encode())
    }

    /// Marks the scorer changed, so the next persist writes it.
    pub fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::Release);
    }

    /// Channels with an estimate.
    pub fn channel_count(&self) -> usize {
        self.learned.lock().map(|l| l.len()).unwrap_or(0)
    }
}

impl LiquidityLimits for LearnedLiquidity {
    fn known_max_liquidity(&self) -> Vec<LearnedLimit> {
        let ends = channel_ends(&self.graph, Some(&self.learned_scids()));
        let scorer = self.scorer.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for (scid, nodes) in ends {
            for towards in nodes {
                if let Some((_, max_msat)) =
                    scorer.estimated_channel_liquidity_range(scid, &towards)
                {
                    out.push(LearnedLimit {
                        scid,
                        towards,
                        max_msat,
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::constants::ChainHash;
    use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
    use bitcoin::Network;
    use lightning::events::PathFailure;
    use lightning::ln::channelmanager::PaymentId;
    use lightning::ln::msgs::UnsignedChannelUpdate;
    use lightning::routing::gossip::NetworkGraph;
    use lightning::routing::router::RouteHop;
    use lightning::types::features::{ChannelFeatures, NodeFeatures};
    use lightning::types::payment::PaymentHash;

    const SCID_XY: u64 = 800_000 << 40;
    const CAPACITY_SAT: u64 = 1_000_000;
    const AMOUNT_MSAT: u64 = 10_000_000;

    fn pk(i: u8) -> PublicKey {
        let sk = SecretKey::from_slice(&[i; 32]).expect("valid secret key");
        PublicKey::from_secret_key(&Secp256k1::new(), &sk)
    }

    /// X (2) and Y (3) with one public channel, both directions open.
    fn graph() -> Arc<Graph> {
        let g = NetworkGraph::new(Network::Bitcoin, Arc::new(LdkLogger));
        let (x, y) = (
            LdkNodeId::from_pubkey(&pk(2)),
            LdkNodeId::from_pubkey(&pk(3)),
        );
        let (n1, n2) = if x < y { (x, y) } else { (y, x) };
        let now = since_epoch().as_secs();
        g.add_channel_from_partial_announcement(
            SCID_XY,
            Some(CAPACITY_SAT),
            now - 60,
            ChannelFeatures::empty(),
            n1,
            n2,
        )
        .expect("channel added");
        for dir in 0..2u8 {
            g.update_channel_unsigned(&UnsignedChannelUpdate {
                chain_hash: ChainHash::using_genesis_block(Network::Bitcoin),
                short_channel_id: SCID_XY,
                timestamp: (now - 60) as u32,
                message_flags: 1,
                channel_flags: dir,
                cltv_expiry_delta: 40,
                htlc_minimum_msat: 1,
                htlc_maximum_msat: CAPACITY_SAT * 1000,
                fee_base_msat: 0,
                fee_proportional_millionths: 0,
                excess_data: Vec::new(),
            })
            .expect("update applied");
        }
        Arc::new(g)
    }

    /// P (1) -> X over a private channel, then X -> Y, delivering `AMOUNT_MSAT`.
    fn path() -> Path {
        let hop = |node: u8, scid: u64, fee_msat: u64| RouteHop {
            pubkey: pk(node),
            node_features: NodeFeatures::empty(),
            short_channel_id: scid,
            channel_features: ChannelFeatures::empty(),
            fee_msat,
            cltv_expiry_delta: 40,
            maybe_announced_channel: true,
        };
        Path {
            hops: vec![hop(2, 1, 0), hop(3, SCID_XY, AMOUNT_MSAT)],
            blinded_tail: None,
        }
    }

    fn failed_at_x() -> Event {
        Event::PaymentPathFailed {
            payment_id: Some(PaymentId([1; 32])),
            payment_hash: PaymentHash([2; 32]),
            payment_failed_permanently: false,
            failure: PathFailure::OnPath {
                network_update: None,
            },
            path: path(),
            short_channel_id: Some(SCID_XY),
            hold_times: Vec::new(),
        }
    }

    fn limit_towards_y(l: &LearnedLiquidity) -> Option<u64> {
        let y = LdkNodeId::from_pubkey(&pk(3));
        l.known_max_liquidity()
            .into_iter()
            .find(|k| k.scid == SCID_XY && k.towards == y)
            .map(|k| k.max_msat)
    }

    #[test]
    fn a_failed_hop_bounds_that_direction_and_the_bound_survives_a_reload() {
        let g = graph();
        let learned = LearnedLiquidity::load(g.clone(), Arc::new(LdkLogger), None);
        assert_eq!(learned.known_max_liquidity(), Vec::new());
        assert!(learned.take_changed().is_none(), "nothing learned yet");

        learned.learn(&failed_at_x());
        let max = limit_towards_y(&learned).expect("a bound towards Y");
        // The bound is exclusive: the amount that failed, or less.
        assert!(
            max <= AMOUNT_MSAT,
            "X could not forward {AMOUNT_MSAT}: bound {max}"
        );
        assert!(max < CAPACITY_SAT * 1000);
        assert_eq!(learned.channel_count(), 1);

        let bytes = learned
            .take_changed()
            .expect("changed since the last write");
        assert!(learned.take_changed().is_none(), "written once");
        let reloaded = LearnedLiquidity::load(g.clone(), Arc::new(LdkLogger), Some(&bytes));
        assert_eq!(limit_towards_y(&reloaded), Some(max));
        assert_eq!(reloaded.channel_count(), 1);

        // Unreadable bytes are lost knowledge, not an error.
        let fresh = LearnedLiquidity::load(g, Arc::new(LdkLogger), Some(&[0xff; 7]));
        assert_eq!(fresh.channel_count(), 0);
    }
}
