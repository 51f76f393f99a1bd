//! Sources x destinations: [`RoutingIndex::matrix`].

use rayon::prelude::*;

use super::search::Query;
use super::{
    CostModel, Route, RouteError, RouteRequest, RoutingIndex, DEFAULT_FINAL_CLTV_DELTA,
    DEFAULT_MAX_CLTV, MAX_AMOUNT_MSAT, MAX_HOPS,
};
use crate::types::NodeId;

/// One cell of a [`Matrix`]: a route's fee and probability, or why there is none.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MatrixCell {
    /// Total fee (msat) of the route; `None` when there is none.
    pub fee_msat: Option<u64>,
    /// Success probability of the route; `None` when there is none.
    pub probability: Option<f64>,
    /// Number of hops of the route; `None` when there is none.
    pub hops: Option<u8>,
    /// [`RouteError::code`] when there is no route.
    pub error: Option<&'static str>,
}

/// Sources x destinations: `cells[i][j]` is the route from `sources[i]` to `destinations[j]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Matrix {
    /// Route sources (rows), in request order.
    pub sources: Vec<NodeId>,
    /// Route destinations (columns), in request order.
    pub destinations: Vec<NodeId>,
    /// Amount (msat) delivered to each destination.
    pub amount_msat: u64,
    /// The model every cell's route was chosen under.
    pub cost_model: CostModel,
    /// `cells[i][j]`: the route from `sources[i]` to `destinations[j]`.
    pub cells: Vec<Vec<MatrixCell>>,
}

impl RoutingIndex {
    /// Sources x destinations for one amount and model. Under the fee model, one backward
    /// search per destination settles every source at once (columns in parallel); a cell it
    /// cannot certify, and every cell under the other models, is a [`find_route`] call.
    ///
    /// [`find_route`]: RoutingIndex::find_route
    pub fn matrix(
        &self,
        sources: &[NodeId],
        destinations: &[NodeId],
        amount_msat: u64,
        cost_model: CostModel,
    ) -> Matrix {
        let cell_of = |r: Result<Route, RouteError>| match r {
            Ok(r) => MatrixCell {
                fee_msat: Some(r.total_fee_msat),
                probability: Some(r.probability),
                hops: Some(r.hops.len() as u8),
                error: None,
            },
            Err(e) => MatrixCell {
                fee_msat: None,
                probability: None,
                hops: None,
                error: Some(e.code()),
            },
        };
        let pair = |s: &NodeId, d: &NodeId| {
            cell_of(self.find_route(&RouteRequest::new(*s, *d, amount_msat).with_model(cost_model)))
        };
        let src_idx: Option<Vec<u32>> = sources.iter().map(|s| self.node_by_id(s)).collect();
        let cells = match (cost_model, src_idx) {
            (CostModel::Fee, Some(src_idx)) => {
                let columns: Vec<Vec<MatrixCell>> = destinations
                    .par_iter()
                    .map(|d| {
                        let valid_amount = (1..=MAX_AMOUNT_MSAT).contains(&amount_msat);
                        let Some(dst) = self.node_by_id(d).filter(|_| valid_amount) else {
                            return sources.iter().map(|s| pair(s, d)).collect();
                        };
                        // `RouteRequest::new`'s defaults, resolved.
                        let q = Query {
                            src: dst,
                            dst,
                            amount: amount_msat,
                            model: CostModel::Fee,
                            max_fee: u64::MAX,
                            max_hops: MAX_HOPS,
                            max_cltv: DEFAULT_MAX_CLTV,
                            final_cltv: u32::from(DEFAULT_FINAL_CLTV_DELTA),
                            exclude_nodes: Vec::new(),
                            exclude_channels: Vec::new(),
                        };
                        let found = self.fee_column(dst, amount_msat, &src_idx, &q);
                        sources
                            .iter()
                            .zip(&src_idx)
                            .zip(found)
                            .map(|((s, &si), path)| match path {
                                Some(path) => {
                                    let q = Query {
                                        src: si,
                                        dst,
                                        ..q.clone()
                                    };
                                    cell_of(Ok(self.build_route(&path, &q)))
                                }
                                None => pair(s, d),
                            })
                            .collect()
                    })
                    .collect();
                (0..sources.len())
                    .map(|i| columns.iter().map(|c| c[i].clone()).collect())
                    .collect()
            }
            _ => sources
                .par_iter()
                .map(|s| destinations.iter().map(|d| pair(s, d)).collect())
                .collect(),
        };
        Matrix {
            sources: sources.to_vec(),
            destinations: destinations.to_vec(),
            amount_msat,
            cost_model,
            cells,
        }
    }
}
