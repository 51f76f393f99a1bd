//! The composite node rank: a weighted mean of per-node component scores, each a percentile
//! in `[0, 1]` among active nodes so that no unit dominates.
//!
//! Components (higher is better):
//! * `centrality`: percentile of fee-weighted betweenness (the first configured weighting when
//!   fee is not configured): how much of the network's cheapest routing passes through it;
//! * `capacity`: percentile of the capacity of its enabled channels;
//! * `channels`: percentile of the number of its enabled channels;
//! * `fees`: percentile of the *negated* median fee it charges for the configured amount over
//!   its enabled outgoing directions (cheaper is better); 0 when it has none (it cannot
//!   forward);
//! * `uptime`: the fraction of time it was seen online, from gossip history (taken as given,
//!   clamped to `[0, 1]`). Absent when no history is supplied for the node: the remaining
//!   weights are then renormalized, so a missing history neither helps nor hurts.
//!
//! `score = sum(weight_i * component_i) / sum(weight_i)` over the present components.

use serde::{Deserialize, Serialize};

use super::AnalyticsError;

/// Weights of the rank components (any non-negative scale; they are normalized).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RankWeights {
    /// Weight of the betweenness percentile.
    pub centrality: f64,
    /// Weight of the enabled-capacity percentile.
    pub capacity: f64,
    /// Weight of the enabled-channel-count percentile.
    pub channels: f64,
    /// Weight of the (negated) median fee percentile.
    pub fees: f64,
    /// Weight of the uptime fraction; ignored for nodes without uptime history.
    pub uptime: f64,
}

impl Default for RankWeights {
    /// 0.35 centrality, 0.20 capacity, 0.15 channels, 0.15 fees, 0.15 uptime.
    fn default() -> Self {
        RankWeights {
            centrality: 0.35,
            capacity: 0.20,
            channels: 0.15,
            fees: 0.15,
            uptime: 0.15,
        }
    }
}

impl RankWeights {
    pub(crate) fn validate(&self) -> Result<(), AnalyticsError> {
        let all = [
            self.centrality,
            self.capacity,
            self.channels,
            self.fees,
            self.uptime,
        ];
        if all.iter().any(|w| !(w.is_finite() && *w >= 0.0)) || all[..4].iter().sum::<f64>() <= 0.0
        {
            return Err(AnalyticsError::BadRankWeights);
        }
        Ok(())
    }
}

/// Each component of a node's rank, in `[0, 1]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankComponents {
    /// Percentile of fee-weighted betweenness (the first weighting when fee is not configured).
    pub centrality: f64,
    /// Percentile of the capacity (sat) of the node's enabled channels.
    pub capacity: f64,
    /// Percentile of the number of the node's enabled channels.
    pub channels: f64,
    /// Percentile of the negated median fee (cheaper is higher); 0 when the node has no enabled
    /// outgoing direction.
    pub fees: f64,
    /// `None` without uptime history for this node.
    pub uptime: Option<f64>,
}

/// A node's composite rank.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankEntry {
    /// Weighted mean of the components, in `[0, 1]`.
    pub score: f64,
    /// 1 = best; ties share the better position order by node id.
    pub position: u32,
    /// Percentile of `score` among active nodes.
    pub percentile: f64,
    /// The per-component scores the `score` is the weighted mean of.
    pub components: RankComponents,
}

pub(crate) struct Inputs<'a> {
    pub centrality: &'a [f64],
    pub capacity_sat: &'a [u64],
    pub channels: &'a [u32],
    pub median_fee_msat: &'a [Option<u64>],
    pub uptime: Option<&'a [Option<f64>]>,
}

/// Percentile of each value among `values`: (number smaller + half the number of *other*
/// equal values) / (n - 1); 0.5 for a single value.
pub(crate) fn percentiles(values: &[f64]) -> Vec<f64> {
    let n = values.len();
    if n <= 1 {
        return vec![0.5; n];
    }
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut out = vec![0.0; n];
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && values[idx[j + 1]] == values[idx[i]] {
            j += 1;
        }
        let p = (i as f64 + (j - i) as f64 / 2.0) / (n - 1) as f64;
        for &k in &idx[i..=j] {
            out[k] = p;
        }
        i = j + 1;
    }
    out
}

/// Percentile of one value `x` among `values` (same definition as [`percentiles`]).
pub(crate) fn percentile_of(values: &[f64], x: f64) -> f64 {
    let n = values.len();
    if n <= 1 {
        return 0.5;
    }
    let less = values.iter().filter(|&&v| v < x).count();
    let equal = values.iter().filter(|&&v| v == x).count();
    (less as f64 + equal.saturating_sub(1) as f64 / 2.0) / (n - 1) as f64
}

pub(crate) fn rank(w: &RankWeights, inp: &Inputs<'_>) -> Vec<RankEntry> {
    let n = inp.centrality.len();
    let centrality = percentiles(inp.centrality);
    let capacity = percentiles(
        &inp.capacity_sat
            .iter()
            .map(|&c| c as f64)
            .collect::<Vec<_>>(),
    );
    let channels = percentiles(
        &inp.channels
            .iter()
            .map(|&c| f64::from(c))
            .collect::<Vec<_>>(),
    );
    // Nodes that cannot forward sort below every fee; they get 0 below anyway.
    let neg_fee: Vec<f64> = inp
        .median_fee_msat
        .iter()
        .map(|f| f.map_or(f64::NEG_INFINITY, |f| -(f as f64)))
        .collect();
    let fees = percentiles(&neg_fee);
    let mut entries: Vec<RankEntry> = (0..n)
        .map(|i| {
            let uptime =
                inp.uptime
                    .and_then(|u| u[i])
                    .map(|u| if u.is_nan() { 0.0 } else { u.clamp(0.0, 1.0) });
            let c = RankComponents {
                centrality: centrality[i],
                capacity: capacity[i],
                channels: channels[i],
                fees: if inp.median_fee_msat[i].is_some() {
                    fees[i]
                } else {
                    0.0
                },
                uptime,
            };
            let mut num = w.centrality * c.centrality
                + w.capacity * c.capacity
                + w.channels * c.channels
                + w.fees * c.fees;
            let mut den = w.centrality + w.capacity + w.channels + w.fees;
            if let Some(u) = c.uptime {
                num += w.uptime * u;
                den += w.uptime;
            }
            RankEntry {
                score: num / den,
                position: 0,
                percentile: 0.0,
                components: c,
            }
        })
        .collect();
    let scores: Vec<f64> = entries.iter().map(|e| e.score).collect();
    let pct = percentiles(&scores);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    for (pos, &i) in order.iter().enumerate() {
        entries[i].position = pos as u32 + 1;
        entries[i].percentile = pct[i];
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_split_ties_evenly() {
        let p = percentiles(&[1.0, 2.0, 2.0, 3.0]);
        assert_eq!(p, vec![0.0, 0.5, 0.5, 1.0]);
        assert_eq!(percentile_of(&[1.0, 2.0, 2.0, 3.0], 2.0), 0.5);
        assert_eq!(percentiles(&[7.0]), vec![0.5]);
    }

    #[test]
    fn missing_uptime_is_neutral_and_cheaper_fees_rank_higher() {
        let w = RankWeights::default();
        let inp = Inputs {
            centrality: &[0.0, 0.0, 0.0],
            capacity_sat: &[10, 10, 10],
            channels: &[1, 1, 1],
            median_fee_msat: &[Some(100), Some(5), None],
            uptime: Some(&[None, None, Some(1.0)]),
        };
        let r = rank(&w, &inp);
        // Equal everywhere except fees: the cheaper node wins; the node without outgoing
        // directions gets fees = 0 but its full uptime lifts it.
        assert_eq!(r[1].components.fees, 1.0);
        assert_eq!(r[0].components.fees, 0.5);
        assert_eq!(r[2].components.fees, 0.0);
        assert!(r[1].score > r[0].score);
        assert_eq!(r[1].position, 1);
        let expect0 = (0.35 * 0.5 + 0.2 * 0.5 + 0.15 * 0.5 + 0.15 * 0.5) / 0.85;
        assert!((r[0].score - expect0).abs() < 1e-12);
        let expect2 = (0.35 * 0.5 + 0.2 * 0.5 + 0.15 * 0.5 + 0.15 * 1.0) / 1.0;
        assert!((r[2].score - expect2).abs() < 1e-12);
    }

    #[test]
    fn rejects_bad_weights() {
        let w = RankWeights {
            fees: -1.0,
            ..Default::default()
        };
        assert_eq!(w.validate(), Err(AnalyticsError::BadRankWeights));
        let zero = RankWeights {
            centrality: 0.0,
            capacity: 0.0,
            channels: 0.0,
            fees: 0.0,
            uptime: 1.0,
        };
        assert_eq!(zero.validate(), Err(AnalyticsError::BadRankWeights));
    }
}
