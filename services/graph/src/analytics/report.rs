//! What [`NetworkAnalytics::compute`] gathers for one snapshot (every metric, per node
//! sorted by id and per channel sorted by scid, with distributions and the rank) and the
//! per-node and per-channel reports read from it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::graph::{ActiveGraph, Weighting};
use super::rank::{self, RankEntry};
use super::structure::Histogram;
use super::{AnalyticsConfig, AnalyticsError, PageRankWeight, WeightKind};
use crate::snapshot::{NodeIdx, Snapshot};
use crate::stats::Distribution;
use crate::types::{NodeId, Scid};

/// Percentiles and a log2 histogram of one quantity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DistributionReport {
    /// Nearest-rank percentiles, min, max and mean.
    pub summary: Distribution,
    /// Counts per power-of-two bucket.
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Distributions {
    /// Channels with an enabled direction, per active node.
    pub degree: DistributionReport,
    /// Capacity (sat) of each channel with an enabled direction.
    pub capacity_sat: DistributionReport,
    /// Over enabled directions.
    pub fee_base_msat: DistributionReport,
    /// Proportional fee (ppm) over enabled directions.
    pub fee_ppm: DistributionReport,
    /// Cltv delta (blocks) over enabled directions.
    pub cltv_delta: DistributionReport,
}

/// Betweenness and closeness of one weighting, per node (sorted by node id) and per channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WeightedMetrics {
    /// The weighting these metrics were computed under.
    pub weighting: Weighting,
    /// Ordered reachable pairs (the denominator of the share of routes).
    pub reachable_pairs: u64,
    /// Unnormalized node betweenness, aligned with [`NetworkAnalytics::nodes`].
    pub betweenness: Vec<f64>,
    /// Closeness (Wasserman-Faust scaled) over distances *to* each node, aligned with
    /// [`NetworkAnalytics::nodes`]; 0 when nothing else reaches it.
    pub closeness_in: Vec<f64>,
    /// Closeness (Wasserman-Faust scaled) over distances *from* each node, aligned with
    /// [`NetworkAnalytics::nodes`]; 0 when it reaches nothing else.
    pub closeness_out: Vec<f64>,
    /// Unnormalized edge betweenness per channel direction, aligned with
    /// [`NetworkAnalytics::channels`]: `[direction 0, direction 1]`.
    pub channel_betweenness: Vec<[f64; 2]>,
}

/// Everything the analytics engine computes for one snapshot. Per-node vectors are aligned
/// with `nodes` (active nodes sorted by id), per-channel ones with `channels` (channels with
/// an enabled direction, sorted by scid).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetworkAnalytics {
    /// The configuration the metrics were computed with.
    pub config: AnalyticsConfig,
    /// Active nodes (with at least one enabled direction), sorted by id.
    pub nodes: Vec<NodeId>,
    /// Channels with at least one enabled direction, sorted by scid.
    pub channels: Vec<Scid>,
    /// Collapsed directed edges (ordered node pairs with an enabled direction).
    pub directed_pairs: u64,
    /// Betweenness and closeness, one entry per configured weighting, in configuration order.
    pub weighted: Vec<WeightedMetrics>,
    /// Unweighted PageRank per node (sums to 1 over active nodes).
    pub pagerank: Vec<f64>,
    /// Capacity-weighted PageRank per node (sums to 1 over active nodes).
    pub pagerank_capacity: Vec<f64>,
    /// Whether both PageRank runs met the tolerance before the iteration cap.
    pub pagerank_converged: bool,
    /// Weakly connected component label per node (labels index `weak_component_sizes`).
    pub weak_component: Vec<u32>,
    /// Number of nodes in each weakly connected component, indexed by label.
    pub weak_component_sizes: Vec<u32>,
    /// Strongly connected component label per node (labels index `strong_component_sizes`).
    pub strong_component: Vec<u32>,
    /// Number of nodes in each strongly connected component, indexed by label.
    pub strong_component_sizes: Vec<u32>,
    /// Label of the largest strongly connected component.
    pub largest_scc: Option<u32>,
    /// Hop diameter of the largest strongly connected component.
    pub largest_scc_diameter: u64,
    /// k-core number per node, on the undirected graph of enabled channels.
    pub core_number: Vec<u32>,
    /// Capacity (sat) of each node's channels with an enabled direction.
    pub node_capacity_sat: Vec<u64>,
    /// Number of each node's channels with an enabled direction.
    pub node_channels: Vec<u32>,
    /// Median fee (msat, for `amount_msat`) over each node's enabled outgoing directions.
    pub node_median_fee_msat: Vec<Option<u64>>,
    /// Composite rank per node.
    pub rank: Vec<RankEntry>,
    /// Distributions of degree, capacity and fees over the active graph.
    pub distributions: Distributions,
}

/// A metric a node list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Unnormalized betweenness under the configured weighting of that kind.
    Betweenness(WeightKind),
    /// Closeness over distances to the node, under the configured weighting of that kind.
    ClosenessIn(WeightKind),
    /// Closeness over distances from the node, under the configured weighting of that kind.
    ClosenessOut(WeightKind),
    /// Unweighted PageRank.
    PageRank,
    /// Capacity-weighted PageRank.
    PageRankCapacity,
    /// The composite rank score.
    Rank,
}

/// One metric of one node with its percentile among all active nodes (share of nodes with a
/// smaller value plus half the share of ties, so in `[0, 1]`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Valued {
    /// The metric's value.
    pub value: f64,
    /// Its percentile among active nodes, in `[0, 1]`.
    pub percentile: f64,
}

/// Betweenness and closeness of a node under one weighting.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeWeighted {
    /// The weighting these values were computed under.
    pub weighting: Weighting,
    /// Unnormalized.
    pub betweenness: Valued,
    /// `betweenness / ((n - 1)(n - 2))`.
    pub betweenness_normalized: f64,
    /// Closeness over distances to the node (Wasserman-Faust scaled).
    pub closeness_in: Valued,
    /// Closeness over distances from the node (Wasserman-Faust scaled).
    pub closeness_out: Valued,
}

/// All metrics of one node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeReport {
    /// The node this report is about.
    pub node_id: NodeId,
    /// Betweenness and closeness per configured weighting, in configuration order.
    pub weighted: Vec<NodeWeighted>,
    /// Unweighted PageRank.
    pub pagerank: Valued,
    /// Capacity-weighted PageRank.
    pub pagerank_capacity: Valued,
    /// Label of the node's weakly connected component.
    pub weak_component: u32,
    /// Label of the node's strongly connected component.
    pub strong_component: u32,
    /// Whether the node is in the largest strongly connected component.
    pub in_largest_scc: bool,
    /// k-core number on the undirected graph of enabled channels.
    pub core_number: u32,
    /// Summed capacity (sat) of the node's channels with an enabled direction.
    pub capacity_sat: u64,
    /// Number of the node's channels with an enabled direction.
    pub channels: u32,
    /// Median fee (msat, for the configured amount) over its enabled outgoing directions;
    /// `None` when it has none.
    pub median_fee_msat: Option<u64>,
    /// The node's composite rank.
    pub rank: RankEntry,
}

/// Edge betweenness and share of routes of one channel direction under one weighting.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelWeighted {
    /// The weighting these values were computed under.
    pub weighting: Weighting,
    /// `[direction 0, direction 1]`, unnormalized.
    pub betweenness: [f64; 2],
    /// `betweenness / reachable_pairs`.
    pub share_of_routes: [f64; 2],
}

/// Metrics of one channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelReport {
    /// The channel this report is about.
    pub scid: Scid,
    /// Betweenness and share of routes per configured weighting, in configuration order.
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
        let per_node_u32 = |v: &[u32]| sorted.iter().map(|&i| v[i as usize]).collect::<Vec<u32>>();
        let (chan_pos, channels) = enabled_channels(g);
        let weighted = config
            .weightings
            .iter()
            .map(|&w| weighted_metrics(g, &ag, w, &chan_pos, channels.len(), &per_node))
            .collect::<Result<Vec<_>, _>>()?;
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
        let stats = NodeStats::of(g, &ag, &sorted, config.amount_msat);
        let distributions = Distributions::of(g, &stats.channels);
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
                capacity_sat: &stats.capacity_sat,
                channels: &stats.channels,
                median_fee_msat: &stats.median_fee_msat,
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
            node_capacity_sat: stats.capacity_sat,
            node_channels: stats.channels,
            node_median_fee_msat: stats.median_fee_msat,
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

/// The channels with an enabled direction, sorted by scid (the snapshot's order), and the
/// position of each (by channel index) in that list.
fn enabled_channels(g: &Snapshot) -> (HashMap<u32, usize>, Vec<Scid>) {
    let mut chan_pos: HashMap<u32, usize> = HashMap::new();
    let mut channels = Vec::new();
    for (ci, c) in g.channels().iter().enumerate() {
        let ci = ci as u32;
        if g.edge_enabled(2 * ci) || g.edge_enabled(2 * ci + 1) {
            chan_pos.insert(ci, channels.len());
            channels.push(c.scid);
        }
    }
    (chan_pos, channels)
}

/// Betweenness (node and per channel direction) and closeness of one weighting; `per_node`
/// puts active-node values in the report's node order.
fn weighted_metrics(
    g: &Snapshot,
    ag: &ActiveGraph,
    w: Weighting,
    chan_pos: &HashMap<u32, usize>,
    channels: usize,
    per_node: &dyn Fn(&[f64]) -> Vec<f64>,
) -> Result<WeightedMetrics, AnalyticsError> {
    let b = ag.betweenness(g, w)?;
    let mut per_channel = vec![[0.0; 2]; channels];
    for (e, &x) in b.edge.iter().enumerate() {
        let se = b.edge_channel[e];
        if let Some(&p) = chan_pos.get(&Snapshot::edge_channel(se)) {
            per_channel[p][Snapshot::edge_direction(se)] += x;
        }
    }
    Ok(WeightedMetrics {
        weighting: w,
        reachable_pairs: b.reachable_pairs,
        betweenness: per_node(&b.node),
        closeness_in: per_node(&ag.closeness(g, w, false)?),
        closeness_out: per_node(&ag.closeness(g, w, true)?),
        channel_betweenness: per_channel,
    })
}

/// Per node (in the report's order): capacity and number of its channels with an enabled
/// direction, and the median fee over its enabled outgoing directions.
struct NodeStats {
    capacity_sat: Vec<u64>,
    channels: Vec<u32>,
    median_fee_msat: Vec<Option<u64>>,
}

impl NodeStats {
    fn of(g: &Snapshot, ag: &ActiveGraph, sorted: &[u32], amount_msat: u64) -> NodeStats {
        let n = sorted.len();
        let mut stats = NodeStats {
            capacity_sat: Vec::with_capacity(n),
            channels: Vec::with_capacity(n),
            median_fee_msat: Vec::with_capacity(n),
        };
        for &i in sorted {
            let sn: NodeIdx = ag.snap[i as usize];
            let mut cap = 0u64;
            let mut count = 0u32;
            let mut fees = Vec::new();
            for &c in g.channels_of(sn) {
                if g.edge_enabled(2 * c) || g.edge_enabled(2 * c + 1) {
                    cap = cap.saturating_add(g.channel(c).capacity_sat);
                    count += 1;
                }
                let dir = if g.channel(c).nodes[0] == sn { 0 } else { 1 };
                let e = 2 * c + dir;
                if g.edge_enabled(e) {
                    if let Some(p) = g.edge_policy(e) {
                        fees.push(p.fee_msat(amount_msat));
                    }
                }
            }
            fees.sort_unstable();
            stats.capacity_sat.push(cap);
            stats.channels.push(count);
            stats
                .median_fee_msat
                .push((!fees.is_empty()).then(|| fees[(fees.len() - 1) / 2]));
        }
        stats
    }
}

impl Distributions {
    /// The distributions of `g`'s active graph, given each active node's channel count.
    fn of(g: &Snapshot, node_channels: &[u32]) -> Distributions {
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
        Distributions {
            degree: DistributionReport::of(node_channels.iter().map(|&c| u64::from(c)).collect()),
            capacity_sat: DistributionReport::of(caps),
            fee_base_msat: DistributionReport::of(bases),
            fee_ppm: DistributionReport::of(ppms),
            cltv_delta: DistributionReport::of(cltvs),
        }
    }
}
