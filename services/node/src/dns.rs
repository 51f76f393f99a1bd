//! BOLT 10 DNS bootstrap: peers for a node that knows nobody yet.
//!
//! DNS itself (queries, retries, TCP after a truncated answer, EDNS0, /etc/resolv.conf) is
//! `hickory-resolver`'s. This module keeps only what BOLT 10 adds on top of DNS:
//!
//! - **Seed names.** A seed answers `SRV` queries on its *seed root domain* and on the
//!   `_nodes._tcp.` alias below it with a random sample of nodes. We ask the alias first (what
//!   LND does) and fall back to the root itself ([`seed_query_names`]).
//! - **Virtual hostnames.** Every SRV target is `<node id>.<seed root>`, the node id bech32
//!   encoded (not bech32m) with the human-readable part `ln`; the SRV port is the node's port
//!   ([`node_id_from_target`], [`virtual_hostname`]). Targets that are not node ids are skipped.
//! - **Addresses.** The seed MAY put the targets' `A`/`AAAA` records in the answer's additional
//!   section. hickory keeps only the glue of the last SRV target of an answer (its caching
//!   client follows SRV answers like a CNAME chain), so the other targets are looked up: only as
//!   many as the limit still needs, concurrently. IPv4 is preferred when a target has both.
//! - **Query conditions.** BOLT 10 lets a client narrow a query with `r` (realm), `a` (address
//!   types), `l` (one node id) and `n` (how many) labels. The defaults (realm 0, IPv4 and IPv6,
//!   25 records) are what bootstrap wants, and a seed may ignore conditions anyway, so our
//!   wildcard queries carry none.
//!
//! With `--tor-only` no lookup is made at all (see [`crate::bootstrap`]): a DNS query would
//! leave the machine outside Tor.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bitcoin::bech32::primitives::decode::CheckedHrpstring;
use bitcoin::bech32::{Bech32, Hrp};
use bitcoin::secp256k1::PublicKey;
use hickory_resolver::config::{
    LookupIpStrategy, NameServerConfigGroup, ResolveHosts, ResolverConfig,
};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Name, ResolveError, TokioResolver};
use lightning::ln::msgs::SocketAddress;
use tokio::task::JoinSet;

use crate::config::PeerSpec;
use crate::error::NodeError;

/// SRV records used from one answer; seeds send about 25.
const MAX_SRV_TARGETS: usize = 64;
/// Per attempt; hickory tries each configured name server this many times.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);
const QUERY_ATTEMPTS: usize = 2;

/// Peers from BOLT 10 seeds: node ids decoded from the SRV targets, addresses from A/AAAA.
///
/// Seeds are asked concurrently; the result keeps the seeds' order, holds one address per node
/// id and at most `limit` peers. `server` is the DNS server to ask (`None`: the system's, from
/// /etc/resolv.conf). Fails only when every seed failed, with each seed's reason.
pub async fn bootstrap_peers(
    seeds: &[String],
    server: Option<SocketAddr>,
    limit: usize,
) -> Result<Vec<PeerSpec>, NodeError> {
    if seeds.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let resolver = resolver(server)?;
    let mut tasks = JoinSet::new();
    for (i, seed) in seeds.iter().enumerate() {
        let resolver = resolver.clone();
        let seed = seed.clone();
        tasks.spawn(async move { (i, seed_peers(&resolver, &seed, limit).await) });
    }
    let mut results: Vec<Result<Vec<PeerSpec>, String>> = (0..seeds.len())
        .map(|_| Err("lookup task died".to_string()))
        .collect();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((i, r)) => {
                if let Some(slot) = results.get_mut(i) {
                    *slot = r;
                }
            }
            Err(e) => tracing::warn!(error = %e, "DNS seed task failed"),
        }
    }
    merge(seeds, results, limit)
}

/// A resolver asking `server`, or the system's name servers.
fn resolver(server: Option<SocketAddr>) -> Result<TokioResolver, NodeError> {
    let mut builder = match server {
        Some(s) => TokioResolver::builder_with_config(
            ResolverConfig::from_parts(
                None,
                Vec::new(),
                NameServerConfigGroup::from_ips_clear(&[s.ip()], s.port(), true),
            ),
            TokioConnectionProvider::default(),
        ),
        None => TokioResolver::builder_tokio().map_err(|e| {
            NodeError::Dns(format!(
                "reading the system's DNS configuration: {e}; set the DNS server (--dns-server)"
            ))
        })?,
    };
    let opts = builder.options_mut();
    opts.timeout = QUERY_TIMEOUT;
    opts.attempts = QUERY_ATTEMPTS;
    opts.ip_strategy = LookupIpStrategy::Ipv4thenIpv6;
    // Virtual hostnames are the seed's to answer, not /etc/hosts'.
    opts.use_hosts_file = ResolveHosts::Never;
    Ok(builder.build())
}

/// Joins the seeds' answers in the seeds' order: the first address of a node id wins, at most
/// `limit` peers. An error only when every seed failed.
fn merge(
    seeds: &[String],
    results: Vec<Result<Vec<PeerSpec>, String>>,
    limit: usize,
) -> Result<Vec<PeerSpec>, NodeError> {
    let mut peers: Vec<PeerSpec> = Vec::new();
    let mut seen = HashSet::new();
    let mut failures = Vec::new();
    for (seed, result) in seeds.iter().zip(results) {
        match result {
            Ok(found) => {
                tracing::debug!(%seed, peers = found.len(), "DNS seed answered");
                for p in found {
                    if peers.len() < limit && seen.insert(p.node_id) {
                        peers.push(p);
                    }
                }
            }
            Err(reason) => failures.push(format!("{seed}: {reason}")),
        }
    }
    if failures.len() == seeds.len() {
        return Err(NodeError::Dns(format!(
            "every DNS seed failed: {}",
            failures.join("; ")
        )));
    }
    for f in &failures {
        tracing::warn!(failure = %f, "DNS seed failed");
    }
    tracing::info!(
        peers = peers.len(),
        seeds = seeds.len(),
        "DNS bootstrap found peers"
    );
    Ok(peers)
}

/// The names to ask a seed for SRV records, in order: the `_nodes._tcp.` alias, then the seed
/// root. Absolute (a trailing dot), so no search domain of the system's is appended.
pub fn seed_query_names(seed: &str) -> Result<Vec<Name>, String> {
    let root = seed.trim().trim_end_matches('.');
    if root.is_empty() {
        return Err("empty seed name".to_string());
    }
    [format!("_nodes._tcp.{root}."), format!("{root}.")]
        .iter()
        .map(|n| Name::from_ascii(n).map_err(|e| format!("{root:?} is not a DNS name: {e}")))
        .collect()
}

/// One SRV record of a seed's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Srv {
    priority: u16,
    port: u16,
    /// Without the trailing dot.
    target: String,
}

/// One SRV target on its way to becoming a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Candidate {
    node_id: PublicKey,
    port: u16,
    target: String,
    ip: Option<IpAddr>,
}

/// The peers one seed offers (deduplicated, at most `limit`), or why there are none.
async fn seed_peers(
    resolver: &TokioResolver,
    seed: &str,
    limit: usize,
) -> Result<Vec<PeerSpec>, String> {
    let mut reasons = Vec::new();
    let mut answer = None;
    for qname in seed_query_names(seed)? {
        let shown = qname.to_string();
        let shown = shown.trim_end_matches('.');
        match resolver.srv_lookup(qname.clone()).await {
            Ok(found) if found.iter().next().is_some() => {
                answer = Some(found);
                break;
            }
            Ok(_) => reasons.push(format!("{shown}: no SRV records")),
            Err(e) => reasons.push(format!("{shown}: {}", lookup_failure(&e, "SRV"))),
        }
    }
    let Some(answer) = answer else {
        return Err(reasons.join(", "));
    };
    let srv: Vec<Srv> = answer
        .iter()
        .take(MAX_SRV_TARGETS)
        .map(|s| Srv {
            priority: s.priority(),
            port: s.port(),
            target: without_root(&s.target().to_string()),
        })
        .collect();
    let glue: Vec<(String, IpAddr)> = answer
        .as_lookup()
        .records()
        .iter()
        .filter_map(|r| {
            let ip = match r.data() {
                RData::A(a) => IpAddr::V4(a.0),
                RData::AAAA(a) => IpAddr::V6(a.0),
                _ => return None,
            };
            Some((without_root(&r.name().to_string()), ip))
        })
        .collect();
    let (mut candidates, skipped) = candidates(seed, &srv, &glue);
    if candidates.is_empty() {
        return Err(format!(
            "no usable SRV targets ({skipped} skipped; see debug logs)"
        ));
    }
    resolve_missing(resolver, &mut candidates, limit).await;
    let peers: Vec<PeerSpec> = candidates
        .into_iter()
        .filter_map(|c| {
            let address = match c.ip? {
                IpAddr::V4(v4) => SocketAddress::TcpIpV4 {
                    addr: v4.octets(),
                    port: c.port,
                },
                IpAddr::V6(v6) => SocketAddress::TcpIpV6 {
                    addr: v6.octets(),
                    port: c.port,
                },
            };
            Some(PeerSpec {
                node_id: c.node_id,
                address,
            })
        })
        .take(limit)
        .collect();
    if peers.is_empty() {
        return Err("no SRV target has an address".to_string());
    }
    Ok(peers)
}

/// What a failed lookup means for the operator.
fn lookup_failure(e: &ResolveError, what: &str) -> String {
    if e.is_nx_domain() {
        "no such name (NXDOMAIN)".to_string()
    } else if e.is_no_records_found() {
        format!("no {what} records")
    } else {
        e.to_string()
    }
}

fn without_root(name: &str) -> String {
    name.trim_end_matches('.').to_string()
}

/// The usable SRV targets of an answer (RFC 2782 priority order, otherwise the seed's order),
/// one per node id, with an address from the answer's own records when it has one; and how
/// many targets were skipped (no service, or not a node id).
fn candidates(seed: &str, srv: &[Srv], glue: &[(String, IpAddr)]) -> (Vec<Candidate>, usize) {
    let mut srv: Vec<&Srv> = srv.iter().collect();
    // Stable: seeds hand out a random sample, whose order is kept within a priority.
    srv.sort_by_key(|s| s.priority);
    let mut out: Vec<Candidate> = Vec::new();
    let mut seen = HashSet::new();
    let mut skipped = 0usize;
    for s in srv {
        // RFC 2782: a target of "." means the service is not offered there.
        if s.port == 0 || s.target.is_empty() {
            tracing::debug!(%seed, target = %s.target, port = s.port, "skipping an SRV record without a service");
            skipped += 1;
            continue;
        }
        let node_id = match node_id_from_target(&s.target) {
            Ok(id) => id,
            Err(why) => {
                tracing::debug!(%seed, target = %s.target, reason = %why, "skipping an SRV target that is not a node id");
                skipped += 1;
                continue;
            }
        };
        if !seen.insert(node_id) {
            continue;
        }
        let of_target = |want_v4: bool| {
            glue.iter()
                .filter(|(name, _)| name.eq_ignore_ascii_case(&s.target))
                .map(|(_, ip)| *ip)
                .find(|ip| ip.is_ipv4() == want_v4)
        };
        out.push(Candidate {
            node_id,
            port: s.port,
            target: s.target.clone(),
            ip: of_target(true).or_else(|| of_target(false)),
        });
    }
    (out, skipped)
}

/// Looks up the addresses of candidates without one, only as many as `limit` still needs,
/// concurrently. Candidates whose lookup found nothing are dropped, so every round makes
/// progress and the next one moves on to other targets.
async fn resolve_missing(resolver: &TokioResolver, candidates: &mut Vec<Candidate>, limit: usize) {
    loop {
        let have = candidates.iter().filter(|c| c.ip.is_some()).count();
        let batch: Vec<usize> = candidates
            .iter()
            .enumerate()
            .filter(|(_, c)| c.ip.is_none())
            .map(|(i, _)| i)
            .take(limit.saturating_sub(have))
            .collect();
        if batch.is_empty() {
            return;
        }
        let mut lookups = JoinSet::new();
        for &i in &batch {
            let resolver = resolver.clone();
            let target = candidates[i].target.clone();
            lookups.spawn(async move {
                let ip = match resolver.lookup_ip(format!("{target}.")).await {
                    Ok(found) => found.iter().next(),
                    Err(e) => {
                        tracing::debug!(%target, reason = %lookup_failure(&e, "address"), "SRV target has no address; skipping it");
                        None
                    }
                };
                (i, ip)
            });
        }
        while let Some(joined) = lookups.join_next().await {
            if let Ok((i, ip)) = joined {
                if let Some(c) = candidates.get_mut(i) {
                    c.ip = ip;
                }
            }
        }
        let mut i = 0;
        candidates.retain(|c| {
            let keep = c.ip.is_some() || !batch.contains(&i);
            i += 1;
            keep
        });
    }
}

/// The node id in the first label of an SRV target: bech32 (not bech32m), hrp `ln`, 33 bytes.
pub fn node_id_from_target(target: &str) -> Result<PublicKey, String> {
    let label = target.split('.').next().unwrap_or_default();
    // DNS is case-insensitive and resolvers may randomise case; bech32 forbids mixed case.
    let label = label.to_ascii_lowercase();
    let parsed = CheckedHrpstring::new::<Bech32>(&label)
        .map_err(|e| format!("{label:?} is not bech32: {e}"))?;
    if parsed.hrp().as_str() != "ln" {
        return Err(format!(
            "{label:?}: human-readable part is {:?}, not \"ln\"",
            parsed.hrp().as_str()
        ));
    }
    let bytes: Vec<u8> = parsed.byte_iter().collect();
    if bytes.len() != 33 {
        return Err(format!(
            "{label:?} holds {} bytes, not a 33-byte node id",
            bytes.len()
        ));
    }
    PublicKey::from_slice(&bytes).map_err(|e| format!("{label:?}: not a public key ({e})"))
}

/// The virtual hostname a seed gives `node_id` under `seed_root`: `ln1….<seed root>`.
pub fn virtual_hostname(node_id: &PublicKey, seed_root: &str) -> String {
    let hrp = Hrp::parse_unchecked("ln");
    // A 33-byte payload under a 2-letter hrp is far below bech32's length limit.
    let label = bitcoin::bech32::encode::<Bech32>(hrp, &node_id.serialize()).unwrap_or_default();
    format!("{label}.{}", seed_root.trim_end_matches('.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::bech32::{self, Bech32m};
    use bitcoin::secp256k1::{Secp256k1, SecretKey};

    const SEED: &str = "seed.test";

    fn node(i: u8) -> PublicKey {
        let sk = SecretKey::from_slice(&[i; 32]).unwrap();
        PublicKey::from_secret_key(&Secp256k1::new(), &sk)
    }

    fn target(pk: &PublicKey) -> String {
        virtual_hostname(pk, SEED)
    }

    fn srv(priority: u16, port: u16, target: &str) -> Srv {
        Srv {
            priority,
            port,
            target: target.to_string(),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn v4(a: u8, b: u8, c: u8, d: u8, port: u16) -> SocketAddress {
        SocketAddress::TcpIpV4 {
            addr: [a, b, c, d],
            port,
        }
    }

    #[test]
    fn node_ids_from_targets() {
        let pk = node(9);
        let t = target(&pk);
        let label = t.split('.').next().unwrap();
        assert_eq!(label.len(), 62, "fits a DNS label");
        assert!(label.starts_with("ln1"));
        assert_eq!(node_id_from_target(&t), Ok(pk));
        // Resolvers may randomise case.
        assert_eq!(node_id_from_target(&t.to_uppercase()), Ok(pk));
        let m = bech32::encode::<Bech32m>(Hrp::parse("ln").unwrap(), &pk.serialize()).unwrap();
        assert!(node_id_from_target(&m).unwrap_err().contains("not bech32"));
        let bc = bech32::encode::<Bech32>(Hrp::parse("bc").unwrap(), &pk.serialize()).unwrap();
        assert!(node_id_from_target(&bc).unwrap_err().contains("not \"ln\""));
        let short = bech32::encode::<Bech32>(Hrp::parse("ln").unwrap(), &[2u8; 32]).unwrap();
        assert!(node_id_from_target(&short)
            .unwrap_err()
            .contains("32 bytes"));
        let not_a_point = bech32::encode::<Bech32>(Hrp::parse("ln").unwrap(), &[7u8; 33]).unwrap();
        assert!(node_id_from_target(&not_a_point)
            .unwrap_err()
            .contains("not a public key"));
        assert!(node_id_from_target("").is_err());
        assert!(node_id_from_target("ln1").is_err());
        // The seed root's trailing dot is not part of the hostname.
        assert_eq!(virtual_hostname(&pk, "seed.test."), t);
    }

    #[test]
    fn seed_names_are_the_alias_then_the_root_and_absolute() {
        let names: Vec<String> = seed_query_names(" Seed.Test. ")
            .unwrap()
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(names, vec!["_nodes._tcp.Seed.Test.", "Seed.Test."]);
        assert_eq!(seed_query_names(" . ").unwrap_err(), "empty seed name");
        let e = seed_query_names(&"x".repeat(64)).unwrap_err();
        assert!(e.contains("is not a DNS name"), "{e}");
    }

    #[test]
    fn candidates_follow_priority_skip_non_nodes_and_prefer_ipv4_glue() {
        let (n1, n2, n3, n4) = (node(1), node(2), node(3), node(4));
        let mut bad_checksum = target(&node(6));
        let last = bad_checksum.split('.').next().unwrap().len() - 1;
        let flipped = if &bad_checksum[last..=last] == "q" {
            "p"
        } else {
            "q"
        };
        bad_checksum.replace_range(last..=last, flipped);
        let answer = vec![
            srv(20, 9736, &target(&n2)),
            srv(10, 9735, &target(&n1)),
            srv(10, 9735, "not-a-node.seed.test"),
            srv(10, 9735, &bad_checksum),
            // No service here (RFC 2782 "." target, or port 0).
            srv(10, 9735, ""),
            srv(10, 0, &target(&n4)),
            // The same node again, another port: the first (by priority) wins.
            srv(30, 1, &target(&n1)),
            srv(20, 19735, &target(&n3)),
        ];
        let glue = vec![
            (target(&n3).to_uppercase(), ip("2001:db8::3")),
            (target(&n3), ip("203.0.113.3")),
            (target(&n1), ip("203.0.113.1")),
            ("other.seed.test".to_string(), ip("192.0.2.99")),
        ];
        let (c, skipped) = candidates(SEED, &answer, &glue);
        assert_eq!(skipped, 4);
        let got: Vec<(PublicKey, u16, Option<IpAddr>)> =
            c.iter().map(|c| (c.node_id, c.port, c.ip)).collect();
        assert_eq!(
            got,
            vec![
                (n1, 9735, Some(ip("203.0.113.1"))),
                (n2, 9736, None),
                (n3, 19735, Some(ip("203.0.113.3"))),
            ]
        );
        // Only IPv6 glue: used.
        let (c, _) = candidates(
            SEED,
            &[srv(0, 9735, &target(&n2))],
            &[(target(&n2), ip("2001:db8::2"))],
        );
        assert_eq!(c[0].ip, Some(ip("2001:db8::2")));
    }

    fn peer(n: u8, address: SocketAddress) -> PeerSpec {
        PeerSpec {
            node_id: node(n),
            address,
        }
    }

    #[test]
    fn seeds_merge_in_order_without_duplicates_up_to_the_limit() {
        let seeds: Vec<String> = ["a.test", "dead.test", "b.test"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let results = || {
            vec![
                Ok(vec![
                    peer(1, v4(192, 0, 2, 1, 9735)),
                    peer(2, v4(192, 0, 2, 2, 9735)),
                ]),
                Err("_nodes._tcp.dead.test: no such name (NXDOMAIN)".to_string()),
                Ok(vec![
                    peer(2, v4(192, 0, 2, 99, 9999)),
                    peer(3, v4(192, 0, 2, 3, 9735)),
                    peer(4, v4(192, 0, 2, 4, 9735)),
                ]),
            ]
        };
        let all = merge(&seeds, results(), 10).unwrap();
        let ids: Vec<PublicKey> = all.iter().map(|p| p.node_id).collect();
        assert_eq!(ids, vec![node(1), node(2), node(3), node(4)]);
        assert_eq!(
            all[1].address,
            v4(192, 0, 2, 2, 9735),
            "first seed's address wins"
        );
        let three = merge(&seeds, results(), 3).unwrap();
        let ids: Vec<PublicKey> = three.iter().map(|p| p.node_id).collect();
        assert_eq!(ids, vec![node(1), node(2), node(3)]);
    }

    #[test]
    fn every_seed_failing_is_an_error_with_each_reason() {
        let seeds: Vec<String> = ["gone.test", ""].iter().map(|s| s.to_string()).collect();
        let e = merge(
            &seeds,
            vec![
                Err("_nodes._tcp.gone.test: no such name (NXDOMAIN), gone.test: no such name (NXDOMAIN)".into()),
                Err("empty seed name".into()),
            ],
            10,
        )
        .unwrap_err();
        assert!(matches!(e, NodeError::Dns(_)), "{e:?}");
        let e = e.to_string();
        assert!(e.starts_with("DNS bootstrap: every DNS seed failed"), "{e}");
        assert!(
            e.contains("gone.test: _nodes._tcp.gone.test: no such name"),
            "{e}"
        );
        assert!(e.contains(": empty seed name"), "{e}");
    }

    #[tokio::test]
    async fn nothing_asked_without_seeds_or_limit() {
        assert!(bootstrap_peers(&[], None, 10).await.unwrap().is_empty());
        // Port 9 (discard): nothing is sent when nothing is wanted.
        let seeds = vec![SEED.to_string()];
        let server = Some("127.0.0.1:9".parse().unwrap());
        assert!(bootstrap_peers(&seeds, server, 0).await.unwrap().is_empty());
    }
}
