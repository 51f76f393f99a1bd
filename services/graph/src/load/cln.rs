//! Core Lightning `listchannels` (one entry per direction) and `listnodes` entries.

use super::value::{self, Obj, MAX_MSAT, MAX_SAT};
use super::{
    order, ChannelRecord, EntryError, NetAddress, NodeAnnouncement, NodeRecord, UpdateRecord,
};

pub(crate) fn channel(obj: &Obj) -> Result<(ChannelRecord, UpdateRecord), EntryError> {
    let scid = value::scid(obj, "short_channel_id")?;
    let source = value::node_id(obj, "source")?;
    let destination = value::node_id(obj, "destination")?;
    if source == destination {
        return Err(EntryError::new(
            "destination",
            "a channel cannot connect a node to itself",
        ));
    }
    let capacity_sat = match value::opt_uint(obj, "satoshis", MAX_SAT)? {
        Some(sat) => sat,
        None => value::uint(obj, "amount_msat", MAX_MSAT)? / 1000,
    };
    let channel_flags = value::uint(obj, "channel_flags", u8::MAX.into())? as u8;
    let message_flags = value::opt_uint(obj, "message_flags", u8::MAX.into())?.unwrap_or(0) as u8;
    let active = value::opt_bool(obj, "active")?.unwrap_or(true);
    let (node_1, node_2, direction) = order(source, destination);
    let update = UpdateRecord {
        scid,
        direction,
        timestamp: value::uint(obj, "last_update", u32::MAX.into())? as u32,
        message_flags,
        channel_flags,
        disabled: !active || channel_flags & 2 != 0,
        cltv_delta: value::uint(obj, "delay", u16::MAX.into())? as u16,
        htlc_min_msat: value::opt_uint(obj, "htlc_minimum_msat", MAX_MSAT)?.unwrap_or(0),
        htlc_max_msat: value::opt_uint(obj, "htlc_maximum_msat", MAX_MSAT)?,
        fee_base_msat: value::uint(obj, "base_fee_millisatoshi", u32::MAX.into())? as u32,
        fee_ppm: value::uint(obj, "fee_per_millionth", u32::MAX.into())? as u32,
    };
    let channel = ChannelRecord {
        scid,
        node_1,
        node_2,
        capacity_sat,
        funding_outpoint: None,
    };
    Ok((channel, update))
}

pub(crate) fn node(obj: &Obj) -> Result<NodeRecord, EntryError> {
    let node_id = value::node_id(obj, "nodeid")?;
    let alias = value::opt_string(obj, "alias")?;
    let timestamp = value::opt_uint(obj, "last_timestamp", u32::MAX.into())?;
    if alias.is_none() && timestamp.is_none() {
        return Ok(NodeRecord {
            node_id,
            announcement: None,
        });
    }
    let color = value::opt_string(obj, "color")?.unwrap_or("000000");
    if color.len() != 6 || !color.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(EntryError::new(
            "color",
            format!("expected rrggbb hex, found {color:?}"),
        ));
    }
    let features_hex = match value::opt_string(obj, "features")? {
        Some(f) => f,
        None => value::opt_string(obj, "globalfeatures")?.unwrap_or(""),
    };
    if crate::types::decode_hex(features_hex).is_none() {
        return Err(EntryError::new("features", "not hex"));
    }
    let addresses = match obj.get("addresses") {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, a)| address(a, i))
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(EntryError::new(
                "addresses",
                format!("expected an array, found {}", value::kind(other)),
            ))
        }
    };
    Ok(NodeRecord {
        node_id,
        announcement: Some(NodeAnnouncement {
            timestamp: timestamp.unwrap_or(0) as u32,
            alias: alias.unwrap_or("").to_owned(),
            color: color.to_ascii_lowercase(),
            addresses,
            features_hex: features_hex.to_ascii_lowercase(),
        }),
    })
}

fn address(v: &serde_json::Value, i: usize) -> Result<NetAddress, EntryError> {
    let field = |f: &str| format!("addresses[{i}].{f}");
    let obj = v
        .as_object()
        .ok_or_else(|| EntryError::new(&format!("addresses[{i}]"), "expected an object"))?;
    let lift = |e: EntryError| EntryError {
        field: field(&e.field),
        message: e.message,
    };
    let kind = value::string(obj, "type").map_err(lift)?;
    let address = value::opt_string(obj, "address")
        .map_err(lift)?
        .unwrap_or("");
    let port = value::opt_uint(obj, "port", u16::MAX.into())
        .map_err(lift)?
        .unwrap_or(0) as u16;
    Ok(NetAddress {
        kind: kind.to_owned(),
        address: address.to_owned(),
        port,
    })
}
