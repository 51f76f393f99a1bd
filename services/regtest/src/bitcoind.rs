//! [`Bitcoind`]: a regtest bitcoind child process on loopback ports, stopped on drop.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bitcoin::consensus::encode;
use bitcoin::hex::{DisplayHex, FromHex};
use bitcoin::{Address, Block, BlockHash, Transaction, Txid};
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::random_bytes32;
use crate::rpc::RpcClient;
use crate::utxo::BitcoindUtxoLookup;

/// Environment variable naming a bitcoind binary to use instead of building one.
pub const BITCOIND_ENV: &str = "SWITCHYARD_BITCOIND";

/// How long [`Bitcoind::start`] waits for the RPC server by default.
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// How bitcoind authenticates RPC clients.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RpcAuth {
    /// Fixed random `-rpcuser`/`-rpcpassword` (the default): hand them to the node under test.
    #[default]
    UserPassword,
    /// bitcoind writes a `.cookie` file into the datadir (see [`Bitcoind::cookie_path`]).
    Cookie,
}

/// Options for [`Bitcoind::start_with`]. `BitcoindOptions::default()` is what
/// [`Bitcoind::start`] uses.
#[derive(Clone, Debug)]
pub struct BitcoindOptions {
    /// RPC authentication mode.
    pub auth: RpcAuth,
    /// Extra command-line arguments, e.g. `"-blockfilterindex=1"`.
    pub extra_args: Vec<String>,
    /// How long to wait for the RPC server to answer.
    pub startup_timeout: Duration,
}

impl Default for BitcoindOptions {
    fn default() -> Self {
        BitcoindOptions {
            auth: RpcAuth::default(),
            extra_args: Vec::new(),
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
        }
    }
}

/// A running regtest `bitcoind` with its own temporary datadir, RPC on `127.0.0.1` and a
/// random free port. Dropping it stops the process (RPC `stop`, then kill after a few
/// seconds) and deletes the datadir.
///
/// The binary is `$SWITCHYARD_BITCOIND` if set, else the one `scripts/build-bitcoind.sh`
/// builds and caches (the first run of the script compiles Bitcoin Core: 10-20 minutes).
/// The node binary has no wallet: fund things with [`crate::Wallet`].
#[derive(Debug)]
pub struct Bitcoind {
    child: Child,
    // Declared after `child` only for clarity: `Drop` stops the child before fields drop.
    datadir: tempfile::TempDir,
    rpc: RpcClient,
    rpc_port: u16,
    p2p_port: u16,
    /// How it was started, for [`Bitcoind::start_again`].
    binary: PathBuf,
    args: Vec<String>,
    auth: RpcAuth,
    startup_timeout: Duration,
}

impl Bitcoind {
    /// Starts bitcoind with [`BitcoindOptions::default`]: user/password auth and a 60 s
    /// startup timeout.
    ///
    /// # Errors
    /// [`Error::BitcoindNotFound`] if there is no binary, [`Error::Exited`] or
    /// [`Error::StartupTimeout`] (with the log tail) if it does not come up.
    pub fn start() -> Result<Bitcoind> {
        Self::start_with(BitcoindOptions::default())
    }

    /// Starts bitcoind with explicit options.
    ///
    /// # Errors
    /// As [`Bitcoind::start`].
    pub fn start_with(options: BitcoindOptions) -> Result<Bitcoind> {
        // The ports are free when picked but another process may take them before bitcoind
        // binds: retry that case with new ports.
        let mut attempts = 0;
        loop {
            attempts += 1;
            match Self::start_once(&options) {
                Err(Error::Exited { log_tail, .. })
                    if attempts < 3 && log_tail.contains("Unable to bind") =>
                {
                    continue
                }
                result => return result,
            }
        }
    }

    fn start_once(options: &BitcoindOptions) -> Result<Bitcoind> {
        let binary = bitcoind_binary()?;
        let datadir = tempfile::Builder::new()
            .prefix("switchyard-bitcoind-")
            .tempdir()
            .map_err(|source| Error::Io {
                context: "creating the bitcoind datadir",
                source,
            })?;
        let rpc_port = free_port()?;
        let p2p_port = free_port()?;

        let mut args = vec![
            "-regtest".to_owned(),
            format!("-datadir={}", datadir.path().display()),
            "-server".to_owned(),
            "-rpcbind=127.0.0.1".to_owned(),
            "-rpcallowip=127.0.0.1".to_owned(),
            format!("-rpcport={rpc_port}"),
            format!("-port={p2p_port}"),
            "-listen=0".to_owned(),
            "-dnsseed=0".to_owned(),
            "-fixedseeds=0".to_owned(),
            "-discover=0".to_owned(),
            "-txindex=0".to_owned(),
            "-printtoconsole=0".to_owned(),
        ];
        let (user, password) = match options.auth {
            RpcAuth::UserPassword => {
                let user = "switchyard".to_owned();
                let password = random_bytes32().to_lower_hex_string();
                args.push(format!("-rpcuser={user}"));
                args.push(format!("-rpcpassword={password}"));
                (Some(user), Some(password))
            }
            RpcAuth::Cookie => (None, None),
        };
        args.extend(options.extra_args.iter().cloned());

        let child = spawn(&binary, &args, datadir.path())?;

        let rpc_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, rpc_port));
        // Until the cookie exists the credentials are unknown; the placeholder fails with 401.
        let rpc = RpcClient::new(
            rpc_addr,
            user.unwrap_or_default(),
            password.unwrap_or_default(),
        );
        let mut bitcoind = Bitcoind {
            child,
            datadir,
            rpc,
            rpc_port,
            p2p_port,
            binary,
            args,
            auth: options.auth,
            startup_timeout: options.startup_timeout,
        };
        bitcoind.wait_ready(options.auth, options.startup_timeout)?;
        Ok(bitcoind)
    }

    fn wait_ready(&mut self, auth: RpcAuth, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(Error::Exited {
                    status,
                    log_tail: self.log_tail(),
                });
            }
            if auth == RpcAuth::Cookie {
                if let Ok(cookie) = std::fs::read_to_string(self.cookie_path()) {
                    if let Some((user, password)) = cookie.trim().split_once(':') {
                        self.rpc = RpcClient::new(self.rpc.addr(), user, password);
                    }
                }
            }
            let last_error = match self.rpc.call("getblockchaininfo", json!([])) {
                Ok(_) => return Ok(()),
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                return Err(Error::StartupTimeout {
                    timeout,
                    last_error,
                    log_tail: self.log_tail(),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The last lines of bitcoind's console output and `regtest/debug.log`.
    pub fn log_tail(&self) -> String {
        let mut out = String::new();
        for path in [
            self.datadir.path().join("output.log"),
            self.datadir.path().join("regtest").join("debug.log"),
        ] {
            out.push_str(&format!("--- {}\n", path.display()));
            out.push_str(&tail(&path, 4096));
            out.push('\n');
        }
        out
    }

    /// `http://127.0.0.1:<port>`: the RPC endpoint for the node under test.
    pub fn rpc_url(&self) -> String {
        format!("http://{}", self.rpc.addr())
    }

    /// The RPC server's socket address.
    pub fn rpc_addr(&self) -> SocketAddr {
        self.rpc.addr()
    }

    /// The RPC port.
    pub fn rpc_port(&self) -> u16 {
        self.rpc_port
    }

    /// The P2P port passed as `-port` (bitcoind runs with `-listen=0`, so nothing listens).
    pub fn p2p_port(&self) -> u16 {
        self.p2p_port
    }

    /// RPC `(user, password)`: the `-rpcuser`/`-rpcpassword` pair, or with
    /// [`RpcAuth::Cookie`] the two halves of the cookie.
    pub fn rpc_user_pass(&self) -> (String, String) {
        let (user, password) = self.rpc.credentials();
        (user.to_owned(), password.to_owned())
    }

    /// Where bitcoind writes its cookie in [`RpcAuth::Cookie`] mode.
    pub fn cookie_path(&self) -> PathBuf {
        self.datadir.path().join("regtest").join(".cookie")
    }

    /// The datadir (a temporary directory removed on drop).
    pub fn datadir(&self) -> &Path {
        self.datadir.path()
    }

    /// A clonable RPC handle (e.g. to move into another thread).
    pub fn client(&self) -> RpcClient {
        self.rpc.clone()
    }

    /// A sync LDK [`UtxoLookup`](lightning::routing::utxo::UtxoLookup) over this bitcoind.
    pub fn utxo_lookup(&self) -> BitcoindUtxoLookup {
        BitcoindUtxoLookup::new(self.rpc.clone())
    }

    /// Calls an RPC method with positional `params` (a JSON array).
    ///
    /// # Errors
    /// See [`RpcClient::call`].
    pub fn rpc(&self, method: &str, params: Value) -> Result<Value> {
        self.rpc.call(method, params)
    }

    /// Mines `n` blocks paying `address`; returns their hashes in order.
    ///
    /// # Errors
    /// RPC errors.
    pub fn mine(&self, n: u32, address: &Address) -> Result<Vec<BlockHash>> {
        mine(&self.rpc, n, address)
    }

    /// The height of the best block.
    ///
    /// # Errors
    /// RPC errors.
    pub fn tip_height(&self) -> Result<u32> {
        tip_height(&self.rpc)
    }

    /// The hash of the block at `height` in the best chain.
    ///
    /// # Errors
    /// RPC errors ([`Error::Rpc`] with code -8 if the height is beyond the tip).
    pub fn block_hash(&self, height: u32) -> Result<BlockHash> {
        block_hash(&self.rpc, height)
    }

    /// The height of a block in the best chain.
    ///
    /// # Errors
    /// RPC errors ([`Error::Rpc`] with code -5 for an unknown block).
    pub fn block_height(&self, hash: &BlockHash) -> Result<u32> {
        let method = "getblockheader";
        let reply = self.rpc.call(method, json!([hash.to_string(), true]))?;
        reply
            .get("height")
            .and_then(Value::as_u64)
            .and_then(|h| u32::try_from(h).ok())
            .ok_or_else(|| Error::BadResponse {
                method: method.to_owned(),
                detail: format!("no height in {reply}"),
            })
    }

    /// A block, decoded with the `bitcoin` crate.
    ///
    /// # Errors
    /// RPC errors ([`Error::Rpc`] with code -5 for an unknown block).
    pub fn get_block(&self, hash: &BlockHash) -> Result<Block> {
        get_block(&self.rpc, hash)
    }

    /// Submits a transaction to the mempool; returns its txid.
    ///
    /// # Errors
    /// [`Error::Rpc`] with bitcoind's reject reason (code -26 for policy/consensus rejects).
    pub fn send_raw_transaction(&self, tx: &Transaction) -> Result<Txid> {
        send_raw_transaction(&self.rpc, tx)
    }

    /// `gettxout`: the unspent output, or `None` if it is spent or never existed. Includes
    /// the mempool (an output spent by a mempool transaction is `None`).
    ///
    /// # Errors
    /// RPC errors.
    pub fn get_tx_out(&self, txid: &Txid, vout: u32) -> Result<Option<bitcoin::TxOut>> {
        get_tx_out(&self.rpc, txid, vout, true)
    }

    /// Stops the process (RPC `stop`, killed if it has not exited within 10 s) and keeps
    /// the datadir, so that [`Bitcoind::start_again`] brings the same chain back: the node
    /// under test sees its bitcoind go away and return.
    ///
    /// # Errors
    /// When the process cannot be signalled.
    pub fn stop(&mut self) -> Result<()> {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.rpc.call("stop", json!([]));
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            self.child.kill().map_err(|source| Error::Io {
                context: "killing bitcoind",
                source,
            })?;
        }
        let _ = self.child.wait();
        Ok(())
    }

    /// Starts the process again on the same datadir and ports after [`Bitcoind::stop`].
    ///
    /// # Errors
    /// As [`Bitcoind::start`]; also if the process is still running.
    pub fn start_again(&mut self) -> Result<()> {
        if let Ok(None) = self.child.try_wait() {
            return Err(Error::BadResponse {
                method: "start_again".to_owned(),
                detail: "bitcoind is still running".to_owned(),
            });
        }
        self.child = spawn(&self.binary, &self.args, self.datadir.path())?;
        self.wait_ready(self.auth, self.startup_timeout)
    }
}

/// Starts bitcoind, its console output appended to `output.log` in the datadir.
fn spawn(binary: &Path, args: &[String], datadir: &Path) -> Result<Child> {
    let output = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(datadir.join("output.log"))
        .map_err(|source| Error::Io {
            context: "opening bitcoind's output log",
            source,
        })?;
    let output_err = output.try_clone().map_err(|source| Error::Io {
        context: "opening bitcoind's output log",
        source,
    })?;
    Command::new(binary)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(output))
        .stderr(Stdio::from(output_err))
        .spawn()
        .map_err(|source| Error::Spawn {
            path: binary.to_path_buf(),
            source,
        })
}

impl Drop for Bitcoind {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.rpc.call("stop", json!([]));
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// Free functions over an `RpcClient`, shared by `Bitcoind`, `Wallet` and the fixtures (which
// hold a client, not a borrow of the `Bitcoind`).

pub(crate) fn mine(rpc: &RpcClient, n: u32, address: &Address) -> Result<Vec<BlockHash>> {
    let method = "generatetoaddress";
    let reply = rpc.call(method, json!([n, address.to_string()]))?;
    let hashes = reply.as_array().ok_or_else(|| Error::BadResponse {
        method: method.to_owned(),
        detail: format!("expected an array, got {reply}"),
    })?;
    hashes.iter().map(|h| parse_hash(method, h)).collect()
}

pub(crate) fn tip_height(rpc: &RpcClient) -> Result<u32> {
    let reply = rpc.call("getblockcount", json!([]))?;
    reply
        .as_u64()
        .and_then(|h| u32::try_from(h).ok())
        .ok_or_else(|| Error::BadResponse {
            method: "getblockcount".to_owned(),
            detail: format!("expected a height, got {reply}"),
        })
}

pub(crate) fn block_hash(rpc: &RpcClient, height: u32) -> Result<BlockHash> {
    parse_hash("getblockhash", &rpc.call("getblockhash", json!([height]))?)
}

pub(crate) fn get_block(rpc: &RpcClient, hash: &BlockHash) -> Result<Block> {
    let reply = rpc.call("getblock", json!([hash.to_string(), 0]))?;
    decode_hex("getblock", &reply)
}

pub(crate) fn send_raw_transaction(rpc: &RpcClient, tx: &Transaction) -> Result<Txid> {
    let hex = encode::serialize_hex(tx);
    parse_hash(
        "sendrawtransaction",
        &rpc.call("sendrawtransaction", json!([hex]))?,
    )
}

pub(crate) fn get_tx_out(
    rpc: &RpcClient,
    txid: &Txid,
    vout: u32,
    include_mempool: bool,
) -> Result<Option<bitcoin::TxOut>> {
    let method = "gettxout";
    let reply = rpc.call(method, json!([txid.to_string(), vout, include_mempool]))?;
    if reply.is_null() {
        return Ok(None);
    }
    let bad = |detail: String| Error::BadResponse {
        method: method.to_owned(),
        detail,
    };
    // `value` is a BTC float; every satoshi amount round-trips through f64 exactly enough.
    let value = reply
        .get("value")
        .and_then(Value::as_f64)
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| bad(format!("no value in {reply}")))?;
    let value = bitcoin::Amount::from_sat((value * 100_000_000.0).round() as u64);
    let script_hex = reply
        .pointer("/scriptPubKey/hex")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(format!("no scriptPubKey.hex in {reply}")))?;
    let script = Vec::<u8>::from_hex(script_hex).map_err(|e| bad(e.to_string()))?;
    Ok(Some(bitcoin::TxOut {
        value,
        script_pubkey: bitcoin::ScriptBuf::from_bytes(script),
    }))
}

fn parse_hash<T: std::str::FromStr>(method: &str, value: &Value) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    let text = value.as_str().ok_or_else(|| Error::BadResponse {
        method: method.to_owned(),
        detail: format!("expected a hex string, got {value}"),
    })?;
    text.parse().map_err(|e| Error::BadResponse {
        method: method.to_owned(),
        detail: format!("{text}: {e}"),
    })
}

fn decode_hex<T: bitcoin::consensus::Decodable>(method: &str, value: &Value) -> Result<T> {
    let text = value.as_str().ok_or_else(|| Error::BadResponse {
        method: method.to_owned(),
        detail: format!("expected hex, got {value}"),
    })?;
    encode::deserialize_hex(text).map_err(|e| Error::BadResponse {
        method: method.to_owned(),
        detail: e.to_string(),
    })
}

/// A loopback port that was free a moment ago (bind port 0, read it, release it).
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|source| Error::Io {
        context: "picking a free port",
        source,
    })?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|source| Error::Io {
            context: "picking a free port",
            source,
        })
}

fn tail(path: &Path, max_bytes: u64) -> String {
    let Ok(mut file) = File::open(path) else {
        return "(missing)".to_owned();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(max_bytes)));
    let mut buf = Vec::new();
    let _ = file.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// Finds the bitcoind binary once per process: `$SWITCHYARD_BITCOIND`, else the output of
/// `scripts/build-bitcoind.sh` (which builds on first use and holds a lock, so concurrent
/// test processes wait for one build).
fn bitcoind_binary() -> Result<PathBuf> {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BINARY
        .get_or_init(find_bitcoind)
        .clone()
        .map_err(Error::BitcoindNotFound)
}

fn find_bitcoind() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os(BITCOIND_ENV) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("{BITCOIND_ENV}={} is not a file", path.display()))
        };
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/build-bitcoind.sh");
    if !script.is_file() {
        return Err(format!(
            "{BITCOIND_ENV} is not set and {} does not exist",
            script.display()
        ));
    }
    // stderr is inherited so a first-time build shows its progress.
    let output = Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("running {}: {e}", script.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} failed ({}); set {BITCOIND_ENV} to a bitcoind binary to skip the build",
            script.display(),
            output.status
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let bin_dir = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .ok_or_else(|| format!("{} printed no bin directory", script.display()))?;
    let binary = Path::new(bin_dir.trim()).join("bitcoind");
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(format!("{} does not exist", binary.display()))
    }
}
