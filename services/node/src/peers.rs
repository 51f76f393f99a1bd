//! Outbound connections: direct TCP or through a SOCKS5 proxy (Tor, via `tokio-socks`), kept
//! up with exponential backoff, outcomes written to the store's peer list.
//!
//! `.onion` peers always go through the proxy; with `--tor-only` every peer does, whatever its
//! source (configured, stored, DNS-bootstrapped, added through the API), and host names are
//! handed to the proxy unresolved so no DNS query leaves the machine.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bitcoin::secp256k1::PublicKey;
use lightning::ln::msgs::SocketAddress;
use switchyard_graph::NodeId;
use switchyard_store::Store;
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::config::{PeerSpec, TorConfig};
use crate::error::NodeError;
use crate::PeerManager;

pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// The longest wait for a peer we have a channel with: forwards and HTLCs wait on it.
const MAX_BACKOFF_CHANNEL_PEER: Duration = Duration::from_secs(30);
/// A connection that stayed up this long proves the peer reachable and willing: the next
/// attempt after it drops waits [`FIRST_BACKOFF`] again. A peer that refuses us sends its
/// error right after the handshake and closes, well within it.
const STABLE_SESSION: Duration = Duration::from_secs(1);
const FIRST_BACKOFF: Duration = Duration::from_secs(1);

/// How long to wait before the next connection attempt to one peer.
///
/// Failures double the wait up to a cap ([`MAX_BACKOFF`], or [`MAX_BACKOFF_CHANNEL_PEER`]
/// for a peer we have channels with); a session that lasted [`STABLE_SESSION`] starts over
/// from [`FIRST_BACKOFF`], however many failures came before, so a peer that restarts now and
/// then (a crash, an upgrade) is back within seconds each time. A shorter session counts as a
/// failure: a peer that accepts and drops us at once is not hammered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Backoff(Duration);

impl Backoff {
    fn new() -> Self {
        Backoff(FIRST_BACKOFF)
    }

    /// The wait after a session that lasted `lasted`.
    fn after_session(&mut self, lasted: Duration, cap: Duration) -> Duration {
        if lasted >= STABLE_SESSION {
            self.0 = FIRST_BACKOFF;
        }
        self.after_failure(cap)
    }

    /// The wait after a failed attempt, at most `cap` (the one after it doubles).
    fn after_failure(&mut self, cap: Duration) -> Duration {
        let wait = self.0.min(cap);
        self.0 = (wait * 2).min(cap);
        wait
    }
}

fn conn_err(spec: &PeerSpec, message: impl Into<String>) -> NodeError {
    NodeError::Connect {
        peer: spec.to_string(),
        message: message.into(),
    }
}

/// Host and port to hand a SOCKS5 proxy.
fn socks_target(addr: &SocketAddress) -> Option<(String, u16)> {
    if let SocketAddress::TcpIpV6 { addr, port } = addr {
        return Some((std::net::Ipv6Addr::from(*addr).to_string(), *port));
    }
    let s = addr.to_string();
    let (host, port) = s.rsplit_once(':')?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    Some((host, port.parse().ok()?))
}

/// A SOCKS5 CONNECT (no authentication) by host name, so `.onion` names and other host
/// names are resolved by the proxy (Tor), never by us; IP literals go as addresses.
pub async fn socks5_connect(
    proxy: SocketAddr,
    host: &str,
    port: u16,
) -> Result<TcpStream, tokio_socks::Error> {
    let stream = tokio_socks::tcp::Socks5Stream::connect(proxy, (host, port)).await?;
    Ok(stream.into_inner())
}

/// Opens a TCP stream to the peer, through the proxy when configured for it.
async fn open_stream(spec: &PeerSpec, tor: &TorConfig) -> Result<TcpStream, NodeError> {
    let is_onion = matches!(
        spec.address,
        SocketAddress::OnionV2(_) | SocketAddress::OnionV3 { .. }
    );
    if is_onion || tor.only {
        let proxy = tor.proxy.ok_or_else(|| {
            conn_err(
                spec,
                "an .onion address (or --tor-only) needs --tor-proxy host:port",
            )
        })?;
        let (host, port) =
            socks_target(&spec.address).ok_or_else(|| conn_err(spec, "unusable address"))?;
        return tokio::time::timeout(CONNECT_TIMEOUT, socks5_connect(proxy, &host, port))
            .await
            .map_err(|_| conn_err(spec, "timed out through the SOCKS5 proxy"))?
            .map_err(|e| conn_err(spec, format!("through SOCKS5 proxy {proxy}: {e}")));
    }
    let target = match &spec.address {
        SocketAddress::TcpIpV4 { addr, port } => SocketAddr::from((*addr, *port)),
        SocketAddress::TcpIpV6 { addr, port } => SocketAddr::from((*addr, *port)),
        SocketAddress::Hostname { hostname, port } => {
            let name = format!("{}:{}", hostname.as_str(), port);
            let mut addrs = tokio::net::lookup_host(name.as_str())
                .await
                .map_err(|e| conn_err(spec, format!("resolving {name}: {e}")))?;
            addrs
                .next()
                .ok_or_else(|| conn_err(spec, format!("{name} has no address")))?
        }
        _ => return Err(conn_err(spec, "unsupported address type")),
    };
    tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target))
        .await
        .map_err(|_| conn_err(spec, "connect timed out"))?
        .map_err(|e| conn_err(spec, e.to_string()))
}

/// Connects once and completes the Noise handshake and `init` exchange. Returns a future
/// that completes when the connection ends.
pub async fn connect_once(
    pm: &Arc<PeerManager>,
    spec: &PeerSpec,
    tor: &TorConfig,
) -> Result<impl std::future::Future<Output = ()>, NodeError> {
    let stream = open_stream(spec, tor).await?;
    let std_stream = stream
        .into_std()
        .map_err(|e| conn_err(spec, e.to_string()))?;
    let done = lightning_net_tokio::setup_outbound(pm.clone(), spec.node_id, std_stream);
    let started = Instant::now();
    while started.elapsed() < CONNECT_TIMEOUT {
        if pm.peer_by_node_id(&spec.node_id).is_some() {
            return Ok(done);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(conn_err(
        spec,
        "handshake did not complete (wrong node id, or not a Lightning node)",
    ))
}

/// Keeps configured and API-added peers connected.
pub struct PeerSupervisor {
    pm: Arc<PeerManager>,
    ln: Arc<crate::ln::Lightning>,
    store: Store,
    tor: TorConfig,
    wanted: Mutex<HashMap<PublicKey, tokio::task::JoinHandle<()>>>,
    shutdown: watch::Receiver<bool>,
}

fn store_id(p: &PublicKey) -> NodeId {
    NodeId::from_bytes_unchecked(p.serialize())
}

impl PeerSupervisor {
    /// A supervisor that keeps no peer yet; it stops when `shutdown` turns true.
    pub fn new(
        pm: Arc<PeerManager>,
        ln: Arc<crate::ln::Lightning>,
        store: Store,
        tor: TorConfig,
        shutdown: watch::Receiver<bool>,
    ) -> Arc<PeerSupervisor> {
        Arc::new(PeerSupervisor {
            pm,
            ln,
            store,
            tor,
            wanted: Mutex::new(HashMap::new()),
            shutdown,
        })
    }

    /// Starts keeping `spec` connected (replacing an earlier address for the same node).
    pub fn keep_connected(self: &Arc<Self>, spec: PeerSpec) {
        let me = self.clone();
        let id = spec.node_id;
        let task = tokio::spawn(async move { me.run(spec).await });
        if let Ok(mut w) = self.wanted.lock() {
            if let Some(old) = w.insert(id, task) {
                old.abort();
            }
        }
    }

    /// Number of peers it keeps connected.
    pub fn wanted(&self) -> usize {
        self.wanted.lock().map(|w| w.len()).unwrap_or(0)
    }

    async fn run(self: Arc<Self>, spec: PeerSpec) {
        let mut backoff = Backoff::new();
        let mut shutdown = self.shutdown.clone();
        let id = store_id(&spec.node_id);
        if !self.ln.wait_channels_watched(&mut shutdown).await {
            return;
        }
        loop {
            if *shutdown.borrow() {
                return;
            }
            if self.pm.peer_by_node_id(&spec.node_id).is_some() {
                // Connected already (perhaps they dialled us).
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    _ = shutdown.changed() => return,
                }
                continue;
            }
            let cap = if self
                .ln
                .manager()
                .list_channels_with_counterparty(&spec.node_id)
                .is_empty()
            {
                MAX_BACKOFF
            } else {
                MAX_BACKOFF_CHANNEL_PEER
            };
            let wait = match connect_once(&self.pm, &spec, &self.tor).await {
                Ok(done) => {
                    tracing::info!(peer = %spec, "peer connected");
                    if let Err(e) =
                        switchyard_store::queries::peers::mark_connected(self.store.pool(), &id)
                            .await
                    {
                        tracing::warn!(error = %e, "recording peer connection");
                    }
                    let since = Instant::now();
                    tokio::select! {
                        _ = done => {}
                        _ = shutdown.changed() => return,
                    }
                    let wait = backoff.after_session(since.elapsed(), cap);
                    tracing::info!(peer = %spec, retry_in = ?wait, "peer disconnected");
                    wait
                }
                Err(e) => {
                    let wait = backoff.after_failure(cap);
                    tracing::warn!(error = %e, retry_in = ?wait, "peer connection failed");
                    let _ = switchyard_store::queries::peers::mark_failed(
                        self.store.pool(),
                        &id,
                        &e.to_string(),
                    )
                    .await;
                    wait
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Stops keeping every peer connected (aborts the reconnect tasks).
    pub fn stop(&self) {
        if let Ok(mut w) = self.wanted.lock() {
            for (_, t) in w.drain() {
                t.abort();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn a_stable_session_resets_the_backoff_and_a_short_one_does_not() {
        let mut b = Backoff::new();
        let waits: Vec<u64> = (0..10)
            .map(|_| b.after_failure(MAX_BACKOFF).as_secs())
            .collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
        // A peer that accepts and drops us at once keeps backing off.
        let short = STABLE_SESSION / 2;
        assert_eq!(b.after_session(short, MAX_BACKOFF), MAX_BACKOFF);
        // ... but a peer we have channels with is tried again within the shorter cap.
        assert_eq!(
            b.after_session(short, MAX_BACKOFF_CHANNEL_PEER),
            MAX_BACKOFF_CHANNEL_PEER
        );
        assert_eq!(
            b.after_failure(MAX_BACKOFF_CHANNEL_PEER),
            MAX_BACKOFF_CHANNEL_PEER
        );
        // A peer that was up for a while (then restarted) is retried within a second, every
        // time: restarts in a row never push the wait up.
        for _ in 0..20 {
            assert_eq!(b.after_session(STABLE_SESSION, MAX_BACKOFF), FIRST_BACKOFF);
            assert_eq!(b.after_failure(MAX_BACKOFF), 2 * FIRST_BACKOFF);
            assert_eq!(b.after_failure(MAX_BACKOFF), 4 * FIRST_BACKOFF);
        }
    }

    #[test]
    fn socks_target_keeps_names_unresolved() {
        let onion = "vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd.onion:9735";
        let a = SocketAddress::from_str(onion).unwrap();
        assert_eq!(
            socks_target(&a),
            Some((
                "vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd.onion".to_string(),
                9735
            ))
        );
        let a = SocketAddress::from_str("[::1]:9735").unwrap();
        assert_eq!(socks_target(&a), Some(("::1".to_string(), 9735)));
    }
}
