//! BOLT 10 bootstrap against a real DNS server: `dnsmasq` on loopback, configured as a seed
//! (SRV records naming virtual hostnames, A/AAAA records for some of them). The node's own
//! bootstrap (store, peer connections) is tested in the API crate's `reach.rs`.

use std::net::SocketAddr;

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use lightning::ln::msgs::SocketAddress;
use switchyard_node::dns::{bootstrap_peers, virtual_hostname};
use switchyard_node::{NodeError, PeerSpec};
use switchyard_regtest::daemons::Dnsmasq;

fn node(i: u8) -> PublicKey {
    PublicKey::from_secret_key(&Secp256k1::new(), &SecretKey::from_slice(&[i; 32]).unwrap())
}

fn seeds(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn peer(i: u8, addr: &str) -> PeerSpec {
    let a: SocketAddr = addr.parse().unwrap();
    let address = match a {
        SocketAddr::V4(v4) => SocketAddress::TcpIpV4 {
            addr: v4.ip().octets(),
            port: v4.port(),
        },
        SocketAddr::V6(v6) => SocketAddress::TcpIpV6 {
            addr: v6.ip().octets(),
            port: v6.port(),
        },
    };
    PeerSpec {
        node_id: node(i),
        address,
    }
}

/// `srv-host` and `host-record` lines: (node, seed root, port, addresses).
fn records(entries: &[(u8, &str, u16, &[&str])]) -> Vec<String> {
    let mut conf = Vec::new();
    for (i, root, port, ips) in entries {
        let host = virtual_hostname(&node(*i), root);
        conf.push(format!("srv-host=_nodes._tcp.{root},{host},{port},10,10"));
        if !ips.is_empty() {
            conf.push(format!("host-record={host},{}", ips.join(",")));
        }
    }
    conf
}

fn start(extra: &[String]) -> Dnsmasq {
    let mut conf = vec!["local=/test/".to_string()];
    conf.extend(extra.iter().cloned());
    Dnsmasq::start(&conf).expect("dnsmasq (scripts/test.sh installs it)")
}

#[tokio::test]
async fn peers_come_from_srv_targets_with_their_addresses() {
    let mut conf = records(&[
        (1, "seed.test", 9735, &["127.0.0.11"]),
        // IPv6 only.
        (2, "seed.test", 9736, &["::1"]),
        // Both: IPv4 is preferred.
        (3, "seed.test", 19735, &["127.0.0.13", "::1"]),
        // No address at all: dropped.
        (4, "seed.test", 9735, &[]),
    ]);
    // Not a node id: skipped.
    conf.push("srv-host=_nodes._tcp.seed.test,not-a-node.seed.test,9735,10,10".into());
    conf.push("host-record=not-a-node.seed.test,127.0.0.99".into());
    let dns = start(&conf);
    let mut found = bootstrap_peers(&seeds(&["seed.test"]), Some(dns.addr()), 10)
        .await
        .unwrap();
    found.sort_by_key(|p| p.node_id.serialize());
    let mut want = vec![
        peer(1, "127.0.0.11:9735"),
        peer(2, "[::1]:9736"),
        peer(3, "127.0.0.13:19735"),
    ];
    want.sort_by_key(|p| p.node_id.serialize());
    assert_eq!(found, want);
    let queries = dns.queries();
    assert_eq!(queries[0], "SRV _nodes._tcp.seed.test", "{queries:?}");
    assert!(
        !queries.iter().any(|q| q.contains("not-a-node")),
        "no lookup for a target that is not a node: {queries:?}"
    );
}

#[tokio::test]
async fn the_limit_bounds_peers_and_address_lookups() {
    let entries: Vec<(u8, &str, u16, &[&str])> = (1..=6)
        .map(|i| (i, "seed.test", 9735, &["127.0.0.20"][..]))
        .collect();
    let dns = start(&records(&entries));
    let found = bootstrap_peers(&seeds(&["seed.test"]), Some(dns.addr()), 2)
        .await
        .unwrap();
    assert_eq!(found.len(), 2);
    let lookups = dns
        .queries()
        .iter()
        .filter(|q| !q.starts_with("SRV"))
        .count();
    // At most two targets need addresses; with IPv4 found, no AAAA is asked.
    assert!(lookups <= 2, "{:?}", dns.queries());
}

#[tokio::test]
async fn seeds_fall_back_to_the_root_merge_in_order_and_fail_with_reasons() {
    let mut conf = records(&[
        (1, "a.test", 9735, &["127.0.0.1"]),
        (2, "a.test", 9735, &["127.0.0.2"]),
    ]);
    // b.test answers on its root only (no _nodes._tcp alias), and lists node 2 again.
    for (i, ip) in [(2u8, "127.0.0.99"), (3, "127.0.0.3")] {
        let host = virtual_hostname(&node(i), "b.test");
        conf.push(format!("srv-host=b.test,{host},9735,10,10"));
        conf.push(format!("host-record={host},{ip}"));
    }
    let dns = start(&conf);
    let found = bootstrap_peers(
        &seeds(&["a.test", "gone.test", "b.test"]),
        Some(dns.addr()),
        10,
    )
    .await
    .unwrap();
    // a.test's peers (in the order it gave them), then b.test's new one; node 2 keeps the
    // address of the seed asked first.
    assert_eq!(found.len(), 3, "{found:?}");
    let mut first: Vec<PeerSpec> = found[..2].to_vec();
    first.sort_by_key(|p| p.node_id.serialize());
    let mut want = vec![peer(1, "127.0.0.1:9735"), peer(2, "127.0.0.2:9735")];
    want.sort_by_key(|p| p.node_id.serialize());
    assert_eq!(first, want);
    assert_eq!(found[2], peer(3, "127.0.0.3:9735"));
    let queries = dns.queries();
    assert!(
        queries.contains(&"SRV _nodes._tcp.b.test".to_string())
            && queries.contains(&"SRV b.test".to_string()),
        "{queries:?}"
    );

    let e = bootstrap_peers(&seeds(&["gone.test", " "]), Some(dns.addr()), 10)
        .await
        .unwrap_err();
    assert!(matches!(e, NodeError::Dns(_)), "{e:?}");
    let e = e.to_string();
    assert!(
        e.contains("gone.test: _nodes._tcp.gone.test: no such name (NXDOMAIN)"),
        "{e}"
    );
    assert!(e.contains("empty seed name"), "{e}");

    // Nobody answering at all: an error, not a hang.
    let closed = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap()
    };
    let e = bootstrap_peers(&seeds(&["a.test"]), Some(closed), 10)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("every DNS seed failed: a.test: "), "{e}");
}
