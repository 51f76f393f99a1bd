//! Finding the first peers: BOLT 10 DNS seeds (see [`crate::dns`]) when the store knows no
//! peer, recorded with the source `dns` and kept connected like any other peer.
//!
//! With `--tor-only` the node makes no DNS query at all, so bootstrap is skipped (and said so):
//! a lookup would leave the machine outside Tor and tell the resolver that a Lightning node
//! starts here. Peers for a Tor-only node come from `--connect` or `POST /v1/peers`; host names
//! in their addresses are resolved by the proxy, never locally.

use std::sync::Arc;

use switchyard_graph::NodeId;

use crate::Node;

/// Peers asked of the seeds, and kept connected.
const WANT: usize = 8;

/// Whether the node should ask DNS seeds at all: seeds configured, no peer known, and not
/// Tor-only.
pub(crate) fn wanted(node: &Node, known_peers: usize) -> bool {
    if known_peers > 0 || node.config.dns_seeds.is_empty() {
        return false;
    }
    if node.config.tor.only {
        tracing::warn!(
            "DNS bootstrap skipped: --tor-only makes no DNS queries; add a peer with --connect or POST /v1/peers"
        );
        return false;
    }
    true
}

/// BOLT 10: asks the DNS seeds for peers and keeps them connected.
pub(crate) async fn from_dns(node: Arc<Node>) {
    match crate::dns::bootstrap_peers(&node.config.dns_seeds, node.config.dns_server, WANT).await {
        Ok(found) => {
            tracing::info!(peers = found.len(), "DNS bootstrap");
            for spec in found {
                let id = NodeId::from_bytes_unchecked(spec.node_id.serialize());
                if let Err(e) = switchyard_store::queries::peers::upsert(
                    node.store.pool(),
                    &id,
                    &spec.address.to_string(),
                    "dns",
                )
                .await
                {
                    tracing::warn!(error = %e, "recording a bootstrap peer");
                }
                node.supervisor.keep_connected(spec);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "DNS bootstrap found no peers; add one with --connect or POST /v1/peers")
        }
    }
}
