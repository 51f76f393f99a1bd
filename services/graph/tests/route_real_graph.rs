//! Landmark (ALT) bounds must be admissible: on the real 2026 graph the A* fee answer must
//! equal a plain backward Dijkstra's (written here, independently), and every route must pass
//! the validator. Also checks that the probability and balanced models return valid routes.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use switchyard_graph::route::validate::validate_route;
use switchyard_graph::route::{CostModel, RouteRequest, RoutingIndex};
use switchyard_graph::testing::load_bundled;
use switchyard_graph::{NodeIdx, Snapshot};

/// Least fee with no cltv/hop limits, htlc minimums as hard per-label rejections; `None` if
/// unreachable. Also says whether that is provably optimal (no minimum rejected anything and
/// the path meets the cltv and hop limits).
fn plain_dijkstra(g: &Snapshot, src: NodeIdx, dst: NodeIdx, amount: u64) -> Option<(u64, bool)> {
    let n = g.node_count();
    let mut dist = vec![u64::MAX; n];
    let mut next_edge = vec![u32::MAX; n];
    let mut heap = BinaryHeap::new();
    dist[dst as usize] = amount;
    heap.push(Reverse((amount, dst)));
    let mut min_binds = false;
    while let Some(Reverse((d, v))) = heap.pop() {
        if d > dist[v as usize] {
            continue;
        }
        if v == src {
            break;
        }
        for &e in g.in_edges(v) {
            let p = g.edge_policy(e)?;
            let u = g.edge_from(e);
            let cap = g.channel(Snapshot::edge_channel(e)).capacity_sat * 1000;
            if p.disabled || d > p.htlc_max_msat || d > cap || u == dst {
                continue;
            }
            if d < p.htlc_min_msat {
                min_binds = true;
                continue;
            }
            let nd = if u == src { d } else { d + p.fee_msat(d) };
            if nd < dist[u as usize] {
                dist[u as usize] = nd;
                next_edge[u as usize] = e;
                heap.push(Reverse((nd, u)));
            }
        }
    }
    if dist[src as usize] == u64::MAX {
        return None;
    }
    let (mut x, mut hops, mut cltv) = (src, 0u32, 18u32);
    while x != dst {
        let e = next_edge[x as usize];
        if hops > 0 {
            cltv += u32::from(g.edge_policy(e)?.cltv_delta);
        }
        hops += 1;
        x = g.edge_to(e);
    }
    Some((
        dist[src as usize] - amount,
        !min_binds && hops <= 20 && cltv <= 2016,
    ))
}

#[test]
fn astar_with_landmarks_equals_plain_dijkstra_on_the_2026_graph() {
    let g = Arc::new(load_bundled("2026-02-03"));
    let idx = RoutingIndex::build(g.clone());
    let n = g.node_count() as u32;
    let srcs: Vec<u32> = (0..n)
        .filter(|&u| g.out_edges(u).iter().any(|&e| g.edge_enabled(e)))
        .collect();
    let dsts: Vec<u32> = (0..n)
        .filter(|&u| g.in_edges(u).iter().any(|&e| g.edge_enabled(e)))
        .collect();
    let mut x = 0x2026_u64;
    let mut next = move || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let (mut compared, mut routed) = (0, 0);
    for i in 0..150 {
        let s = srcs[(next() % srcs.len() as u64) as usize];
        let d = dsts[(next() % dsts.len() as u64) as usize];
        if s == d {
            continue;
        }
        let amount = [5_000_000u64, 50_000_000, 500_000_000][i % 3];
        let req = RouteRequest::new(g.node(s).id, g.node(d).id, amount);
        let ours = idx.find_route(&req);
        match plain_dijkstra(&g, s, d, amount) {
            None => assert!(ours.is_err(), "we found a route plain Dijkstra did not"),
            Some((fee, exact)) => {
                let r = ours.as_ref().expect("plain Dijkstra found a route");
                // Plain Dijkstra's route is feasible, so ours (exact) is never dearer; when no
                // htlc minimum bound anywhere in its search, it is optimal too: equal.
                assert!(r.total_fee_msat <= fee, "query {i}");
                if exact {
                    compared += 1;
                    assert_eq!(r.total_fee_msat, fee, "query {i}");
                }
            }
        }
        if let Ok(r) = &ours {
            routed += 1;
            validate_route(&g, &req, r).unwrap();
            for model in [CostModel::Probability, CostModel::Balanced] {
                let mreq = req.clone().with_model(model);
                let m = idx
                    .find_route(&mreq)
                    .expect("a route exists, so every model finds one");
                validate_route(&g, &mreq, &m).unwrap();
                assert!(m.total_fee_msat >= r.total_fee_msat);
            }
        }
    }
    assert!(
        compared > 20 && routed > 20,
        "compared {compared}, routed {routed}"
    );
}

/// A payer's view of `g`, as the node's router builds it: the payer's own public channels
/// replaced by first hops (free, limited to `limit` each) to `peers`, and a private payee
/// `z` reached by a route hint from `entry`.
fn payer_view(
    g: &Snapshot,
    payer: NodeIdx,
    peers: &[NodeIdx],
    limit_msat: u64,
    entry: NodeIdx,
    z: switchyard_graph::NodeId,
) -> Snapshot {
    use switchyard_graph::load::{ChannelRecord, UpdateRecord};
    use switchyard_graph::Scid;
    // The payer's public channels go (no policy: unusable); every other direction stays.
    let mut b =
        switchyard_graph::testing::rebuilt(g, |e, u| (g.edge_from(e) != payer).then_some(u));
    let mut private = |i: u64,
                       from: switchyard_graph::NodeId,
                       to: switchyard_graph::NodeId,
                       fee: (u32, u32),
                       max: u64| {
        let scid = Scid(u64::MAX - i);
        let (node_1, node_2, direction) = if from < to {
            (from, to, 0)
        } else {
            (to, from, 1)
        };
        b.add_channel(ChannelRecord {
            scid,
            node_1,
            node_2,
            capacity_sat: max / 1000,
            funding_outpoint: None,
        });
        b.add_update(UpdateRecord {
            scid,
            direction,
            timestamp: 0,
            message_flags: 1,
            channel_flags: direction,
            disabled: false,
            cltv_delta: 40,
            htlc_min_msat: 1_000,
            htlc_max_msat: Some(max),
            fee_base_msat: fee.0,
            fee_ppm: fee.1,
        });
    };
    for (i, &p) in peers.iter().enumerate() {
        private(i as u64, g.node(payer).id, g.node(p).id, (0, 0), limit_msat);
    }
    private(99, g.node(entry).id, z, (1_000, 500), 2_000_000_000);
    b.build()
}

/// The router builds a private index per payment with the cached index's landmark tables
/// (`build_with_landmarks_of`) instead of computing new ones: its answers must be the ones a
/// full build gives, for payers with first hops and a hinted private payee.
#[test]
fn borrowed_landmarks_answer_as_a_full_build_does_for_a_payers_view() {
    let g = Arc::new(load_bundled("2019-05-14"));
    let base = RoutingIndex::build(g.clone());
    let n = g.node_count() as u32;
    let connected: Vec<u32> = (0..n)
        .filter(|&u| g.out_edges(u).iter().any(|&e| g.edge_enabled(e)))
        .collect();
    let mut x = 0x1a2b_u64;
    let mut next = move || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let mut pick = |v: &[u32]| v[(next() % v.len() as u64) as usize];
    let z = switchyard_graph::NodeId::from_bytes_unchecked([3; 33]);
    let (mut same, mut routed) = (0, 0);
    for round in 0..12 {
        let payer = pick(&connected);
        let peers: Vec<u32> = (0..1 + round % 3).map(|_| pick(&connected)).collect();
        let entry = pick(&connected);
        let view = Arc::new(payer_view(&g, payer, &peers, 300_000_000, entry, z));
        let full = RoutingIndex::build(view.clone());
        let borrowed = RoutingIndex::build_with_landmarks_of(view.clone(), &base);
        for q in 0..24 {
            let dst = if q % 4 == 0 {
                z
            } else {
                g.node(pick(&connected)).id
            };
            let amount = [1_000_000u64, 10_000_000, 100_000_000, 1_000_000_000][q % 4];
            let req = RouteRequest::new(g.node(payer).id, dst, amount);
            let (a, b) = (full.find_route(&req), borrowed.find_route(&req));
            match (&a, &b) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(
                        a.total_fee_msat, b.total_fee_msat,
                        "round {round} query {q}"
                    );
                    validate_route(&view, &req, b).unwrap();
                    routed += 1;
                }
                (Err(a), Err(b)) => assert_eq!(
                    std::mem::discriminant(a),
                    std::mem::discriminant(b),
                    "round {round} query {q}: {a} / {b}"
                ),
                _ => panic!("round {round} query {q}: full {a:?}, borrowed {b:?}"),
            }
            same += 1;
        }
    }
    assert!(routed > 50, "{routed} of {same} queries routed");
}

/// A node whose channels are all private has an empty public graph: its cached index has no
/// landmark tables to lend, and a payment's index is then built whole (not left without
/// tables, which the search needs).
#[test]
fn an_empty_base_lends_no_landmarks_and_the_index_is_built_whole() {
    let g = Arc::new(load_bundled("2019-05-14"));
    let empty = RoutingIndex::build(Arc::new(switchyard_graph::GraphBuilder::default().build()));
    let borrowed = RoutingIndex::build_with_landmarks_of(g.clone(), &empty);
    let full = RoutingIndex::build(g.clone());
    let n = g.node_count() as u32;
    let connected: Vec<u32> = (0..n)
        .filter(|&u| g.out_edges(u).iter().any(|&e| g.edge_enabled(e)))
        .collect();
    let mut routed = 0;
    for (i, pair) in connected.windows(2).step_by(97).take(30).enumerate() {
        let req = RouteRequest::new(g.node(pair[0]).id, g.node(pair[1]).id, 10_000_000);
        let (a, b) = (full.find_route(&req), borrowed.find_route(&req));
        assert_eq!(
            a.as_ref().map(|r| r.total_fee_msat).ok(),
            b.as_ref().map(|r| r.total_fee_msat).ok(),
            "query {i}"
        );
        routed += usize::from(b.is_ok());
    }
    assert!(routed > 10, "{routed}");
}
