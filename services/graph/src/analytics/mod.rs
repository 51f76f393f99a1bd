//! # Network analytics: centrality, structure, distributions and a composite node rank
//!
//! Everything is computed on the *active graph* of a [`Snapshot`] ([`ActiveGraph`]: nodes
//! with an enabled direction, one directed edge per ordered node pair with an enabled
//! direction, parallel channels collapsed to the cheapest). [`NetworkAnalytics::compute`]
//! computes every metric once per snapshot (the serving layer caches the result); the
//! per-metric methods on [`ActiveGraph`] compute one metric.
//!
//! This module is pure and exact: no I/O, no logging, no async. Shortest-path metrics run
//! their sources in parallel on rayon's pool, and give the same result to the last bit
//! whatever the number of threads or the scheduling (sums over sources are formed in a fixed
//! order): a day's analytics computed twice, or on another replica, rank nodes identically.
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

//!
//! ## Files
//! `graph.rs` (the active graph and its weightings), `paths/` (shortest-path metrics),
//! `structure.rs` (PageRank, components, cores), `rank.rs` (the composite rank),
//! `report.rs` ([`NetworkAnalytics`] and its reports); this file, the configuration and the
//! per-metric methods of [`ActiveGraph`].

mod graph;
mod paths;
mod rank;
mod report;
mod structure;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use graph::{ActiveGraph, Weighting};
pub use rank::{RankComponents, RankEntry, RankWeights};
pub use report::{
    ChannelReport, ChannelWeighted, DistributionReport, Distributions, Metric, NetworkAnalytics,
    NodeReport, NodeWeighted, Valued, WeightedMetrics,
};
pub use structure::Histogram;

use crate::snapshot::{EdgeIdx, Snapshot};
use graph::{fee_weight, probability_weight, Weights};

/// Errors from invalid analytics parameters.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalyticsError {
    #[error("amount_msat must be at least 1 msat")]
    /// `amount_msat` (of the configuration or of a weighting) is 0.
    ZeroAmount,
    #[error("PageRank damping must be in (0, 1), got {0}")]
    /// The PageRank damping factor is not strictly between 0 and 1 (or is NaN).
    BadDamping(f64),
    #[error("PageRank tolerance must be positive and finite, got {0}")]
    /// The PageRank tolerance is zero, negative, NaN or infinite.
    BadTolerance(f64),
    #[error("rank weights must be finite, non-negative, and not all zero")]
    /// A rank weight is negative or not finite, or the four weights other than uptime sum to 0.
    BadRankWeights,
    #[error("weighting {0} is listed twice")]
    /// The configuration lists a weighting kind (its label) more than once.
    DuplicateWeighting(&'static str),
    #[error("metric {0} was not computed with this configuration")]
    /// A metric was asked for a weighting kind (its label) that the configuration did not include.
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

    pub(crate) fn validate(&self) -> Result<(), AnalyticsError> {
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
    /// Every hop costs 1.
    Hops,
    /// The hop's fee for the configuration's amount.
    Fee,
    /// The hop's probability cost for the configuration's amount.
    Probability,
}

impl WeightKind {
    pub(crate) fn label(self) -> &'static str {
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
    /// The weighting the shortest paths were computed under.
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
    /// Score per active node; the scores sum to 1.
    pub rank: Vec<f64>,
    /// Sweeps run (at most the configured cap).
    pub iterations: u32,
    /// False when the iteration cap was hit before the tolerance.
    pub converged: bool,
}

/// Components of the active graph: `label[i]` for active node `i`, labels `0..sizes.len()`
/// numbered in order of their lowest active index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComponentLabels {
    /// Component label of each active node.
    pub label: Vec<u32>,
    /// Number of active nodes in each component, indexed by label.
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
