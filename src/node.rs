//! From command-line options to a [`NodeConfig`], with errors that name the option.

use std::path::Path;

use anyhow::{bail, Context, Result};
use switchyard_node::config::{default_dns_seeds, default_port, parse_network};
use switchyard_node::tor::{ControlAuth, TorControl};
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
    cfg.tor.control = tor_control(args, cfg.listen.is_some())?;
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

/// The control port to create our onion service at, if asked for.
fn tor_control(args: &NodeArgs, listening: bool) -> Result<Option<TorControl>> {
    let auth = match (&args.tor_control_password, &args.tor_control_cookie) {
        (Some(_), Some(_)) => {
            bail!("--tor-control-password and --tor-control-cookie exclude each other")
        }
        (Some(p), None) => ControlAuth::Password(p.clone()),
        (None, Some(c)) => ControlAuth::CookieFile(c.clone()),
        (None, None) => ControlAuth::Auto,
    };
    let Some(address) = &args.tor_control else {
        if !matches!(auth, ControlAuth::Auto) {
            bail!("--tor-control-password and --tor-control-cookie need --tor-control");
        }
        return Ok(None);
    };
    if args.onion_address.is_some() {
        bail!("--onion-address and --tor-control exclude each other: with --tor-control the node creates its onion service and announces that address");
    }
    if !listening {
        bail!("--tor-control needs a listening address (--p2p-listen): the onion service forwards to it");
    }
    Ok(Some(TorControl {
        address: address.clone(),
        auth,
    }))
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn node_args(flags: &[&str]) -> NodeArgs {
        let argv = [&["switchyard", "node"], flags].concat();
        match Cli::parse_from(argv).command {
            Command::Node(a) => a.node,
            _ => unreachable!("parsed `node`"),
        }
    }

    fn config_of(flags: &[&str]) -> Result<NodeConfig> {
        config(&node_args(flags), Path::new("/tmp/switchyard-test"))
    }

    #[test]
    fn tor_control_flags_become_the_onion_service_config() {
        let none = config_of(&[]).unwrap();
        assert!(none.tor.control.is_none());
        let cfg = config_of(&["--tor-control", "127.0.0.1:9051"]).unwrap();
        let c = cfg.tor.control.unwrap();
        assert_eq!(c.address, "127.0.0.1:9051");
        assert!(matches!(c.auth, ControlAuth::Auto));
        let cfg = config_of(&[
            "--tor-control",
            "tor:9051",
            "--tor-control-password",
            "hunter2",
        ])
        .unwrap();
        let c = cfg.tor.control.unwrap();
        assert!(matches!(&c.auth, ControlAuth::Password(p) if p == "hunter2"));
        assert!(!format!("{c:?}").contains("hunter2"), "never logged");
        let cfg = config_of(&["--tor-control", "tor:9051", "--tor-control-cookie", "/c"]).unwrap();
        assert!(matches!(
            cfg.tor.control.unwrap().auth,
            ControlAuth::CookieFile(_)
        ));
    }

    #[test]
    fn tor_control_conflicts_are_refused_with_the_flags_named() {
        let err = |flags: &[&str]| format!("{:#}", config_of(flags).unwrap_err());
        let e = err(&[
            "--tor-control",
            "127.0.0.1:9051",
            "--onion-address",
            "vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd.onion:9735",
        ]);
        assert!(e.contains("--onion-address and --tor-control"), "{e}");
        let e = err(&["--tor-control", "127.0.0.1:9051", "--p2p-listen", "none"]);
        assert!(e.contains("needs a listening address"), "{e}");
        let e = err(&["--tor-control-password", "x"]);
        assert!(e.contains("need --tor-control"), "{e}");
        let e = err(&[
            "--tor-control",
            "127.0.0.1:9051",
            "--tor-control-password",
            "x",
            "--tor-control-cookie",
            "/c",
        ]);
        assert!(e.contains("exclude each other"), "{e}");
        let e = err(&["--tor-only"]);
        assert!(e.contains("--tor-only needs --tor-proxy"), "{e}");
    }
}
