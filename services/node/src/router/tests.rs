//! The router against LDK's own `find_route` conventions, on small hand-built graphs.

use super::*;
use lightning::bitcoin::constants::ChainHash;
use lightning::bitcoin::secp256k1::SecretKey;
use lightning::bitcoin::Network;
use lightning::ln::channel_state::ChannelCounterparty;
use lightning::ln::msgs::UnsignedChannelUpdate;
use lightning::ln::types::ChannelId;
use lightning::routing::router::{find_route, PaymentParameters, RouteHintHop};
use lightning::routing::scoring::FixedPenaltyScorer;
use lightning::types::features::{Bolt11InvoiceFeatures, ChannelFeatures, InitFeatures};
use lightning::types::routing::RoutingFees;

struct NoLog;
impl Logger for NoLog {
    fn log(&self, _record: lightning::util::logger::Record) {}
}
static NO_LOG: NoLog = NoLog;
type TestGraph = NetworkGraph<&'static NoLog>;

// Nodes: P pays, A and B are its private peers, C is public, Z (the payee) is private.
const P: u8 = 1;
const A: u8 = 2;
const B: u8 = 3;
const C: u8 = 4;
const Z: u8 = 5;
const SCID_PC: u64 = 700_000 << 40;
const SCID_AC: u64 = (700_001 << 40) | (1 << 16);
const SCID_BC: u64 = (700_002 << 40) | (2 << 16);
const ALIAS_A: u64 = 0x000A_11A5_0001;
const ALIAS_B: u64 = 0x000A_11A5_0002;
const HINT_CZ: u64 = (777 << 40) | (1 << 16);

fn pk(i: u8) -> PublicKey {
    let sk = SecretKey::from_slice(&[i; 32]).expect("valid secret key");
    PublicKey::from_secret_key(&Secp256k1::new(), &sk)
}

/// `(base_msat, ppm, cltv)` in both directions.
fn channel(g: &TestGraph, scid: u64, a: u8, b: u8, cap_sat: u64, fee: (u32, u32, u16)) {
    let (x, y) = (
        LdkNodeId::from_pubkey(&pk(a)),
        LdkNodeId::from_pubkey(&pk(b)),
    );
    let (n1, n2) = if x < y { (x, y) } else { (y, x) };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    g.add_channel_from_partial_announcement(
        scid,
        Some(cap_sat),
        now - 60,
        ChannelFeatures::empty(),
        n1,
        n2,
    )
    .expect("channel added");
    for dir in 0..2u8 {
        g.update_channel_unsigned(&UnsignedChannelUpdate {
            chain_hash: ChainHash::using_genesis_block(Network::Bitcoin),
            short_channel_id: scid,
            timestamp: (now - 60) as u32,
            message_flags: 1,
            channel_flags: dir,
            cltv_expiry_delta: fee.2,
            htlc_minimum_msat: 1,
            htlc_maximum_msat: cap_sat * 1000,
            fee_base_msat: fee.0,
            fee_proportional_millionths: fee.1,
            excess_data: Vec::new(),
        })
        .expect("update applied");
    }
}

fn graph() -> Arc<TestGraph> {
    let g = NetworkGraph::new(Network::Bitcoin, &NO_LOG);
    channel(&g, SCID_PC, P, C, 10_000_000, (0, 0, 10));
    channel(&g, SCID_AC, A, C, 1_000_000, (1_000, 100, 40));
    channel(&g, SCID_BC, B, C, 1_000_000, (2_000, 200, 50));
    Arc::new(g)
}

fn first_hop(peer: u8, alias: u64, limit_msat: u64) -> ChannelDetails {
    ChannelDetails {
        channel_id: ChannelId([peer; 32]),
        counterparty: ChannelCounterparty {
            node_id: pk(peer),
            features: InitFeatures::empty(),
            unspendable_punishment_reserve: 0,
            forwarding_info: None,
            outbound_htlc_minimum_msat: None,
            outbound_htlc_maximum_msat: None,
        },
        funding_txo: None,
        channel_type: None,
        short_channel_id: None,
        outbound_scid_alias: Some(alias),
        inbound_scid_alias: None,
        channel_value_satoshis: limit_msat / 500,
        unspendable_punishment_reserve: None,
        user_channel_id: 0,
        outbound_capacity_msat: limit_msat,
        next_outbound_htlc_limit_msat: limit_msat,
        next_outbound_htlc_minimum_msat: 1_000,
        inbound_capacity_msat: 0,
        confirmations_required: None,
        confirmations: None,
        force_close_spend_delay: None,
        is_outbound: true,
        is_channel_ready: true,
        channel_shutdown_state: None,
        is_usable: true,
        is_announced: false,
        inbound_htlc_minimum_msat: None,
        inbound_htlc_maximum_msat: None,
        config: None,
        pending_inbound_htlcs: Vec::new(),
        pending_outbound_htlcs: Vec::new(),
        funding_redeem_script: None,
        feerate_sat_per_1000_weight: None,
    }
}

fn hops() -> Vec<ChannelDetails> {
    vec![
        first_hop(A, ALIAS_A, 100_000_000),
        first_hop(B, ALIAS_B, 100_000_000),
    ]
}

/// Paying Z (private) through the hint C -> Z, with MPP allowed by the invoice.
fn params(amount_msat: u64, mpp: bool) -> RouteParameters {
    let hint = RouteHint(vec![RouteHintHop {
        src_node_id: pk(C),
        short_channel_id: HINT_CZ,
        fees: RoutingFees {
            base_msat: 500,
            proportional_millionths: 1_000,
        },
        cltv_expiry_delta: 60,
        htlc_minimum_msat: None,
        htlc_maximum_msat: None,
    }]);
    let mut features = Bolt11InvoiceFeatures::empty();
    features.set_variable_length_onion_optional();
    features.set_payment_secret_required();
    if mpp {
        features.set_basic_mpp_optional();
    }
    let pp = PaymentParameters::from_node_id(pk(Z), 24)
        .with_route_hints(vec![hint])
        .and_then(|p| p.with_bolt11_features(features))
        .expect("valid payment parameters");
    RouteParameters::from_payment_params_and_value(pp, amount_msat)
}

fn router(g: &Arc<TestGraph>, model: CostModel) -> SwitchyardRouter<&'static NoLog> {
    SwitchyardRouter::new(
        g.clone(),
        RouterConfig {
            cost_model: model,
            min_rebuild_interval: Duration::ZERO,
        },
    )
}

/// `(scid, node number, fee_msat, cltv_expiry_delta, maybe_announced)` per hop.
type Hop = (u64, u8, u64, u32, bool);

fn summary(r: &Route) -> Vec<Vec<Hop>> {
    let who = |p: &PublicKey| (1..=5).find(|&i| pk(i) == *p).unwrap_or(0);
    r.paths
        .iter()
        .map(|p| {
            p.hops
                .iter()
                .map(|h| {
                    (
                        h.short_channel_id,
                        who(&h.pubkey),
                        h.fee_msat,
                        h.cltv_expiry_delta,
                        h.maybe_announced_channel,
                    )
                })
                .collect()
        })
        .collect()
}

#[test]
fn first_hops_replace_public_channels_and_hints_reach_a_private_payee() {
    let g = graph();
    let details = hops();
    let first: Vec<&ChannelDetails> = details.iter().collect();
    let rp = params(50_000_000, true);
    for model in [CostModel::Fee, CostModel::Balanced] {
        let r = router(&g, model)
            .find_route(&pk(P), &rp, Some(&first), InFlightHtlcs::new())
            .expect("route");
        // C charges 500 + 0.1% of 50,000,000 = 50,500 for the hint; A charges
        // 1,000 + 100 ppm of 50,050,500 = 6,005 for A -> C. B would charge 12,010.
        assert_eq!(
            summary(&r),
            vec![vec![
                (ALIAS_A, A, 6_005, 40, false),
                (SCID_AC, C, 50_500, 60, true),
                (HINT_CZ, Z, 50_000_000, 24, false),
            ]],
            "{model:?}"
        );
        assert_eq!(r.get_total_fees(), 56_505);
        assert_eq!(r.route_params.as_ref(), Some(&rp));
        assert!(r.paths[0].hops[2].node_features.supports_basic_mpp());
    }
    // LDK's own router agrees on the fee.
    let scorer = FixedPenaltyScorer::with_penalty(0);
    let ldk = find_route(
        &pk(P),
        &rp,
        &g,
        Some(&first),
        &NO_LOG,
        &scorer,
        &(),
        &[7; 32],
    )
    .expect("LDK route");
    assert_eq!(ldk.get_total_fees(), 56_505);

    // Without first hops the payer's public channel P -> C is free to use.
    let r = router(&g, CostModel::Fee)
        .find_route(&pk(P), &rp, None, InFlightHtlcs::new())
        .expect("route");
    assert_eq!(
        summary(&r),
        vec![vec![
            (SCID_PC, C, 50_500, 60, true),
            (HINT_CZ, Z, 50_000_000, 24, false)
        ]]
    );
}

#[test]
fn mpp_splits_over_both_first_hops_and_parts_sum_to_the_amount() {
    let g = graph();
    let details = hops();
    let first: Vec<&ChannelDetails> = details.iter().collect();
    let amount = 150_000_000;
    let r = router(&g, CostModel::Balanced)
        .find_route(
            &pk(P),
            &params(amount, true),
            Some(&first),
            InFlightHtlcs::new(),
        )
        .expect("MPP route");
    assert!(r.paths.len() >= 2, "{} paths", r.paths.len());
    assert_eq!(
        r.paths.iter().map(|p| p.final_value_msat()).sum::<u64>(),
        amount
    );
    let mut per_first_hop: HashMap<u64, u64> = HashMap::new();
    for p in &r.paths {
        let h = &p.hops;
        assert_eq!(h.len(), 3);
        assert!([ALIAS_A, ALIAS_B].contains(&h[0].short_channel_id));
        assert_eq!(h[2].short_channel_id, HINT_CZ);
        assert_eq!(h[2].pubkey, pk(Z));
        // What the first hop carries: the part plus every fee after it.
        *per_first_hop.entry(h[0].short_channel_id).or_default() +=
            p.fee_msat() + p.final_value_msat();
        // The hint's fee on this part's amount, charged by C.
        assert_eq!(h[1].fee_msat, 500 + p.final_value_msat() / 1_000);
    }
    assert_eq!(per_first_hop.len(), 2, "both first hops are needed");
    assert!(per_first_hop.values().all(|&v| v <= 100_000_000));

    // Without MPP support in the invoice, or with one path allowed, there is no route.
    let err = router(&g, CostModel::Balanced)
        .find_route(
            &pk(P),
            &params(amount, false),
            Some(&first),
            InFlightHtlcs::new(),
        )
        .unwrap_err();
    assert!(err.contains("sufficient"), "{err}");
    let mut one = params(amount, true);
    one.payment_params.max_path_count = 1;
    assert!(router(&g, CostModel::Fee)
        .find_route(&pk(P), &one, Some(&first), InFlightHtlcs::new())
        .is_err());
}

#[test]
fn failed_channels_inflight_htlcs_and_limits_are_honoured() {
    let g = graph();
    let details = hops();
    let first: Vec<&ChannelDetails> = details.iter().collect();
    let r = router(&g, CostModel::Fee);
    let via = |route: &Route| route.paths[0].hops[0].short_channel_id;

    let mut failed = params(50_000_000, true);
    failed.payment_params.previously_failed_channels = vec![SCID_AC];
    let route = r
        .find_route(&pk(P), &failed, Some(&first), InFlightHtlcs::new())
        .expect("route via B");
    assert_eq!(via(&route), ALIAS_B);

    // 990,000 sat in flight over A -> C leaves it 10,000 sat: too little for 50,000 sat.
    let mut inflight = InFlightHtlcs::new();
    inflight.add_inflight_htlc(
        &LdkNodeId::from_pubkey(&pk(A)),
        &LdkNodeId::from_pubkey(&pk(C)),
        SCID_AC,
        990_000_000,
    );
    let route = r
        .find_route(&pk(P), &params(50_000_000, true), Some(&first), inflight)
        .expect("route via B");
    assert_eq!(via(&route), ALIAS_B);

    let mut tight = params(50_000_000, true);
    tight.max_total_routing_fee_msat = Some(56_504);
    assert!(r
        .find_route(&pk(P), &tight, Some(&first), InFlightHtlcs::new())
        .is_err());
    tight.max_total_routing_fee_msat = Some(56_505);
    assert!(r
        .find_route(&pk(P), &tight, Some(&first), InFlightHtlcs::new())
        .is_ok());

    // Total cltv 40 + 60 + 24 = 124.
    let mut cltv = params(50_000_000, true);
    cltv.payment_params.max_total_cltv_expiry_delta = 123;
    assert!(r
        .find_route(&pk(P), &cltv, Some(&first), InFlightHtlcs::new())
        .is_err());
    cltv.payment_params.max_total_cltv_expiry_delta = 124;
    assert!(r
        .find_route(&pk(P), &cltv, Some(&first), InFlightHtlcs::new())
        .is_ok());

    let mut short = params(50_000_000, true);
    short.payment_params.max_path_length = 2;
    assert!(r
        .find_route(&pk(P), &short, Some(&first), InFlightHtlcs::new())
        .is_err());

    assert!(r
        .find_route(
            &pk(P),
            &params(50_000_000, true),
            Some(&[]),
            InFlightHtlcs::new()
        )
        .is_err());
    assert!(r
        .find_route(
            &pk(Z),
            &params(50_000_000, true),
            None,
            InFlightHtlcs::new()
        )
        .is_err());
}

#[test]
fn blinded_payees_are_refused_and_no_blinded_paths_are_offered() {
    let g = graph();
    let r = router(&g, CostModel::Balanced);
    let pp = PaymentParameters::blinded(Vec::new());
    let rp = RouteParameters::from_payment_params_and_value(pp, 1_000);
    let err = r
        .find_route(&pk(P), &rp, None, InFlightHtlcs::new())
        .unwrap_err();
    assert!(err.contains("blinded"), "{err}");
}

struct Learned(Vec<LearnedLimit>);

impl LiquidityLimits for Learned {
    fn known_max_liquidity(&self) -> Vec<LearnedLimit> {
        self.0.clone()
    }
}

fn limit(scid: u64, towards: u8, max_msat: u64) -> LearnedLimit {
    LearnedLimit {
        scid,
        towards: LdkNodeId::from_pubkey(&pk(towards)),
        max_msat,
    }
}

#[test]
fn learned_limits_steer_routes_and_are_dropped_when_nothing_else_is_left() {
    let g = graph();
    let details = hops();
    let first: Vec<&ChannelDetails> = details.iter().collect();
    let rp = params(50_000_000, false);
    let via = |limits: Vec<LearnedLimit>| {
        let r = router(&g, CostModel::Fee)
            .with_liquidity_limits(Arc::new(Learned(limits)))
            .find_route(&pk(P), &rp, Some(&first), InFlightHtlcs::new())
            .expect("route");
        summary(&r)[0][1].0
    };
    // A -> C is the cheaper way (see above) until we learn it cannot carry the amount.
    assert_eq!(via(Vec::new()), SCID_AC);
    assert_eq!(via(vec![limit(SCID_AC, C, 1_000_000)]), SCID_BC);
    // A limit in the other direction (C -> A) or above the amount changes nothing.
    assert_eq!(via(vec![limit(SCID_AC, A, 1_000_000)]), SCID_AC);
    assert_eq!(via(vec![limit(SCID_AC, C, 900_000_000)]), SCID_AC);
    // Both ways limited: the estimates are dropped rather than the payment refused.
    assert_eq!(
        via(vec![
            limit(SCID_AC, C, 1_000_000),
            limit(SCID_BC, C, 1_000_000)
        ]),
        SCID_AC
    );
}

#[test]
fn the_cached_graph_follows_changes_to_ldks_graph() {
    let g = graph();
    let r = router(&g, CostModel::Fee);
    let rp = params(50_000_000, true);
    assert!(r
        .find_route(&pk(P), &rp, None, InFlightHtlcs::new())
        .is_ok());
    let before = r.base_graph().fingerprint;
    g.channel_failed_permanent(SCID_PC);
    assert_ne!(r.base_graph().fingerprint, before);
    // P's only channel is gone: no route without first hops.
    assert!(r
        .find_route(&pk(P), &rp, None, InFlightHtlcs::new())
        .is_err());
}
