//! `switchyard gossip verify`: re-checks the gossip the node stored from its peers (see
//! `switchyard_node::raw_gossip`).

use std::process::ExitCode;

use anyhow::{Context, Result};
use switchyard_node::raw_gossip::{self, KindReport, VerifyReport};

use crate::cli::{GossipAction, GossipArgs};
use crate::run::Database;

/// Rows read per query.
const PAGE: i64 = 5_000;

pub async fn gossip(args: GossipArgs) -> Result<ExitCode> {
    match args.action {
        GossipAction::Verify { json } => {
            let db = Database::open(&args.db).await?;
            let report = raw_gossip::verify_store(&db.store, PAGE).await;
            db.close().await;
            let report = report.context("reading the stored gossip")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", table(&report));
            }
            Ok(if report.all_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

fn table(r: &VerifyReport) -> String {
    let mut out = format!(
        "{:<22} {:>9} {:>9} {:>11} {:>13} {:>10} {:>12}\n",
        "message", "rows", "ok", "undecodable", "bad_signature", "mismatched", "unverifiable"
    );
    let rows: [(&str, &KindReport); 3] = [
        ("channel_announcement", &r.channel_announcements),
        ("channel_update", &r.channel_updates),
        ("node_announcement", &r.node_announcements),
    ];
    for (name, k) in rows {
        out.push_str(&format!(
            "{name:<22} {:>9} {:>9} {:>11} {:>13} {:>10} {:>12}\n",
            k.rows, k.ok, k.undecodable, k.bad_signature, k.mismatched, k.unverifiable
        ));
    }
    for p in &r.problems {
        out.push_str(&format!("{} {}: {}\n", p.kind, p.row, p.problem));
    }
    out
}
