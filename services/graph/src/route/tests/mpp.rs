//! Multi-part payments: splits that respect every channel, and the headroom rule.

use super::*;

/// Three paths 0 -> mid -> 4, each able to deliver 400k msat (the last channel's size).
fn three_path_index() -> RoutingIndex {
    let mut t = TestGraph::new(5);
    for mid in 1..=3 {
        both(&mut t, 0, mid, 500, 0, 0, 10);
        both(&mut t, mid, 4, 400, 100, 1_000 * mid, 10);
    }
    index(&t)
}

/// Parts that sum to the amount, each a valid route, no channel carrying more than its
/// capacity over all parts, and totals that add up.
fn assert_valid_split(idx: &RoutingIndex, req: &RouteRequest, m: &MppRoute) {
    assert_eq!(
        m.parts.iter().map(|p| p.amount_msat).sum::<u64>(),
        req.amount_msat
    );
    let mut per_channel: std::collections::HashMap<Scid, u64> = Default::default();
    for p in &m.parts {
        let preq = RouteRequest {
            amount_msat: p.amount_msat,
            ..req.clone()
        };
        validate_route(idx.snapshot(), &preq, p).unwrap();
        for h in &p.hops {
            *per_channel.entry(h.scid).or_default() += h.amount_to_forward_msat;
        }
    }
    for (scid, used) in per_channel {
        let c = idx
            .snapshot()
            .channel(idx.snapshot().channel_idx(scid).unwrap());
        assert!(used <= c.capacity_sat * 1000, "{scid} carries {used}");
    }
    assert_eq!(
        m.total_fee_msat,
        m.parts.iter().map(|p| p.total_fee_msat).sum::<u64>()
    );
}

#[test]
fn mpp_uses_the_last_tenth_of_liquidity_only_when_the_payment_needs_it() {
    let idx = three_path_index();
    let mpp = |amount_msat| {
        idx.find_mpp(&MppRequest {
            request: RouteRequest::new(id(0), id(4), amount_msat),
            force_split: false,
        })
    };
    // 90% of the three last channels (1.08M msat) cannot carry 1.15M; all of them can.
    let req = RouteRequest::new(id(0), id(4), 1_150_000);
    let m = mpp(1_150_000).unwrap();
    assert_eq!(m.parts.len(), 3, "every path is needed");
    assert_valid_split(&idx, &req, &m);
    // Below 90%, the headroom is kept: no last channel is filled past 90% of 400k.
    let m = mpp(900_000).unwrap();
    for p in &m.parts {
        let last = p.hops.last().unwrap();
        assert!(last.amount_to_forward_msat <= 360_000, "{last:?}");
    }
    // Past what the destination's channels hold together: refused.
    assert_eq!(mpp(1_210_000).unwrap_err(), RouteError::Capacity);
}

#[test]
fn mpp_splits_what_no_single_path_carries() {
    let idx = three_path_index();
    let req = RouteRequest::new(id(0), id(4), 900_000);
    assert_eq!(idx.find_route(&req), Err(RouteError::Capacity));
    let m = idx
        .find_mpp(&MppRequest {
            request: req.clone(),
            force_split: false,
        })
        .unwrap();
    assert!(m.parts.len() >= 3, "{} parts", m.parts.len());
    assert_valid_split(&idx, &req, &m);
    let too_much = RouteRequest::new(id(0), id(4), 1_300_000);
    assert_eq!(
        idx.find_mpp(&MppRequest {
            request: too_much,
            force_split: false
        })
        .unwrap_err()
        .code(),
        "no_route_capacity"
    );
    let small = RouteRequest::new(id(0), id(4), 1_000);
    let one = idx
        .find_mpp(&MppRequest {
            request: small.clone(),
            force_split: false,
        })
        .unwrap();
    assert_eq!(one.parts.len(), 1);
    let forced = idx
        .find_mpp(&MppRequest {
            request: small,
            force_split: true,
        })
        .unwrap();
    assert_eq!(forced.amount_msat, 1_000);
}
