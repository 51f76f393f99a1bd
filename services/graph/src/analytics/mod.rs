//! # Network analytics: centrality, structure, distributions and a composite node rank
//!
//! Everything is computed on the *active graph* of a [`Snapshot`] ([`ActiveGraph`]: nodes
//! with an enabled direction, one directed edge per ordered node pair with an enabled
//! direction, parallel channels collapsed to the cheapest). [`NetworkAnalytics::compute`]
//! computes every metric once per snapshot (the serving layer caches the result); the
//! per-metric methods on [`ActiveGraph`] compute one metric.
//!
//! This module is pure and exact: no I/O, no logging, no async. Shortest-path metrics run
//! their sources in parallel on rayon's pool.
//!
//! ## Conventions (chosen to match networkx, which `scripts/analytics_reference.py` uses as the
//! reference and whose output the integration tests compare against)
//! * **Betweenness** (node and edge): directed, endpoints excluded, every equal-cost shortest
//!   path counted (`sigma` counts, as Brandes). Stored **unnormalized** (= networkx
//!   `betweenness_centrality(G, weight, normalized=False)`, the number of ordered pairs
//!   `(s, t)` weighted by the share of their shortest paths through the node);
//!   [`NodeReport`] also gives the normalized value `raw / ((n - 1)(n - 2))` (networkx's
//!   `normalized=True` for directed graphs). Hop and fee weights are integers, so ties are
//!   exact; the probability weight is `f64` and two paths tie only when their summed costs
//!   are bit-identical (sums are formed in the same order, along the path).
//! * **Share of routes** through a channel direction = its edge betweenness divided by the
//!   number of ordered pairs `(s, t)` with `t` reachable from `s` (the expected fraction of
//!   all shortest routes between reachable pairs, each pair weighted equally and its equal-cost
//!   routes split evenly). A collapsed edge's betweenness goes to its cheapest channel.
//! * **Closeness**: networkx `closeness_centrality` with Wasserman-Faust scaling,
//!   `c(v) = (r - 1)^2 / ((n - 1) * total)` with `r` the nodes reaching `v` (incoming, networkx's
//!   default for directed graphs) or reached from `v` (outgoing), `v` included, and `total`
//!   their summed distance; `0` when nothing is reachable.
//! * **PageRank**: damping 0.85, uniform teleport, dangling nodes' rank spread uniformly
//!   (networkx), unweighted or capacity-weighted (an edge's weight is the summed capacity of
//!   its enabled parallel channels). The fixed point of networkx's power iteration, reached
//!   by over-relaxed Gauss-Seidel sweeps (same linear system, about a quarter of the sweeps); iterated until one
//!   sweep changes the vector by less than `pagerank_tolerance` in L1 norm, then scaled to sum
//!   to 1.
//! * **Components**: weakly and strongly connected components of the active graph; the
//!   **diameter** is the largest hop distance inside the largest strongly connected component
//!   (networkx `diameter(G.subgraph(largest_scc))`); **k-core** numbers are those of the
//!   underlying undirected simple graph (networkx `core_number(G.to_undirected())`).
//! * Floating-point sums are added in parallel, so the last bits may differ between runs.

mod graph;
mod paths;
mod rank;
mod structure;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

pub use graph::{ActiveGraph, Weighting};
pub use rank::{RankComponents, RankEntry, RankWeights};
pub use structure::Histogram;

use crate::snapshot::{EdgeIdx, NodeIdx, Snapshot};
use crate::stats::Distribution;
use crate::types::{NodeId, Scid};
use graph::{fee_weight, probability_weight, Weights};

/// Errors from invalid analytics parameters.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalyticsError {
    #[error("amount_msat must be at least 1 msat")]
    ZeroAmount,
    #[error("PageRank damping must be in (0, 1), got {0}")]
    BadDamping(f64),
    #[error("PageRank tolerance must be positive and finite, got {0}")]
    BadTolerance(f64),
    #[error("rank weights must be finite, non-negative, and not all zero")]
    BadRankWeights,
    #[error("weighting {0} is listed twice")]
    DuplicateWeighting(&'static str),
    #[error("metric {0} was not computed with this configuration")]
    NotComputed(String),
}

/// What [`NetworkAnalytics::compute`] computes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalyticsConfig {
    /// Payment amount for the fee weighting, the probability weighting and the rank's fee
    /// component. Default 100,000 sat.
    pub amount_msat: u64,
    /// Weightings for betweenness and closeness (each kind at most once). Default: hops, fee
    /// and probability, all at `amount_msat`.
    pub weightings: Vec<Weighting>,
    /// PageRank damping (default 0.85).
    pub pagerank_damping: f64,
    /// L1 change below which PageRank stops (default 1e-10).
    pub pagerank_tolerance: f64,
    /// PageRank iteration cap (default 1000).
    pub pagerank_max_iterations: u32,
    /// Weights of the composite rank's components.
    pub rank_weights: RankWeights,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        AnalyticsConfig::for_amount(100_000_000)
    }
}

impl AnalyticsConfig {
    /// The default configuration with every amount set to `amount_msat`.
    pub fn for_amount(amount_msat: u64) -> Self {
        AnalyticsConfig {
            amount_msat,
            weightings: vec![
                Weighting::Hops,
                Weighting::Fee { amount_msat },
                Weighting::Probability { amount_msat },
            ],
            pagerank_damping: 0.85,
            pagerank_tolerance: 1e-10,
            pagerank_max_iterations: 1000,
            rank_weights: RankWeights::default(),
        }
    }

    fn validate(&self) -> Result<(), AnalyticsError> {
        if self.amount_msat == 0 {
            return Err(AnalyticsError::ZeroAmount);
        }
        for (i, w) in self.weightings.iter().enumerate() {
            w.validate()?;
            if self.weightings[..i].iter().any(|o| o.label() == w.label()) {
                return Err(AnalyticsError::DuplicateWeighting(w.label()));
            }
        }
        check_pagerank(self.pagerank_damping, self.pagerank_tolerance)?;
        self.rank_weights.validate()
    }
}

fn check_pagerank(damping: f64, tol: f64) -> Result<(), AnalyticsError> {
    if !(damping > 0.0 && damping < 1.0) {
        return Err(AnalyticsError::BadDamping(damping));
    }
    if !(tol > 0.0 && tol.is_finite()) {
        return Err(AnalyticsError::BadTolerance(tol));
    }
    Ok(())
}

impl Weighting {
    fn validate(&self) -> Result<(), AnalyticsError> {
        match *self {
            // A zero amount would give zero-cost probability hops (and is meaningless for fees).
            Weighting::Fee { amount_msat: 0 } | Weighting::Probability { amount_msat: 0 } => {
                Err(AnalyticsError::ZeroAmount)
            }
            _ => Ok(()),
        }
    }
}

/// The weight kind a metric is asked for by (the amount is the configuration's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightKind {
    Hops,
    Fee,
    Probability,
}

impl WeightKind {
    fn label(self) -> &'static str {
        match self {
            WeightKind::Hops => "hops",
            WeightKind::Fee => "fee",
            WeightKind::Probability => "probability",
        }
    }
}

/// How PageRank weighs edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageRankWeight {
    /// Every collapsed edge weighs 1.
    Unweighted,
    /// An edge weighs the summed capacity (sat) of its enabled parallel channels.
    Capacity,
}

/// Betweenness of one weighting, indexed like the [`ActiveGraph`] it came from.
#[derive(Debug, Clone)]
pub struct Betweenness {
    pub weighting: Weighting,
    /// Unnormalized node betweenness per active node.
    pub node: Vec<f64>,
    /// Unnormalized edge betweenness per collapsed edge.
    pub edge: Vec<f64>,
    /// The channel direction each collapsed edge stands for (its cheapest usable channel).
    pub edge_channel: Vec<EdgeIdx>,
    /// Ordered pairs `(s, t)`, `s != t`, with a usable path from `s` to `t`.
    pub reachable_pairs: u64,
}

/// PageRank per active node.
#[derive(Debug, Clone)]
pub struct PageRank {
    pub rank: Vec<f64>,
    pub iterations: u32,
    /// False when the iteration cap was hit before the tolerance.
    pub converged: bool,
}

/// Components of the active graph: `label[i]` for active node `i`, labels `0..sizes.len()`
/// numbered in order of their lowest active index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComponentLabels {
    pub label: Vec<u32>,
    pub sizes: Vec<u32>,
}

impl ComponentLabels {
    /// The label of the largest component (the lowest label among equals).
    pub fn largest(&self) -> Option<u32> {
        (0..self.sizes.len() as u32).max_by_key(|&c| (self.sizes[c as usize], std::cmp::Reverse(c)))
    }
}

impl From<structure::Components> for ComponentLabels {
    fn from(c: structure::Components) -> Self {
        ComponentLabels {
            label: c.label,
            sizes: c.sizes,
        }
    }
}

impl ActiveGraph {
    fn unit_weights(&self) -> Weights<u64> {
        Weights::build(self, |_| Some(1))
    }

    /// Exact node and edge betweenness under `weighting` (Brandes, parallel over sources).
    pub fn betweenness(
        &self,
        g: &Snapshot,
        weighting: Weighting,
    ) -> Result<Betweenness, AnalyticsError> {
        weighting.validate()?;
        let (raw, best) = match weighting {
            Weighting::Hops => {
                let w = self.unit_weights();
                (paths::betweenness(self, &w.out, &w.inn, Some(1u64)), w.best)
            }
            Weighting::Fee { amount_msat } => {
                let w = Weights::build(self, |e| fee_weight(g, e, amount_msat));
                (paths::betweenness(self, &w.out, &w.inn, None), w.best)
            }
            Weighting::Probability { amount_msat } => {
                let w = Weights::build(self, |e| probability_weight(g, e, amount_msat));
                (paths::betweenness(self, &w.out, &w.inn, None), w.best)
            }
        };
        Ok(Betweenness {
            weighting,
            node: raw.node,
            edge: raw.edge,
            edge_channel: best,
            reachable_pairs: raw.reachable_pairs,
        })
    }

    /// Closeness per active node under `weighting`: incoming distances (networkx's default)
    /// unless `outgoing`. See the module doc for the formula.
    pub fn closeness(
        &self,
        g: &Snapshot,
        weighting: Weighting,
        outgoing: bool,
    ) -> Result<Vec<f64>, AnalyticsError> {
        weighting.validate()?;
        Ok(match weighting {
            Weighting::Hops => {
                let w = self.unit_weights();
                paths::closeness(self, &w.out, &w.inn, Some(1u64), outgoing)
            }
            Weighting::Fee { amount_msat } => {
                let w = Weights::build(self, |e| fee_weight(g, e, amount_msat));
                paths::closeness(self, &w.out, &w.inn, None, outgoing)
            }
            Weighting::Probability { amount_msat } => {
                let w = Weights::build(self, |e| probability_weight(g, e, amount_msat));
                paths::closeness(self, &w.out, &w.inn, None, outgoing)
            }
        })
    }

    /// PageRank (networkx semantics, see the module doc).
    pub fn pagerank(
        &self,
        g: &Snapshot,
        weight: PageRankWeight,
        damping: f64,
        tolerance: f64,
        max_iterations: u32,
    ) -> Result<PageRank, AnalyticsError> {
        check_pagerank(damping, tolerance)?;
        let w = self.pagerank_weights(g, weight);
        let r = structure::pagerank(self, &w, damping, tolerance, max_iterations);
        Ok(PageRank {
            rank: r.rank,
            iterations: r.iterations,
            converged: r.converged,
        })
    }

    /// Per-collapsed-edge PageRank weights (computed once; [`ActiveGraph::pagerank_with`]
    /// takes them so repeated runs do not rebuild them).
    pub fn pagerank_weights(&self, g: &Snapshot, weight: PageRankWeight) -> Vec<f64> {
        (0..self.edge_count())
            .map(|e| match weight {
                PageRankWeight::Unweighted => 1.0,
                PageRankWeight::Capacity => self
                    .members(e)
                    .iter()
                    .map(|&se| g.channel(Snapshot::edge_channel(se)).capacity_sat as f64)
                    .sum(),
            })
            .collect()
    }

    /// PageRank on precomputed edge weights (see [`ActiveGraph::pagerank_weights`]); a weight
    /// vector of the wrong length is an error-free no-op returning an empty result.
    pub fn pagerank_with(
        &self,
        edge_weight: &[f64],
        damping: f64,
        tolerance: f64,
        max_iterations: u32,
    ) -> Result<PageRank, AnalyticsError> {
        check_pagerank(damping, tolerance)?;
        if edge_weight.len() != self.edge_count() {
            return Err(AnalyticsError::NotComputed(
                "pagerank weights of another graph".into(),
            ));
        }
        let r = structure::pagerank(self, edge_weight, damping, tolerance, max_iterations);
        Ok(PageRank {
            rank: r.rank,
            iterations: r.iterations,
            converged: r.converged,
        })
    }

    /// Weakly connected components.
    pub fn weak_components(&self) -> ComponentLabels {
        structure::weak_components(self).into()
    }

    /// Strongly connected components.
    pub fn strong_components(&self) -> ComponentLabels {
        structure::strong_components(self).into()
    }

    /// Core number of each active node (undirected simple graph).
    pub fn core_numbers(&self) -> Vec<u32> {
        structure::core_numbers(self)
    }

    /// Hop diameter of the largest strongly connected component (0 for an empty graph).
    pub fn largest_scc_diameter(&self, scc: &ComponentLabels) -> u64 {
        let Some(big) = scc.largest() else { return 0 };
        let members: Vec<u32> = (0..self.node_count() as u32)
            .filter(|&v| scc.label[v as usize] == big)
            .collect();
        paths::hop_diameter(self, &members)
    }
}

/// Percentiles and a log2 histogram of one quantity.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DistributionReport {
    pub summary: Distribution,
    pub histogram: Histogram,
}

impl DistributionReport {
    fn of(mut values: Vec<u64>) -> Self {
        let histogram = Histogram::log2(&values);
        DistributionReport {
            summary: Distribution::of(&mut values),
            histogram,
        }
    }
}

/// Distributions over the active graph.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Distributions {
    /// Channels with an enabled direction, per active node.
    pub degree: DistributionReport,
    /// Capacity (sat) of each channel with an enabled direction.
    pub capacity_sat: DistributionReport,
    /// Over enabled directions.
    pub fee_base_msat: DistributionReport,
    pub fee_ppm: DistributionReport,
    pub cltv_delta: DistributionReport,
}

/// Betweenness and closeness of one weighting, per node (sorted by node id) and per channel.
#[derive(Debug, Clone, Serialize)]
pub struct WeightedMetrics {
    pub weighting: Weighting,
    /// Ordered reachable pairs (the denominator of the share of routes).
    pub reachable_pairs: u64,
    /// Unnormalized node betweenness, aligned with [`NetworkAnalytics::nodes`].
    pub betweenness: Vec<f64>,
    pub closeness_in: Vec<f64>,
    pub closeness_out: Vec<f64>,
    /// Unnormalized edge betweenness per channel direction, aligned with
    /// [`NetworkAnalytics::channels`]: `[direction 0, direction 1]`.
    pub channel_betweenness: Vec<[f64; 2]>,
}

/// Everything the analytics engine computes for one snapshot. Per-node vectors are aligned
/// with `nodes` (active nodes sorted by id), per-channel ones with `channels` (channels with
/// an enabled direction, sorted by scid).
#[derive(Debug, Clone, Serialize)]
pub struct NetworkAnalytics {
    pub config: AnalyticsConfig,
    pub nodes: Vec<NodeId>,
    pub channels: Vec<Scid>,
    /// Collapsed directed edges (ordered node pairs with an enabled direction).
    pub directed_pairs: u64,
    pub weighted: Vec<WeightedMetrics>,
    pub pagerank: Vec<f64>,
    pub pagerank_capacity: Vec<f64>,
    pub pagerank_converged: bool,
    pub weak_component: Vec<u32>,
    pub weak_component_sizes: Vec<u32>,
    pub strong_component: Vec<u32>,
    pub strong_component_sizes: Vec<u32>,
    /// Label of the largest strongly connected component.
    pub largest_scc: Option<u32>,
    /// Hop diameter of the largest strongly connected component.
    pub largest_scc_diameter: u64,
    pub core_number: Vec<u32>,
    /// Capacity (sat) of each node's channels with an enabled direction.
    pub node_capacity_sat: Vec<u64>,
    /// Number of each node's channels with an enabled direction.
    pub node_channels: Vec<u32>,
    /// Median fee (msat, for `amount_msat`) over each node's enabled outgoing directions.
    pub node_median_fee_msat: Vec<Option<u64>>,
    pub rank: Vec<RankEntry>,
    pub distributions: Distributions,
}

/// A metric a node list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Betweenness(WeightKind),
    ClosenessIn(WeightKind),
    ClosenessOut(WeightKind),
    PageRank,
    PageRankCapacity,
    /// The composite rank score.
    Rank,
}

/// One metric of one node with its percentile among all active nodes (share of nodes with a
/// smaller value plus half the share of ties, so in `[0, 1]`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Valued {
    pub value: f64,
    pub percentile: f64,
}

/// Betweenness and closeness of a node under one weighting.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeWeighted {
    pub weighting: Weighting,
    /// Unnormalized.
    pub betweenness: Valued,
    /// `betweenness / ((n - 1)(n - 2))`.
    pub betweenness_normalized: f64,
    pub closeness_in: Valued,
    pub closeness_out: Valued,
}

/// All metrics of one node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeReport {
    pub node_id: NodeId,
    pub weighted: Vec<NodeWeighted>,
    pub pagerank: Valued,
    pub pagerank_capacity: Valued,
    pub weak_component: u32,
    pub strong_component: u32,
    pub in_largest_scc: bool,
    pub core_number: u32,
    pub capacity_sat: u64,
    pub channels: u32,
    pub median_fee_msat: Option<u64>,
    pub rank: RankEntry,
}

/// Edge betweenness and share of routes of one channel direction under one weighting.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelWeighted {
    pub weighting: Weighting,
    /// `[direction 0, direction 1]`, unnormalized.
    pub betweenness: [f64; 2],
    /// `betweenness / reachable_pairs`.
    pub share_of_routes: [f64; 2],
}

/// Metrics of one channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelReport {
    pub scid: Scid,
    pub weighted: Vec<ChannelWeighted>,
}

impl NetworkAnalytics {
    /// Computes every metric of `g` (no uptime history: the rank's uptime component is absent).
    pub fn compute(
        g: &Snapshot,
        config: &AnalyticsConfig,
    ) -> Result<NetworkAnalytics, AnalyticsError> {
        Self::compute_with_uptime(g, config, None)
    }

    /// Like [`NetworkAnalytics::compute`], with each node's uptime (a fraction in `[0, 1]`,
    /// from gossip history) for the rank; nodes missing from the map get no uptime component.
    pub fn compute_with_uptime(
        g: &Snapshot,
        config: &AnalyticsConfig,
        uptime: Option<&HashMap<NodeId, f64>>,
    ) -> Result<NetworkAnalytics, AnalyticsError> {
        config.validate()?;
        let ag = ActiveGraph::new(g);
        let n = ag.node_count();
        // Sorted-by-id order of active nodes = ascending snapshot index.
        let mut sorted: Vec<u32> = (0..n as u32).collect();
        sorted.sort_unstable_by_key(|&i| ag.snap[i as usize]);
        let nodes: Vec<NodeId> = sorted
            .iter()
            .map(|&i| g.node(ag.snap[i as usize]).id)
            .collect();
        let per_node = |v: &[f64]| sorted.iter().map(|&i| v[i as usize]).collect::<Vec<f64>>();

        let mut chan_pos: HashMap<u32, usize> = HashMap::new();
        let mut channels = Vec::new();
        for (ci, c) in g.channels().iter().enumerate() {
            let ci = ci as u32;
            if g.edge_enabled(2 * ci) || g.edge_enabled(2 * ci + 1) {
                chan_pos.insert(ci, channels.len());
                channels.push(c.scid);
            }
        }

        let mut weighted = Vec::new();
        for &w in &config.weightings {
            let b = ag.betweenness(g, w)?;
            let mut per_channel = vec![[0.0; 2]; channels.len()];
            for (e, &x) in b.edge.iter().enumerate() {
                let se = b.edge_channel[e];
                if let Some(&p) = chan_pos.get(&Snapshot::edge_channel(se)) {
                    per_channel[p][Snapshot::edge_direction(se)] += x;
                }
            }
            weighted.push(WeightedMetrics {
                weighting: w,
                reachable_pairs: b.reachable_pairs,
                betweenness: per_node(&b.node),
                closeness_in: per_node(&ag.closeness(g, w, false)?),
                closeness_out: per_node(&ag.closeness(g, w, true)?),
                channel_betweenness: per_channel,
            });
        }
        let pr = |w| {
            ag.pagerank(
                g,
                w,
                config.pagerank_damping,
                config.pagerank_tolerance,
                config.pagerank_max_iterations,
            )
        };
        let pr_u = pr(PageRankWeight::Unweighted)?;
        let pr_c = pr(PageRankWeight::Capacity)?;
        let wcc = ag.weak_components();
        let scc = ag.strong_components();
        let diameter = ag.largest_scc_diameter(&scc);
        let cores = ag.core_numbers();
        let per_node_u32 = |v: &[u32]| sorted.iter().map(|&i| v[i as usize]).collect::<Vec<u32>>();

        // Node capacity, channel count and median fee over enabled channels / directions.
        let mut node_capacity_sat = Vec::with_capacity(n);
        let mut node_channels = Vec::with_capacity(n);
        let mut node_median_fee_msat = Vec::with_capacity(n);
        let mut degrees = Vec::with_capacity(n);
        for &i in &sorted {
            let sn: NodeIdx = ag.snap[i as usize];
            let mut cap = 0u64;
            let mut count = 0u32;
            let mut fees = Vec::new();
            for &c in g.channels_of(sn) {
                if g.edge_enabled(2 * c) || g.edge_enabled(2 * c + 1) {
                    cap += g.channel(c).capacity_sat;
                    count += 1;
                }
                let dir = if g.channel(c).nodes[0] == sn { 0 } else { 1 };
                let e = 2 * c + dir;
                if g.edge_enabled(e) {
                    if let Some(p) = g.edge_policy(e) {
                        fees.push(p.fee_msat(config.amount_msat));
                    }
                }
            }
            fees.sort_unstable();
            node_capacity_sat.push(cap);
            node_channels.push(count);
            degrees.push(u64::from(count));
            node_median_fee_msat.push(if fees.is_empty() {
                None
            } else {
                Some(fees[(fees.len() - 1) / 2])
            });
        }

        let mut caps = Vec::new();
        let mut bases = Vec::new();
        let mut ppms = Vec::new();
        let mut cltvs = Vec::new();
        for (ci, c) in g.channels().iter().enumerate() {
            let mut any = false;
            for dir in 0..2u32 {
                let e = 2 * ci as u32 + dir;
                if let (true, Some(p)) = (g.edge_enabled(e), g.edge_policy(e)) {
                    any = true;
                    bases.push(u64::from(p.fee_base_msat));
                    ppms.push(u64::from(p.fee_ppm));
                    cltvs.push(u64::from(p.cltv_delta));
                }
            }
            if any {
                caps.push(c.capacity_sat);
            }
        }
        let distributions = Distributions {
            degree: DistributionReport::of(degrees),
            capacity_sat: DistributionReport::of(caps),
            fee_base_msat: DistributionReport::of(bases),
            fee_ppm: DistributionReport::of(ppms),
            cltv_delta: DistributionReport::of(cltvs),
        };

        let centrality = weighted
            .iter()
            .find(|m| matches!(m.weighting, Weighting::Fee { .. }))
            .or(weighted.first())
            .map(|m| m.betweenness.clone())
            .unwrap_or_else(|| vec![0.0; n]);
        let uptimes: Option<Vec<Option<f64>>> =
            uptime.map(|u| nodes.iter().map(|id| u.get(id).copied()).collect());
        let rank = rank::rank(
            &config.rank_weights,
            &rank::Inputs {
                centrality: &centrality,
                capacity_sat: &node_capacity_sat,
                channels: &node_channels,
                median_fee_msat: &node_median_fee_msat,
                uptime: uptimes.as_deref(),
            },
        );

        Ok(NetworkAnalytics {
            config: config.clone(),
            nodes,
            channels,
            directed_pairs: ag.edge_count() as u64,
            weighted,
            pagerank: per_node(&pr_u.rank),
            pagerank_capacity: per_node(&pr_c.rank),
            pagerank_converged: pr_u.converged && pr_c.converged,
            weak_component: per_node_u32(&wcc.label),
            weak_component_sizes: wcc.sizes,
            strong_component: per_node_u32(&scc.label),
            largest_scc: scc.largest(),
            strong_component_sizes: scc.sizes,
            largest_scc_diameter: diameter,
            core_number: per_node_u32(&cores),
            node_capacity_sat,
            node_channels,
            node_median_fee_msat,
            rank,
            distributions,
        })
    }

    /// Position of `id` in [`NetworkAnalytics::nodes`], if it is an active node.
    pub fn node_position(&self, id: &NodeId) -> Option<usize> {
        self.nodes.binary_search(id).ok()
    }

    fn weighted_of(&self, kind: WeightKind) -> Result<&WeightedMetrics, AnalyticsError> {
        self.weighted
            .iter()
            .find(|m| m.weighting.label() == kind.label())
            .ok_or_else(|| AnalyticsError::NotComputed(kind.label().to_owned()))
    }

    /// The per-node values of `metric` (aligned with `nodes`).
    pub fn metric_values(
        &self,
        metric: Metric,
    ) -> Result<std::borrow::Cow<'_, [f64]>, AnalyticsError> {
        use std::borrow::Cow;
        Ok(match metric {
            Metric::Betweenness(k) => Cow::Borrowed(&self.weighted_of(k)?.betweenness),
            Metric::ClosenessIn(k) => Cow::Borrowed(&self.weighted_of(k)?.closeness_in),
            Metric::ClosenessOut(k) => Cow::Borrowed(&self.weighted_of(k)?.closeness_out),
            Metric::PageRank => Cow::Borrowed(&self.pagerank),
            Metric::PageRankCapacity => Cow::Borrowed(&self.pagerank_capacity),
            Metric::Rank => Cow::Owned(self.rank.iter().map(|r| r.score).collect()),
        })
    }

    /// The `n` nodes with the highest `metric` (ties: lower node id first).
    pub fn top(&self, metric: Metric, n: usize) -> Result<Vec<(NodeId, f64)>, AnalyticsError> {
        let v = self.metric_values(metric)?;
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|&a, &b| v[b].total_cmp(&v[a]).then(a.cmp(&b)));
        Ok(idx
            .into_iter()
            .take(n)
            .map(|i| (self.nodes[i], v[i]))
            .collect())
    }

    /// Every metric of node `id`, with percentiles; `None` when it is not an active node.
    pub fn node(&self, id: &NodeId) -> Option<NodeReport> {
        let i = self.node_position(id)?;
        let val = |v: &[f64]| Valued {
            value: v[i],
            percentile: rank::percentile_of(v, v[i]),
        };
        let n = self.nodes.len() as f64;
        let norm = if n > 2.0 {
            1.0 / ((n - 1.0) * (n - 2.0))
        } else {
            1.0
        };
        Some(NodeReport {
            node_id: *id,
            weighted: self
                .weighted
                .iter()
                .map(|m| NodeWeighted {
                    weighting: m.weighting,
                    betweenness: val(&m.betweenness),
                    betweenness_normalized: m.betweenness[i] * norm,
                    closeness_in: val(&m.closeness_in),
                    closeness_out: val(&m.closeness_out),
                })
                .collect(),
            pagerank: val(&self.pagerank),
            pagerank_capacity: val(&self.pagerank_capacity),
            weak_component: self.weak_component[i],
            strong_component: self.strong_component[i],
            in_largest_scc: Some(self.strong_component[i]) == self.largest_scc,
            core_number: self.core_number[i],
            capacity_sat: self.node_capacity_sat[i],
            channels: self.node_channels[i],
            median_fee_msat: self.node_median_fee_msat[i],
            rank: self.rank[i].clone(),
        })
    }

    /// Edge betweenness and share of routes of channel `scid`; `None` when it has no enabled
    /// direction.
    pub fn channel(&self, scid: Scid) -> Option<ChannelReport> {
        let p = self.channels.binary_search(&scid).ok()?;
        Some(ChannelReport {
            scid,
            weighted: self
                .weighted
                .iter()
                .map(|m| {
                    let b = m.channel_betweenness[p];
                    let share = |x: f64| {
                        if m.reachable_pairs > 0 {
                            x / m.reachable_pairs as f64
                        } else {
                            0.0
                        }
                    };
                    ChannelWeighted {
                        weighting: m.weighting,
                        betweenness: b,
                        share_of_routes: [share(b[0]), share(b[1])],
                    }
                })
                .collect(),
        })
    }

    /// Bytes held by the result (an estimate: allocator overhead excluded).
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let n = self.nodes.capacity();
        let w: usize = self
            .weighted
            .iter()
            .map(|m| {
                (m.betweenness.capacity() + m.closeness_in.capacity() + m.closeness_out.capacity())
                    * 8
                    + m.channel_betweenness.capacity() * 16
            })
            .sum();
        n * size_of::<NodeId>()
            + self.channels.capacity() * size_of::<Scid>()
            + w
            + (self.pagerank.capacity() + self.pagerank_capacity.capacity()) * 8
            + (self.weak_component.capacity()
                + self.strong_component.capacity()
                + self.weak_component_sizes.capacity()
                + self.strong_component_sizes.capacity()
                + self.core_number.capacity()
                + self.node_channels.capacity())
                * 4
            + self.node_capacity_sat.capacity() * 8
            + self.node_median_fee_msat.capacity() * size_of::<Option<u64>>()
            + self.rank.capacity() * size_of::<RankEntry>()
            + self.weighted.capacity() * size_of::<WeightedMetrics>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestGraph;

    const AMOUNT: u64 = 1_000_000;

    /// Both directions of a channel with the given fees.
    fn both(t: &mut TestGraph, a: u32, b: u32, base: u32) -> Scid {
        let s = t.channel(a, b, 1_000_000);
        t.policy(s, a, base, 0, 40);
        t.policy(s, b, base, 0, 40);
        s
    }

    /// Betweenness by test-node number (`TestGraph` node `i`).
    fn bc_by_test_node(g: &Snapshot, w: Weighting, nodes: u32) -> Vec<f64> {
        let ag = ActiveGraph::new(g);
        let b = ag.betweenness(g, w).unwrap();
        (0..nodes)
            .map(|i| {
                let sn = g.node_idx(&TestGraph::node_id(i)).unwrap();
                ag.active_index(sn).map_or(f64::NAN, |a| b.node[a])
            })
            .collect()
    }

    #[test]
    fn path_betweenness_folds_its_leaves_exactly() {
        // 0 - 1 - 2 - 3, both directions: nodes 0 and 3 are folded leaves.
        let mut t = TestGraph::new(4);
        for i in 0..3 {
            both(&mut t, i, i + 1, 1);
        }
        let g = t.build();
        assert_eq!(
            bc_by_test_node(&g, Weighting::Hops, 4),
            vec![0.0, 4.0, 4.0, 0.0]
        );
        let b = ActiveGraph::new(&g)
            .betweenness(&g, Weighting::Hops)
            .unwrap();
        assert_eq!(b.reachable_pairs, 12);
        // Edge 1 -> 2 carries (0,2), (0,3), (1,2), (1,3).
        let mut e = b.edge.clone();
        e.sort_by(f64::total_cmp);
        assert_eq!(e, vec![3.0, 3.0, 3.0, 3.0, 4.0, 4.0]);
    }

    #[test]
    fn star_center_carries_every_leaf_pair() {
        let mut t = TestGraph::new(6);
        for i in 1..6 {
            both(&mut t, 0, i, 1);
        }
        let g = t.build();
        let bc = bc_by_test_node(
            &g,
            Weighting::Fee {
                amount_msat: AMOUNT,
            },
            6,
        );
        assert_eq!(bc, vec![20.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn one_way_cycle_and_equal_cost_ties() {
        // Directed 4-cycle: each node lies inside 0 + 1 + 2 pairs per source, 3 in total.
        let mut t = TestGraph::new(4);
        for i in 0..4 {
            let s = t.channel(i, (i + 1) % 4, 1000);
            t.policy(s, i, 1, 0, 40);
        }
        let g = t.build();
        assert_eq!(bc_by_test_node(&g, Weighting::Hops, 4), vec![3.0; 4]);

        // Square 0-1-2-3-0 in both directions: opposite corners have two equal routes, so
        // each corner carries half of two pairs.
        let mut t = TestGraph::new(4);
        for i in 0..4 {
            both(&mut t, i, (i + 1) % 4, 7);
        }
        let g = t.build();
        assert_eq!(
            bc_by_test_node(
                &g,
                Weighting::Fee {
                    amount_msat: AMOUNT
                },
                4
            ),
            vec![1.0; 4]
        );
    }

    #[test]
    fn fee_weighting_prefers_the_cheap_detour_and_collapses_parallel_channels() {
        // 0 -> 2 directly costs 1000 msat, 0 -> 1 -> 2 costs 2: node 1 carries (0, 2).
        let mut t = TestGraph::new(3);
        let direct = t.channel(0, 2, 1000);
        t.policy(direct, 0, 1000, 0, 40);
        let a = t.channel(0, 1, 1000);
        t.policy(a, 0, 1, 0, 40);
        let b = t.channel(1, 2, 1000);
        t.policy(b, 1, 1, 0, 40);
        // A dearer parallel channel 1 -> 2 must not add a second route.
        let b2 = t.channel(1, 2, 1000);
        t.policy(b2, 1, 5, 0, 40);
        let g = t.build();
        assert_eq!(
            bc_by_test_node(
                &g,
                Weighting::Fee {
                    amount_msat: AMOUNT
                },
                3
            ),
            vec![0.0, 1.0, 0.0]
        );
        assert_eq!(bc_by_test_node(&g, Weighting::Hops, 3), vec![0.0, 0.0, 0.0]);
        let r = NetworkAnalytics::compute(&g, &AnalyticsConfig::for_amount(AMOUNT)).unwrap();
        let fee = r.channel(b).unwrap().weighted[1].clone();
        assert!(matches!(fee.weighting, Weighting::Fee { .. }));
        let dir = g
            .edge_policy(2 * g.channel_idx(b).unwrap())
            .map_or(1, |_| 0);
        // 1 -> 2 carries (1, 2) and (0, 2) out of 3 reachable pairs.
        assert_eq!(fee.betweenness[dir], 2.0);
        assert!((fee.share_of_routes[dir] - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!(r.channel(b2).unwrap().weighted[1].betweenness, [0.0, 0.0]);
    }

    #[test]
    fn probability_weighting_avoids_small_channels() {
        // Amount 600k sat: 0 -> 1 -> 2 goes over big channels, the direct 0 -> 2 is too small.
        let mut t = TestGraph::new(3);
        let small = t.channel(0, 2, 500_000);
        t.policy(small, 0, 1, 0, 40);
        let a = t.channel(0, 1, 10_000_000);
        t.policy(a, 0, 1, 0, 40);
        let b = t.channel(1, 2, 10_000_000);
        t.policy(b, 1, 1, 0, 40);
        let g = t.build();
        let w = Weighting::Probability {
            amount_msat: 600_000_000,
        };
        assert_eq!(bc_by_test_node(&g, w, 3), vec![0.0, 1.0, 0.0]);
        assert!(ActiveGraph::new(&g)
            .betweenness(&g, Weighting::Probability { amount_msat: 0 })
            .is_err());
    }

    /// Brute-force reference: all-pairs distances and path counts by dynamic programming,
    /// betweenness and closeness from their definitions.
    struct Brute {
        n: usize,
        d: Vec<Vec<u64>>,
        sigma: Vec<Vec<f64>>,
        w: Vec<Vec<u64>>,
    }

    impl Brute {
        fn new(w: Vec<Vec<u64>>) -> Brute {
            let n = w.len();
            let inf = u64::MAX;
            let mut d = w.clone();
            for (i, row) in d.iter_mut().enumerate() {
                row[i] = 0;
            }
            for k in 0..n {
                for i in 0..n {
                    for j in 0..n {
                        if d[i][k] != inf && d[k][j] != inf && d[i][k] + d[k][j] < d[i][j] {
                            d[i][j] = d[i][k] + d[k][j];
                        }
                    }
                }
            }
            let mut sigma = vec![vec![0.0; n]; n];
            for s in 0..n {
                let mut order: Vec<usize> = (0..n).filter(|&t| d[s][t] != inf).collect();
                order.sort_by_key(|&t| d[s][t]);
                sigma[s][s] = 1.0;
                for &t in order.iter().skip(1) {
                    sigma[s][t] = (0..n)
                        .filter(|&u| {
                            w[u][t] != inf && d[s][u] != inf && d[s][u] + w[u][t] == d[s][t]
                        })
                        .map(|u| sigma[s][u])
                        .sum();
                }
            }
            Brute { n, d, sigma, w }
        }
        fn betweenness(&self) -> Vec<f64> {
            let inf = u64::MAX;
            (0..self.n)
                .map(|v| {
                    let mut b = 0.0;
                    for s in 0..self.n {
                        for t in 0..self.n {
                            if s == v || t == v || s == t || self.d[s][t] == inf {
                                continue;
                            }
                            if self.d[s][v] != inf
                                && self.d[v][t] != inf
                                && self.d[s][v] + self.d[v][t] == self.d[s][t]
                            {
                                b += self.sigma[s][v] * self.sigma[v][t] / self.sigma[s][t];
                            }
                        }
                    }
                    b
                })
                .collect()
        }
        fn edge_betweenness(&self, u: usize, v: usize) -> f64 {
            let inf = u64::MAX;
            let mut b = 0.0;
            for s in 0..self.n {
                for t in 0..self.n {
                    if s == t || self.d[s][t] == inf || self.d[s][u] == inf || self.d[v][t] == inf {
                        continue;
                    }
                    if self.d[s][u] + self.w[u][v] + self.d[v][t] == self.d[s][t] {
                        b += self.sigma[s][u] * self.sigma[v][t] / self.sigma[s][t];
                    }
                }
            }
            b
        }
        fn closeness(&self, outgoing: bool) -> Vec<f64> {
            let inf = u64::MAX;
            (0..self.n)
                .map(|v| {
                    let ds: Vec<u64> = (0..self.n)
                        .map(|x| if outgoing { self.d[v][x] } else { self.d[x][v] })
                        .filter(|&x| x != inf)
                        .collect();
                    let total: u64 = ds.iter().sum();
                    if total == 0 {
                        return 0.0;
                    }
                    let k = (ds.len() - 1) as f64;
                    (k / total as f64) * (k / (self.n - 1) as f64)
                })
                .collect()
        }
    }

    fn random_graph(seed: u64) -> TestGraph {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut rnd = move |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        let n = 4 + rnd(9) as u32;
        let mut t = TestGraph::new(n);
        let chans = n + rnd(u64::from(n) * 2) as u32;
        for _ in 0..chans {
            let a = rnd(u64::from(n)) as u32;
            // Bias towards low-numbered hubs so that leaves appear.
            let b = (rnd(u64::from(n)) as u32 / (1 + rnd(3) as u32)) % n;
            if a == b {
                continue;
            }
            let s = t.channel(a, b, 1000 + rnd(5) * 1000);
            for from in [a, b] {
                match rnd(6) {
                    0 => {}
                    1 => {
                        let mut u = crate::load::UpdateRecord {
                            scid: s,
                            direction: t.direction_from(s, from),
                            timestamp: 10,
                            message_flags: 1,
                            channel_flags: 0,
                            disabled: true,
                            cltv_delta: 40,
                            htlc_min_msat: 0,
                            htlc_max_msat: None,
                            fee_base_msat: 1,
                            fee_ppm: 0,
                        };
                        u.disabled = true;
                        t.update(u);
                    }
                    _ => t.policy(s, from, rnd(4) as u32, rnd(3) as u32 * 1000, 40),
                }
            }
        }
        t
    }

    /// The active graph rebuilt independently from the snapshot: min weight per ordered pair.
    fn weight_matrix(
        g: &Snapshot,
        ag: &ActiveGraph,
        weight: impl Fn(EdgeIdx) -> u64,
    ) -> Vec<Vec<u64>> {
        let n = ag.node_count();
        let mut w = vec![vec![u64::MAX; n]; n];
        for e in 0..g.edge_slot_count() as EdgeIdx {
            if g.edge_enabled(e) {
                let a = ag.active_index(g.edge_from(e)).unwrap();
                let b = ag.active_index(g.edge_to(e)).unwrap();
                w[a][b] = w[a][b].min(weight(e));
            }
        }
        w
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
    }

    #[test]
    fn betweenness_and_closeness_match_brute_force_on_random_graphs() {
        for seed in 1..120u64 {
            let g = random_graph(seed).build();
            let ag = ActiveGraph::new(&g);
            for w in [
                Weighting::Hops,
                Weighting::Fee {
                    amount_msat: AMOUNT,
                },
            ] {
                let mat = weight_matrix(&g, &ag, |e| match w {
                    Weighting::Hops => 1,
                    _ => g.edge_policy(e).unwrap().fee_msat(AMOUNT).max(1),
                });
                let brute = Brute::new(mat);
                let b = ag.betweenness(&g, w).unwrap();
                let expect = brute.betweenness();
                for (v, (&x, &y)) in b.node.iter().zip(&expect).enumerate() {
                    assert!(close(x, y), "seed {seed} {w:?} node {v}: {x} vs {y}");
                }
                for e in 0..ag.edge_count() {
                    let (u, v) = (ag.edge_from[e] as usize, ag.edge_to[e] as usize);
                    let x = brute.edge_betweenness(u, v);
                    assert!(
                        close(b.edge[e], x),
                        "seed {seed} {w:?} edge {u}->{v}: {} vs {x}",
                        b.edge[e]
                    );
                }
                let pairs = (0..ag.node_count())
                    .flat_map(|s| (0..ag.node_count()).map(move |t| (s, t)))
                    .filter(|&(s, t)| s != t && brute.d[s][t] != u64::MAX)
                    .count() as u64;
                assert_eq!(b.reachable_pairs, pairs, "seed {seed}");
                for outgoing in [false, true] {
                    let c = ag.closeness(&g, w, outgoing).unwrap();
                    let expect = brute.closeness(outgoing);
                    for v in 0..ag.node_count() {
                        assert!(
                            close(c[v], expect[v]),
                            "seed {seed} {w:?} out={outgoing} node {v}: {} vs {}",
                            c[v],
                            expect[v]
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn compute_reports_nodes_channels_and_top() {
        let mut t = TestGraph::new(5);
        for i in 1..5 {
            both(&mut t, 0, i, 10 * i);
        }
        let g = t.build();
        let r = NetworkAnalytics::compute(&g, &AnalyticsConfig::default()).unwrap();
        assert_eq!(r.nodes.len(), 5);
        assert_eq!(r.channels.len(), 4);
        let hub = TestGraph::node_id(0);
        let top = r.top(Metric::Betweenness(WeightKind::Hops), 2).unwrap();
        assert_eq!(top[0], (hub, 12.0));
        let rep = r.node(&hub).unwrap();
        assert_eq!(rep.weighted[0].betweenness.percentile, 1.0);
        assert_eq!(rep.weighted[0].betweenness_normalized, 1.0);
        assert_eq!(rep.core_number, 1);
        assert!(rep.in_largest_scc);
        assert_eq!(rep.rank.position, 1);
        assert_eq!(r.largest_scc_diameter, 2);
        assert_eq!(r.distributions.degree.summary.max, 4);
        assert!(r.node(&NodeId([2; 33])).is_none());
        assert!(r.heap_bytes() > 0);
        let mut cfg = AnalyticsConfig {
            weightings: vec![Weighting::Hops],
            ..Default::default()
        };
        let r = NetworkAnalytics::compute(&g, &cfg).unwrap();
        assert!(matches!(
            r.top(Metric::Betweenness(WeightKind::Fee), 1),
            Err(AnalyticsError::NotComputed(_))
        ));
        cfg.weightings = vec![Weighting::Hops, Weighting::Hops];
        assert_eq!(
            NetworkAnalytics::compute(&g, &cfg).unwrap_err(),
            AnalyticsError::DuplicateWeighting("hops")
        );
        cfg = AnalyticsConfig::default();
        cfg.pagerank_damping = 1.0;
        assert!(NetworkAnalytics::compute(&g, &cfg).is_err());
        assert!(serde_json::to_string(&r)
            .unwrap()
            .contains("\"reachable_pairs\""));
    }

    #[test]
    fn empty_snapshot_is_fine() {
        let g = TestGraph::new(3).build();
        let r = NetworkAnalytics::compute(&g, &AnalyticsConfig::default()).unwrap();
        assert!(r.nodes.is_empty());
        assert_eq!(r.largest_scc_diameter, 0);
    }
}
