//! LND `lncli describegraph` entries: `edges` (one per channel, both policies inside) and
//! `nodes`.

use serde_json::Value;

use super::value::{self, Obj, MAX_MSAT, MAX_SAT};
use super::{
    order, ChannelRecord, EntryError, NetAddress, NodeAnnouncement, NodeRecord, Record,
    UpdateRecord,
};
use crate::types::encode_hex;

pub(crate) fn edge(obj: &Obj) -> Result<Vec<Record>, EntryError> {
    let scid = value::scid(obj, "channel_id")?;
    let node1 = value::node_id(obj, "node1_pub")?;
    let node2 = value::node_id(obj, "node2_pub")?;
    if node1 == node2 {
        return Err(EntryError::new(
            "node2_pub",
            "a channel cannot connect a node to itself",
        ));
    }
    let capacity_sat = value::uint(obj, "capacity", MAX_SAT)?;
    let funding_outpoint = value::opt_string(obj, "chan_point")?.map(str::to_owned);
    let (node_1, node_2, _) = order(node1, node2);
    let mut out = vec![Record::Channel(ChannelRecord {
        scid,
        node_1,
        node_2,
        capacity_sat,
        funding_outpoint,
    })];
    for (field, advertiser, other) in [
        ("node1_policy", node1, node2),
        ("node2_policy", node2, node1),
    ] {
        let policy = match obj.get(field) {
            None | Some(Value::Null) => continue,
            Some(Value::Object(p)) => p,
            Some(other) => {
                return Err(EntryError::new(
                    field,
                    format!("expected an object, found {}", value::kind(other)),
                ))
            }
        };
        let (_, _, direction) = order(advertiser, other);
        out.push(Record::Update(update(policy, scid, direction).map_err(
            |e| EntryError {
                field: format!("{field}.{}", e.field),
                message: e.message,
            },
        )?));
    }
    Ok(out)
}

fn update(p: &Obj, scid: crate::Scid, direction: u8) -> Result<UpdateRecord, EntryError> {
    let disabled = value::opt_bool(p, "disabled")?.unwrap_or(false);
    Ok(UpdateRecord {
        scid,
        direction,
        timestamp: value::uint(p, "last_update", u32::MAX.into())? as u32,
        // LND always sends htlc_maximum_msat nowadays (message_flags bit 0).
        message_flags: 1,
        channel_flags: direction | if disabled { 2 } else { 0 },
        disabled,
        cltv_delta: value::uint(p, "time_lock_delta", u16::MAX.into())? as u16,
        htlc_min_msat: value::opt_uint(p, "min_htlc", MAX_MSAT)?.unwrap_or(0),
        htlc_max_msat: value::opt_uint(p, "max_htlc_msat", MAX_MSAT)?.filter(|&m| m > 0),
        fee_base_msat: value::uint(p, "fee_base_msat", u32::MAX.into())? as u32,
        fee_ppm: value::uint(p, "fee_rate_milli_msat", u32::MAX.into())? as u32,
    })
}

pub(crate) fn node(obj: &Obj) -> Result<NodeRecord, EntryError> {
    let node_id = value::node_id(obj, "pub_key")?;
    let timestamp = value::opt_uint(obj, "last_update", u32::MAX.into())?.unwrap_or(0);
    // LND lists nodes it has no announcement for with last_update 0.
    if timestamp == 0 {
        return Ok(NodeRecord {
            node_id,
            announcement: None,
        });
    }
    let alias = value::opt_string(obj, "alias")?.unwrap_or("");
    let color = value::opt_string(obj, "color")?.unwrap_or("#000000");
    let color = color.strip_prefix('#').unwrap_or(color);
    if color.len() != 6 || !color.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(EntryError::new(
            "color",
            format!("expected #rrggbb, found {color:?}"),
        ));
    }
    let mut addresses = Vec::new();
    if let Some(list) = obj.get("addresses").filter(|v| !v.is_null()) {
        let list = list
            .as_array()
            .ok_or_else(|| EntryError::new("addresses", "expected an array"))?;
        for (i, a) in list.iter().enumerate() {
            let field = format!("addresses[{i}].addr");
            let addr = a
                .get("addr")
                .and_then(Value::as_str)
                .ok_or_else(|| EntryError::new(&field, "missing"))?;
            addresses.push(parse_addr(addr).ok_or_else(|| {
                EntryError::new(&field, format!("expected host:port, found {addr:?}"))
            })?);
        }
    }
    let mut bits = Vec::new();
    if let Some(features) = obj.get("features").and_then(Value::as_object) {
        for key in features.keys() {
            let bit: u16 = key
                .parse()
                .map_err(|_| EntryError::new("features", format!("bad feature bit {key:?}")))?;
            bits.push(bit);
        }
    }
    Ok(NodeRecord {
        node_id,
        announcement: Some(NodeAnnouncement {
            timestamp: timestamp as u32,
            alias: alias.to_owned(),
            color: color.to_ascii_lowercase(),
            addresses,
            features_hex: features_to_hex(&bits),
        }),
    })
}

fn parse_addr(addr: &str) -> Option<NetAddress> {
    let (host, port) = addr.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let kind = if host.starts_with('[') {
        "ipv6"
    } else if let Some(name) = host.strip_suffix(".onion") {
        if name.len() == 16 {
            "torv2"
        } else {
            "torv3"
        }
    } else if host.parse::<std::net::Ipv4Addr>().is_ok() {
        "ipv4"
    } else {
        "dns"
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some(NetAddress {
        kind: kind.to_owned(),
        address: host.to_owned(),
        port,
    })
}

/// Feature bits to the big-endian byte string of BOLT 9 (bit 0 is the last byte's lowest).
fn features_to_hex(bits: &[u16]) -> String {
    let Some(&max) = bits.iter().max() else {
        return String::new();
    };
    let len = usize::from(max / 8) + 1;
    let mut bytes = vec![0u8; len];
    for &b in bits {
        let idx = len - 1 - usize::from(b / 8);
        bytes[idx] |= 1 << (b % 8);
    }
    encode_hex(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_bits_are_big_endian() {
        assert_eq!(features_to_hex(&[]), "");
        assert_eq!(features_to_hex(&[0]), "01");
        assert_eq!(features_to_hex(&[9, 15]), "8200");
    }

    #[test]
    fn addresses_are_classified() {
        assert_eq!(parse_addr("1.2.3.4:9735").unwrap().kind, "ipv4");
        let v6 = parse_addr("[2001:db8::1]:9735").unwrap();
        assert_eq!(
            (v6.kind.as_str(), v6.address.as_str()),
            ("ipv6", "2001:db8::1")
        );
        assert_eq!(
            parse_addr("abcdefghijklmnop.onion:9735").unwrap().kind,
            "torv2"
        );
        assert_eq!(parse_addr("node.example.com:9735").unwrap().kind, "dns");
        assert!(parse_addr("nope").is_none());
    }
}
