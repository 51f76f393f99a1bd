//! How the node reaches peers and is reached, with real daemons on loopback: BOLT 10 bootstrap
//! from a real DNS server (`dnsmasq`), `--tor-only` through a real SOCKS5 proxy
//! (`microsocks`), and an onion service made through a real tor daemon's control port (tor
//! offline, `DisableNetwork 1`). `scripts/test.sh` installs the three; a missing one fails.

use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use bitcoin::secp256k1::PublicKey;
use lightning::ln::msgs::SocketAddress;
use serde_json::{json, Value};
use switchyard_graph::NodeId;
use switchyard_node::dns::virtual_hostname;
use switchyard_node::tor::{ControlAuth, TorControl, KEY_FILE};
use switchyard_node::{NodeConfig, PeerSpec};
use switchyard_regtest::daemons::{Dnsmasq, Microsocks, TorDaemon};
use switchyard_regtest::{Bitcoind, GossipPeer};
use switchyard_store::testing::TestDb;

use crate::http::{get, send_with, Reply};
use crate::line::{address, confirm_channels, fund, usable_with};
use crate::node::{node_config, start_node, wait_for, Running};

const SEED: &str = "seed.test";
/// Where the SOCKS5 proxy's connections come from: peers tell them from direct ones (which
/// come from 127.0.0.1).
const PROXY_SOURCE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// A regtest node without bitcoind on loopback whose one DNS seed is [`SEED`] at `dns`.
fn seeded_config(dir: &Path, dns: &Dnsmasq) -> NodeConfig {
    let mut cfg = NodeConfig::new(bitcoin::Network::Regtest, dir.to_path_buf());
    cfg.listen = Some("127.0.0.1:0".parse().unwrap());
    cfg.dns_seeds = vec![SEED.to_string()];
    cfg.dns_server = Some(dns.addr());
    cfg
}

/// dnsmasq serving the BOLT 10 seed `seed.test`: SRV records under `_nodes._tcp` naming each
/// peer's virtual hostname and port, and A records for those hostnames.
fn seed_server(peers: &[&GossipPeer]) -> Dnsmasq {
    let mut conf = vec![format!("local=/{SEED}/")];
    for p in peers {
        let host = virtual_hostname(&p.node_id(), SEED);
        conf.push(format!(
            "srv-host=_nodes._tcp.{SEED},{host},{},10,10",
            p.addr().port()
        ));
        conf.push(format!("host-record={host},{}", p.addr().ip()));
    }
    Dnsmasq::start(&conf).expect("dnsmasq (scripts/test.sh installs it)")
}

/// `GET /v1/peers` row of `id`.
async fn peer_row(r: &Running, id: &PublicKey) -> Option<Value> {
    let peers = crate::http::get_token(r.addr, "/v1/peers", &r.read_token)
        .await
        .json();
    peers["peers"]
        .as_array()?
        .iter()
        .find(|p| p["node_id"] == id.to_string())
        .cloned()
}

async fn connected(r: &Running, id: &PublicKey) -> bool {
    peer_row(r, id)
        .await
        .is_some_and(|p| p["connected"] == true)
}

/// `POST /v1/peers` with the token.
async fn post_peer(r: &Running, peer: String) -> Reply {
    let auth = format!("Bearer {}", r.token);
    let body = json!({ "peer": peer }).to_string();
    send_with(
        r.addr,
        "POST",
        "/v1/peers",
        &body,
        &[("Authorization", &auth)],
    )
    .await
}

/// The address `peer` sees the connection from `node` come from.
fn seen_from(peer: &GossipPeer, node: &PublicKey) -> Option<IpAddr> {
    let peers = peer.peer_manager.list_peers();
    let details = peers.iter().find(|p| p.counterparty_node_id == *node)?;
    match details.socket_address.as_ref()? {
        SocketAddress::TcpIpV4 { addr, .. } => Some(IpAddr::from(*addr)),
        SocketAddress::TcpIpV6 { addr, .. } => Some(IpAddr::from(*addr)),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_bootstraps_from_a_real_dns_seed_and_connects_to_the_peer_it_lists() {
    let peer = GossipPeer::start([0x71; 32]).await.unwrap();
    let dns = seed_server(&[&peer]);
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = seeded_config(dir.path(), &dns);
    let run = start_node(&db, cfg).await;

    wait_for("the seed's peer connected", 30, async || {
        connected(&run, &peer.node_id()).await
    })
    .await;
    let row = peer_row(&run, &peer.node_id()).await.unwrap();
    assert_eq!(row["source"], "dns", "{row}");
    assert_eq!(row["address"], peer.addr().to_string(), "{row}");
    assert_eq!(row["inbound"], false, "{row}");
    assert!(
        seen_from(&peer, &run.node.node_id()).is_some(),
        "the peer has our node connected"
    );
    let queries = dns.queries();
    assert_eq!(
        queries.first().map(String::as_str),
        Some("SRV _nodes._tcp.seed.test"),
        "{queries:?}"
    );
    run.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tor_only_sends_every_connection_through_a_real_socks5_proxy_and_asks_no_dns() {
    let proxy = Microsocks::start(Some(PROXY_SOURCE.into()))
        .expect("microsocks (scripts/test.sh installs it)");
    let (configured, from_api, from_dns) = (
        GossipPeer::start([0x72; 32]).await.unwrap(),
        GossipPeer::start([0x73; 32]).await.unwrap(),
        GossipPeer::start([0x74; 32]).await.unwrap(),
    );
    // A seed that would answer: a Tor-only node must not ask it.
    let dns = seed_server(&[&from_dns]);
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = seeded_config(dir.path(), &dns);
    cfg.tor.proxy = Some(proxy.addr());
    cfg.tor.only = true;

    // No peer known: a node that is not Tor-only would bootstrap from the seed now.
    let run = start_node(&db, cfg.clone()).await;
    let r = post_peer(&run, format!("{}@{}", from_api.node_id(), from_api.addr())).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        seen_from(&from_api, &run.node.node_id()),
        Some(PROXY_SOURCE.into()),
        "the API's peer was reached through the proxy"
    );
    assert!(
        proxy.connected_to().contains(&from_api.addr().to_string()),
        "{:?}",
        proxy.connected_to()
    );
    // An onion name goes to the proxy too (which, not being Tor, cannot reach it).
    let onion = "vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd.onion:9735";
    let nobody = PublicKey::from_secret_key(
        &bitcoin::secp256k1::Secp256k1::new(),
        &bitcoin::secp256k1::SecretKey::from_slice(&[0x75; 32]).unwrap(),
    );
    let r = post_peer(&run, format!("{nobody}@{onion}")).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body
            .contains(&format!("through SOCKS5 proxy {}", proxy.addr())),
        "{}",
        r.body
    );
    run.node.stop().await;

    // A peer an earlier bootstrap found, and a configured peer by host name.
    switchyard_store::queries::peers::upsert(
        db.store.pool(),
        &NodeId::from_bytes_unchecked(from_dns.node_id().serialize()),
        &from_dns.addr().to_string(),
        "dns",
    )
    .await
    .unwrap();
    let by_name = format!(
        "{}@localhost:{}",
        configured.node_id(),
        configured.addr().port()
    );
    cfg.peers = vec![by_name.parse::<PeerSpec>().unwrap()];
    let run = start_node(&db, cfg).await;
    for (peer, source) in [
        (&configured, "config"),
        (&from_api, "api"),
        (&from_dns, "dns"),
    ] {
        wait_for(&format!("the {source} peer connected"), 30, async || {
            connected(&run, &peer.node_id()).await
        })
        .await;
        let row = peer_row(&run, &peer.node_id()).await.unwrap();
        assert_eq!(row["source"], source, "{row}");
        assert_eq!(
            seen_from(peer, &run.node.node_id()),
            Some(PROXY_SOURCE.into()),
            "the {source} peer was reached through the proxy"
        );
    }
    let targets = proxy.connected_to();
    assert!(
        targets.contains(&format!("localhost:{}", configured.addr().port())),
        "the host name went to the proxy unresolved: {targets:?}"
    );
    assert!(
        targets.contains(&from_dns.addr().to_string()),
        "{targets:?}"
    );
    assert_eq!(dns.queries(), Vec::<String>::new(), "no DNS query was made");
    run.node.stop().await;
}

const TOR_PASSWORD: &str = "switchyard test password";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_onion_service_made_through_tor_is_announced_and_survives_restarts() {
    let tor = TorDaemon::start(Some(TOR_PASSWORD)).expect("tor (scripts/test.sh installs it)");
    let btc = tokio::task::block_in_place(Bitcoind::start)
        .expect("regtest bitcoind (scripts/build-bitcoind.sh)");
    let (db_a, dir_a) = (TestDb::new().await, tempfile::tempdir().unwrap());
    let (db_b, dir_b) = (TestDb::new().await, tempfile::tempdir().unwrap());
    let control = |auth| TorControl {
        address: tor.control_addr().to_string(),
        auth,
    };
    let mut cfg = node_config(&btc, dir_a.path(), vec![]);
    // Cookie authentication, with the cookie file tor names.
    cfg.tor.control = Some(control(ControlAuth::Auto));
    let a = start_node(&db_a, cfg.clone()).await;
    let b = start_node(&db_b, node_config(&btc, dir_b.path(), vec![])).await;

    // What tor says it created is what the node announces.
    wait_for("tor to log the onion service", 10, async || {
        !tor.onion_services_added().is_empty()
    })
    .await;
    let added = tor.onion_services_added();
    assert_eq!(added.len(), 1, "{added:?}");
    let port = a.node.listening().unwrap().port();
    let onion = format!("{}.onion:{port}", added[0]);
    let status = crate::http::get_token(a.addr, "/v1/node", &a.read_token)
        .await
        .json();
    assert_eq!(status["announced_addresses"], json!([onion]), "{status}");
    let key = std::fs::metadata(dir_a.path().join(KEY_FILE)).unwrap();
    assert_eq!(key.permissions().mode() & 0o777, 0o600);

    // A public channel A-B: A announces itself with the onion address, B records it.
    let burn = address(&b.node);
    fund(&btc, &[&a.node], &burn).await;
    let b_spec: PeerSpec = format!("{}@{}", b.node.node_id(), b.node.listening().unwrap())
        .parse()
        .unwrap();
    a.node.add_peer(b_spec, "test").await.unwrap();
    a.node
        .lightning()
        .open_channel(b.node.node_id(), 500_000, 0, true)
        .unwrap();
    confirm_channels(&btc, &[&a.node], &burn).await;
    wait_for("the channel usable", 60, async || {
        usable_with(&a.node, &b.node.node_id())
    })
    .await;
    let a_id = a.node.node_id().to_string();
    let want = json!([{"type": "torv3", "address": format!("{}.onion", added[0]), "port": port}]);
    wait_for("A's node announcement at B", 60, async || {
        let n = get(b.addr, &format!("/v1/nodes/{a_id}")).await;
        n.status == 200 && n.json()["announcement"]["addresses"] == want
    })
    .await;

    // Restart, now with password authentication on the same port: the same key gives the
    // same address. Tor removed the first service when A's control connection closed.
    a.node.stop().await;
    b.node.stop().await;
    wait_for("tor to remove the service with A", 10, async || {
        tor.onion_services_removed() == added
    })
    .await;
    cfg.listen = a.node.listening();
    cfg.tor.control = Some(control(ControlAuth::Password(TOR_PASSWORD.into())));
    let again = start_node(&db_a, cfg.clone()).await;
    wait_for("tor to log the service again", 10, async || {
        tor.onion_services_added().len() == 2
    })
    .await;
    assert_eq!(tor.onion_services_added(), vec![added[0].clone(); 2]);
    let status = crate::http::get_token(again.addr, "/v1/node", &again.read_token)
        .await
        .json();
    assert_eq!(status["announced_addresses"], json!([onion]), "{status}");
    again.node.stop().await;

    // A wrong password is refused at start with tor's reason.
    cfg.tor.control = Some(control(ControlAuth::Password("wrong".into())));
    let metrics = std::sync::Arc::new(switchyard_api::metrics::Metrics::new());
    let e = switchyard_node::Node::start(cfg, db_a.store.clone(), metrics.node.clone())
        .await
        .err()
        .expect("a wrong password fails the start")
        .to_string();
    assert!(e.contains("tor refused AUTHENTICATE: 515"), "{e}");
}
