//! The routing engine's unit tests, by concern; shared helpers here.

mod basics;
mod exactness;
mod limits;
mod mpp;

use super::validate::validate_route;
use super::*;
use crate::load::UpdateRecord;
use crate::testing::TestGraph;
use crate::types::{NodeId, Scid};

/// A seeded xorshift generator: the tests' random queries, the same on every run.
fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

fn id(i: u32) -> NodeId {
    TestGraph::node_id(i)
}

fn index(t: &TestGraph) -> RoutingIndex {
    RoutingIndex::build(Arc::new(t.build()))
}

fn route_ok(idx: &RoutingIndex, req: &RouteRequest) -> Route {
    let r = idx
        .find_route(req)
        .unwrap_or_else(|e| panic!("no route: {e}"));
    validate_route(idx.snapshot(), req, &r).unwrap_or_else(|e| panic!("invalid route: {e}"));
    r
}

fn path_of(r: &Route) -> Vec<NodeId> {
    let mut v = vec![r.hops[0].from];
    v.extend(r.hops.iter().map(|h| h.to));
    v
}

/// Both directions with the same policy.
fn both(t: &mut TestGraph, a: u32, b: u32, cap: u64, base: u32, ppm: u32, cltv: u16) -> Scid {
    let s = t.channel(a, b, cap);
    t.policy(s, a, base, ppm, cltv);
    t.policy(s, b, base, ppm, cltv);
    s
}

fn set(t: &mut TestGraph, scid: Scid, from: u32, f: impl FnOnce(&mut UpdateRecord)) {
    let mut u = UpdateRecord {
        scid,
        direction: t.direction_from(scid, from),
        timestamp: 20,
        message_flags: 1,
        channel_flags: 0,
        disabled: false,
        cltv_delta: 40,
        htlc_min_msat: 0,
        htlc_max_msat: None,
        fee_base_msat: 0,
        fee_ppm: 0,
    };
    f(&mut u);
    t.update(u);
}
