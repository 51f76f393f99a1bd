//! The demand model: which payments the network makes, seeded and deterministic.
//!
//! A [`DemandSpec`] either lists payments explicitly or describes a random demand:
//! `payments` draws of `(source, destination, amount)` over the snapshot's nodes that have at
//! least one enabled channel direction (into or out of them), with `source != destination`.
//!
//! * **Endpoints.** Each endpoint is drawn independently: first a scheme, with probability
//!   proportional to its weight in [`EndpointWeights`], then a node with probability
//!   proportional to the scheme's weight of the node: 1 (`uniform`), the summed capacity of its
//!   channels that have an enabled direction (`capacity`), or the number of such channels
//!   (`degree`). A destination equal to the source is drawn again (at most 64 times; a
//!   graph with a single eligible node gives no payments).
//! * **Amounts.** [`AmountDistribution`]: log-uniform between `min_sat` and `max_sat` by
//!   default (1,000 to 1,000,000 sat), or uniform, or fixed.
//! * **Limits.** Each payment carries the fee ceiling a wallet would (LDK's default: 1% of the
//!   amount + 50 sat), the router's default hop and cltv limits and final cltv delta.
//!
//! **PRNG.** SplitMix64 (Steele, Lea and Flood, 2014; the seeder of the xoshiro family),
//! implemented here: 64-bit state, one add and a multiply-xorshift finaliser per draw, no
//! platform-dependent arithmetic. Draws are made in payment order on one thread, and amounts
//! use only integer arithmetic and IEEE-754 basic operations (a log-uniform draw computes
//! `exp`/`ln` with fixed series of additions and multiplications, not the platform's libm),
//! so a seed gives the same payments on every machine and with any number of threads.

use serde::{Deserialize, Serialize};
use switchyard_graph::route::{DEFAULT_FINAL_CLTV_DELTA, DEFAULT_MAX_CLTV, MAX_HOPS};
use switchyard_graph::{NodeId, NodeIdx, Snapshot};

use crate::FeesError;

/// Most payments one demand may hold (the API answers 413 beyond it).
pub const MAX_PAYMENTS: usize = 100_000;

/// One payment of a demand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// The paying node.
    pub source: NodeId,
    /// The receiving node.
    pub destination: NodeId,
    /// Amount delivered to the destination.
    pub amount_msat: u64,
    /// Most the payer pays in fees; a route costing more does not exist for it.
    pub max_fee_msat: u64,
    /// Most hops a route may have.
    pub max_hops: u8,
    /// Most total cltv (blocks, final delta included) a route may need.
    pub max_cltv: u32,
    /// The destination's final cltv delta (blocks).
    pub final_cltv_delta: u16,
}

impl Payment {
    /// A payment with a wallet's default limits: fee ceiling [`default_max_fee_msat`], 20 hops,
    /// cltv limit 2016, final delta 18.
    pub fn new(source: NodeId, destination: NodeId, amount_msat: u64) -> Payment {
        Payment {
            source,
            destination,
            amount_msat,
            max_fee_msat: default_max_fee_msat(amount_msat),
            max_hops: MAX_HOPS,
            max_cltv: DEFAULT_MAX_CLTV,
            final_cltv_delta: DEFAULT_FINAL_CLTV_DELTA,
        }
    }
}

/// LDK's default fee ceiling: 1% of the amount plus 50 sat.
pub fn default_max_fee_msat(amount_msat: u64) -> u64 {
    amount_msat / 100 + 50_000
}

/// Weights of the endpoint schemes (see the module documentation); all zero means uniform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EndpointWeights {
    /// Weight of the `uniform` scheme: every eligible node equally likely.
    pub uniform: u32,
    /// Weight of the `capacity` scheme: a node in proportion to the summed capacity of its
    /// channels that have an enabled direction.
    pub capacity: u32,
    /// Weight of the `degree` scheme: a node in proportion to the number of its channels
    /// that have an enabled direction.
    pub degree: u32,
}

impl Default for EndpointWeights {
    fn default() -> Self {
        EndpointWeights {
            uniform: 1,
            capacity: 1,
            degree: 1,
        }
    }
}

/// How amounts are drawn, in sat (each payment's amount is in msat: the draw times 1,000).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AmountDistribution {
    /// `exp(uniform(ln min, ln max))`, rounded down to whole sat.
    LogUniform {
        /// Smallest amount (sat, > 0).
        min_sat: u64,
        /// Largest amount (sat, at least `min_sat`).
        max_sat: u64,
    },
    /// Every whole sat in `min..=max` equally likely.
    Uniform {
        /// Smallest amount (sat, > 0).
        min_sat: u64,
        /// Largest amount (sat, at least `min_sat`).
        max_sat: u64,
    },
    /// Every payment is `sat` sat.
    Fixed {
        /// The amount (sat, > 0).
        sat: u64,
    },
}

impl Default for AmountDistribution {
    fn default() -> Self {
        AmountDistribution::LogUniform {
            min_sat: 1_000,
            max_sat: 1_000_000,
        }
    }
}

/// What the caller asks for: a random demand or an explicit list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DemandSpec {
    /// An explicit list of payments (`{"list": [...]}`), used as given.
    List {
        /// The payments, in order.
        list: Vec<Payment>,
    },
    /// Payments drawn from a seeded generator.
    Random(RandomDemand),
}

/// Parameters of a random demand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomDemand {
    /// Number of payments (at most [`MAX_PAYMENTS`]).
    pub payments: usize,
    #[serde(default)]
    /// Seed of the generator: the same seed over the same graph gives the same payments.
    /// Default 0.
    pub seed: u64,
    #[serde(default)]
    /// How amounts are drawn (default log-uniform over 1,000..=1,000,000 sat).
    pub amounts: AmountDistribution,
    #[serde(default)]
    /// How endpoints are drawn (default: the three schemes equally).
    pub endpoints: EndpointWeights,
}

impl RandomDemand {
    /// `payments` payments from `seed` with the default amounts and endpoint weights.
    pub fn new(payments: usize, seed: u64) -> Self {
        RandomDemand {
            payments,
            seed,
            amounts: AmountDistribution::default(),
            endpoints: EndpointWeights::default(),
        }
    }
}

/// A list of payments.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Demand {
    /// The payments, in order.
    pub payments: Vec<Payment>,
}

impl Demand {
    /// The demand a spec describes over `graph`. Errors: too many payments, a bad amount range.
    pub fn generate(graph: &Snapshot, spec: &DemandSpec) -> Result<Demand, FeesError> {
        match spec {
            DemandSpec::List { list } => {
                check_size(list.len())?;
                for p in list {
                    if p.amount_msat == 0 {
                        return Err(FeesError::Invalid("payment amount must be > 0".into()));
                    }
                }
                Ok(Demand {
                    payments: list.clone(),
                })
            }
            DemandSpec::Random(r) => random(graph, r),
        }
    }
}

fn check_size(n: usize) -> Result<(), FeesError> {
    if n > MAX_PAYMENTS {
        return Err(FeesError::DemandTooLarge {
            requested: n,
            limit: MAX_PAYMENTS,
        });
    }
    Ok(())
}

/// SplitMix64 (see the module documentation).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }
    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`), by the multiply-high method.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Cumulative weights for drawing a node.
struct Table {
    nodes: Vec<NodeIdx>,
    cumulative: Vec<u64>,
}

impl Table {
    fn new(items: impl Iterator<Item = (NodeIdx, u64)>) -> Table {
        let (mut nodes, mut cumulative) = (Vec::new(), Vec::new());
        let mut sum = 0u64;
        for (n, w) in items.filter(|&(_, w)| w > 0) {
            sum = sum.saturating_add(w);
            nodes.push(n);
            cumulative.push(sum);
        }
        Table { nodes, cumulative }
    }
    fn draw(&self, rng: &mut SplitMix64) -> Option<NodeIdx> {
        let total = *self.cumulative.last()?;
        let x = rng.below(total);
        let i = self.cumulative.partition_point(|&c| c <= x);
        self.nodes.get(i).copied()
    }
}

fn random(graph: &Snapshot, r: &RandomDemand) -> Result<Demand, FeesError> {
    check_size(r.payments)?;
    let amounts = AmountSampler::new(r.amounts)?;
    // Per node: (channels with an enabled direction, their summed capacity).
    let mut deg = vec![(0u64, 0u64); graph.node_count()];
    for ch in graph.channels() {
        if ch.policies.iter().flatten().any(|p| !p.disabled) {
            for &n in &ch.nodes {
                deg[n as usize].0 += 1;
                deg[n as usize].1 += ch.capacity_sat;
            }
        }
    }
    let eligible = || (0..graph.node_count() as NodeIdx).filter(|&n| deg[n as usize].0 > 0);
    let tables = [
        Table::new(eligible().map(|n| (n, 1))),
        Table::new(eligible().map(|n| (n, deg[n as usize].1))),
        Table::new(eligible().map(|n| (n, deg[n as usize].0))),
    ];
    let w = r.endpoints;
    let weights = if w.uniform == 0 && w.capacity == 0 && w.degree == 0 {
        [1, 0, 0]
    } else {
        [w.uniform, w.capacity, w.degree].map(u64::from)
    };
    let scheme = Table::new((0..3).map(|i| (i, weights[i as usize])));
    let mut rng = SplitMix64::new(r.seed);
    let draw = |rng: &mut SplitMix64| -> Option<NodeIdx> {
        let s = scheme.draw(rng)?;
        tables[s as usize].draw(rng)
    };
    let mut payments = Vec::with_capacity(r.payments);
    for _ in 0..r.payments {
        let Some(src) = draw(&mut rng) else { break };
        let mut dst = None;
        for _ in 0..64 {
            match draw(&mut rng) {
                Some(d) if d != src => {
                    dst = Some(d);
                    break;
                }
                Some(_) => {}
                None => break,
            }
        }
        let Some(dst) = dst else { break };
        let amount = amounts.draw(&mut rng);
        payments.push(Payment::new(graph.node(src).id, graph.node(dst).id, amount));
    }
    Ok(Demand { payments })
}

/// Draws amounts (msat) from an [`AmountDistribution`].
struct AmountSampler {
    dist: AmountDistribution,
    ln_min: f64,
    ln_span: f64,
}

impl AmountSampler {
    fn new(dist: AmountDistribution) -> Result<Self, FeesError> {
        let bad = |m: &str| Err(FeesError::Invalid(format!("amounts: {m}")));
        let max_sat = switchyard_graph::route::MAX_AMOUNT_MSAT / 1000;
        let (ln_min, ln_span) = match dist {
            AmountDistribution::LogUniform {
                min_sat,
                max_sat: hi,
            }
            | AmountDistribution::Uniform {
                min_sat,
                max_sat: hi,
            } => {
                if min_sat == 0 || min_sat > hi || hi > max_sat {
                    return bad("need 1 <= min_sat <= max_sat <= 21e14");
                }
                let lo = det_ln(min_sat as f64);
                (lo, det_ln(hi as f64) - lo)
            }
            AmountDistribution::Fixed { sat } => {
                if sat == 0 || sat > max_sat {
                    return bad("need 1 <= sat <= 21e14");
                }
                (0.0, 0.0)
            }
        };
        Ok(AmountSampler {
            dist,
            ln_min,
            ln_span,
        })
    }

    fn draw(&self, rng: &mut SplitMix64) -> u64 {
        let sat = match self.dist {
            AmountDistribution::LogUniform { min_sat, max_sat } => {
                let x = det_exp(self.ln_min + rng.unit() * self.ln_span) as u64;
                x.clamp(min_sat, max_sat)
            }
            AmountDistribution::Uniform { min_sat, max_sat } => {
                min_sat + rng.below(max_sat - min_sat + 1)
            }
            AmountDistribution::Fixed { sat } => sat,
        };
        sat * 1000
    }
}

const LN2: f64 = std::f64::consts::LN_2;

/// `e^x` from basic IEEE operations only (range reduction by ln 2, then a Taylor series),
/// so every platform computes the same bits. Accurate to a few ulps for |x| < 700.
pub(crate) fn det_exp(x: f64) -> f64 {
    let k = (x / LN2).floor();
    let r = x - k * LN2;
    let (mut term, mut sum) = (1.0f64, 1.0f64);
    for i in 1..=24 {
        term = term * r / i as f64;
        sum += term;
    }
    let mut k = k as i32;
    while k > 0 {
        sum *= 2.0;
        k -= 1;
    }
    while k < 0 {
        sum *= 0.5;
        k += 1;
    }
    sum
}

/// `ln x` for `x >= 1` from basic IEEE operations only: `x = m * 2^k` with `m` in [1, 2),
/// then `ln m = 2 atanh((m - 1) / (m + 1))` by its series.
pub(crate) fn det_ln(x: f64) -> f64 {
    let mut m = x;
    let mut k = 0i32;
    while m >= 2.0 {
        m *= 0.5;
        k += 1;
    }
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    let (mut pow, mut sum) = (t, 0.0f64);
    for i in 0..40 {
        sum += pow / (2 * i + 1) as f64;
        pow *= t2;
    }
    2.0 * sum + k as f64 * LN2
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_graph::testing::TestGraph;

    fn graph() -> Snapshot {
        let mut t = TestGraph::new(6);
        for (a, b, cap) in [
            (0, 1, 1_000_000),
            (1, 2, 5_000_000),
            (2, 3, 100_000),
            (3, 0, 10),
        ] {
            let s = t.channel(a, b, cap);
            t.policy(s, a, 1, 1, 40);
        }
        // Node 4's only channel has no enabled direction; node 5 has none.
        let dead = t.channel(4, 0, 1_000);
        let mut u = switchyard_graph::Policy {
            fee_base_msat: 0,
            fee_ppm: 0,
            cltv_delta: 40,
            htlc_min_msat: 0,
            htlc_max_msat: 1_000_000,
            disabled: true,
            timestamp: 10,
        }
        .to_update(dead, t.direction_from(dead, 4));
        u.disabled = true;
        t.update(u);
        t.build()
    }

    #[test]
    fn same_seed_same_payments_other_seed_other_payments() {
        let g = graph();
        let spec = DemandSpec::Random(RandomDemand::new(500, 7));
        let a = Demand::generate(&g, &spec).unwrap();
        let b = Demand::generate(&g, &spec).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.payments.len(), 500);
        let c = Demand::generate(&g, &DemandSpec::Random(RandomDemand::new(500, 8))).unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn endpoints_are_distinct_eligible_and_amounts_in_range_with_wallet_limits() {
        let g = graph();
        let d = Demand::generate(&g, &DemandSpec::Random(RandomDemand::new(2_000, 1))).unwrap();
        let dead = [TestGraph::node_id(4), TestGraph::node_id(5)];
        let (mut small, mut large) = (0, 0);
        for p in &d.payments {
            assert_ne!(p.source, p.destination);
            assert!(!dead.contains(&p.source) && !dead.contains(&p.destination));
            assert!((1_000_000..=1_000_000_000).contains(&p.amount_msat));
            assert_eq!(p.max_fee_msat, p.amount_msat / 100 + 50_000);
            small += usize::from(p.amount_msat < 31_622_777);
            large += usize::from(p.amount_msat >= 31_622_777);
        }
        // Log-uniform: half the draws below the geometric mean (sqrt(1e3 * 1e6) sat).
        assert!((850..1150).contains(&small), "{small} below, {large} above");
    }

    #[test]
    fn capacity_weighting_prefers_big_nodes() {
        let g = graph();
        let spec = DemandSpec::Random(RandomDemand {
            endpoints: EndpointWeights {
                uniform: 0,
                capacity: 1,
                degree: 0,
            },
            ..RandomDemand::new(3_000, 3)
        });
        let d = Demand::generate(&g, &spec).unwrap();
        let count = |i| {
            d.payments
                .iter()
                .filter(|p| p.source == TestGraph::node_id(i))
                .count()
        };
        // Node 1 and 2 hold 6M and 5.1M sat, node 3 only 100k: capacity decides.
        assert!(
            count(1) > 10 * count(3).max(1),
            "{} vs {}",
            count(1),
            count(3)
        );
    }

    #[test]
    fn too_large_and_bad_ranges_are_refused() {
        let g = graph();
        let big = DemandSpec::Random(RandomDemand::new(MAX_PAYMENTS + 1, 0));
        assert_eq!(
            Demand::generate(&g, &big).unwrap_err(),
            FeesError::DemandTooLarge {
                requested: MAX_PAYMENTS + 1,
                limit: MAX_PAYMENTS
            }
        );
        let bad = DemandSpec::Random(RandomDemand {
            amounts: AmountDistribution::LogUniform {
                min_sat: 10,
                max_sat: 5,
            },
            ..RandomDemand::new(10, 0)
        });
        assert!(matches!(
            Demand::generate(&g, &bad),
            Err(FeesError::Invalid(_))
        ));
    }

    #[test]
    fn deterministic_math_matches_libm_closely() {
        for x in [1.0, 2.0, 10.0, 1_000.0, 123_456.0, 1e6, 2.1e15] {
            assert!(
                (det_ln(x) - x.ln()).abs() < 1e-12 * x.ln().max(1.0),
                "ln {x}"
            );
        }
        for x in [0.0, 0.5, 6.9, 13.8, 20.0, 35.0] {
            assert!((det_exp(x) / x.exp() - 1.0).abs() < 1e-13, "exp {x}");
        }
    }
}
