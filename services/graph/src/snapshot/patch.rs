//! Copies of a [`Snapshot`] with some directions' policies replaced (what-if analyses: fee
//! overrides, balance caps). Only existing policies change, so the adjacency arrays stay
//! valid and are copied as they are: much cheaper than rebuilding from records.

use super::{EdgeIdx, Policy, Snapshot};

/// Why [`Snapshot::with_policies`] refused a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error("edge {0} does not exist in this snapshot")]
    /// The edge index is past `2 * channel_count`.
    UnknownEdge(EdgeIdx),
    #[error("edge {0} has no policy to replace")]
    /// The edge has no policy (no `channel_update` is known for that direction).
    NoPolicy(EdgeIdx),
}

impl Snapshot {
    /// A copy of this snapshot in which each listed edge (`2 * channel + direction`) has the
    /// given policy instead of its own. Every listed edge must already have a policy (a
    /// direction without one is not in the adjacency arrays). Later entries win.
    pub fn with_policies(&self, changes: &[(EdgeIdx, Policy)]) -> Result<Snapshot, PatchError> {
        for &(e, _) in changes {
            if e as usize >= self.edge_slot_count() {
                return Err(PatchError::UnknownEdge(e));
            }
            if self.edge_policy(e).is_none() {
                return Err(PatchError::NoPolicy(e));
            }
        }
        let mut out = self.clone();
        for &(e, p) in changes {
            out.channels[(e >> 1) as usize].policies[(e & 1) as usize] = Some(p);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestGraph;

    #[test]
    fn replaces_only_listed_policies_and_refuses_missing_ones() {
        let mut t = TestGraph::new(3);
        let ab = t.channel(0, 1, 100_000);
        t.policy(ab, 0, 1000, 10, 40);
        let bc = t.channel(1, 2, 50_000);
        t.policy(bc, 1, 0, 1, 144);
        let g = t.build();
        let e = g.out_edges(g.node_idx(&TestGraph::node_id(0)).unwrap())[0];
        let mut p = *g.edge_policy(e).unwrap();
        p.fee_ppm = 777;
        let h = g.with_policies(&[(e, p)]).unwrap();
        assert_eq!(h.edge_policy(e).unwrap().fee_ppm, 777);
        assert_eq!(g.edge_policy(e).unwrap().fee_ppm, 10);
        assert_eq!(h.out_edges(0), g.out_edges(0));
        let without = e ^ 1;
        assert_eq!(
            g.with_policies(&[(without, p)]).unwrap_err(),
            PatchError::NoPolicy(without)
        );
        assert_eq!(
            g.with_policies(&[(99, p)]).unwrap_err(),
            PatchError::UnknownEdge(99)
        );
    }
}
