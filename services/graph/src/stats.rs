//! Network-wide summary statistics of a snapshot: sizes, distributions, components.

use serde::{Deserialize, Serialize};

use crate::snapshot::Snapshot;

/// Percentiles of a distribution (nearest rank on the sorted values).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    /// Number of values.
    pub count: u64,
    /// Smallest value.
    pub min: u64,
    /// 10th percentile.
    pub p10: u64,
    /// 25th percentile.
    pub p25: u64,
    /// Median.
    pub p50: u64,
    /// 75th percentile.
    pub p75: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest value.
    pub max: u64,
    /// Arithmetic mean (0 when there are no values).
    pub mean: f64,
}

impl Distribution {
    /// Summarizes `values` (sorted in place).
    pub fn of(values: &mut [u64]) -> Distribution {
        if values.is_empty() {
            return Distribution::default();
        }
        values.sort_unstable();
        let n = values.len();
        // Nearest rank: the smallest value with at least q of the data at or below it.
        let at = |q: f64| values[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
        let sum: u128 = values.iter().map(|&v| u128::from(v)).sum();
        Distribution {
            count: n as u64,
            min: values[0],
            p10: at(0.10),
            p25: at(0.25),
            p50: at(0.50),
            p75: at(0.75),
            p90: at(0.90),
            p99: at(0.99),
            max: values[n - 1],
            mean: sum as f64 / n as f64,
        }
    }
}

/// Connected components of the undirected graph of channels with at least one enabled
/// direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Components {
    /// Components with at least two nodes.
    pub count: u64,
    /// Nodes in the largest component.
    pub largest_nodes: u64,
    /// Nodes without any usable channel.
    pub isolated_nodes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
/// Network-wide counts and distributions of one snapshot.
pub struct NetworkStats {
    /// Number of nodes.
    pub nodes: u64,
    /// Nodes that announced themselves.
    pub nodes_announced: u64,
    /// Number of channels.
    pub channels: u64,
    /// Total capacity (sat) of all channels.
    pub capacity_sat: u64,
    /// Directions with a policy that is not disabled.
    pub enabled_directions: u64,
    /// Directions with a policy that is disabled.
    pub disabled_directions: u64,
    /// Directions with no known `channel_update`.
    pub directions_without_policy: u64,
    /// Channels per node, over nodes with at least one channel.
    pub degree: Distribution,
    /// Capacity (sat) per channel, over all channels.
    pub channel_capacity_sat: Distribution,
    /// Over enabled directions.
    pub fee_base_msat: Distribution,
    /// Proportional fee (ppm), over enabled directions.
    pub fee_ppm: Distribution,
    /// Cltv delta (blocks), over enabled directions.
    pub cltv_delta: Distribution,
    /// Connected components over channels with an enabled direction.
    pub components: Components,
}

impl NetworkStats {
    /// Computes every statistic of `g` in one pass over the channels.
    pub fn compute(g: &Snapshot) -> NetworkStats {
        let mut s = NetworkStats {
            nodes: g.node_count() as u64,
            nodes_announced: g
                .nodes()
                .iter()
                .filter(|n| n.announced_at.is_some())
                .count() as u64,
            channels: g.channel_count() as u64,
            ..Default::default()
        };
        let mut capacities = Vec::with_capacity(g.channel_count());
        let mut bases = Vec::new();
        let mut ppms = Vec::new();
        let mut cltvs = Vec::new();
        let mut uf = UnionFind::new(g.node_count());
        for c in g.channels() {
            s.capacity_sat += c.capacity_sat;
            capacities.push(c.capacity_sat);
            let mut usable = false;
            for p in &c.policies {
                match p {
                    None => s.directions_without_policy += 1,
                    Some(p) if p.disabled => s.disabled_directions += 1,
                    Some(p) => {
                        s.enabled_directions += 1;
                        usable = true;
                        bases.push(u64::from(p.fee_base_msat));
                        ppms.push(u64::from(p.fee_ppm));
                        cltvs.push(u64::from(p.cltv_delta));
                    }
                }
            }
            if usable {
                uf.union(c.nodes[0] as usize, c.nodes[1] as usize);
            }
        }
        let mut degrees: Vec<u64> = (0..g.node_count() as u32)
            .map(|n| g.channels_of(n).len() as u64)
            .filter(|&d| d > 0)
            .collect();
        s.degree = Distribution::of(&mut degrees);
        s.channel_capacity_sat = Distribution::of(&mut capacities);
        s.fee_base_msat = Distribution::of(&mut bases);
        s.fee_ppm = Distribution::of(&mut ppms);
        s.cltv_delta = Distribution::of(&mut cltvs);
        s.components = uf.components();
        s
    }
}

struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
        }
    }
    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] as usize != x {
            let grand = self.parent[self.parent[x] as usize];
            self.parent[x] = grand;
            x = grand as usize;
        }
        x
    }
    fn union(&mut self, a: usize, b: usize) {
        let (mut a, mut b) = (self.find(a), self.find(b));
        if a == b {
            return;
        }
        if self.size[a] < self.size[b] {
            std::mem::swap(&mut a, &mut b);
        }
        self.parent[b] = a as u32;
        self.size[a] += self.size[b];
    }
    fn components(&mut self) -> Components {
        let mut c = Components::default();
        for x in 0..self.parent.len() {
            if self.find(x) == x {
                let size = u64::from(self.size[x]);
                if size == 1 {
                    c.isolated_nodes += 1;
                } else {
                    c.count += 1;
                    c.largest_nodes = c.largest_nodes.max(size);
                }
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestGraph;

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<u64> = (1..=100).rev().collect();
        let d = Distribution::of(&mut v);
        assert_eq!((d.min, d.p10, d.p50, d.p99, d.max), (1, 10, 50, 99, 100));
        assert_eq!(d.mean, 50.5);
        assert_eq!(Distribution::of(&mut []), Distribution::default());
    }

    #[test]
    fn counts_directions_and_components() {
        let mut t = TestGraph::new(6);
        let ab = t.channel(0, 1, 1000);
        t.policy(ab, 0, 1, 100, 40);
        let bc = t.channel(1, 2, 3000);
        t.policy(bc, 1, 5, 200, 80);
        let de = t.channel(3, 4, 2000);
        t.policy(de, 3, 1, 1, 10);
        t.policy(de, 4, 1, 1, 10);
        t.channel(4, 5, 500); // no policy: does not connect 5
        let s = NetworkStats::compute(&t.build());
        assert_eq!(s.nodes, 6);
        assert_eq!(s.channels, 4);
        assert_eq!(s.capacity_sat, 6500);
        assert_eq!(s.enabled_directions, 4);
        assert_eq!(s.directions_without_policy, 4);
        assert_eq!(s.fee_ppm.max, 200);
        assert_eq!(s.degree.max, 2);
        assert_eq!(
            s.components,
            Components {
                count: 2,
                largest_nodes: 3,
                isolated_nodes: 1
            }
        );
    }
}
