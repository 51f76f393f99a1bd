//! Shared by `tests/route_vs_ldk.rs` and `benches/routing.rs` (via `#[path]`): builds LDK's
//! `NetworkGraph` from a [`Snapshot`] and runs LDK's `find_route` on the same queries.
//!
//! Comparability (see the README of the shared snapshots, `shared/data/README.md`): timestamps
//! are shifted to now - 1h (LDK with `std` rejects stale updates), htlc_maximum is clamped to
//! the capacity, LDK may use a channel's full capacity (`max_channel_saturation_power_of_half =
//! 0`), fees are unlimited and the cltv limit and final delta are ours.
#![allow(dead_code)]

use lightning::bitcoin::constants::ChainHash;
use lightning::bitcoin::network::Network;
use lightning::bitcoin::secp256k1::PublicKey;
use lightning::ln::msgs::UnsignedChannelUpdate;
use lightning::routing::gossip::{NetworkGraph, NodeId as LdkNodeId};
use lightning::routing::router::{find_route, PaymentParameters, RouteParameters};
use lightning::routing::scoring::{
    FixedPenaltyScorer, ProbabilisticScorer, ProbabilisticScoringDecayParameters,
    ProbabilisticScoringFeeParameters,
};
use lightning::types::features::ChannelFeatures;
use lightning::util::logger::{Logger, Record};
use switchyard_graph::{NodeId, Snapshot};

pub struct NoLog;
impl Logger for NoLog {
    fn log(&self, _record: Record) {}
}

pub type Graph = NetworkGraph<&'static NoLog>;
pub static NO_LOG: NoLog = NoLog;

/// LDK's graph of the same channels and policies.
pub fn build_graph(g: &Snapshot) -> Graph {
    let graph = NetworkGraph::new(Network::Bitcoin, &NO_LOG);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let ts = now.saturating_sub(3600);
    for ch in g.channels() {
        let n1 = LdkNodeId::from_slice(g.node(ch.nodes[0]).id.as_bytes()).expect("valid key");
        let n2 = LdkNodeId::from_slice(g.node(ch.nodes[1]).id.as_bytes()).expect("valid key");
        if graph
            .add_channel_from_partial_announcement(
                ch.scid.0,
                Some(ch.capacity_sat),
                ts,
                ChannelFeatures::empty(),
                n1,
                n2,
            )
            .is_err()
        {
            continue;
        }
        for (dir, p) in ch.policies.iter().enumerate() {
            let Some(p) = p else { continue };
            let update = UnsignedChannelUpdate {
                chain_hash: ChainHash::using_genesis_block(Network::Bitcoin),
                short_channel_id: ch.scid.0,
                timestamp: ts as u32,
                message_flags: 1,
                channel_flags: dir as u8 | if p.disabled { 2 } else { 0 },
                cltv_expiry_delta: p.cltv_delta,
                htlc_minimum_msat: p.htlc_min_msat,
                htlc_maximum_msat: p.htlc_max_msat.min(ch.capacity_sat * 1000),
                fee_base_msat: p.fee_base_msat,
                fee_proportional_millionths: p.fee_ppm,
                excess_data: Vec::new(),
            };
            let _ = graph.update_channel_unsigned(&update);
        }
    }
    graph
}

pub fn params(dst: &NodeId, amount_msat: u64, max_cltv: u32, final_cltv: u32) -> RouteParameters {
    let pk = PublicKey::from_slice(dst.as_bytes()).expect("valid key");
    let pp = PaymentParameters::from_node_id(pk, final_cltv)
        .with_max_total_cltv_expiry_delta(max_cltv)
        .with_max_channel_saturation_power_of_half(0);
    let mut rp = RouteParameters::from_payment_params_and_value(pp, amount_msat);
    rp.max_total_routing_fee_msat = None;
    rp
}

/// LDK's route fee (payer's first hop excluded, as `Route::get_total_fees`), or `None`.
pub fn zero_penalty(graph: &Graph, src: &NodeId, dst: &NodeId, amount_msat: u64) -> Option<u64> {
    let me = PublicKey::from_slice(src.as_bytes()).expect("valid key");
    let rp = params(dst, amount_msat, 2016, 18);
    let scorer = FixedPenaltyScorer::with_penalty(0);
    find_route(&me, &rp, graph, None, &NO_LOG, &scorer, &(), &[7u8; 32])
        .ok()
        .map(|r| r.get_total_fees())
}

pub type Scorer<'a> = ProbabilisticScorer<&'a Graph, &'static NoLog>;

pub fn scorer(graph: &Graph) -> Scorer<'_> {
    ProbabilisticScorer::new(
        ProbabilisticScoringDecayParameters::default(),
        graph,
        &NO_LOG,
    )
}

/// LDK's default probabilistic scorer; returns the fee like [`zero_penalty`].
pub fn probabilistic(
    graph: &Graph,
    scorer: &Scorer<'_>,
    src: &NodeId,
    dst: &NodeId,
    amount_msat: u64,
) -> Option<u64> {
    let me = PublicKey::from_slice(src.as_bytes()).expect("valid key");
    let rp = params(dst, amount_msat, 2016, 18);
    let fp = ProbabilisticScoringFeeParameters::default();
    find_route(&me, &rp, graph, None, &NO_LOG, scorer, &fp, &[7u8; 32])
        .ok()
        .map(|r| r.get_total_fees())
}

/// The fixed, seeded query set: sources with an enabled outgoing edge, destinations with an
/// enabled incoming edge, amounts cycling 1k, 10k, 100k, 1M sat.
pub fn queries(g: &Snapshot, count: usize, seed: u64) -> Vec<(NodeId, NodeId, u64)> {
    let n = g.node_count() as u32;
    let has_out = |u: u32| g.out_edges(u).iter().any(|&e| g.edge_enabled(e));
    let has_in = |u: u32| g.in_edges(u).iter().any(|&e| g.edge_enabled(e));
    let srcs: Vec<u32> = (0..n).filter(|&u| has_out(u)).collect();
    let dsts: Vec<u32> = (0..n).filter(|&u| has_in(u)).collect();
    let mut x = seed | 1;
    let mut next = move || {
        // xorshift64*: deterministic and dependency-free.
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let amounts = [1_000_000u64, 10_000_000, 100_000_000, 1_000_000_000];
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let s = srcs[(next() % srcs.len() as u64) as usize];
        let d = dsts[(next() % dsts.len() as u64) as usize];
        if s == d {
            continue;
        }
        let amount = amounts[out.len() % amounts.len()];
        out.push((g.node(s).id, g.node(d).id, amount));
    }
    out
}
