//! The fee model against exhaustive search over all simple paths, on small random graphs with
//! random htlc limits, disabled directions, parallel channels, cltv / hop / fee limits and
//! exclusions. The oracle below walks the snapshot directly and shares no code with the search.

use std::sync::Arc;

use proptest::prelude::*;
use switchyard_graph::load::UpdateRecord;
use switchyard_graph::route::validate::validate_route;
use switchyard_graph::route::{CostModel, MppRequest, RouteRequest, RoutingIndex};
use switchyard_graph::testing::TestGraph;
use switchyard_graph::{NodeIdx, Snapshot};

#[derive(Debug, Clone)]
struct Dir {
    base: u32,
    ppm: u32,
    cltv: u16,
    htlc_min: u64,
    htlc_max: Option<u64>,
    disabled: bool,
}

#[derive(Debug, Clone)]
struct Chan {
    a: u32,
    b: u32,
    cap_sat: u64,
    dirs: [Option<Dir>; 2],
}

fn dir() -> impl Strategy<Value = Option<Dir>> {
    prop::option::weighted(
        0.85,
        (
            0u32..3_000,
            prop_oneof![Just(0u32), 0u32..5_000, 0u32..200_000],
            1u16..150,
            prop_oneof![3 => Just(0u64), 1 => 0u64..300_000],
            prop::option::weighted(0.3, 1_000u64..400_000),
            prop::bool::weighted(0.1),
        )
            .prop_map(|(base, ppm, cltv, htlc_min, htlc_max, disabled)| Dir {
                base,
                ppm,
                cltv,
                htlc_min,
                htlc_max,
                disabled,
            }),
    )
}

fn graph() -> impl Strategy<Value = (u32, Vec<Chan>)> {
    (3u32..8).prop_flat_map(|n| {
        let chan = (0..n, 0..n, 1u64..600, dir(), dir())
            .prop_filter("no self channels", |(a, b, ..)| a != b)
            .prop_map(|(a, b, cap_sat, d0, d1)| Chan {
                a,
                b,
                cap_sat,
                dirs: [d0, d1],
            });
        (Just(n), prop::collection::vec(chan, 0..16))
    })
}

fn build(n: u32, chans: &[Chan]) -> (TestGraph, Vec<switchyard_graph::Scid>) {
    let mut t = TestGraph::new(n);
    let mut scids = Vec::new();
    for c in chans {
        let scid = t.channel(c.a, c.b, c.cap_sat);
        scids.push(scid);
        for (from, d) in [(c.a, &c.dirs[0]), (c.b, &c.dirs[1])] {
            if let Some(d) = d {
                t.update(UpdateRecord {
                    scid,
                    direction: t.direction_from(scid, from),
                    timestamp: 10,
                    message_flags: 1,
                    channel_flags: 0,
                    disabled: d.disabled,
                    cltv_delta: d.cltv,
                    htlc_min_msat: d.htlc_min,
                    htlc_max_msat: d.htlc_max,
                    fee_base_msat: d.base,
                    fee_ppm: d.ppm,
                });
            }
        }
    }
    (t, scids)
}

/// Least total fee over every simple path that satisfies every rule, by brute force.
fn exhaustive(g: &Snapshot, req: &RouteRequest) -> Option<u64> {
    let src = g.node_idx(&req.source)?;
    let dst = g.node_idx(&req.destination)?;
    let excluded: Vec<NodeIdx> = req
        .exclude_nodes
        .iter()
        .filter_map(|i| g.node_idx(i))
        .collect();
    let mut best = None;
    let mut path: Vec<u32> = Vec::new();
    let mut on = vec![false; g.node_count()];
    on[src as usize] = true;
    dfs(g, req, src, dst, &excluded, &mut on, &mut path, &mut best);
    best
}

#[allow(clippy::too_many_arguments)]
fn dfs(
    g: &Snapshot,
    req: &RouteRequest,
    at: NodeIdx,
    dst: NodeIdx,
    excluded: &[NodeIdx],
    on: &mut Vec<bool>,
    path: &mut Vec<u32>,
    best: &mut Option<u64>,
) {
    if at == dst {
        if let Some(fee) = price(g, req, path) {
            if best.is_none_or(|b| fee < b) {
                *best = Some(fee);
            }
        }
        return;
    }
    if path.len() >= usize::from(req.max_hops.unwrap_or(20)) {
        return;
    }
    for &e in g.out_edges(at) {
        let to = g.edge_to(e);
        if on[to as usize] || excluded.contains(&to) {
            continue;
        }
        on[to as usize] = true;
        path.push(e);
        dfs(g, req, to, dst, excluded, on, path, best);
        path.pop();
        on[to as usize] = false;
    }
}

fn price(g: &Snapshot, req: &RouteRequest, path: &[u32]) -> Option<u64> {
    let mut amount = req.amount_msat;
    let mut cltv = u32::from(req.final_cltv_delta.unwrap_or(18));
    for (i, &e) in path.iter().enumerate().rev() {
        let ch = g.channel(Snapshot::edge_channel(e));
        let p = g.edge_policy(e)?;
        if p.disabled || req.exclude_channels.contains(&ch.scid) {
            return None;
        }
        if amount < p.htlc_min_msat || amount > p.htlc_max_msat || amount > ch.capacity_sat * 1000 {
            return None;
        }
        if i > 0 {
            amount += p.fee_msat(amount);
            cltv += u32::from(p.cltv_delta);
        }
    }
    let fee = amount - req.amount_msat;
    if cltv > req.max_cltv.unwrap_or(2016) || fee > req.max_fee_msat.unwrap_or(u64::MAX) {
        return None;
    }
    Some(fee)
}

#[derive(Debug, Clone)]
struct Ask {
    src: u32,
    dst: u32,
    amount: u64,
    max_hops: Option<u8>,
    max_cltv: Option<u32>,
    max_fee: Option<u64>,
    exclude_nodes: Vec<u32>,
    exclude_channels: Vec<usize>,
}

fn ask() -> impl Strategy<Value = Ask> {
    (
        0u32..8,
        0u32..8,
        prop_oneof![1u64..1_000, 1_000u64..400_000],
        prop::option::of(1u8..6),
        prop::option::of(18u32..400),
        prop::option::weighted(0.2, 0u64..20_000),
        prop::collection::vec(0u32..8, 0..2),
        prop::collection::vec(0usize..16, 0..2),
    )
        .prop_map(
            |(src, dst, amount, max_hops, max_cltv, max_fee, exclude_nodes, exclude_channels)| {
                Ask {
                    src,
                    dst,
                    amount,
                    max_hops,
                    max_cltv,
                    max_fee,
                    exclude_nodes,
                    exclude_channels,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    /// The fee matrix (one multi-source search per destination) agrees cell by cell with
    /// `find_route`, and its fees with the exhaustive search.
    #[test]
    fn fee_matrix_equals_find_route_and_exhaustive_search((n, chans) in graph(), amount in prop_oneof![1u64..1_000, 1_000u64..400_000]) {
        let (t, _) = build(n, &chans);
        let g = Arc::new(t.build());
        let idx = RoutingIndex::build(g.clone());
        let ids: Vec<_> = (0..n).map(TestGraph::node_id).collect();
        let m = idx.matrix(&ids, &ids, amount, CostModel::Fee);
        for (i, s) in ids.iter().enumerate() {
            for (j, d) in ids.iter().enumerate() {
                let req = RouteRequest::new(*s, *d, amount);
                let cell = &m.cells[i][j];
                match idx.find_route(&req) {
                    Ok(r) => {
                        prop_assert_eq!(cell.fee_msat, Some(r.total_fee_msat), "{} -> {}", i, j);
                        prop_assert_eq!(cell.fee_msat, exhaustive(&g, &req));
                    }
                    Err(e) => {
                        prop_assert_eq!(cell.error, Some(e.code()), "{} -> {}", i, j);
                        if i != j {
                            prop_assert_eq!(exhaustive(&g, &req), None);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn fee_model_equals_exhaustive_search((n, chans) in graph(), asks in prop::collection::vec(ask(), 1..8)) {
        let (t, scids) = build(n, &chans);
        let g = Arc::new(t.build());
        let idx = RoutingIndex::build(g.clone());
        for a in asks {
            let (src, dst) = (a.src % n, a.dst % n);
            if src == dst {
                continue;
            }
            let req = RouteRequest {
                max_hops: a.max_hops,
                max_cltv: a.max_cltv,
                max_fee_msat: a.max_fee,
                exclude_nodes: a.exclude_nodes.iter().map(|&x| x % n).filter(|&x| x != src && x != dst).map(TestGraph::node_id).collect(),
                exclude_channels: a.exclude_channels.iter().filter_map(|&i| scids.get(i).copied()).collect(),
                ..RouteRequest::new(TestGraph::node_id(src), TestGraph::node_id(dst), a.amount)
            };
            let oracle = exhaustive(&g, &req);
            // Also with every in-edge list scanned lazily in fee order, one or two edges at a
            // time (on real graphs only hubs' lists are).
            for lazy in [None, Some((0, 1)), Some((1, 2))] {
                switchyard_graph::route::set_lazy_scan_for_tests(lazy);
                let found = idx.find_route(&req);
                switchyard_graph::route::set_lazy_scan_for_tests(None);
                match found {
                    Ok(r) => {
                        prop_assert!(validate_route(&g, &req, &r).is_ok(), "{:?}", validate_route(&g, &req, &r));
                        prop_assert_eq!(Some(r.total_fee_msat), oracle, "req {:?}, lazy {:?}", req, lazy);
                    }
                    Err(e) => prop_assert_eq!(oracle, None, "we said {} for {:?}, lazy {:?}", e, req, lazy),
                }
            }
            for model in [CostModel::Probability, CostModel::Balanced] {
                let mreq = req.clone().with_model(model);
                match idx.find_route(&mreq) {
                    Ok(r) => {
                        prop_assert!(validate_route(&g, &mreq, &r).is_ok(), "{:?}", validate_route(&g, &mreq, &r));
                        prop_assert!(oracle.is_some_and(|best| r.total_fee_msat >= best));
                    }
                    Err(e) => prop_assert_eq!(oracle, None, "{:?} said {}", model, e),
                }
            }
            let mpp = MppRequest { request: req.clone(), force_split: true };
            if let Ok(m) = idx.find_mpp(&mpp) {
                prop_assert_eq!(m.parts.iter().map(|p| p.amount_msat).sum::<u64>(), req.amount_msat);
                let mut used = std::collections::HashMap::new();
                for p in &m.parts {
                    let preq = RouteRequest { amount_msat: p.amount_msat, ..req.clone() };
                    prop_assert!(validate_route(&g, &preq, p).is_ok(), "{:?}", validate_route(&g, &preq, p));
                    for h in &p.hops {
                        *used.entry(h.scid).or_insert(0u64) += h.amount_to_forward_msat;
                    }
                }
                for (scid, u) in used {
                    let c = g.channel(g.channel_idx(scid).unwrap());
                    prop_assert!(u <= c.capacity_sat * 1000);
                }
                prop_assert!(m.total_fee_msat <= req.max_fee_msat.unwrap_or(u64::MAX));
            }
        }
    }
}
