//! Field accessors over JSON objects that turn every problem into an [`EntryError`]
//! naming the field. Numbers may come as JSON numbers or decimal strings (LND prints
//! u64s as strings, Core Lightning suffixes msat amounts with `msat`).

use serde_json::{Map, Value};

use super::EntryError;
use crate::types::{IdError, NodeId, Scid};

pub(crate) type Obj = Map<String, Value>;

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn entry_id(obj: &Obj) -> Option<String> {
    ["short_channel_id", "channel_id", "nodeid", "pub_key"]
        .iter()
        .find_map(|k| obj.get(*k).and_then(Value::as_str).map(str::to_owned))
}

pub(crate) fn required<'a>(obj: &'a Obj, field: &str) -> Result<&'a Value, EntryError> {
    match obj.get(field) {
        None | Some(Value::Null) => Err(EntryError::new(field, "missing")),
        Some(v) => Ok(v),
    }
}

pub(crate) fn string<'a>(obj: &'a Obj, field: &str) -> Result<&'a str, EntryError> {
    let v = required(obj, field)?;
    v.as_str()
        .ok_or_else(|| EntryError::new(field, format!("expected a string, found {}", kind(v))))
}

pub(crate) fn opt_string<'a>(obj: &'a Obj, field: &str) -> Result<Option<&'a str>, EntryError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => string(obj, field).map(Some),
    }
}

pub(crate) fn node_id(obj: &Obj, field: &str) -> Result<NodeId, EntryError> {
    thread_local! {
        // A graph file names each node many times; the curve check is the costly part of
        // parsing, so remember keys already checked (bounded, cleared when full).
        static CHECKED: std::cell::RefCell<std::collections::HashSet<NodeId>> = Default::default();
    }
    let s = string(obj, field)?;
    let unchecked = NodeId::from_hex_unchecked(s)
        .map_err(|e| EntryError::new(field, format!("bad pubkey {s:?}: {e}")))?;
    if CHECKED.with(|c| c.borrow().contains(&unchecked)) {
        return Ok(unchecked);
    }
    let id = NodeId::from_hex(s)
        .map_err(|e| EntryError::new(field, format!("bad pubkey {s:?}: {e}")))?;
    CHECKED.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= 1 << 20 {
            c.clear();
        }
        c.insert(id);
    });
    Ok(id)
}

pub(crate) fn scid(obj: &Obj, field: &str) -> Result<Scid, EntryError> {
    let v = required(obj, field)?;
    let parsed: Result<Scid, IdError> = match v {
        Value::String(s) => s.parse(),
        Value::Number(n) => n.as_u64().map(Scid).ok_or(IdError::ScidSyntax),
        _ => Err(IdError::ScidSyntax),
    };
    parsed.map_err(|e| EntryError::new(field, format!("bad short channel id {v}: {e}")))
}

/// An unsigned integer no larger than `max`.
pub(crate) fn uint(obj: &Obj, field: &str, max: u64) -> Result<u64, EntryError> {
    let v = required(obj, field)?;
    uint_value(v, field, max)
}

pub(crate) fn opt_uint(obj: &Obj, field: &str, max: u64) -> Result<Option<u64>, EntryError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => uint_value(v, field, max).map(Some),
    }
}

fn uint_value(v: &Value, field: &str, max: u64) -> Result<u64, EntryError> {
    let n = match v {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| EntryError::new(field, format!("{n} is out of range (0..={max})")))?,
        Value::String(s) => {
            let digits = s.strip_suffix("msat").unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(EntryError::new(
                    field,
                    format!("expected an unsigned integer, found {s:?}"),
                ));
            }
            digits
                .parse::<u64>()
                .map_err(|_| EntryError::new(field, format!("{s} is out of range (0..={max})")))?
        }
        other => {
            return Err(EntryError::new(
                field,
                format!("expected an unsigned integer, found {}", kind(other)),
            ))
        }
    };
    if n > max {
        return Err(EntryError::new(
            field,
            format!("{n} is out of range (0..={max})"),
        ));
    }
    Ok(n)
}

pub(crate) fn opt_bool(obj: &Obj, field: &str) -> Result<Option<bool>, EntryError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(EntryError::new(
            field,
            format!("expected a boolean, found {}", kind(other)),
        )),
    }
}

/// The largest capacity that can exist: 21 million BTC in sat.
pub(crate) const MAX_SAT: u64 = 2_100_000_000_000_000;
pub(crate) const MAX_MSAT: u64 = MAX_SAT * 1000;
