//! What the node is told at start: network, addresses, peers, bitcoind, Tor, DNS seeds.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use bitcoin::secp256k1::PublicKey;
use bitcoin::Network;
use lightning::ln::msgs::SocketAddress;

use crate::error::NodeError;

/// `pubkey@host:port`: a peer to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerSpec {
    /// The peer's node id.
    pub node_id: PublicKey,
    /// Where to reach it (IP, onion or DNS name, and port).
    pub address: SocketAddress,
}

impl FromStr for PeerSpec {
    type Err = NodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (id, addr) = s
            .split_once('@')
            .ok_or_else(|| NodeError::InvalidPeer(format!("{s:?}: expected pubkey@host:port")))?;
        let node_id = PublicKey::from_str(id).map_err(|e| {
            NodeError::InvalidPeer(format!("{s:?}: node id is not a public key ({e})"))
        })?;
        let address = SocketAddress::from_str(addr).map_err(|e| {
            NodeError::InvalidPeer(format!("{s:?}: address {addr:?} is not host:port ({e})"))
        })?;
        Ok(PeerSpec { node_id, address })
    }
}

impl std::fmt::Display for PeerSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.node_id, self.address)
    }
}

/// How to reach bitcoind's JSON-RPC.
#[derive(Debug, Clone)]
pub struct BitcoindConfig {
    /// `host:port` of the RPC server.
    pub rpc_address: String,
    /// How to authenticate.
    pub auth: RpcAuth,
}

#[derive(Clone)]
/// How the node authenticates to bitcoind's JSON-RPC.
pub enum RpcAuth {
    /// `rpcuser` / `rpcpassword`.
    UserPass {
        /// The RPC user.
        user: String,
        /// The RPC password.
        password: String,
    },
    /// bitcoind's `.cookie` file, read at connect time.
    Cookie(PathBuf),
}

impl std::fmt::Debug for RpcAuth {
    // Passwords never reach logs, not even at debug level.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RpcAuth::UserPass { user, .. } => write!(f, "UserPass({user}, <redacted>)"),
            RpcAuth::Cookie(p) => write!(f, "Cookie({})", p.display()),
        }
    }
}

/// Tor: outbound through a SOCKS5 proxy, an onion service for inbound.
#[derive(Debug, Clone, Default)]
pub struct TorConfig {
    /// SOCKS5 proxy for `.onion` peers (and for all peers with `only`).
    pub proxy: Option<SocketAddr>,
    /// Route every outbound connection through the proxy, never connect directly.
    pub only: bool,
    /// Our onion service address (`xyz.onion:9735`), announced to the network; set by the
    /// node when it creates the service through `control`.
    pub onion_address: Option<SocketAddress>,
    /// Tor's control port, to create our onion service (see [`crate::tor`]).
    pub control: Option<crate::tor::TorControl>,
}

/// Limits on what peers may make us do.
#[derive(Debug, Clone)]
pub struct GossipLimits {
    /// `channel_update`s a channel direction may send in a burst...
    pub update_burst: u32,
    /// ...after which it gets one more per interval.
    pub update_interval: Duration,
    /// Accepted messages waiting for the store beyond which peers are asked to slow down.
    pub max_store_queue: usize,
}

impl Default for GossipLimits {
    fn default() -> Self {
        GossipLimits {
            update_burst: 10,
            update_interval: Duration::from_secs(60),
            max_store_queue: 50_000,
        }
    }
}

#[derive(Debug, Clone)]
/// Everything the node needs to start.
pub struct NodeConfig {
    /// The Bitcoin network (mainnet, testnet, signet, regtest).
    pub network: Network,
    /// Where the seed lives.
    pub data_dir: PathBuf,
    /// Where to accept peers; `None` for outbound only.
    pub listen: Option<SocketAddr>,
    /// Peers to keep connected to (in addition to those in the store).
    pub peers: Vec<PeerSpec>,
    /// `None`: channel announcements are accepted without a funding check (logged loudly).
    pub bitcoind: Option<BitcoindConfig>,
    /// How to reach onion peers (and whether to offer an onion service).
    pub tor: TorConfig,
    /// DNS seeds for BOLT 10 bootstrap when no peer is known; empty disables it.
    pub dns_seeds: Vec<String>,
    /// DNS server for bootstrap queries; `None` reads /etc/resolv.conf.
    pub dns_server: Option<SocketAddr>,
    /// The alias in our node_announcement (at most 32 bytes).
    pub alias: String,
    /// Addresses announced in our node_announcement (besides the onion address).
    pub announce_addresses: Vec<SocketAddress>,
    /// Limits on gossip processing.
    pub gossip: GossipLimits,
    /// How often bitcoind is polled for new blocks (default 10 s, 1 s on regtest).
    pub chain_poll_interval: Duration,
    /// How often LDK's graph is written to the store.
    pub graph_persist_interval: Duration,
    /// Forwarding fees and limits for our channels.
    pub policy: crate::ln::ForwardingPolicy,
    /// The fee controller (`crate::fees_ctl`).
    pub fees: crate::fees_ctl::FeesConfig,
    /// How channel monitor writes reach Postgres (see `ln::persist`).
    pub monitor_commit: MonitorCommit,
}

/// How channel monitor writes are committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MonitorCommit {
    /// Asynchronously: writes queued together share one transaction with the channel manager
    /// and the books, and LDK hears each write finished once that transaction committed.
    /// A crash at any point leaves the stored manager at or ahead of every stored monitor.
    #[default]
    Grouped,
    /// Each write in its own transaction before LDK's call returns, the channel manager
    /// written separately (how the node persisted before group commit; a crash between a
    /// monitor write and the next manager write makes LDK force-close that channel). Kept to
    /// measure group commit against (`benches/forwarding.rs`); not for operators.
    PerUpdate,
}

impl NodeConfig {
    /// Defaults for `network`, keeping state under `data_dir`.
    pub fn new(network: Network, data_dir: PathBuf) -> NodeConfig {
        NodeConfig {
            network,
            data_dir,
            listen: Some(SocketAddr::from(([0, 0, 0, 0], default_port(network)))),
            peers: Vec::new(),
            bitcoind: None,
            tor: TorConfig::default(),
            dns_seeds: default_dns_seeds(network),
            dns_server: None,
            alias: "switchyard".to_string(),
            announce_addresses: Vec::new(),
            gossip: GossipLimits::default(),
            chain_poll_interval: Duration::from_secs(if network == Network::Regtest {
                1
            } else {
                10
            }),
            graph_persist_interval: Duration::from_secs(600),
            policy: crate::ln::ForwardingPolicy::default(),
            fees: crate::fees_ctl::FeesConfig::default(),
            monitor_commit: MonitorCommit::default(),
        }
    }
}

/// The Lightning port conventional for `network` (9735 on mainnet).
pub fn default_port(network: Network) -> u16 {
    match network {
        Network::Bitcoin => 9735,
        Network::Testnet | Network::Testnet4 => 19735,
        Network::Signet => 39735,
        Network::Regtest => 9735,
    }
}

/// BOLT 10 seeds per network (none for regtest).
pub fn default_dns_seeds(network: Network) -> Vec<String> {
    let seeds: &[&str] = match network {
        Network::Bitcoin => &["nodes.lightning.directory", "lseed.bitcoinstats.com"],
        Network::Testnet | Network::Testnet4 => &["test.nodes.lightning.directory"],
        Network::Signet | Network::Regtest => &[],
    };
    seeds.iter().map(|s| s.to_string()).collect()
}

/// Parses `mainnet|bitcoin|testnet|signet|regtest`.
pub fn parse_network(s: &str) -> Result<Network, NodeError> {
    match s {
        "mainnet" | "bitcoin" => Ok(Network::Bitcoin),
        "testnet" => Ok(Network::Testnet),
        "signet" => Ok(Network::Signet),
        "regtest" => Ok(Network::Regtest),
        other => Err(NodeError::Config(format!(
            "unknown network {other:?}: expected mainnet, testnet, signet or regtest"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_spec_parses_and_explains_errors() {
        let id = "02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619";
        let p: PeerSpec = format!("{id}@127.0.0.1:9735").parse().unwrap();
        assert_eq!(p.node_id.to_string(), id);
        assert_eq!(p.to_string(), format!("{id}@127.0.0.1:9735"));
        let onion = "vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd.onion:9735";
        assert!(format!("{id}@{onion}").parse::<PeerSpec>().is_ok());
        let e = "nope".parse::<PeerSpec>().unwrap_err().to_string();
        assert!(e.contains("pubkey@host:port"), "{e}");
        let e = "02ab@1.2.3.4:1"
            .parse::<PeerSpec>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a public key"), "{e}");
        let e = format!("{id}@1.2.3.4")
            .parse::<PeerSpec>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("not host:port"), "{e}");
    }

    #[test]
    fn rpc_password_is_not_debug_printed() {
        let a = RpcAuth::UserPass {
            user: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{a:?}").contains("hunter2"));
    }
}
