//! From command-line options to a [`NodeConfig`], with errors that name the option.

use std::path::Path;

use anyhow::{bail, Context, Result};
use switchyard_node::config::{default_dns_seeds, default_port, parse_network};
use switchyard_node::{BitcoindConfig, NodeConfig, PeerSpec, RpcAuth};

use crate::cli::NodeArgs;

pub fn config(args: &NodeArgs, data_dir: &Path) -> Result<NodeConfig> {
    let network = parse_network(&args.network).context("--network")?;
    let mut cfg = NodeConfig::new(network, data_dir.join("node"));
    cfg.listen = match args.p2p_listen.as_deref() {
        None => Some(std::net::SocketAddr::from((
            [0, 0, 0, 0],
            default_port(network),
        ))),
        Some("none") => None,
        Some(s) => Some(
            s.parse()
                .with_context(|| format!("--p2p-listen {s:?}: expected ip:port or `none`"))?,
        ),
    };
    for p in &args.connect {
        cfg.peers.push(
            p.parse::<PeerSpec>()
                .with_context(|| format!("--connect {p:?}"))?,
        );
    }
    cfg.bitcoind = match &args.bitcoind_rpc {
        None => None,
        Some(addr) => {
            let auth = match (&args.bitcoind_cookie, &args.bitcoind_rpc_user, &args.bitcoind_rpc_password) {
                (Some(c), None, None) => RpcAuth::Cookie(c.clone()),
                (None, Some(u), Some(p)) => RpcAuth::UserPass {
                    user: u.clone(),
                    password: p.clone(),
                },
                _ => bail!(
                    "--bitcoind-rpc needs either --bitcoind-cookie or both --bitcoind-rpc-user and --bitcoind-rpc-password"
                ),
            };
            Some(BitcoindConfig {
                rpc_address: addr.clone(),
                auth,
            })
        }
    };
    cfg.tor.proxy = args.tor_proxy;
    cfg.tor.only = args.tor_only;
    if args.tor_only && args.tor_proxy.is_none() {
        bail!("--tor-only needs --tor-proxy host:port");
    }
    if let Some(o) = &args.onion_address {
        cfg.tor.onion_address = Some(
            o.parse()
                .map_err(|e| anyhow::anyhow!("--onion-address {o:?}: {e:?}"))?,
        );
    }
    cfg.dns_seeds = if args.no_dns_bootstrap {
        Vec::new()
    } else if args.dns_seeds.is_empty() {
        default_dns_seeds(network)
    } else {
        args.dns_seeds.clone()
    };
    cfg.dns_server = args.dns_server;
    if args.alias.len() > 32 {
        bail!("--alias is {} bytes; the limit is 32", args.alias.len());
    }
    cfg.alias = args.alias.clone();
    if args.cltv_expiry_delta < 18 {
        bail!("--cltv-expiry-delta must be at least 18");
    }
    cfg.policy = switchyard_node::ln::ForwardingPolicy {
        base_fee_msat: args.fee_base_msat,
        fee_ppm: args.fee_ppm,
        cltv_expiry_delta: args.cltv_expiry_delta,
        htlc_minimum_msat: args.htlc_minimum_msat.max(1),
    };
    cfg.fees = fees_config(args)?;
    Ok(cfg)
}

/// The fee controller's settings; a bad rules file fails here, at start, naming its section
/// and key.
fn fees_config(args: &NodeArgs) -> Result<switchyard_node::FeesConfig> {
    use switchyard_store::queries::fees::FeeMode;
    let mut f = switchyard_node::FeesConfig {
        mode: match args.fees_mode.as_str() {
            "dry-run" => FeeMode::DryRun,
            "apply" => FeeMode::Apply,
            other => bail!("--fees-mode {other:?}: expected dry-run or apply"),
        },
        interval: std::time::Duration::from_secs(args.fees_interval.saturating_mul(60)),
        max_step_ppm: args.fees_max_step_ppm,
        ..Default::default()
    };
    if let Some(path) = &args.fees_rules {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("--fees-rules {}", path.display()))?;
        f.rules = switchyard_fees::Rules::parse(&text)
            .with_context(|| format!("--fees-rules {}", path.display()))?;
    }
    Ok(f)
}
