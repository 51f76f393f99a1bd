//! The data directory's file system fills up under an import, as a user runs it: `switchyard
//! import --data-dir` with the embedded PostgreSQL cluster (the default) in that directory, on a
//! small tmpfs of its own.
//!
//! Asserts: the import fails with a clear error (the server's "No space left on device" and the
//! binary's hint saying what to do), nothing of it is stored (every history table and the graph
//! version as before, after the cluster's crash recovery), a retry while still full fails the
//! same way, and once the file system is grown the same import succeeds and stores everything.
//!
//! Needs to mount a tmpfs (root, as on CI); where that is impossible it says so and returns.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sqlx::{ConnectOptions, Row};
use switchyard_store::embedded::{EmbeddedPostgres, DEFAULT_DATABASE};

const BIN: &str = env!("CARGO_BIN_EXE_switchyard");
/// Room left for the import once the small snapshot is in: far less than the 2026 snapshot
/// needs (its tables, indexes and WAL take ~100 MiB).
const HEADROOM: u64 = 24 << 20;
const ROOMY: u64 = 1 << 30;

/// A tmpfs mounted for the test; unmounted (after stopping the cluster in it) when dropped.
struct Tmpfs {
    dir: PathBuf,
    data: PathBuf,
}

impl Tmpfs {
    fn mount(dir: &Path) -> Result<Self, String> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={ROOMY}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        Ok(Tmpfs {
            dir: dir.to_owned(),
            data: dir.join("data"),
        })
    }

    fn resize(&self, bytes: u64) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={bytes}")])
            .arg(&self.dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "remount: {out:?}");
    }

    /// Bytes in use on the file system.
    fn used(&self) -> u64 {
        let out = Command::new("df")
            .args(["-B1", "--output=used"])
            .arg(&self.dir)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines().nth(1).unwrap().trim().parse().unwrap()
    }

    fn switchyard(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .arg("--data-dir")
            .arg(&self.data)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    }

    fn import(&self, files: &[&str]) -> Output {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
        let paths: Vec<String> = files
            .iter()
            .map(|f| dir.join(f).display().to_string())
            .collect();
        let mut args = vec!["import"];
        args.extend(paths.iter().map(String::as_str));
        self.switchyard(&args)
    }

    /// Row counts of the history tables and the graph version, read through the cluster's
    /// own socket (started for the count, stopped after).
    async fn counts(&self) -> Vec<(String, i64)> {
        let pg = EmbeddedPostgres::new(&self.data.join("postgres")).unwrap();
        pg.start()
            .await
            .expect("the cluster starts (crash recovery)");
        let mut conn = pg
            .connect_options(DEFAULT_DATABASE)
            .connect()
            .await
            .unwrap();
        let mut counts = Vec::new();
        for table in [
            "import_runs",
            "nodes",
            "node_announcements",
            "channels",
            "channel_updates",
        ] {
            let n: i64 = sqlx::query(&format!("SELECT count(*) FROM {table}"))
                .fetch_one(&mut conn)
                .await
                .unwrap()
                .get(0);
            counts.push((table.to_owned(), n));
        }
        let version: i64 =
            sqlx::query_scalar("SELECT coalesce(max(version), 0) FROM graph_version")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        counts.push(("graph_version".to_owned(), version));
        drop(conn);
        pg.stop().await.unwrap();
        counts
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = self.switchyard(&["db", "stop"]);
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The failed import's error: the cause, the promise and what to do.
fn assert_clear_disk_full_error(out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the import succeeded: {}", text(out));
    assert!(
        stderr.contains("No space left on device"),
        "no cause: {}",
        text(out)
    );
    assert!(
        stderr.contains("hint: the disk holding the database"),
        "no hint: {}",
        text(out)
    );
    assert!(
        !stderr.contains("panicked"),
        "the binary panicked: {}",
        text(out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_the_import_clearly_stores_nothing_and_the_retry_with_space_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let fs = match Tmpfs::mount(dir.path()) {
        Ok(fs) => fs,
        Err(e) => {
            println!("skipped: cannot mount a tmpfs here (this test needs root): {e}");
            return;
        }
    };
    let small = ["channels-2019-01-18.json.xz", "nodes-2019-01-18.json.xz"];
    let big = ["channels-2026-02-03.json.xz", "nodes-2026-02-03.json.xz"];
    let out = fs.import(&small);
    assert!(out.status.success(), "first import: {}", text(&out));
    let before = fs.counts().await;
    assert!(before.iter().all(|(_, n)| *n > 0), "{before:?}");

    // Leave the cluster a little room, far less than the big snapshot needs.
    let full = fs.used() + HEADROOM;
    fs.resize(full);
    let out = fs.import(&big);
    assert_clear_disk_full_error(&out);
    println!(
        "disk full ({} MiB): {}",
        full >> 20,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    // Still full: the retry fails the same way (the cluster's state is not made worse).
    let out = fs.import(&big);
    assert_clear_disk_full_error(&out);

    // Space returns: nothing of the failed imports was stored, and the import goes through.
    fs.resize(ROOMY);
    let after_failure = fs.counts().await;
    assert_eq!(after_failure, before, "the failed imports left rows behind");
    let out = fs.import(&big);
    assert!(out.status.success(), "import with space: {}", text(&out));
    let after = fs.counts().await;
    let runs = |c: &[(String, i64)]| c[0].1;
    assert_eq!(runs(&after), runs(&before) + 2, "{after:?}");
    for ((table, n), (_, m)) in after.iter().zip(&before) {
        assert!(
            n > m,
            "{table}: {m} before, {n} after the import with space"
        );
    }
    println!("| table | before | after the failed imports | after the retry with space |");
    println!("|---|---|---|---|");
    for ((table, b), ((_, f), (_, a))) in before.iter().zip(after_failure.iter().zip(&after)) {
        println!("| {table} | {b} | {f} | {a} |");
    }
}
