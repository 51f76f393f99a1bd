//! The `switchyard` binary: command-line parsing, configuration, logging and wiring. The work
//! itself lives in the `services/` crates.

mod analyze;
mod cli;
mod client;
mod fees;
mod gossip;
mod history;
mod node;
mod operator;
mod progress;
mod run;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    run::init_tracing(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run::run(cli)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            if let Some(hint) = hint(&err) {
                eprintln!("hint: {hint}");
            }
            ExitCode::FAILURE
        }
    }
}

/// What to do about an error whose cause the operator can fix, said once at the end.
fn hint(err: &anyhow::Error) -> Option<&'static str> {
    let disk_full = err.chain().any(|e| {
        e.downcast_ref::<switchyard_store::Error>()
            .is_some_and(switchyard_store::Error::is_disk_full)
            || e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::StorageFull)
            || e.to_string().contains("No space left on device")
    });
    disk_full.then_some(
        "the disk holding the database (or the data directory) is full. Free space or grow \
         the volume, then run the command again: the database rolled back what failed, so \
         nothing is half-written",
    )
}
