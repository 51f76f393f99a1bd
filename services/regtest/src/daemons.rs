//! Real network daemons for tests, on loopback, with generated configuration in a temporary
//! directory, stopped on drop: [`Dnsmasq`] (a DNS server, e.g. a BOLT 10 seed), [`Microsocks`]
//! (a SOCKS5 proxy) and [`TorDaemon`] (tor offline, `DisableNetwork 1`, for its control port).
//!
//! They are Debian packages (`dnsmasq-base`, `microsocks`, `tor`) that `scripts/test.sh`
//! installs; a missing binary is an error, never a skip. None of them reaches beyond loopback.

use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

fn io(context: &'static str) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { context, source }
}

/// A child process with its temporary directory, killed on drop.
struct Daemon {
    name: &'static str,
    child: Child,
    dir: tempfile::TempDir,
    /// Where its log goes.
    log: PathBuf,
}

impl Daemon {
    /// Runs `name args`, stdout and stderr into `output` in `dir`.
    fn spawn(
        name: &'static str,
        args: &[String],
        dir: tempfile::TempDir,
        log: PathBuf,
    ) -> Result<Daemon> {
        let out = std::fs::File::create(dir.path().join("output")).map_err(io("daemon output"))?;
        let err = out.try_clone().map_err(io("daemon output"))?;
        let child = Command::new(locate(name))
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|source| Error::Spawn {
                path: PathBuf::from(format!(
                    "{name} (Debian package; scripts/test.sh installs it)"
                )),
                source,
            })?;
        Ok(Daemon {
            name,
            child,
            dir,
            log,
        })
    }

    /// Runs `name args` and waits until it accepts TCP connections on 127.0.0.1:`port`.
    fn spawn_listening(
        name: &'static str,
        args: &[String],
        dir: tempfile::TempDir,
        log: PathBuf,
        port: u16,
    ) -> Result<(Daemon, SocketAddr)> {
        let mut daemon = Daemon::spawn(name, args, dir, log)?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        daemon.wait_ready(|_| accepts(addr).then_some(()))?;
        Ok((daemon, addr))
    }

    /// Polls `ready` until it answers, failing with the daemon's output if it exits or
    /// takes longer than [`STARTUP_TIMEOUT`].
    fn wait_ready<T>(&mut self, mut ready: impl FnMut(&Path) -> Option<T>) -> Result<T> {
        let started = Instant::now();
        loop {
            if let Some(t) = ready(self.dir.path()) {
                return Ok(t);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(Error::DaemonStartup {
                    daemon: self.name,
                    detail: format!("exited ({status})"),
                    output: self.output(),
                });
            }
            if started.elapsed() > STARTUP_TIMEOUT {
                return Err(Error::DaemonStartup {
                    daemon: self.name,
                    detail: format!("not ready after {STARTUP_TIMEOUT:?}"),
                    output: self.output(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn output(&self) -> String {
        let out = std::fs::read_to_string(self.dir.path().join("output")).unwrap_or_default();
        format!("{out}{}", self.log_text())
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `name` from PATH, else from /usr/sbin (where Debian puts dnsmasq, outside a user's PATH).
fn locate(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

/// A port free on 127.0.0.1 for both TCP and UDP a moment ago.
fn free_port() -> Result<u16> {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").map_err(io("probing a free port"))?;
        let port = tcp.local_addr().map_err(io("probing a free port"))?.port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
}

fn accepts(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// `dnsmasq` answering only from its configuration on a free loopback port (UDP and TCP), no
/// upstream servers, every query logged.
pub struct Dnsmasq {
    daemon: Daemon,
    addr: SocketAddr,
}

impl Dnsmasq {
    /// Starts it with these extra configuration lines (`srv-host=…`, `host-record=…`,
    /// `local=/zone/` …; see dnsmasq(8)).
    pub fn start(config: &[String]) -> Result<Dnsmasq> {
        let dir = tempfile::tempdir().map_err(io("dnsmasq directory"))?;
        let port = free_port()?;
        let log = dir.path().join("queries.log");
        let mut conf = vec![
            format!("port={port}"),
            "listen-address=127.0.0.1".into(),
            "bind-interfaces".into(),
            "no-resolv".into(),
            "no-hosts".into(),
            "log-queries".into(),
            format!("log-facility={}", log.display()),
            "pid-file=".into(),
        ];
        conf.extend(config.iter().cloned());
        let conf_path = dir.path().join("dnsmasq.conf");
        std::fs::write(&conf_path, conf.join("\n") + "\n").map_err(io("dnsmasq.conf"))?;
        let args = vec![
            "--keep-in-foreground".to_string(),
            format!("--conf-file={}", conf_path.display()),
        ];
        let (daemon, addr) = Daemon::spawn_listening("dnsmasq", &args, dir, log, port)?;
        Ok(Dnsmasq { daemon, addr })
    }

    /// Where it answers (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The queries it received so far, as `TYPE name` (e.g. `SRV _nodes._tcp.seed.test`).
    pub fn queries(&self) -> Vec<String> {
        self.daemon
            .log_text()
            .lines()
            .filter_map(|l| {
                let (_, rest) = l.split_once(": query[")?;
                let (qtype, rest) = rest.split_once("] ")?;
                let name = rest.split(' ').next()?;
                Some(format!("{qtype} {name}"))
            })
            .collect()
    }
}

/// `microsocks` on a free loopback port, optionally binding its outgoing connections to
/// another loopback address so that their peers can tell them from direct ones.
pub struct Microsocks {
    daemon: Daemon,
    addr: SocketAddr,
}

impl Microsocks {
    /// Starts it; `outgoing` is the source address of the connections it makes.
    pub fn start(outgoing: Option<IpAddr>) -> Result<Microsocks> {
        let dir = tempfile::tempdir().map_err(io("microsocks directory"))?;
        let port = free_port()?;
        let mut args = vec![
            "-i".to_string(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
        ];
        if let Some(ip) = outgoing {
            args.extend(["-b".to_string(), ip.to_string()]);
        }
        let log = dir.path().join("output");
        let (daemon, addr) = Daemon::spawn_listening("microsocks", &args, dir, log, port)?;
        Ok(Microsocks { daemon, addr })
    }

    /// Where it accepts SOCKS5 clients.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `host:port` targets it connected to, as the clients named them (a host name stays
    /// a name: the proxy resolved it).
    pub fn connected_to(&self) -> Vec<String> {
        self.daemon
            .log_text()
            .lines()
            .filter_map(|l| l.split_once(": connected to ").map(|(_, t)| t.to_string()))
            .collect()
    }
}

/// `tor` with `DisableNetwork 1`: it makes no connection beyond loopback, but its control
/// port works (ADD_ONION included). Cookie authentication, and a password when asked for;
/// logs at info level without scrubbing, so the onion services it adds can be read back.
pub struct TorDaemon {
    daemon: Daemon,
    control: SocketAddr,
    cookie: PathBuf,
}

impl TorDaemon {
    /// Starts it; with `password`, the control port also accepts that password.
    pub fn start(password: Option<&str>) -> Result<TorDaemon> {
        let dir = tempfile::tempdir().map_err(io("tor directory"))?;
        let data = dir.path().join("data");
        std::fs::create_dir(&data).map_err(io("tor data directory"))?;
        let (cookie, log, port_file) = (
            dir.path().join("control_auth_cookie"),
            dir.path().join("tor.log"),
            dir.path().join("control_port"),
        );
        let mut torrc = vec![
            format!("DataDirectory {}", data.display()),
            "DisableNetwork 1".into(),
            "SocksPort 127.0.0.1:auto".into(),
            "ControlPort 127.0.0.1:auto".into(),
            format!("ControlPortWriteToFile {}", port_file.display()),
            "CookieAuthentication 1".into(),
            format!("CookieAuthFile {}", cookie.display()),
            "AvoidDiskWrites 1".into(),
            "SafeLogging 0".into(),
            format!("Log info file {}", log.display()),
        ];
        if let Some(p) = password {
            torrc.push(format!("HashedControlPassword {}", hash_password(p)?));
        }
        let torrc_path = dir.path().join("torrc");
        std::fs::write(&torrc_path, torrc.join("\n") + "\n").map_err(io("torrc"))?;
        let args = vec![
            "-f".to_string(),
            torrc_path.display().to_string(),
            "--defaults-torrc".into(),
            "/dev/null".into(),
        ];
        let mut daemon = Daemon::spawn("tor", &args, dir, log)?;
        let control = daemon.wait_ready(|_| {
            let text = std::fs::read_to_string(&port_file).ok()?;
            let addr: SocketAddr = text.trim().strip_prefix("PORT=")?.parse().ok()?;
            (cookie.exists() && accepts(addr)).then_some(addr)
        })?;
        Ok(TorDaemon {
            daemon,
            control,
            cookie,
        })
    }

    /// The control port.
    pub fn control_addr(&self) -> SocketAddr {
        self.control
    }

    /// The authentication cookie (also named by `PROTOCOLINFO`).
    pub fn cookie_file(&self) -> &Path {
        &self.cookie
    }

    /// The service ids (onion addresses without `.onion`) of the ephemeral onion services
    /// tor added, in order, from its own log.
    pub fn onion_services_added(&self) -> Vec<String> {
        self.log_values("Added ephemeral v3 onion service: ")
    }

    /// The same for the services it removed (their control connection closed).
    pub fn onion_services_removed(&self) -> Vec<String> {
        self.log_values("Removed ephemeral v3 hidden service: ")
    }

    fn log_values(&self, marker: &str) -> Vec<String> {
        self.daemon
            .log_text()
            .lines()
            .filter_map(|l| l.split_once(marker).map(|(_, v)| v.trim().to_string()))
            .collect()
    }
}

/// tor's `HashedControlPassword` value for `password` (`tor --hash-password`).
fn hash_password(password: &str) -> Result<String> {
    let out = Command::new(locate("tor"))
        .args(["--hash-password", password, "--quiet"])
        .stdin(Stdio::null())
        .output()
        .map_err(|source| Error::Spawn {
            path: PathBuf::from("tor --hash-password"),
            source,
        })?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("16:"))
        .map(str::to_string)
        .ok_or_else(|| Error::DaemonStartup {
            daemon: "tor",
            detail: "--hash-password printed no hash".into(),
            output: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
}
