//! A one-line progress bar on stderr, drawn only when stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use switchyard_store::import::Progress;

pub fn bar() -> Arc<dyn Fn(&Progress) + Send + Sync> {
    if !std::io::stderr().is_terminal() {
        return Arc::new(|_| {});
    }
    Arc::new(|p: &Progress| {
        const WIDTH: usize = 30;
        let frac = if p.bytes_total == 0 {
            1.0
        } else {
            p.bytes_done as f64 / p.bytes_total as f64
        };
        let filled = ((frac * WIDTH as f64) as usize).min(WIDTH);
        let name = p.file.rsplit('/').next().unwrap_or(&p.file);
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r{name} [{}{}] {:>3.0}% {} records",
            "#".repeat(filled),
            " ".repeat(WIDTH - filled),
            frac * 100.0,
            p.records
        );
        if p.bytes_done >= p.bytes_total {
            let _ = writeln!(err);
        }
        let _ = err.flush();
    })
}
