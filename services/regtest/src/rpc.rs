//! A minimal blocking JSON-RPC 1.0 client for bitcoind: one HTTP/1.1 request per call over
//! `std::net::TcpStream`, basic auth, `Connection: close`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::{json, Value};

use crate::error::{Error, Result};

/// How long one RPC call may take before it fails with [`Error::RpcIo`]. Generous because
/// `generatetoaddress` for many blocks on a busy 2-core machine is slow.
const RPC_TIMEOUT: Duration = Duration::from_secs(120);

/// A handle to bitcoind's JSON-RPC server. Cheap to clone; every call opens a fresh
/// connection, so it can be used from any thread.
#[derive(Clone, Debug)]
pub struct RpcClient {
    addr: SocketAddr,
    user: String,
    password: String,
}

impl RpcClient {
    /// A client for the server at `addr` with basic-auth credentials.
    pub fn new(addr: SocketAddr, user: impl Into<String>, password: impl Into<String>) -> Self {
        RpcClient {
            addr,
            user: user.into(),
            password: password.into(),
        }
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The basic-auth `(user, password)`.
    pub fn credentials(&self) -> (&str, &str) {
        (&self.user, &self.password)
    }

    /// Calls `method` with positional `params` (a JSON array) and returns the `result` field.
    ///
    /// # Errors
    /// [`Error::RpcIo`] if the connection fails, [`Error::Rpc`] if bitcoind returns an error
    /// object, [`Error::BadResponse`] if the reply is not JSON-RPC.
    pub fn call(&self, method: &str, params: Value) -> Result<Value> {
        let io_err = |source| Error::RpcIo {
            method: method.to_owned(),
            source,
        };
        let bad = |detail: String| Error::BadResponse {
            method: method.to_owned(),
            detail,
        };
        let body = json!({"jsonrpc": "1.0", "id": 1, "method": method, "params": params});
        let body = body.to_string();
        let auth = base64(format!("{}:{}", self.user, self.password).as_bytes());
        let request = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nAuthorization: Basic {auth}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        );

        let mut stream = TcpStream::connect_timeout(&self.addr, RPC_TIMEOUT).map_err(io_err)?;
        stream.set_read_timeout(Some(RPC_TIMEOUT)).map_err(io_err)?;
        stream
            .set_write_timeout(Some(RPC_TIMEOUT))
            .map_err(io_err)?;
        stream.write_all(request.as_bytes()).map_err(io_err)?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).map_err(io_err)?;

        let split = find(&response, b"\r\n\r\n")
            .ok_or_else(|| bad(format!("no HTTP header end in {} bytes", response.len())))?;
        let head = String::from_utf8_lossy(&response[..split]);
        let mut payload = &response[split + 4..];
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(format!("bad status line in {head:?}")))?;
        let content_length = head.lines().skip(1).find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        });
        if let Some(len) = content_length {
            payload = payload.get(..len).ok_or_else(|| {
                bad(format!(
                    "body shorter ({}) than Content-Length {len}",
                    payload.len()
                ))
            })?;
        }

        // bitcoind reports RPC errors as HTTP 404/500 with a JSON body; anything else without
        // a JSON body (401 on bad credentials, 503 when the work queue is full) is an HTTP error.
        let reply: Value = serde_json::from_slice(payload).map_err(|e| {
            bad(format!(
                "HTTP {status}, body not JSON ({e}): {}",
                String::from_utf8_lossy(payload)
            ))
        })?;
        match reply.get("error") {
            Some(err) if !err.is_null() => Err(Error::Rpc {
                method: method.to_owned(),
                code: err.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: err
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            }),
            _ => reply
                .get("result")
                .cloned()
                .ok_or_else(|| bad(format!("HTTP {status}, no result in {reply}"))),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Standard base64 with padding (RFC 4648), for the basic-auth header.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }
}
