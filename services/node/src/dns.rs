//! BOLT 10 DNS bootstrap: peers for a node that knows nobody yet.
//!
//! A BOLT 10 seed answers `SRV` queries with a sample of nodes: every SRV target is a
//! virtual hostname `<bech32 node id, hrp "ln">.<seed root>` together with the node's port,
//! and the target's `A`/`AAAA` records usually ride along in the additional section (when
//! they do not, we ask for them). We ask `_nodes._tcp.<seed>` first (what LND does) and fall
//! back to the seed root itself.
//!
//! The DNS client is deliberately minimal (RFC 1035 over UDP, EDNS0 for larger answers):
//! one socket per query connected to the resolver so the kernel drops datagrams from anyone
//! else, a random query id, answers with another id or question ignored, every length checked
//! against the packet, compression pointers followed at most [`MAX_POINTER_JUMPS`] times, and
//! a truncated (`TC`) answer used for the records that did arrive.

use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bitcoin::bech32::primitives::decode::CheckedHrpstring;
use bitcoin::bech32::Bech32;
use bitcoin::secp256k1::PublicKey;
use lightning::ln::msgs::SocketAddress;
use tokio::net::UdpSocket;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::PeerSpec;
use crate::error::NodeError;

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const TYPE_SRV: u16 = 33;
const TYPE_OPT: u16 = 41;
const CLASS_IN: u16 = 1;

const FLAG_QR: u16 = 0x8000;
const FLAG_TC: u16 = 0x0200;
const FLAG_RD: u16 = 0x0100;
const RCODE_FORMERR: u8 = 1;
const RCODE_NXDOMAIN: u8 = 3;

/// RFC 1035 §2.3.4, in wire format (length bytes and the root included).
const MAX_NAME_LEN: usize = 255;
const MAX_LABEL_LEN: usize = 63;
/// A legitimate name needs a handful of pointers at most; more means a loop or an attack.
pub(crate) const MAX_POINTER_JUMPS: usize = 16;
/// The UDP payload we advertise with EDNS0 (the DNS flag day 2020 value).
const EDNS_PAYLOAD: u16 = 1232;
/// SRV records used from one answer; seeds send about 25.
const MAX_SRV_TARGETS: usize = 64;

const QUERY_TIMEOUT: Duration = Duration::from_secs(5);
const QUERY_ATTEMPTS: u32 = 3;
const RESOLV_CONF: &str = "/etc/resolv.conf";

/// Peers from BOLT 10 seeds: node ids decoded from the SRV targets, addresses from A/AAAA.
///
/// Seeds are asked concurrently; the result keeps the seeds' order, holds one address per node
/// id (IPv4 preferred when a target has both) and at most `limit` peers. `server` is the DNS
/// resolver to ask (`None`: the first `nameserver` of /etc/resolv.conf, port 53). Fails only
/// when every seed failed, with each seed's reason.
pub async fn bootstrap_peers(
    seeds: &[String],
    server: Option<SocketAddr>,
    limit: usize,
) -> Result<Vec<PeerSpec>, NodeError> {
    if seeds.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let server = match server {
        Some(s) => s,
        None => system_nameserver()?,
    };
    let resolver = Resolver {
        server,
        timeout: QUERY_TIMEOUT,
        attempts: QUERY_ATTEMPTS,
    };
    bootstrap_with(&resolver, seeds, limit).await
}

async fn bootstrap_with(
    resolver: &Resolver,
    seeds: &[String],
    limit: usize,
) -> Result<Vec<PeerSpec>, NodeError> {
    if seeds.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let mut tasks = JoinSet::new();
    for (i, seed) in seeds.iter().enumerate() {
        let resolver = resolver.clone();
        let seed = seed.clone();
        tasks.spawn(async move { (i, seed_peers(&resolver, &seed, limit).await) });
    }
    let mut results: Vec<Option<Result<Vec<PeerSpec>, String>>> =
        (0..seeds.len()).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((i, r)) => {
                if let Some(slot) = results.get_mut(i) {
                    *slot = Some(r);
                }
            }
            Err(e) => tracing::warn!(error = %e, "DNS seed task failed"),
        }
    }

    let mut peers: Vec<PeerSpec> = Vec::new();
    let mut seen = HashSet::new();
    let mut failures = Vec::new();
    for (seed, result) in seeds.iter().zip(results) {
        match result.unwrap_or_else(|| Err("lookup task died".to_string())) {
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

/// One SRV target on its way to becoming a peer.
struct Candidate {
    node_id: PublicKey,
    port: u16,
    target: String,
    ip: Option<IpAddr>,
}

/// The peers one seed offers (deduplicated, at most `limit`), or why there are none.
async fn seed_peers(
    resolver: &Resolver,
    seed: &str,
    limit: usize,
) -> Result<Vec<PeerSpec>, String> {
    let root = seed.trim().trim_end_matches('.');
    if root.is_empty() {
        return Err("empty seed name".to_string());
    }
    let mut reasons = Vec::new();
    let mut answer = None;
    for qname in [format!("_nodes._tcp.{root}"), root.to_string()] {
        match resolver.lookup(&qname, TYPE_SRV).await {
            Ok(msg)
                if msg
                    .answers
                    .iter()
                    .any(|r| matches!(r.data, RData::Srv { .. })) =>
            {
                answer = Some(msg);
                break;
            }
            Ok(_) => reasons.push(format!("{qname}: no SRV records")),
            Err(e) => reasons.push(format!("{qname}: {e}")),
        }
    }
    let Some(msg) = answer else {
        return Err(reasons.join(", "));
    };

    let mut srv: Vec<(u16, u16, &str)> = msg
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::Srv {
                priority,
                port,
                target,
                ..
            } => Some((*priority, *port, target.as_str())),
            _ => None,
        })
        .take(MAX_SRV_TARGETS)
        .collect();
    // RFC 2782: lower priority first. Seeds hand out a random sample, so the order is kept
    // otherwise (the sort is stable).
    srv.sort_by_key(|s| s.0);

    let mut candidates: Vec<Candidate> = Vec::new();
    let mut seen = HashSet::new();
    let mut skipped = 0usize;
    for (_, port, target) in srv {
        if port == 0 || target.is_empty() {
            tracing::debug!(%seed, target, port, "skipping an SRV record without a service");
            skipped += 1;
            continue;
        }
        let node_id = match node_id_from_target(target) {
            Ok(id) => id,
            Err(why) => {
                tracing::debug!(%seed, target, reason = %why, "skipping an SRV target that is not a node id");
                skipped += 1;
                continue;
            }
        };
        if !seen.insert(node_id) {
            continue;
        }
        let ip = address_for(&msg, target);
        candidates.push(Candidate {
            node_id,
            port,
            target: target.to_string(),
            ip,
        });
    }
    if candidates.is_empty() {
        return Err(format!(
            "no usable SRV targets ({skipped} skipped; see debug logs)"
        ));
    }

    // Targets without glue records: ask for their addresses, only as many as still needed,
    // concurrently.
    loop {
        let have = candidates.iter().filter(|c| c.ip.is_some()).count();
        let pending: Vec<usize> = candidates
            .iter()
            .enumerate()
            .filter(|(_, c)| c.ip.is_none())
            .map(|(i, _)| i)
            .collect();
        if have >= limit || pending.is_empty() {
            break;
        }
        let batch: Vec<usize> = pending.into_iter().take(limit - have).collect();
        let mut lookups = JoinSet::new();
        for &i in &batch {
            let resolver = resolver.clone();
            let target = candidates[i].target.clone();
            lookups.spawn(async move { (i, resolve_target(&resolver, &target).await) });
        }
        while let Some(joined) = lookups.join_next().await {
            if let Ok((i, ip)) = joined {
                if let Some(c) = candidates.get_mut(i) {
                    c.ip = ip;
                }
            }
        }
        // Targets of this round still without an address are dropped, so every round makes
        // progress and the next one moves on to other targets.
        let mut i = 0;
        candidates.retain(|c| {
            let keep = c.ip.is_some() || !batch.contains(&i);
            i += 1;
            keep
        });
    }

    let peers: Vec<PeerSpec> = candidates
        .into_iter()
        .filter_map(|c| {
            let ip = c.ip?;
            let address = match ip {
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

/// The target's address from the answer's own records: IPv4 first, then IPv6.
fn address_for(msg: &Message, target: &str) -> Option<IpAddr> {
    let records = || {
        msg.answers
            .iter()
            .chain(&msg.additional)
            .filter(|r| same_name(&r.name, target))
    };
    records()
        .find_map(|r| match r.data {
            RData::A(ip) => Some(IpAddr::V4(ip)),
            _ => None,
        })
        .or_else(|| {
            records().find_map(|r| match r.data {
                RData::Aaaa(ip) => Some(IpAddr::V6(ip)),
                _ => None,
            })
        })
}

/// Asks for the target's A, then AAAA records (any owner name: the answer may follow a CNAME).
async fn resolve_target(resolver: &Resolver, target: &str) -> Option<IpAddr> {
    for qtype in [TYPE_A, TYPE_AAAA] {
        match resolver.lookup(target, qtype).await {
            Ok(msg) => {
                let ip = msg.answers.iter().find_map(|r| match r.data {
                    RData::A(ip) => Some(IpAddr::V4(ip)),
                    RData::Aaaa(ip) => Some(IpAddr::V6(ip)),
                    _ => None,
                });
                if ip.is_some() {
                    return ip;
                }
            }
            Err(e) => tracing::debug!(target, qtype, error = %e, "address lookup failed"),
        }
    }
    tracing::debug!(target, "SRV target has no address; skipping it");
    None
}

/// The node id in the first label of an SRV target: bech32 (not bech32m), hrp `ln`, 33 bytes.
pub(crate) fn node_id_from_target(target: &str) -> Result<PublicKey, String> {
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

/// The first usable `nameserver` of /etc/resolv.conf, port 53.
fn system_nameserver() -> Result<SocketAddr, NodeError> {
    let text = std::fs::read_to_string(RESOLV_CONF).map_err(|e| NodeError::io(RESOLV_CONF, e))?;
    parse_resolv_conf(&text).ok_or_else(|| {
        NodeError::Dns(format!(
            "no usable nameserver in {RESOLV_CONF}; configure the DNS server"
        ))
    })
}

fn parse_resolv_conf(text: &str) -> Option<SocketAddr> {
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            return None;
        }
        let addr = words.next()?;
        // Link-local IPv6 servers carry a zone (`fe80::1%eth0`) that IpAddr cannot hold.
        let ip: IpAddr = addr.parse().ok()?;
        Some(SocketAddr::new(ip, 53))
    })
}

fn same_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

/// A query id from the OS's random source (falling back to std's OS-seeded hasher keys).
fn random_id() -> u16 {
    let mut b = [0u8; 2];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_ok()
    {
        return u16::from_be_bytes(b);
    }
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish() as u16
}

// ---------------------------------------------------------------------------------------------
// The client

#[derive(Debug, Clone)]
struct Resolver {
    server: SocketAddr,
    /// Per attempt.
    timeout: Duration,
    attempts: u32,
}

#[derive(Debug, thiserror::Error)]
enum QueryError {
    #[error("{0}")]
    Name(String),
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("no answer from {server} ({attempts} attempts, {timeout:?} each)")]
    Timeout {
        server: SocketAddr,
        attempts: u32,
        timeout: Duration,
    },
    #[error("malformed response: {0}")]
    Malformed(ParseError),
    #[error("no such name (NXDOMAIN)")]
    NxDomain,
    #[error("server answered rcode {0} ({1})")]
    Rcode(u8, &'static str),
}

impl Resolver {
    /// A successful (`NOERROR`) answer to `name`/`qtype`.
    async fn lookup(&self, name: &str, qtype: u16) -> Result<Message, QueryError> {
        let msg = self.exchange(name, qtype).await?;
        match msg.rcode() {
            0 => Ok(msg),
            RCODE_NXDOMAIN => Err(QueryError::NxDomain),
            r => Err(QueryError::Rcode(r, rcode_name(r))),
        }
    }

    /// Sends the query (retrying on timeouts) and returns the first datagram that answers it.
    async fn exchange(&self, name: &str, qtype: u16) -> Result<Message, QueryError> {
        let id = random_id();
        let bind: SocketAddr = if self.server.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let sock = UdpSocket::bind(bind).await?;
        sock.connect(self.server).await?;
        let mut edns = true;
        let mut packet = build_query(id, name, qtype, edns).map_err(QueryError::Name)?;
        let mut buf = vec![0u8; 65_535];
        let mut failure: Option<QueryError> = None;
        let mut attempt = 0;
        'attempts: while attempt < self.attempts {
            attempt += 1;
            if let Err(e) = sock.send(&packet).await {
                failure = Some(e.into());
                continue;
            }
            let deadline = Instant::now() + self.timeout;
            loop {
                let n = match tokio::time::timeout_at(deadline, sock.recv(&mut buf)).await {
                    Err(_elapsed) => continue 'attempts,
                    // ICMP port unreachable and friends.
                    Ok(Err(e)) => {
                        failure = Some(e.into());
                        continue 'attempts;
                    }
                    Ok(Ok(n)) => n,
                };
                let reply = buf.get(..n).unwrap_or_default();
                match reply {
                    [a, b, ..] if u16::from_be_bytes([*a, *b]) == id => {}
                    _ => {
                        tracing::debug!(bytes = n, "ignoring a DNS datagram with another query id");
                        continue;
                    }
                }
                let msg = match parse_message(reply) {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::debug!(name, error = %e, "malformed DNS response");
                        failure = Some(QueryError::Malformed(e));
                        continue 'attempts;
                    }
                };
                if !msg.is_response() || !msg.answers_question(name, qtype) {
                    tracing::debug!(name, "ignoring a DNS datagram for another question");
                    continue;
                }
                if msg.rcode() == RCODE_FORMERR && edns {
                    // An old server that does not speak EDNS0: ask again without it.
                    edns = false;
                    packet = build_query(id, name, qtype, edns).map_err(QueryError::Name)?;
                    attempt -= 1;
                    continue 'attempts;
                }
                return Ok(msg);
            }
        }
        Err(failure.unwrap_or(QueryError::Timeout {
            server: self.server,
            attempts: self.attempts,
            timeout: self.timeout,
        }))
    }
}

fn rcode_name(r: u8) -> &'static str {
    match r {
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        _ => "other",
    }
}

// ---------------------------------------------------------------------------------------------
// Wire format

/// A query for `name`/`qtype` with recursion desired, and an EDNS0 OPT record when `edns`.
pub(crate) fn build_query(id: u16, name: &str, qtype: u16, edns: bool) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&FLAG_RD.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&u16::from(edns).to_be_bytes());
    encode_name(name, &mut out)?;
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    if edns {
        out.push(0); // root
        out.extend_from_slice(&TYPE_OPT.to_be_bytes());
        out.extend_from_slice(&EDNS_PAYLOAD.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes()); // extended rcode, version, flags
        out.extend_from_slice(&0u16.to_be_bytes()); // no options
    }
    Ok(out)
}

/// Appends `name` uncompressed (a trailing dot is optional).
pub(crate) fn encode_name(name: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    let mut total = 1;
    if !trimmed.is_empty() {
        for label in trimmed.split('.') {
            if label.is_empty() || label.len() > MAX_LABEL_LEN {
                return Err(format!(
                    "DNS name {name:?}: label {label:?} must be 1 to {MAX_LABEL_LEN} bytes"
                ));
            }
            total += label.len() + 1;
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
    }
    if total > MAX_NAME_LEN {
        return Err(format!(
            "DNS name {name:?} is longer than {MAX_NAME_LEN} bytes"
        ));
    }
    out.push(0);
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ParseError {
    #[error("packet ends early: {what} needs {need} byte(s) at offset {at}, packet has {len}")]
    Short {
        what: &'static str,
        at: usize,
        need: usize,
        len: usize,
    },
    #[error("name at offset {0}: more than {MAX_POINTER_JUMPS} compression pointers (a loop?)")]
    PointerLoop(usize),
    #[error("name at offset {0} is longer than {MAX_NAME_LEN} bytes")]
    NameTooLong(usize),
    #[error("name at offset {at}: reserved label type {byte:#04x}")]
    LabelType { at: usize, byte: u8 },
    #[error("{rtype} record at offset {at}: invalid data length {len}")]
    BadRdata {
        rtype: &'static str,
        at: usize,
        len: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Question {
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: String,
    },
    /// Any other type; its data is skipped.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub name: String,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    pub data: RData,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Message {
    pub id: u16,
    pub flags: u16,
    pub questions: Vec<Question>,
    pub answers: Vec<Record>,
    pub authority: Vec<Record>,
    pub additional: Vec<Record>,
}

impl Message {
    pub fn rcode(&self) -> u8 {
        (self.flags & 0x000F) as u8
    }

    pub fn is_response(&self) -> bool {
        self.flags & FLAG_QR != 0
    }

    pub fn truncated(&self) -> bool {
        self.flags & FLAG_TC != 0
    }

    /// Whether the echoed question is ours (servers that echo none are believed).
    fn answers_question(&self, name: &str, qtype: u16) -> bool {
        match self.questions.first() {
            Some(q) => q.qtype == qtype && same_name(&q.name, name),
            None => true,
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, need: usize, what: &'static str) -> Result<&'a [u8], ParseError> {
        let slice = self
            .pos
            .checked_add(need)
            .and_then(|end| self.buf.get(self.pos..end))
            .ok_or(ParseError::Short {
                what,
                at: self.pos,
                need,
                len: self.buf.len(),
            })?;
        self.pos += need;
        Ok(slice)
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, ParseError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, ParseError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn name(&mut self) -> Result<String, ParseError> {
        let (name, next) = read_name(self.buf, self.pos)?;
        self.pos = next;
        Ok(name)
    }
}

/// Parses a whole message. A message with `TC` set keeps the records before the cut; any
/// other malformation is an error.
pub(crate) fn parse_message(buf: &[u8]) -> Result<Message, ParseError> {
    let mut r = Reader { buf, pos: 0 };
    let mut msg = Message {
        id: r.u16("header")?,
        flags: r.u16("header")?,
        ..Message::default()
    };
    let mut counts = [0u16; 4];
    for c in &mut counts {
        *c = r.u16("header")?;
    }
    match parse_body(&mut r, &mut msg, counts) {
        Ok(()) => Ok(msg),
        Err(e) if msg.truncated() => {
            tracing::debug!(error = %e, "truncated DNS response; using the records that arrived");
            Ok(msg)
        }
        Err(e) => Err(e),
    }
}

fn parse_body(r: &mut Reader<'_>, msg: &mut Message, counts: [u16; 4]) -> Result<(), ParseError> {
    for _ in 0..counts[0] {
        let name = r.name()?;
        let qtype = r.u16("question")?;
        let qclass = r.u16("question")?;
        msg.questions.push(Question {
            name,
            qtype,
            qclass,
        });
    }
    for _ in 0..counts[1] {
        let rec = parse_record(r)?;
        msg.answers.push(rec);
    }
    for _ in 0..counts[2] {
        let rec = parse_record(r)?;
        msg.authority.push(rec);
    }
    for _ in 0..counts[3] {
        let rec = parse_record(r)?;
        msg.additional.push(rec);
    }
    Ok(())
}

fn parse_record(r: &mut Reader<'_>) -> Result<Record, ParseError> {
    let name = r.name()?;
    let rtype = r.u16("record type")?;
    let class = r.u16("record class")?;
    let ttl = r.u32("record ttl")?;
    let len = usize::from(r.u16("record length")?);
    let start = r.pos;
    let rdata = r.take(len, "record data")?;
    let bad = |rtype| ParseError::BadRdata {
        rtype,
        at: start,
        len,
    };
    let data = match rtype {
        TYPE_A => {
            let octets: [u8; 4] = rdata.try_into().map_err(|_| bad("A"))?;
            RData::A(Ipv4Addr::from(octets))
        }
        TYPE_AAAA => {
            let octets: [u8; 16] = rdata.try_into().map_err(|_| bad("AAAA"))?;
            RData::Aaaa(Ipv6Addr::from(octets))
        }
        TYPE_SRV => {
            let &[p0, p1, w0, w1, o0, o1, _, ..] = rdata else {
                return Err(bad("SRV"));
            };
            // RFC 2782 forbids compressing the target, but servers do it; pointers need
            // the whole packet, and the name must still end inside the record.
            let (target, end) = read_name(r.buf, start + 6)?;
            if end > start + len {
                return Err(bad("SRV"));
            }
            RData::Srv {
                priority: u16::from_be_bytes([p0, p1]),
                weight: u16::from_be_bytes([w0, w1]),
                port: u16::from_be_bytes([o0, o1]),
                target,
            }
        }
        _ => RData::Other,
    };
    Ok(Record {
        name,
        rtype,
        class,
        ttl,
        data,
    })
}

/// Reads the (possibly compressed) name at `start`; returns it in presentation form without
/// the trailing dot (`""` for the root) and the offset just after it at `start`.
pub(crate) fn read_name(buf: &[u8], start: usize) -> Result<(String, usize), ParseError> {
    let short = |at: usize, need: usize| ParseError::Short {
        what: "name",
        at,
        need,
        len: buf.len(),
    };
    let mut pos = start;
    let mut after: Option<usize> = None;
    let mut jumps = 0;
    let mut wire_len = 1;
    let mut out = String::new();
    loop {
        let len = *buf.get(pos).ok_or_else(|| short(pos, 1))?;
        match len & 0xC0 {
            0x00 if len == 0 => return Ok((out, after.unwrap_or(pos + 1))),
            0x00 => {
                let len = usize::from(len);
                let label = buf
                    .get(pos + 1..pos + 1 + len)
                    .ok_or_else(|| short(pos + 1, len))?;
                wire_len += len + 1;
                if wire_len > MAX_NAME_LEN {
                    return Err(ParseError::NameTooLong(start));
                }
                if !out.is_empty() {
                    out.push('.');
                }
                push_label(&mut out, label);
                pos += 1 + len;
            }
            0xC0 => {
                let low = *buf.get(pos + 1).ok_or_else(|| short(pos + 1, 1))?;
                jumps += 1;
                if jumps > MAX_POINTER_JUMPS {
                    return Err(ParseError::PointerLoop(start));
                }
                after.get_or_insert(pos + 2);
                pos = (usize::from(len & 0x3F) << 8) | usize::from(low);
            }
            _ => return Err(ParseError::LabelType { at: pos, byte: len }),
        }
    }
}

/// Letters, digits, `-` and `_` as they are; anything else (dots inside labels included) as
/// `\DDD`, like dig.
fn push_label(out: &mut String, label: &[u8]) {
    for &b in label {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\{b:03}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::bech32::{self, Bech32m, Hrp};
    use bitcoin::secp256k1::{Secp256k1, SecretKey};
    use std::sync::{Arc, Mutex};

    const SEED: &str = "seed.test";
    const SRV_NAME: &str = "_nodes._tcp.seed.test";

    fn node(i: u8) -> PublicKey {
        let sk = SecretKey::from_slice(&[i; 32]).unwrap();
        PublicKey::from_secret_key(&Secp256k1::new(), &sk)
    }

    fn label(pk: &PublicKey) -> String {
        bech32::encode::<Bech32>(Hrp::parse("ln").unwrap(), &pk.serialize()).unwrap()
    }

    fn v4(a: u8, b: u8, c: u8, d: u8, port: u16) -> SocketAddress {
        SocketAddress::TcpIpV4 {
            addr: [a, b, c, d],
            port,
        }
    }

    fn fast(server: SocketAddr) -> Resolver {
        Resolver {
            server,
            timeout: Duration::from_millis(150),
            attempts: 2,
        }
    }

    fn seeds(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    /// Builds answers the way a seed does: every name compressed against the earlier ones.
    struct Builder {
        buf: Vec<u8>,
        names: Vec<(String, usize)>,
        counts: [u16; 4],
        section: usize,
    }

    impl Builder {
        fn reply(query: &Message, rcode: u8) -> Builder {
            let mut b = Builder {
                buf: Vec::new(),
                names: Vec::new(),
                counts: [0; 4],
                section: 1,
            };
            b.u16(query.id);
            b.u16(FLAG_QR | FLAG_RD | 0x0400 | 0x0080 | u16::from(rcode));
            b.buf.extend_from_slice(&[0; 8]);
            for q in &query.questions {
                b.name(&q.name);
                b.u16(q.qtype);
                b.u16(q.qclass);
                b.counts[0] += 1;
            }
            b
        }

        fn set_flags(&mut self, flags: u16) {
            let f = u16::from_be_bytes([self.buf[2], self.buf[3]]) | flags;
            self.buf[2..4].copy_from_slice(&f.to_be_bytes());
        }

        fn u16(&mut self, v: u16) {
            self.buf.extend_from_slice(&v.to_be_bytes());
        }

        fn name(&mut self, name: &str) {
            let labels: Vec<&str> = name.split('.').filter(|l| !l.is_empty()).collect();
            for i in 0..labels.len() {
                let suffix = labels[i..].join(".").to_ascii_lowercase();
                if let Some(&(_, off)) = self.names.iter().find(|(n, _)| *n == suffix) {
                    self.u16(0xC000 | off as u16);
                    return;
                }
                if self.buf.len() < 0x3FFF {
                    self.names.push((suffix, self.buf.len()));
                }
                self.buf.push(labels[i].len() as u8);
                self.buf.extend_from_slice(labels[i].as_bytes());
            }
            self.buf.push(0);
        }

        fn record(
            &mut self,
            section: usize,
            owner: &str,
            rtype: u16,
            rdata: impl FnOnce(&mut Self),
        ) {
            assert!(section >= self.section, "records go in section order");
            self.section = section;
            self.name(owner);
            self.u16(rtype);
            self.u16(CLASS_IN);
            self.buf.extend_from_slice(&60u32.to_be_bytes());
            let at = self.buf.len();
            self.u16(0);
            rdata(self);
            let len = (self.buf.len() - at - 2) as u16;
            self.buf[at..at + 2].copy_from_slice(&len.to_be_bytes());
            self.counts[section] += 1;
        }

        fn srv(&mut self, owner: &str, port: u16, target: &str) {
            self.record(1, owner, TYPE_SRV, |b| {
                b.u16(10);
                b.u16(10);
                b.u16(port);
                b.name(target);
            });
        }

        fn addr(&mut self, section: usize, owner: &str, ip: IpAddr) {
            match ip {
                IpAddr::V4(ip) => self.record(section, owner, TYPE_A, |b| {
                    b.buf.extend_from_slice(&ip.octets())
                }),
                IpAddr::V6(ip) => self.record(section, owner, TYPE_AAAA, |b| {
                    b.buf.extend_from_slice(&ip.octets())
                }),
            }
        }

        fn finish(mut self) -> Vec<u8> {
            for (i, c) in self.counts.iter().enumerate() {
                self.buf[4 + 2 * i..6 + 2 * i].copy_from_slice(&c.to_be_bytes());
            }
            self.buf
        }
    }

    /// What a seed knows about one node: SRV target label, port, glue addresses.
    #[derive(Clone)]
    struct Entry(String, u16, Vec<IpAddr>);

    fn entry(pk: &PublicKey, port: u16, ips: &[&str]) -> Entry {
        Entry(
            label(pk),
            port,
            ips.iter().map(|s| s.parse().unwrap()).collect(),
        )
    }

    /// A seed's SRV answer for the question asked, with glue records when `glue`.
    fn seed_answer(q: &Message, entries: &[Entry], glue: bool) -> Builder {
        let qname = q.questions[0].name.clone();
        let root = qname
            .strip_prefix("_nodes._tcp.")
            .unwrap_or(&qname)
            .to_string();
        let mut b = Builder::reply(q, 0);
        for Entry(l, port, _) in entries {
            b.srv(&qname, *port, &format!("{l}.{root}"));
        }
        if glue {
            for Entry(l, _, ips) in entries {
                for ip in ips {
                    b.addr(3, &format!("{l}.{root}"), *ip);
                }
            }
        }
        b
    }

    fn empty_reply(q: &Message, rcode: u8) -> Vec<u8> {
        Builder::reply(q, rcode).finish()
    }

    /// A real UDP DNS server on 127.0.0.1 that parses queries with our parser and sends
    /// whatever the handler returns.
    struct Server {
        addr: SocketAddr,
        seen: Arc<Mutex<Vec<(String, u16)>>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Server {
        async fn start(
            mut handler: impl FnMut(&Message) -> Vec<Vec<u8>> + Send + 'static,
        ) -> Server {
            let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let addr = sock.local_addr().unwrap();
            let seen = Arc::new(Mutex::new(Vec::new()));
            let log = seen.clone();
            let task = tokio::spawn(async move {
                let mut buf = vec![0u8; 2048];
                loop {
                    let Ok((n, from)) = sock.recv_from(&mut buf).await else {
                        continue;
                    };
                    let query = parse_message(&buf[..n]).expect("the client's query parses");
                    assert!(!query.is_response());
                    let q = &query.questions[0];
                    log.lock().unwrap().push((q.name.clone(), q.qtype));
                    for reply in handler(&query) {
                        let _ = sock.send_to(&reply, from).await;
                    }
                }
            });
            Server { addr, seen, task }
        }

        fn seen(&self) -> Vec<(String, u16)> {
            self.seen.lock().unwrap().clone()
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    /// Runs `fut`, failing the test if it takes longer than `secs`.
    async fn within<T>(secs: u64, fut: impl std::future::Future<Output = T>) -> T {
        tokio::time::timeout(Duration::from_secs(secs), fut)
            .await
            .expect("DNS bootstrap hung")
    }

    #[tokio::test]
    async fn bootstrap_reads_srv_targets_and_glue_records() {
        let entries = vec![
            entry(&node(1), 9735, &["203.0.113.1"]),
            entry(&node(2), 9736, &["2001:db8::2"]),
            // Both families: IPv4 is preferred whatever the order.
            entry(&node(3), 19735, &["2001:db8::3", "203.0.113.3"]),
            // The same node again (another port): deduplicated.
            entry(&node(1), 1, &["203.0.113.9"]),
        ];
        let server = Server::start(move |q| vec![seed_answer(q, &entries, true).finish()]).await;
        let peers = within(10, bootstrap_peers(&seeds(&[SEED]), Some(server.addr), 10))
            .await
            .unwrap();
        assert_eq!(
            peers,
            vec![
                PeerSpec {
                    node_id: node(1),
                    address: v4(203, 0, 113, 1, 9735)
                },
                PeerSpec {
                    node_id: node(2),
                    address: SocketAddress::TcpIpV6 {
                        addr: "2001:db8::2".parse::<Ipv6Addr>().unwrap().octets(),
                        port: 9736
                    }
                },
                PeerSpec {
                    node_id: node(3),
                    address: v4(203, 0, 113, 3, 19735)
                },
            ]
        );
        // Everything came in one answer: no follow-up queries.
        assert_eq!(server.seen(), vec![(SRV_NAME.to_string(), TYPE_SRV)]);
        // The glue's owner names and the targets' seed root went out as pointers.
        let q = parse_message(&build_query(7, SRV_NAME, TYPE_SRV, false).unwrap()).unwrap();
        let packet = seed_answer(&q, &[entry(&node(1), 9735, &["203.0.113.1"])], true).finish();
        // Uncompressed it would be 240 bytes.
        assert_eq!(packet.len(), 138);
        let msg = parse_message(&packet).unwrap();
        let RData::Srv { target, .. } = &msg.answers[0].data else {
            panic!("no SRV")
        };
        assert_eq!(target, &format!("{}.{SEED}", label(&node(1))));
        assert_eq!(&msg.additional[0].name, target);
    }

    #[tokio::test]
    async fn falls_back_to_the_seed_root() {
        let entries = vec![entry(&node(4), 9735, &["198.51.100.4"])];
        let server = Server::start(move |q| {
            if q.questions[0].name.starts_with("_nodes.") {
                vec![empty_reply(q, RCODE_NXDOMAIN)]
            } else {
                vec![seed_answer(q, &entries, true).finish()]
            }
        })
        .await;
        let peers = within(10, bootstrap_peers(&seeds(&[SEED]), Some(server.addr), 5))
            .await
            .unwrap();
        assert_eq!(
            peers,
            vec![PeerSpec {
                node_id: node(4),
                address: v4(198, 51, 100, 4, 9735)
            }]
        );
        assert_eq!(
            server.seen(),
            vec![
                (SRV_NAME.to_string(), TYPE_SRV),
                (SEED.to_string(), TYPE_SRV)
            ]
        );
    }

    #[tokio::test]
    async fn asks_for_addresses_when_the_answer_has_no_glue() {
        let (n1, n2, n3) = (label(&node(1)), label(&node(2)), label(&node(3)));
        let entries = vec![
            entry(&node(1), 9735, &[]),
            entry(&node(2), 9737, &[]),
            entry(&node(3), 9738, &[]),
        ];
        let (t1, t2) = (format!("{n1}.{SEED}"), format!("{n2}.{SEED}"));
        let server = Server::start(move |q| {
            let name = q.questions[0].name.clone();
            let reply = match q.questions[0].qtype {
                TYPE_SRV => seed_answer(q, &entries, false).finish(),
                TYPE_A if name == t1 => {
                    let mut b = Builder::reply(q, 0);
                    b.addr(1, &name, "192.0.2.1".parse().unwrap());
                    b.finish()
                }
                // node 2 has no IPv4 address, only IPv6.
                TYPE_A if name == t2 => empty_reply(q, 0),
                TYPE_AAAA if name == t2 => {
                    let mut b = Builder::reply(q, 0);
                    b.addr(1, &name, "2001:db8::22".parse().unwrap());
                    b.finish()
                }
                // node 3 has no address at all.
                _ => empty_reply(q, RCODE_NXDOMAIN),
            };
            vec![reply]
        })
        .await;
        let peers = within(10, bootstrap_peers(&seeds(&[SEED]), Some(server.addr), 10))
            .await
            .unwrap();
        assert_eq!(
            peers,
            vec![
                PeerSpec {
                    node_id: node(1),
                    address: v4(192, 0, 2, 1, 9735)
                },
                PeerSpec {
                    node_id: node(2),
                    address: SocketAddress::TcpIpV6 {
                        addr: "2001:db8::22".parse::<Ipv6Addr>().unwrap().octets(),
                        port: 9737
                    }
                },
            ]
        );
        let mut seen = server.seen();
        seen.sort();
        let mut want = vec![
            (SRV_NAME.to_string(), TYPE_SRV),
            (format!("{n1}.{SEED}"), TYPE_A),
            (format!("{n2}.{SEED}"), TYPE_A),
            (format!("{n2}.{SEED}"), TYPE_AAAA),
            (format!("{n3}.{SEED}"), TYPE_A),
            (format!("{n3}.{SEED}"), TYPE_AAAA),
        ];
        want.sort();
        assert_eq!(seen, want);
    }

    #[tokio::test]
    async fn only_as_many_address_lookups_as_the_limit_needs() {
        let entries: Vec<Entry> = (1..=6).map(|i| entry(&node(i), 9735, &[])).collect();
        let server = Server::start(move |q| {
            let name = q.questions[0].name.clone();
            let reply = match q.questions[0].qtype {
                TYPE_SRV => seed_answer(q, &entries, false).finish(),
                TYPE_A => {
                    let mut b = Builder::reply(q, 0);
                    b.addr(1, &name, "192.0.2.7".parse().unwrap());
                    b.finish()
                }
                _ => empty_reply(q, RCODE_NXDOMAIN),
            };
            vec![reply]
        })
        .await;
        let peers = within(10, bootstrap_with(&fast(server.addr), &seeds(&[SEED]), 2))
            .await
            .unwrap();
        let ids: Vec<PublicKey> = peers.iter().map(|p| p.node_id).collect();
        assert_eq!(ids, vec![node(1), node(2)]);
        assert_eq!(server.seen().len(), 1 + 2);
    }

    #[tokio::test]
    async fn skips_srv_targets_that_are_not_node_ids() {
        let pk = node(5);
        let bc = bech32::encode::<Bech32>(Hrp::parse("bc").unwrap(), &pk.serialize()).unwrap();
        let m = bech32::encode::<Bech32m>(Hrp::parse("ln").unwrap(), &pk.serialize()).unwrap();
        let short = bech32::encode::<Bech32>(Hrp::parse("ln").unwrap(), &[2u8; 32]).unwrap();
        let not_a_point = bech32::encode::<Bech32>(Hrp::parse("ln").unwrap(), &[7u8; 33]).unwrap();
        let mut bad_checksum = label(&node(6));
        bad_checksum.pop();
        bad_checksum.push(if label(&node(6)).ends_with('q') {
            'p'
        } else {
            'q'
        });
        let glue = ["192.0.2.50"];
        let entries: Vec<Entry> = [
            "not-a-node".to_string(),
            bc,
            m,
            short,
            not_a_point,
            bad_checksum,
        ]
        .into_iter()
        .map(|l| Entry(l, 9735, glue.iter().map(|s| s.parse().unwrap()).collect()))
        .chain([entry(&node(7), 9735, &glue)])
        .collect();
        let server = Server::start(move |q| vec![seed_answer(q, &entries, true).finish()]).await;
        let peers = within(10, bootstrap_with(&fast(server.addr), &seeds(&[SEED]), 10))
            .await
            .unwrap();
        assert_eq!(
            peers,
            vec![PeerSpec {
                node_id: node(7),
                address: v4(192, 0, 2, 50, 9735)
            }]
        );

        // Only invalid targets: the seed failed, and says why.
        let entries = vec![Entry("ln1nope".into(), 9735, vec![])];
        let server = Server::start(move |q| vec![seed_answer(q, &entries, true).finish()]).await;
        let e = within(10, bootstrap_with(&fast(server.addr), &seeds(&[SEED]), 10))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("no usable SRV targets (1 skipped"), "{e}");
    }

    #[test]
    fn node_ids_from_targets() {
        let pk = node(9);
        let l = label(&pk);
        assert_eq!(l.len(), 62, "fits a DNS label");
        assert_eq!(node_id_from_target(&format!("{l}.{SEED}")), Ok(pk));
        // Resolvers may randomise case.
        assert_eq!(
            node_id_from_target(&format!("{}.{SEED}", l.to_uppercase())),
            Ok(pk)
        );
        let m = bech32::encode::<Bech32m>(Hrp::parse("ln").unwrap(), &pk.serialize()).unwrap();
        assert!(node_id_from_target(&m).unwrap_err().contains("not bech32"));
        let bc = bech32::encode::<Bech32>(Hrp::parse("bc").unwrap(), &pk.serialize()).unwrap();
        assert!(node_id_from_target(&bc).unwrap_err().contains("not \"ln\""));
        let short = bech32::encode::<Bech32>(Hrp::parse("ln").unwrap(), &[2u8; 32]).unwrap();
        assert!(node_id_from_target(&short)
            .unwrap_err()
            .contains("32 bytes"));
        assert!(node_id_from_target("").is_err());
        assert!(node_id_from_target("ln1").is_err());
    }

    #[tokio::test]
    async fn dedups_across_seeds_keeps_seed_order_and_respects_the_limit() {
        let server = Server::start(move |q| {
            let name = q.questions[0].name.clone();
            let entries = if name.ends_with("a.test") {
                vec![
                    entry(&node(1), 9735, &["192.0.2.1"]),
                    entry(&node(2), 9735, &["192.0.2.2"]),
                ]
            } else if name.ends_with("b.test") {
                vec![
                    entry(&node(2), 9999, &["192.0.2.99"]),
                    entry(&node(3), 9735, &["192.0.2.3"]),
                    entry(&node(4), 9735, &["192.0.2.4"]),
                ]
            } else {
                return vec![empty_reply(q, 2)]; // SERVFAIL
            };
            vec![seed_answer(q, &entries, true).finish()]
        })
        .await;
        let r = fast(server.addr);
        let all = within(
            10,
            bootstrap_with(&r, &seeds(&["a.test", "dead.test", "b.test"]), 10),
        )
        .await
        .unwrap();
        let ids: Vec<PublicKey> = all.iter().map(|p| p.node_id).collect();
        assert_eq!(ids, vec![node(1), node(2), node(3), node(4)]);
        assert_eq!(
            all[1].address,
            v4(192, 0, 2, 2, 9735),
            "first seed's address wins"
        );

        let three = within(10, bootstrap_with(&r, &seeds(&["a.test", "b.test"]), 3))
            .await
            .unwrap();
        let ids: Vec<PublicKey> = three.iter().map(|p| p.node_id).collect();
        assert_eq!(ids, vec![node(1), node(2), node(3)]);

        assert!(within(10, bootstrap_with(&r, &seeds(&["a.test"]), 0))
            .await
            .unwrap()
            .is_empty());
        assert!(within(10, bootstrap_peers(&[], None, 10))
            .await
            .unwrap()
            .is_empty());
    }

    #[tokio::test]
    async fn every_seed_failing_is_an_error_with_each_reason() {
        let server = Server::start(move |q| {
            if q.questions[0].name.ends_with("gone.test") {
                vec![empty_reply(q, RCODE_NXDOMAIN)]
            } else {
                vec![empty_reply(q, 5)] // REFUSED
            }
        })
        .await;
        let e = within(
            10,
            bootstrap_with(
                &fast(server.addr),
                &seeds(&["gone.test", "shy.test", ""]),
                10,
            ),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, NodeError::Dns(_)), "{e:?}");
        let e = e.to_string();
        assert!(e.starts_with("DNS bootstrap: every DNS seed failed"), "{e}");
        assert!(
            e.contains("gone.test: _nodes._tcp.gone.test: no such name (NXDOMAIN), gone.test: no such name"),
            "{e}"
        );
        assert!(
            e.contains("shy.test: _nodes._tcp.shy.test: server answered rcode 5 (REFUSED)"),
            "{e}"
        );
        assert!(e.contains("empty seed name"), "{e}");

        // An empty NOERROR answer is no SRV records.
        let server = Server::start(move |q| vec![empty_reply(q, 0)]).await;
        let e = within(10, bootstrap_with(&fast(server.addr), &seeds(&[SEED]), 10))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("_nodes._tcp.seed.test: no SRV records, seed.test: no SRV records"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn ignores_datagrams_that_do_not_answer_the_query() {
        let entries = vec![entry(&node(1), 9735, &["192.0.2.1"])];
        let server = Server::start(move |q| {
            let good = seed_answer(q, &entries, true).finish();
            let mut wrong_id = good.clone();
            wrong_id[0] ^= 0xFF;
            // Our id, but another question.
            let mut other = q.clone();
            other.questions[0].name = "_nodes._tcp.evil.test".into();
            let other = seed_answer(&other, &[entry(&node(66), 1, &["6.6.6.6"])], true).finish();
            vec![wrong_id, vec![0xAB], other, good]
        })
        .await;
        let peers = within(10, bootstrap_with(&fast(server.addr), &seeds(&[SEED]), 10))
            .await
            .unwrap();
        assert_eq!(peers.len(), 1);
        assert_eq!(peers[0].node_id, node(1));

        // Nothing but wrong ids: the query times out, it does not hang.
        let entries = vec![entry(&node(1), 9735, &["192.0.2.1"])];
        let server = Server::start(move |q| {
            let mut wrong = seed_answer(q, &entries, true).finish();
            wrong[1] ^= 1;
            vec![wrong]
        })
        .await;
        let started = std::time::Instant::now();
        let e = within(10, bootstrap_with(&fast(server.addr), &seeds(&[SEED]), 10))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("no answer from"), "{e}");
        // Two names × two attempts × 150 ms.
        assert!(started.elapsed() >= Duration::from_millis(600), "{e}");
        assert_eq!(server.seen().len(), 4);
    }

    #[tokio::test]
    async fn malformed_responses_fail_cleanly() {
        // Each mode mangles a seed's answer differently; the expected text is in the error.
        type Mangle = fn(&Message) -> Vec<u8>;
        let cases: Vec<(&str, Mangle)> = vec![
            ("packet ends early", |q| {
                let p = seed_answer(q, &[entry(&node(1), 9735, &["192.0.2.1"])], true).finish();
                p[..p.len() - 3].to_vec()
            }),
            ("compression pointers (a loop?)", |q| {
                // An SRV record whose target points at itself.
                let mut b = Builder::reply(q, 0);
                let owner = q.questions[0].name.clone();
                b.record(1, &owner, TYPE_SRV, |b| {
                    b.u16(10);
                    b.u16(10);
                    b.u16(9735);
                    let here = b.buf.len() as u16;
                    b.u16(0xC000 | here);
                });
                b.finish()
            }),
            ("compression pointers (a loop?)", |q| {
                // Two pointers to each other in the answer's owner name.
                let mut b = Builder::reply(q, 0);
                b.counts[1] = 1;
                let here = b.buf.len() as u16;
                b.u16(0xC000 | (here + 2));
                b.u16(0xC000 | here);
                b.buf.extend_from_slice(&[0; 10]);
                b.finish()
            }),
            ("reserved label type 0xbe", |q| {
                // Our id and a plausible header, then garbage.
                let mut b = Builder::reply(q, 0);
                b.counts[1] = 5;
                b.buf.extend_from_slice(&[0xBE; 40]);
                b.finish()
            }),
            ("A record at offset", |q| {
                let mut b = Builder::reply(q, 0);
                let owner = q.questions[0].name.clone();
                b.record(1, &owner, TYPE_A, |b| b.buf.extend_from_slice(&[1, 2, 3]));
                b.finish()
            }),
        ];
        for (want, mangle) in cases {
            let server = Server::start(move |q| vec![mangle(q)]).await;
            let e = within(10, bootstrap_with(&fast(server.addr), &seeds(&[SEED]), 10))
                .await
                .unwrap_err()
                .to_string();
            assert!(e.contains("malformed response"), "{want}: {e}");
            assert!(e.contains(want), "{want}: {e}");
        }

        // Garbage too short to carry an id is ignored: a timeout, not a hang.
        let server = Server::start(|_| vec![vec![0x42]]).await;
        let e = within(10, bootstrap_with(&fast(server.addr), &seeds(&[SEED]), 10))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("no answer from"), "{e}");
    }

    #[tokio::test]
    async fn a_truncated_answer_is_used_for_what_arrived() {
        let server = Server::start(move |q| {
            let name = q.questions[0].name.clone();
            if q.questions[0].qtype == TYPE_SRV {
                let entries = vec![
                    entry(&node(1), 9735, &["192.0.2.1"]),
                    entry(&node(2), 9736, &["192.0.2.2"]),
                ];
                let mut b = seed_answer(q, &entries, true);
                b.set_flags(FLAG_TC);
                let p = b.finish();
                // Cut inside the second glue record: node 2 must be looked up.
                return vec![p[..p.len() - 3].to_vec()];
            }
            let mut b = Builder::reply(q, 0);
            if q.questions[0].qtype == TYPE_A {
                b.addr(1, &name, "198.51.100.2".parse().unwrap());
            }
            vec![b.finish()]
        })
        .await;
        let peers = within(10, bootstrap_with(&fast(server.addr), &seeds(&[SEED]), 10))
            .await
            .unwrap();
        assert_eq!(
            peers,
            vec![
                PeerSpec {
                    node_id: node(1),
                    address: v4(192, 0, 2, 1, 9735)
                },
                PeerSpec {
                    node_id: node(2),
                    address: v4(198, 51, 100, 2, 9736)
                },
            ]
        );
        assert_eq!(server.seen().len(), 2);
    }

    #[tokio::test]
    async fn servers_without_edns_are_asked_again_without_it() {
        let entries = vec![entry(&node(1), 9735, &["192.0.2.1"])];
        let server = Server::start(move |q| {
            if q.additional.iter().any(|r| r.rtype == TYPE_OPT) {
                vec![empty_reply(q, RCODE_FORMERR)]
            } else {
                vec![seed_answer(q, &entries, true).finish()]
            }
        })
        .await;
        let r = Resolver {
            attempts: 1,
            ..fast(server.addr)
        };
        let peers = within(10, bootstrap_with(&r, &seeds(&[SEED]), 10))
            .await
            .unwrap();
        assert_eq!(peers.len(), 1);
        assert_eq!(server.seen().len(), 2);
    }

    #[tokio::test]
    async fn silent_or_closed_servers_time_out() {
        // Bound, never read.
        let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let started = std::time::Instant::now();
        let e = within(
            10,
            bootstrap_with(&fast(silent.local_addr().unwrap()), &seeds(&[SEED]), 10),
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(e.contains("no answer from 127.0.0.1:"), "{e}");
        assert!(started.elapsed() >= Duration::from_millis(600), "{e}");

        // Nobody listening: the kernel's port-unreachable ends it early.
        let addr = silent.local_addr().unwrap();
        drop(silent);
        let e = within(10, bootstrap_with(&fast(addr), &seeds(&[SEED]), 10))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("every DNS seed failed"), "{e}");
    }

    #[test]
    fn names_with_pointers_loops_and_bad_lengths() {
        // "a.b" at 0, "c" + pointer to it at 5.
        let buf = [1, b'a', 1, b'b', 0, 1, b'c', 0xC0, 0];
        assert_eq!(read_name(&buf, 0), Ok(("a.b".to_string(), 5)));
        assert_eq!(read_name(&buf, 5), Ok(("c.a.b".to_string(), 9)));
        assert_eq!(read_name(&buf, 7), Ok(("a.b".to_string(), 9)));
        assert_eq!(read_name(&[0], 0), Ok((String::new(), 1)));
        // Self pointer, and two pointers to each other.
        assert_eq!(read_name(&[0xC0, 0], 0), Err(ParseError::PointerLoop(0)));
        assert_eq!(
            read_name(&[0xC0, 2, 0xC0, 0], 0),
            Err(ParseError::PointerLoop(0))
        );
        // A label longer than the packet, a pointer past the end, a cut pointer.
        assert!(matches!(
            read_name(&[5, b'a'], 0),
            Err(ParseError::Short { .. })
        ));
        assert!(matches!(
            read_name(&[0xC0, 200], 0),
            Err(ParseError::Short { .. })
        ));
        assert!(matches!(
            read_name(&[0xC0], 0),
            Err(ParseError::Short { .. })
        ));
        assert!(matches!(read_name(&[], 0), Err(ParseError::Short { .. })));
        assert!(matches!(
            read_name(&[1, b'a'], 9),
            Err(ParseError::Short { .. })
        ));
        // Reserved label types.
        assert_eq!(
            read_name(&[0x40, 0], 0),
            Err(ParseError::LabelType { at: 0, byte: 0x40 })
        );
        // Labels that add up past 255 bytes.
        let mut long = Vec::new();
        for i in 0..6u16 {
            long.push(63);
            long.extend_from_slice(&[b'x'; 63]);
            if i == 5 {
                long.push(0);
            }
        }
        assert_eq!(read_name(&long, 0), Err(ParseError::NameTooLong(0)));
        // Odd bytes are escaped, not passed through.
        assert_eq!(
            read_name(&[3, b'a', b'.', 0xFF, 0], 0),
            Ok(("a\\046\\255".to_string(), 5))
        );
    }

    #[test]
    fn query_wire_format() {
        let packet = build_query(0xBEEF, "_nodes._tcp.Seed.Test.", TYPE_SRV, true).unwrap();
        let q = parse_message(&packet).unwrap();
        assert_eq!(q.id, 0xBEEF);
        assert!(!q.is_response());
        assert_eq!(q.flags, FLAG_RD);
        assert_eq!(
            q.questions,
            vec![Question {
                name: "_nodes._tcp.Seed.Test".into(),
                qtype: TYPE_SRV,
                qclass: CLASS_IN
            }]
        );
        assert_eq!(q.additional.len(), 1);
        assert_eq!(q.additional[0].rtype, TYPE_OPT);
        assert_eq!(q.additional[0].class, EDNS_PAYLOAD);
        let plain = parse_message(&build_query(1, "x", TYPE_A, false).unwrap()).unwrap();
        assert!(plain.additional.is_empty());

        assert!(build_query(1, "a..b", TYPE_A, false)
            .unwrap_err()
            .contains("1 to 63"));
        assert!(build_query(1, &"x".repeat(64), TYPE_A, false).is_err());
        let long = vec!["x".repeat(63); 4].join(".");
        assert!(build_query(1, &long, TYPE_A, false)
            .unwrap_err()
            .contains("longer than 255"));
        assert!(build_query(1, &long[..250], TYPE_A, false).is_ok());

        assert_ne!(
            (0..8).map(|_| random_id()).collect::<HashSet<_>>().len(),
            1,
            "ids vary"
        );
    }

    #[test]
    fn resolv_conf() {
        let text = "# generated\nsearch example.com\n; nameserver 9.9.9.9\nnameserver fe80::1%eth0\n  nameserver   10.0.0.53  \nnameserver 1.1.1.1\n";
        assert_eq!(
            parse_resolv_conf(text),
            Some("10.0.0.53:53".parse().unwrap())
        );
        assert_eq!(
            parse_resolv_conf("nameserver 2001:db8::53"),
            Some("[2001:db8::53]:53".parse().unwrap())
        );
        assert_eq!(parse_resolv_conf("options ndots:5\nnameserver\n"), None);
        assert_eq!(parse_resolv_conf(""), None);
    }

    /// xorshift64*: deterministic, so a failure can be replayed.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    #[test]
    fn parser_survives_random_and_mutated_packets() {
        let q = parse_message(&build_query(0x1234, SRV_NAME, TYPE_SRV, true).unwrap()).unwrap();
        let entries: Vec<Entry> = (1..=5)
            .map(|i| entry(&node(i), 9735, &["192.0.2.1", "2001:db8::1"]))
            .collect();
        let mut tc = seed_answer(&q, &entries, true);
        tc.set_flags(FLAG_TC);
        let bases = [
            seed_answer(&q, &entries, true).finish(),
            tc.finish(),
            build_query(0x1234, SRV_NAME, TYPE_SRV, true).unwrap(),
        ];
        let mut rng = Rng(0x5EED_1234_ABCD_0001);
        let (mut ok, mut err) = (0, 0);
        for round in 0..6000 {
            let packet: Vec<u8> = if round % 4 == 0 {
                let len = rng.below(700);
                (0..len).map(|_| rng.next() as u8).collect()
            } else {
                let mut p = bases[rng.below(bases.len())].clone();
                for _ in 0..=rng.below(8) {
                    match rng.below(5) {
                        0 if !p.is_empty() => {
                            let i = rng.below(p.len());
                            p[i] = rng.next() as u8;
                        }
                        1 => p.truncate(rng.below(p.len() + 1)),
                        2 if p.len() > 1 => {
                            // A compression pointer somewhere, to somewhere.
                            let i = rng.below(p.len() - 1);
                            let to = rng.below(p.len() + 8) as u16;
                            p[i..i + 2].copy_from_slice(&(0xC000 | to).to_be_bytes());
                        }
                        3 if p.len() >= 12 => {
                            // Inflated section counts.
                            let i = 4 + 2 * rng.below(4);
                            p[i] = rng.next() as u8;
                        }
                        _ => {
                            let i = rng.below(p.len() + 1);
                            p.insert(i, rng.next() as u8);
                        }
                    }
                }
                p
            };
            match parse_message(&packet) {
                Ok(msg) => {
                    ok += 1;
                    for r in msg.answers.iter().chain(&msg.additional) {
                        if let RData::Srv { target, .. } = &r.data {
                            let _ = node_id_from_target(target);
                        }
                    }
                    let _ = address_for(&msg, "x");
                }
                Err(e) => {
                    err += 1;
                    assert!(!e.to_string().is_empty());
                }
            }
            for start in 0..packet.len().min(64) {
                let _ = read_name(&packet, start);
            }
        }
        // Both outcomes were exercised.
        assert!(ok > 100 && err > 100, "ok {ok}, err {err}");
    }
}
