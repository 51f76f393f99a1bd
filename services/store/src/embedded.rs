//! A private PostgreSQL cluster run from the system's PostgreSQL binaries (`initdb`,
//! `pg_ctl`), the default when no `DATABASE_URL` is given.
//!
//! The cluster lives in a directory of its own, listens only on a unix socket inside it
//! (`listen_addresses=''`), trusts local connections (the socket directory is mode 0700, so
//! only its owner can reach it), and is reused across restarts. When switchyard runs as root
//! the cluster runs as the unprivileged `postgres` user (PostgreSQL refuses to run as root).
//! A `postmaster.pid` left by a crash is recognized and removed when no live postmaster of
//! this cluster owns it.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use sqlx::postgres::PgConnectOptions;
use tokio::process::Command;

use crate::error::{Error, Result};

/// Name of the database switchyard uses inside its cluster.
pub const DEFAULT_DATABASE: &str = "switchyard";
const SUPERUSER: &str = "postgres";
/// Unix socket paths are limited to ~107 bytes; leave room for `/.s.PGSQL.5432`.
const MAX_SOCKET_DIR_LEN: usize = 90;

/// A cluster in a directory. Cheap to construct; nothing happens until [`start`](Self::start).
#[derive(Debug, Clone)]
pub struct EmbeddedPostgres {
    cluster_dir: PathBuf,
    socket_dir: PathBuf,
    bin_dir: PathBuf,
    /// `Some((user, uid, gid))` when we are root and must run the server as another user.
    run_as: Option<(String, u32, u32)>,
}

/// What [`EmbeddedPostgres::start`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOutcome {
    /// A new cluster was created and started.
    Initialized,
    /// An existing cluster was started.
    Started,
    /// The cluster was already running (another switchyard process uses it); it is shared.
    AlreadyRunning,
}

impl EmbeddedPostgres {
    /// Prepares a cluster in `cluster_dir` (created if missing).
    pub fn new(cluster_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(cluster_dir).map_err(|source| Error::Io {
            path: cluster_dir.to_owned(),
            source,
        })?;
        let cluster_dir = cluster_dir.canonicalize().map_err(|source| Error::Io {
            path: cluster_dir.to_owned(),
            source,
        })?;
        let bin_dir = find_bin_dir()?;
        let run_as = if current_uid() == Some(0) {
            let (uid, gid) = lookup_user(SUPERUSER).ok_or_else(|| {
                Error::Embedded(format!(
                    "running as root, but there is no `{SUPERUSER}` system user to run the \
                     cluster as (installing the postgresql package creates it)"
                ))
            })?;
            Some((SUPERUSER.to_owned(), uid, gid))
        } else {
            None
        };
        let mut socket_dir = cluster_dir.join("socket");
        if socket_dir.as_os_str().len() > MAX_SOCKET_DIR_LEN {
            // Too long for a unix socket path: use a short, stable directory instead.
            let hash = fnv1a(cluster_dir.as_os_str().as_encoded_bytes());
            socket_dir = std::env::temp_dir().join(format!("switchyard-pg-{hash:016x}"));
        }
        Ok(EmbeddedPostgres {
            cluster_dir,
            socket_dir,
            bin_dir,
            run_as,
        })
    }

    /// The cluster's data directory (`<cluster>/data`).
    pub fn data_dir(&self) -> PathBuf {
        self.cluster_dir.join("data")
    }

    /// The directory holding the server's Unix socket (connections go through it, no TCP).
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// Connection options for `database` in this cluster.
    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.socket_dir)
            .username(SUPERUSER)
            .database(database)
    }

    /// Creates the cluster if needed and starts it; waits until it accepts connections.
    pub async fn start(&self) -> Result<StartOutcome> {
        let data = self.data_dir();
        self.prepare_dir(&self.cluster_dir)?;
        self.prepare_dir(&self.socket_dir)?;
        let mut outcome = StartOutcome::Started;
        if !data.join("PG_VERSION").exists() {
            self.init(&data).await?;
            outcome = StartOutcome::Initialized;
        }
        if self.running_postmaster()?.is_some() {
            return Ok(StartOutcome::AlreadyRunning);
        }
        let log = self.cluster_dir.join("postgres.log");
        let options = format!(
            "-c listen_addresses='' -k '{}' -c unix_socket_permissions=0700",
            self.socket_dir.display()
        );
        let mut cmd = self.pg_command("pg_ctl");
        cmd.args(["start", "-w", "-t", "60", "-D"])
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .arg("-o")
            .arg(options);
        let out = run("pg_ctl start", cmd).await?;
        if !out.status.success() {
            let tail = std::fs::read_to_string(&log)
                .map(|l| {
                    l.lines()
                        .rev()
                        .take(8)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default();
            return Err(Error::Embedded(format!(
                "pg_ctl start failed: {}{}\nlast lines of {}:\n{tail}",
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim(),
                log.display()
            )));
        }
        Ok(outcome)
    }

    /// Creates this cluster as a streaming hot standby of `primary` (which must be running):
    /// `pg_basebackup -R` copies it and writes the replication settings; [`start`](Self::start)
    /// then runs it, replaying the primary's changes and answering read-only queries.
    pub async fn init_standby_of(&self, primary: &EmbeddedPostgres) -> Result<()> {
        let data = self.data_dir();
        if data.join("PG_VERSION").exists() {
            return Err(Error::Embedded(format!(
                "{} already holds a cluster; a standby starts from an empty directory",
                data.display()
            )));
        }
        self.prepare_dir(&self.cluster_dir)?;
        let mut cmd = self.pg_command("pg_basebackup");
        cmd.arg("-D")
            .arg(&data)
            .args(["-R", "-X", "stream", "-c", "fast", "-U", SUPERUSER, "-h"])
            .arg(primary.socket_dir());
        run_ok("pg_basebackup", cmd).await
    }

    /// Stops the cluster (fast mode: rolls back open transactions, then checkpoints).
    pub async fn stop(&self) -> Result<()> {
        if self.running_postmaster()?.is_none() {
            return Ok(());
        }
        let mut cmd = self.pg_command("pg_ctl");
        cmd.args(["stop", "-w", "-m", "fast", "-D"])
            .arg(self.data_dir());
        run_ok("pg_ctl stop", cmd).await
    }

    /// Creates `database` if it does not exist yet.
    pub async fn ensure_database(&self, database: &str) -> Result<()> {
        use sqlx::{ConnectOptions, Connection};
        let mut conn = self.connect_options("postgres").connect().await?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(database)
                .fetch_one(&mut conn)
                .await?;
        if !exists {
            let quoted = database.replace('"', "\"\"");
            sqlx::query(&format!("CREATE DATABASE \"{quoted}\""))
                .execute(&mut conn)
                .await?;
        }
        conn.close().await?;
        Ok(())
    }

    /// The pid of this cluster's live postmaster, if any. A `postmaster.pid` naming a dead
    /// process or somebody else's process is stale: it is removed so the next start works.
    pub fn running_postmaster(&self) -> Result<Option<u32>> {
        let pid_file = self.data_dir().join("postmaster.pid");
        let Ok(content) = std::fs::read_to_string(&pid_file) else {
            return Ok(None);
        };
        let pid: Option<u32> = content.lines().next().and_then(|l| l.trim().parse().ok());
        if let Some(pid) = pid {
            if self.is_our_postmaster(pid) {
                return Ok(Some(pid));
            }
        }
        tracing::warn!(
            pid_file = %pid_file.display(),
            "removing stale postmaster.pid left by an unclean stop"
        );
        std::fs::remove_file(&pid_file).map_err(|source| Error::Io {
            path: pid_file,
            source,
        })?;
        // The socket lock names the same dead pid; a live process reusing it would block us.
        let _ = std::fs::remove_file(self.socket_dir.join(".s.PGSQL.5432.lock"));
        Ok(None)
    }

    fn is_our_postmaster(&self, pid: u32) -> bool {
        let proc = PathBuf::from(format!("/proc/{pid}"));
        let Ok(cmdline) = std::fs::read(proc.join("cmdline")) else {
            return false;
        };
        let exe_is_postgres = cmdline
            .split(|&b| b == 0)
            .next()
            .is_some_and(|arg0| arg0.ends_with(b"postgres") || arg0.ends_with(b"postmaster"));
        // The postmaster runs with its data directory as working directory.
        let cwd_is_ours = std::fs::read_link(proc.join("cwd"))
            .ok()
            .and_then(|p| p.canonicalize().ok())
            .zip(self.data_dir().canonicalize().ok())
            .is_some_and(|(a, b)| a == b);
        exe_is_postgres && cwd_is_ours
    }

    async fn init(&self, data: &Path) -> Result<()> {
        let mut cmd = self.pg_command("initdb");
        cmd.arg("-D").arg(data).args([
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        ]);
        run_ok("initdb", cmd).await
    }

    /// Creates `dir` (0700) and hands it to the server's user when we run as root.
    fn prepare_dir(&self, dir: &Path) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let io = |source| Error::Io {
            path: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
        if let Some((user, uid, gid)) = &self.run_as {
            std::os::unix::fs::chown(dir, Some(*uid), Some(*gid)).map_err(io)?;
            // The server must be able to reach its directory through every parent.
            for parent in dir.ancestors().skip(1) {
                let Ok(meta) = parent.metadata() else {
                    continue;
                };
                if meta.mode() & 0o001 == 0 && meta.uid() != *uid {
                    return Err(Error::Embedded(format!(
                        "{} is not searchable by the `{user}` user that runs the cluster; \
                         choose a data directory outside it (--data-dir) or use DATABASE_URL",
                        parent.display()
                    )));
                }
            }
        }
        Ok(())
    }

    fn pg_command(&self, program: &str) -> Command {
        let path = self.bin_dir.join(program);
        let mut cmd = match &self.run_as {
            Some((user, _, _)) => {
                let mut c = Command::new("runuser");
                c.arg("-u").arg(user).arg("--").arg(path);
                c
            }
            None => Command::new(path),
        };
        // Clear locale-dependent surprises; the cluster's locale is fixed at initdb.
        cmd.env("LC_ALL", "C");
        cmd.current_dir(&self.cluster_dir);
        cmd
    }
}

/// Runs `cmd` to completion with no standard input; fails only if it cannot be started.
async fn run(what: &str, mut cmd: Command) -> Result<std::process::Output> {
    cmd.stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| Error::Embedded(format!("running {what}: {e}")))
}

/// Runs `cmd` and fails with its stderr when it exits unsuccessfully.
async fn run_ok(what: &str, cmd: Command) -> Result<()> {
    let out = run(what, cmd).await?;
    if !out.status.success() {
        return Err(Error::Embedded(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Finds the PostgreSQL server binaries: `$SWITCHYARD_PG_BIN`, the newest
/// `/usr/lib/postgresql/*/bin`, or the directory of an `initdb` on `PATH`.
fn find_bin_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("SWITCHYARD_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        if dir.join("initdb").exists() && dir.join("pg_ctl").exists() {
            return Ok(dir);
        }
    }
    Err(Error::Embedded(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: install PostgreSQL \
         (scripts/setup.sh does), set SWITCHYARD_PG_BIN, or give a DATABASE_URL"
            .into(),
    ))
}

fn current_uid() -> Option<u32> {
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        if f.next()? != name {
            return None;
        }
        let _password = f.next()?;
        Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
    })
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
