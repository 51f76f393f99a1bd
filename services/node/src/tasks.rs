//! The node's long-running tasks, spawned by the builder and aborted by [`Node::stop`]: the
//! event loop that drives LDK, the Lightning listener and the periodic write of LDK's graph
//! (DNS bootstrap is [`crate::bootstrap`]'s, the onion service [`crate::tor`]'s).
//!
//! None of them may drive the channel manager before the restored channels are watched
//! (`Lightning::wait_channels_watched`); each waits for it first.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lightning::ln::msgs::SocketAddress;
use tokio::sync::watch;

use crate::ln::Lightning;
use crate::{Node, NodeMetrics, PeerManager};

/// Writes LDK's graph to the store every `interval` until `shutdown`.
pub(crate) async fn persist_graph_periodically(
    node: Arc<Node>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => return,
        }
        if let Err(e) = node.persist_graph().await {
            tracing::warn!(error = %e, "persisting the network graph");
        }
    }
}

/// Accepts inbound Lightning connections once the restored channels are watched.
pub(crate) async fn accept_loop(
    listener: tokio::net::TcpListener,
    pm: Arc<PeerManager>,
    ln: Arc<Lightning>,
    mut shutdown: watch::Receiver<bool>,
) {
    // Until then, connections wait in the listen backlog.
    if !ln.wait_channels_watched(&mut shutdown).await {
        return;
    }
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, from)) => match stream.into_std() {
                    Ok(s) => {
                        tracing::debug!(%from, "inbound connection");
                        tokio::spawn(lightning_net_tokio::setup_inbound(pm.clone(), s));
                    }
                    Err(e) => tracing::warn!(error = %e, "inbound socket"),
                },
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = shutdown.changed() => return,
        }
    }
}

/// What our `node_announcement` says besides the node id.
pub(crate) struct Announcement {
    alias: [u8; 32],
    addresses: Vec<SocketAddress>,
}

impl Announcement {
    pub(crate) fn new(alias: &str, addresses: Vec<SocketAddress>) -> Announcement {
        Announcement {
            alias: alias_bytes(alias),
            addresses,
        }
    }
}

/// The alias as BOLT 7 carries it: 32 bytes, zero-padded, cut at a UTF-8 boundary.
fn alias_bytes(alias: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut end = alias.len().min(32);
    while !alias.is_char_boundary(end) {
        end -= 1;
    }
    out[..end].copy_from_slice(&alias.as_bytes()[..end]);
    out
}

/// How often the node announces itself again once it has a public channel (as LND and
/// ldk-node do): peers drop nodes whose announcement is older than two weeks.
const NODE_ANNOUNCEMENT_INTERVAL: Duration = Duration::from_secs(3600);

/// Drives LDK: pending forwards and events (every 10 ms, or when LDK or the chain source
/// signals), the peer manager's timer and our node announcement (every 10 s), LDK's minute
/// timer, and the peer gauge.
pub(crate) async fn event_loop(
    pm: Arc<PeerManager>,
    ln: Arc<Lightning>,
    wake: Option<Arc<tokio::sync::Notify>>,
    metrics: Arc<NodeMetrics>,
    announcement: Announcement,
    mut shutdown: watch::Receiver<bool>,
) {
    if !ln.wait_channels_watched(&mut shutdown).await {
        return;
    }
    let mut last_announced: Option<Instant> = None;
    let wake = wake.unwrap_or_default();
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    let mut ldk_timer = tokio::time::interval(Duration::from_secs(60));
    // Short: pending HTLC forwards wait for this loop, so it bounds our hop's added latency.
    let mut events = tokio::time::interval(Duration::from_millis(10));
    events.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = events.tick() => {}
            _ = wake.notified() => {}
            _ = ln.manager().get_event_or_persistence_needed_future() => {}
            _ = ln.monitor_news() => {}
            _ = tick.tick() => {
                pm.timer_tick_occurred();
                // LDK announces a node only once it has a public channel; checking every
                // tick makes the first announcement follow the first public channel closely.
                let due = last_announced
                    .is_none_or(|t| t.elapsed() >= NODE_ANNOUNCEMENT_INTERVAL);
                if due && ln.has_public_channel() {
                    pm.broadcast_node_announcement(
                        [0; 3],
                        announcement.alias,
                        announcement.addresses.clone(),
                    );
                    last_announced = Some(Instant::now());
                    tracing::info!(
                        addresses = announcement.addresses.len(),
                        "node announcement broadcast"
                    );
                }
            }
            _ = ldk_timer.tick() => {
                ln.timer_tick();
                ln.persist_learned().await;
            }
            _ = shutdown.changed() => return,
        }
        ln.process(&pm).await;
        pm.process_events();
        metrics.peers_connected.set(pm.list_peers().len() as i64);
    }
}
