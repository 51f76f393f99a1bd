//! Process metrics read from `/proc/self` on each scrape (Linux; elsewhere none are exported).
//! Named `switchyard_process_*` like the `process_*` metrics of the Prometheus client libraries.

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{Counter, Gauge, IntGauge};

use super::{MetricKind, Typed};

/// Clock ticks per second of the times in `/proc/<pid>/stat` (`USER_HZ`, fixed at 100 in the
/// kernel's ABI for every architecture Rust supports on Linux).
const USER_HZ: f64 = 100.0;

/// CPU time, memory, file descriptors, threads and start time of this process.
#[derive(Clone)]
pub struct ProcessCollector {
    cpu: Counter,
    rss: IntGauge,
    vsize: IntGauge,
    open_fds: IntGauge,
    max_fds: IntGauge,
    threads: IntGauge,
    start_time: Gauge,
    descs: Vec<Desc>,
    /// Serializes the read-modify-write of the CPU counter between concurrent scrapes.
    cpu_update: std::sync::Arc<std::sync::Mutex<()>>,
}

fn must<T>(r: prometheus::Result<T>) -> T {
    r.expect("static metric definition")
}

impl ProcessCollector {
    /// A collector of this process's metrics, read from `/proc/self` on each scrape.
    pub fn new() -> ProcessCollector {
        let cpu = must(Counter::new(
            "switchyard_process_cpu_seconds_total",
            "CPU time (user and system) this process used, in seconds",
        ));
        let gauge = |name: &str, help: &str| must(IntGauge::new(name, help));
        let rss = gauge(
            "switchyard_process_resident_memory_bytes",
            "Resident memory of this process, in bytes",
        );
        let vsize = gauge(
            "switchyard_process_virtual_memory_bytes",
            "Virtual memory of this process, in bytes",
        );
        let open_fds = gauge(
            "switchyard_process_open_fds",
            "Open file descriptors of this process",
        );
        let max_fds = gauge(
            "switchyard_process_max_fds",
            "Soft limit on open file descriptors of this process",
        );
        let threads = gauge("switchyard_process_threads", "Threads of this process");
        let start_time = must(Gauge::new(
            "switchyard_process_start_time_seconds",
            "Start time of this process (Unix seconds)",
        ));
        let descs = [
            cpu.desc(),
            rss.desc(),
            vsize.desc(),
            open_fds.desc(),
            max_fds.desc(),
            threads.desc(),
            start_time.desc(),
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
        let c = ProcessCollector {
            cpu,
            rss,
            vsize,
            open_fds,
            max_fds,
            threads,
            start_time,
            descs,
            cpu_update: Default::default(),
        };
        if let Some(t) = read_start_time() {
            c.start_time.set(t);
        }
        c
    }
}

impl Default for ProcessCollector {
    fn default() -> Self {
        Self::new()
    }
}

impl Typed for ProcessCollector {
    fn kinds(&self) -> Vec<MetricKind> {
        let mut kinds = vec![MetricKind::Counter];
        kinds.resize(self.descs.len(), MetricKind::Gauge);
        kinds
    }
}

impl Collector for ProcessCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let Some(stat) = Stat::read() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let cpu = (stat.utime + stat.stime) as f64 / USER_HZ;
        if let Ok(_guard) = self.cpu_update.lock() {
            let delta = cpu - self.cpu.get();
            if delta > 0.0 {
                self.cpu.inc_by(delta);
            }
        }
        out.extend(self.cpu.collect());
        if let Some(kb) = status_kb("VmRSS:") {
            self.rss.set(kb.saturating_mul(1024) as i64);
            out.extend(self.rss.collect());
        }
        self.vsize.set(stat.vsize as i64);
        out.extend(self.vsize.collect());
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            self.open_fds.set(dir.count() as i64);
            out.extend(self.open_fds.collect());
        }
        if let Some(max) = max_open_files() {
            self.max_fds.set(max as i64);
            out.extend(self.max_fds.collect());
        }
        self.threads.set(stat.threads as i64);
        out.extend(self.threads.collect());
        if self.start_time.get() > 0.0 {
            out.extend(self.start_time.collect());
        }
        out
    }
}

/// The fields of `/proc/self/stat` we export.
struct Stat {
    utime: u64,
    stime: u64,
    threads: u64,
    starttime: u64,
    vsize: u64,
}

impl Stat {
    fn read() -> Option<Stat> {
        Stat::parse(&std::fs::read_to_string("/proc/self/stat").ok()?)
    }

    /// proc(5): fields after the command name (which may hold spaces and parentheses) start
    /// at field 3 (`state`); utime is field 14, stime 15, num_threads 20, starttime 22, vsize 23.
    fn parse(text: &str) -> Option<Stat> {
        let rest = &text[text.rfind(')')? + 1..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| f.get(n - 3)?.parse::<u64>().ok();
        Some(Stat {
            utime: field(14)?,
            stime: field(15)?,
            threads: field(20)?,
            starttime: field(22)?,
            vsize: field(23)?,
        })
    }
}

/// A `kB` line of `/proc/self/status`, e.g. `VmRSS:   12345 kB`.
fn status_kb(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

/// The soft limit of `Max open files` in `/proc/self/limits`.
fn max_open_files() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Boot time (`btime` in `/proc/stat`) plus the process's start in ticks after boot.
fn read_start_time() -> Option<f64> {
    let stat = Stat::read()?;
    let boot = std::fs::read_to_string("/proc/stat").ok()?;
    let btime: u64 = boot
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(btime as f64 + stat.starttime as f64 / USER_HZ)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_a_hostile_command_name() {
        let line = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 2000 0 0 0 150 25 0 0 20 0 7 0 123456 987654321 3000 18446744073709551615";
        let s = Stat::parse(line).unwrap();
        assert_eq!(
            (s.utime, s.stime, s.threads, s.starttime, s.vsize),
            (150, 25, 7, 123456, 987654321)
        );
        assert!(Stat::parse("4242 (x) S 1").is_none());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn exports_this_process() {
        let c = ProcessCollector::new();
        let families = c.collect();
        let names: Vec<&str> = families.iter().map(|f| f.name()).collect();
        assert_eq!(names.len(), c.desc().len(), "{names:?}");
        let get = |n: &str| {
            families
                .iter()
                .find(|f| f.name() == n)
                .map(|f| &f.get_metric()[0])
                .unwrap()
        };
        assert!(
            get("switchyard_process_resident_memory_bytes")
                .get_gauge()
                .get_value()
                > 1e6
        );
        assert!(get("switchyard_process_open_fds").get_gauge().get_value() >= 3.0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let start = get("switchyard_process_start_time_seconds")
            .get_gauge()
            .get_value();
        assert!(
            start <= now + 1.0 && start > now - 86_400.0,
            "{start} vs {now}"
        );
    }
}
