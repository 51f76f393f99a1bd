//! Our onion service, created through a tor daemon's control port (tor's `control-spec.txt`)
//! so that peers can reach the node over Tor; its address goes into our node_announcement.
//!
//! At start the node connects to the control port, authenticates (a password, the cookie by
//! `SAFECOOKIE`, or none, as `PROTOCOLINFO` says tor accepts) and sends `ADD_ONION` with the
//! service's key, the listen port as the virtual port and the listen address as the target.
//! The first time tor generates the key (`NEW:ED25519-V3`) and we keep it in the data
//! directory ([`KEY_FILE`], mode 0600), so the address stays the same across restarts.
//!
//! The service is not detached: it lives as long as our control connection, which a task
//! holds open. When the node stops, the service goes with it; when tor restarts, the task
//! reconnects (with backoff) and adds the service again under the same address.
//!
//! The control client is hand-written on purpose, and small: the crates that speak the protocol are
//! either unmaintained with an old crypto stack (`torut`, last released 2021) or blocking and
//! built around launching their own tor with arti's crypto crates (`tor-interface`). We need
//! four commands (`PROTOCOLINFO`, `AUTHCHALLENGE`, `AUTHENTICATE`, `ADD_ONION`) over a line
//! protocol; the HMAC comes from `bitcoin::hashes`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use bitcoin::hashes::{hmac, sha256, Hash, HashEngine};
use bitcoin::hex::{DisplayHex, FromHex};
use lightning::ln::msgs::SocketAddress;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::error::NodeError;

/// File in the data directory holding the onion service's key, as tor gave it
/// (`ED25519-V3:<base64>`).
pub const KEY_FILE: &str = "tor_onion_key";
/// Connect, authenticate and add the service within this, or fail.
const SETUP_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest reply line we read; tor's are far shorter.
const MAX_LINE: u64 = 16 * 1024;
const MAX_BACKOFF: Duration = Duration::from_secs(300);
const SERVER_HASH_KEY: &[u8] = b"Tor safe cookie authentication server-to-controller hash";
const CLIENT_HASH_KEY: &[u8] = b"Tor safe cookie authentication controller-to-server hash";

/// How to reach and authenticate to tor's control port.
#[derive(Clone)]
pub struct TorControl {
    /// `host:port` of the control port.
    pub address: String,
    /// How to authenticate.
    pub auth: ControlAuth,
}

/// Control port authentication.
#[derive(Clone)]
pub enum ControlAuth {
    /// What tor offers: no authentication, or its cookie file (`COOKIEFILE` of `PROTOCOLINFO`).
    Auto,
    /// This cookie file instead of the one tor names (e.g. tor in another mount namespace).
    CookieFile(PathBuf),
    /// `HashedControlPassword`'s password.
    Password(String),
}

impl std::fmt::Debug for TorControl {
    // The password never reaches logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let auth = match &self.auth {
            ControlAuth::Auto => "auto".to_string(),
            ControlAuth::CookieFile(p) => format!("cookie {}", p.display()),
            ControlAuth::Password(_) => "password <redacted>".to_string(),
        };
        write!(f, "TorControl({}, {auth})", self.address)
    }
}

/// What went wrong talking to tor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TorError {
    /// Connecting to, reading from or writing to the control port failed.
    #[error("tor control port {addr}: {source}")]
    Io {
        /// The control port's `host:port`.
        addr: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// tor closed the connection mid-conversation.
    #[error("tor closed the control connection")]
    Closed,
    /// A reply that does not follow the control protocol.
    #[error("tor control port: unexpected reply: {0}")]
    Malformed(String),
    /// tor answered a command with an error status.
    #[error("tor refused {command}: {status} {message}")]
    Refused {
        /// The command (`AUTHENTICATE`, `ADD_ONION`, ...).
        command: String,
        /// tor's status code (e.g. 515: bad authentication).
        status: u16,
        /// tor's text.
        message: String,
    },
    /// No authentication method we can use, or the cookie file is unusable.
    #[error("tor control authentication: {0}")]
    Auth(String),
    /// The stored onion service key is unreadable or malformed.
    #[error("onion service key {}: {message}", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Connecting, authenticating and adding the service took too long.
    #[error("tor control port {0}: no answer within {SETUP_TIMEOUT:?}")]
    Timeout(String),
}

/// A running onion service: its address and the task that holds it up.
pub struct OnionService {
    /// `<56 characters>.onion:<listen port>`.
    pub address: SocketAddress,
    /// Holds the control connection; aborting it removes the service.
    pub task: tokio::task::JoinHandle<()>,
}

impl OnionService {
    /// Creates (or re-creates, with the stored key) the onion service for `listening` and
    /// starts the task that keeps it up until `shutdown`.
    pub async fn start(
        control: &TorControl,
        data_dir: &Path,
        listening: Option<SocketAddr>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<OnionService, NodeError> {
        let listening = listening.ok_or_else(|| {
            NodeError::Config("an onion service (--tor-control) needs a listening address".into())
        })?;
        let target = local_target(listening);
        let key_path = data_dir.join(KEY_FILE);
        let key = read_key(&key_path)?;
        let (conn, created) = open(control, key.as_deref(), target).await?;
        if let Some(new_key) = &created.key {
            crate::secret::create_private(&key_path, format!("{new_key}\n").as_bytes())?;
            tracing::info!(file = %key_path.display(), "created the onion service key; back it up to keep the address");
        }
        let address = onion_address(&created.service_id, target.port())?;
        tracing::info!(%address, %target, "onion service up");
        let key = key.or(created.key).unwrap_or_default();
        let task = tokio::spawn(keep_up(
            control.clone(),
            key,
            target,
            created.service_id,
            conn,
            shutdown,
        ));
        Ok(OnionService { address, task })
    }
}

/// Where tor should send the service's connections: the listen address, loopback for a
/// wildcard one (tor runs on this host).
fn local_target(listening: SocketAddr) -> SocketAddr {
    let mut t = listening;
    match t.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
            t.set_ip(std::net::Ipv4Addr::LOCALHOST.into())
        }
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
            t.set_ip(std::net::Ipv6Addr::LOCALHOST.into())
        }
        _ => {}
    }
    t
}

fn onion_address(service_id: &str, port: u16) -> Result<SocketAddress, NodeError> {
    SocketAddress::from_str(&format!("{service_id}.onion:{port}")).map_err(|e| {
        TorError::Malformed(format!("ADD_ONION's ServiceID {service_id:?}: {e:?}")).into()
    })
}

/// The stored key, checked to be one argument of the protocol (no spaces or line breaks).
fn read_key(path: &Path) -> Result<Option<String>, NodeError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(NodeError::io(path, e)),
    };
    let key = text.trim();
    let blob = key.strip_prefix("ED25519-V3:").unwrap_or_default();
    let base64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=');
    if blob.is_empty() || !blob.chars().all(base64) {
        return Err(TorError::Key {
            path: path.to_path_buf(),
            message: "not an ED25519-V3 key as tor writes it; restore the file or move it away (a new address is made then)".into(),
        }
        .into());
    }
    Ok(Some(key.to_string()))
}

/// Holds the control connection (and so the service) until shutdown; when tor drops it,
/// reconnects with backoff and adds the service again with the same key.
async fn keep_up(
    control: TorControl,
    key: String,
    target: SocketAddr,
    service_id: String,
    mut conn: Control,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = conn.wait_closed() => {}
            _ = shutdown.changed() => return,
        }
        tracing::warn!(
            "tor closed the control connection: the onion service is down until it reconnects"
        );
        let mut backoff = Duration::from_secs(1);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.changed() => return,
            }
            match open(&control, Some(&key), target).await {
                Ok((c, added)) => {
                    if added.service_id != service_id {
                        tracing::error!(was = %service_id, now = %added.service_id, "tor gave the onion service another address");
                    }
                    tracing::info!("onion service up again");
                    conn = c;
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "re-creating the onion service")
                }
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

/// Connects, authenticates and adds the service, within [`SETUP_TIMEOUT`]. A service that
/// tor still holds for an earlier connection of ours (a quick restart) is waited for.
async fn open(
    control: &TorControl,
    key: Option<&str>,
    target: SocketAddr,
) -> Result<(Control, Added), TorError> {
    let attempt = async {
        loop {
            let mut c = Control::connect(&control.address).await?;
            c.authenticate(&control.auth).await?;
            match c.add_onion(key, target).await {
                Err(TorError::Refused { message, .. }) if message.contains("collision") => {
                    tracing::debug!("tor still holds our onion service; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                other => return other.map(|added| (c, added)),
            }
        }
    };
    tokio::time::timeout(SETUP_TIMEOUT, attempt)
        .await
        .map_err(|_| TorError::Timeout(control.address.clone()))?
}

/// `ADD_ONION`'s answer.
#[derive(Debug)]
struct Added {
    service_id: String,
    /// Only for a new key.
    key: Option<String>,
}

/// One control connection.
struct Control {
    addr: String,
    read: BufReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
}

impl Control {
    async fn connect(addr: &str) -> Result<Control, TorError> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|source| TorError::Io {
                addr: addr.to_string(),
                source,
            })?;
        let (read, write) = stream.into_split();
        Ok(Control {
            addr: addr.to_string(),
            read: BufReader::new(read),
            write,
        })
    }

    async fn read_line(&mut self) -> Result<String, TorError> {
        let mut buf = Vec::new();
        let n = (&mut self.read)
            .take(MAX_LINE)
            .read_until(b'\n', &mut buf)
            .await
            .map_err(|_| TorError::Closed)?;
        if n as u64 == MAX_LINE && !buf.ends_with(b"\n") {
            return Err(TorError::Malformed(format!(
                "a line longer than {MAX_LINE} bytes"
            )));
        }
        if !buf.ends_with(b"\n") {
            return Err(TorError::Closed);
        }
        let line = String::from_utf8_lossy(&buf);
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }

    /// One reply: its status and its lines without the status prefix (data lines included).
    /// Asynchronous events (6xx) are skipped.
    async fn read_reply(&mut self) -> Result<(u16, Vec<String>), TorError> {
        let mut lines = Vec::new();
        loop {
            let line = self.read_line().await?;
            let (Some(code), Some(sep)) = (line.get(..3), line.as_bytes().get(3)) else {
                return Err(TorError::Malformed(line));
            };
            let status: u16 = code
                .parse()
                .map_err(|_| TorError::Malformed(line.clone()))?;
            if !matches!(sep, b' ' | b'-' | b'+') {
                return Err(TorError::Malformed(line));
            }
            lines.push(line[4..].to_string());
            match sep {
                b' ' if (600..700).contains(&status) => lines.clear(),
                b' ' => return Ok((status, lines)),
                b'-' => {}
                b'+' => loop {
                    let data = self.read_line().await?;
                    if data == "." {
                        break;
                    }
                    let data = data.strip_prefix('.').unwrap_or(&data).to_string();
                    lines.push(data);
                },
                _ => {}
            }
        }
    }

    /// Sends `command` and returns the lines of its `250` reply.
    async fn command(&mut self, command: &str) -> Result<Vec<String>, TorError> {
        self.write
            .write_all(format!("{command}\r\n").as_bytes())
            .await
            .map_err(|source| TorError::Io {
                addr: self.addr.clone(),
                source,
            })?;
        let (status, lines) = self.read_reply().await?;
        if status != 250 {
            return Err(TorError::Refused {
                command: command.split(' ').next().unwrap_or_default().to_string(),
                status,
                message: lines.join(" "),
            });
        }
        Ok(lines)
    }

    async fn authenticate(&mut self, auth: &ControlAuth) -> Result<(), TorError> {
        let info = ProtocolInfo::parse(&self.command("PROTOCOLINFO 1").await?);
        let offers = |m: &str| info.methods.iter().any(|x| x == m);
        match auth {
            ControlAuth::Password(p) => {
                if !offers("HASHEDPASSWORD") {
                    return Err(TorError::Auth(format!(
                        "tor takes no password (it offers {}); configure HashedControlPassword",
                        info.methods.join(", ")
                    )));
                }
                self.command(&format!("AUTHENTICATE {}", quote(p)?)).await?;
            }
            _ if offers("NULL") => {
                self.command("AUTHENTICATE").await?;
            }
            _ if offers("SAFECOOKIE") => {
                let path = match (auth, &info.cookie_file) {
                    (ControlAuth::CookieFile(p), _) => p.clone(),
                    (_, Some(p)) => PathBuf::from(p),
                    (_, None) => {
                        return Err(TorError::Auth(
                            "tor names no cookie file; pass its path".into(),
                        ))
                    }
                };
                self.safecookie(&path).await?;
            }
            _ => {
                return Err(TorError::Auth(format!(
                    "tor offers {}; use a password (HASHEDPASSWORD) or cookie (SAFECOOKIE)",
                    info.methods.join(", ")
                )))
            }
        }
        Ok(())
    }

    /// `SAFECOOKIE`: both sides prove they know the cookie without sending it.
    async fn safecookie(&mut self, path: &Path) -> Result<(), TorError> {
        let cookie = std::fs::read(path)
            .map_err(|e| TorError::Auth(format!("reading tor's cookie {}: {e}", path.display())))?;
        if cookie.len() != 32 {
            return Err(TorError::Auth(format!(
                "{} holds {} bytes, not a 32-byte tor cookie",
                path.display(),
                cookie.len()
            )));
        }
        let mut nonce = [0u8; 32];
        crate::secret::random_bytes(&mut nonce)
            .map_err(|e| TorError::Auth(format!("client nonce: {e}")))?;
        let reply = self
            .command(&format!(
                "AUTHCHALLENGE SAFECOOKIE {}",
                nonce.to_lower_hex_string()
            ))
            .await?;
        let line = reply.first().map(String::as_str).unwrap_or_default();
        let field = |name: &str| -> Result<Vec<u8>, TorError> {
            line.split(' ')
                .find_map(|w| w.strip_prefix(name))
                .and_then(|h| Vec::<u8>::from_hex(h).ok())
                .ok_or_else(|| TorError::Malformed(format!("AUTHCHALLENGE reply {line:?}")))
        };
        let (server_hash, server_nonce) = (field("SERVERHASH=")?, field("SERVERNONCE=")?);
        let message = [cookie.as_slice(), &nonce, &server_nonce].concat();
        if hmac_sha256(SERVER_HASH_KEY, &message) != server_hash.as_slice() {
            return Err(TorError::Auth(
                "the control port does not know tor's cookie (another tor, or another service?)"
                    .into(),
            ));
        }
        let client_hash = hmac_sha256(CLIENT_HASH_KEY, &message);
        self.command(&format!(
            "AUTHENTICATE {}",
            client_hash.to_lower_hex_string()
        ))
        .await?;
        Ok(())
    }

    /// `ADD_ONION` with `key` (a new one when `None`), the target's port as virtual port.
    async fn add_onion(
        &mut self,
        key: Option<&str>,
        target: SocketAddr,
    ) -> Result<Added, TorError> {
        let key_arg = key.unwrap_or("NEW:ED25519-V3");
        let lines = self
            .command(&format!(
                "ADD_ONION {key_arg} Port={},{target}",
                target.port()
            ))
            .await?;
        let value = |name: &str| lines.iter().find_map(|l| l.strip_prefix(name));
        let service_id = value("ServiceID=")
            .filter(|id| id.len() == 56 && id.chars().all(|c| matches!(c, 'a'..='z' | '2'..='7')))
            .ok_or_else(|| {
                TorError::Malformed(format!("ADD_ONION reply {lines:?} has no v3 ServiceID"))
            })?
            .to_string();
        let new_key = value("PrivateKey=").map(str::to_string);
        if key.is_none() && new_key.is_none() {
            return Err(TorError::Malformed(
                "ADD_ONION NEW returned no PrivateKey".into(),
            ));
        }
        Ok(Added {
            service_id,
            key: new_key.filter(|_| key.is_none()),
        })
    }

    /// Reads (and ignores) whatever tor sends until it closes the connection.
    async fn wait_closed(&mut self) {
        while self.read_line().await.is_ok() {}
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut engine = hmac::HmacEngine::<sha256::Hash>::new(key);
    engine.input(message);
    hmac::Hmac::<sha256::Hash>::from_engine(engine).to_byte_array()
}

/// A control-protocol quoted string; line breaks cannot be quoted, so they are refused.
fn quote(s: &str) -> Result<String, TorError> {
    if s.contains(['\r', '\n']) {
        return Err(TorError::Auth("the password contains a line break".into()));
    }
    Ok(format!(
        "\"{}\"",
        s.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

/// What `PROTOCOLINFO` says about authentication.
#[derive(Debug, Default, PartialEq)]
struct ProtocolInfo {
    methods: Vec<String>,
    cookie_file: Option<String>,
}

impl ProtocolInfo {
    fn parse(lines: &[String]) -> ProtocolInfo {
        let mut info = ProtocolInfo::default();
        let Some(auth) = lines.iter().find_map(|l| l.strip_prefix("AUTH ")) else {
            return info;
        };
        if let Some(m) = auth.split(' ').find_map(|w| w.strip_prefix("METHODS=")) {
            info.methods = m.split(',').map(str::to_string).collect();
        }
        if let Some(rest) = auth.split_once("COOKIEFILE=\"").map(|(_, r)| r) {
            let mut path = String::new();
            let mut chars = rest.chars();
            while let Some(c) = chars.next() {
                match c {
                    '"' => {
                        info.cookie_file = Some(path);
                        break;
                    }
                    '\\' => path.extend(chars.next()),
                    c => path.push(c),
                }
            }
        }
        info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocolinfo_methods_and_cookie_file() {
        let lines: Vec<String> = [
            "PROTOCOLINFO 1",
            r#"AUTH METHODS=COOKIE,SAFECOOKIE,HASHEDPASSWORD COOKIEFILE="/var/run/tor/my \"odd\" dir\\cookie""#,
            r#"VERSION Tor="0.4.9.11""#,
            "OK",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            ProtocolInfo::parse(&lines),
            ProtocolInfo {
                methods: vec![
                    "COOKIE".into(),
                    "SAFECOOKIE".into(),
                    "HASHEDPASSWORD".into()
                ],
                cookie_file: Some(r#"/var/run/tor/my "odd" dir\cookie"#.into()),
            }
        );
        let null = ProtocolInfo::parse(&["AUTH METHODS=NULL".to_string()]);
        assert_eq!(null.methods, vec!["NULL"]);
        assert_eq!(null.cookie_file, None);
        assert_eq!(ProtocolInfo::parse(&[]), ProtocolInfo::default());
    }

    #[test]
    fn passwords_are_quoted_and_line_breaks_refused() {
        assert_eq!(quote(r#"a"b\c"#).unwrap(), r#""a\"b\\c""#);
        assert!(quote("a\r\nSIGNAL HALT").is_err());
    }

    #[test]
    fn stored_keys_must_be_one_protocol_argument() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        assert_eq!(read_key(&path).unwrap(), None);
        std::fs::write(&path, "ED25519-V3:IPWDKth4+/8==\n").unwrap();
        assert_eq!(
            read_key(&path).unwrap().as_deref(),
            Some("ED25519-V3:IPWDKth4+/8==")
        );
        for bad in [
            "ED25519-V3:",
            "RSA1024:abc",
            "ED25519-V3:ab cd",
            "ED25519-V3:ab\r\nSIGNAL HALT",
        ] {
            std::fs::write(&path, bad).unwrap();
            let e = read_key(&path).unwrap_err().to_string();
            assert!(e.contains("not an ED25519-V3 key"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn wildcard_listen_addresses_become_loopback_targets() {
        let t = |s: &str| local_target(s.parse().unwrap()).to_string();
        assert_eq!(t("0.0.0.0:9735"), "127.0.0.1:9735");
        assert_eq!(t("[::]:9735"), "[::1]:9735");
        assert_eq!(t("192.0.2.7:19735"), "192.0.2.7:19735");
    }

    #[test]
    fn service_ids_become_announceable_addresses() {
        let id = "vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd";
        let a = onion_address(id, 9735).unwrap();
        assert!(matches!(a, SocketAddress::OnionV3 { port: 9735, .. }));
        assert_eq!(a.to_string(), format!("{id}.onion:9735"));
        // Not 35 bytes of base32 (ADD_ONION's reply is checked for the v3 shape before).
        assert!(onion_address(&id[..55], 9735).is_err());
    }
}
