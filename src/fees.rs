//! `switchyard fees plan | simulate | apply | history`: clients of the `/v1/fees/*` endpoints,
//! printed as tables (or the API's JSON with `--json`). `plan --file` and `simulate --file`
//! run the same computation offline on snapshot files (no server): half of each channel's
//! capacity on each side and the default rules, as the API does for a node not its own.

use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use switchyard_fees::demand::{AmountDistribution, RandomDemand};
use switchyard_fees::rules::Strategy;
use switchyard_fees::{Balances, DemandSpec, PlanRequest, PolicyOverride, Rules, SimulateRequest};
use switchyard_graph::NodeId;

use crate::cli::{ApiArgs, FeesAction};
use crate::client::ApiClient;

fn print_json(v: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}

/// `a/b` for a fee: base msat / ppm.
fn fee(v: &Value) -> String {
    format!("{}/{}", v["base_fee_msat"], v["fee_ppm"])
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or("-")
}

/// The per-channel table of a plan or a controller run (`outcome` only for runs).
fn channel_table(v: &Value) {
    let runs = v["channels"]
        .as_array()
        .is_some_and(|c| c.iter().any(|r| r.get("outcome").is_some()));
    println!(
        "{:<16} {:<12} {:<13} {:>18} {:>18} {:>14}  {}reason",
        "scid",
        "rule",
        "strategy",
        "current base/ppm",
        "proposed base/ppm",
        "expected_msat",
        if runs { "outcome       " } else { "" },
    );
    for c in v["channels"].as_array().into_iter().flatten() {
        let outcome = if runs {
            format!("{:<14}", str_of(&c["outcome"]))
        } else {
            String::new()
        };
        println!(
            "{:<16} {:<12} {:<13} {:>18} {:>18} {:>14}  {outcome}{}",
            str_of(&c["scid"]),
            str_of(&c["rule"]),
            str_of(&c["strategy"]),
            fee(&c["current"]),
            fee(&c["proposed"]),
            c["expected_revenue_msat"].to_string(),
            str_of(&c["reason"]),
        );
    }
    println!(
        "revenue over the simulated demand: {} msat now, {} msat planned",
        v["current_revenue_msat"], v["expected_revenue_msat"]
    );
}

fn simulation_table(v: &Value) {
    println!(
        "payments {}  succeeded {}  changed routes {}  node forwarded {}  volume {} msat  revenue {} msat",
        v["payments"],
        v["succeeded"],
        v["changed_routes"],
        v["node"]["forwarded"],
        v["node"]["volume_msat"],
        v["node"]["revenue_msat"]
    );
    println!(
        "{:<16} {:<4} {:<66} {:>9} {:>16} {:>14}",
        "scid", "dir", "peer", "payments", "volume_msat", "revenue_msat"
    );
    for c in v["channels"].as_array().into_iter().flatten() {
        let out = c["direction"] == "out";
        println!(
            "{:<16} {:<4} {:<66} {:>9} {:>16} {:>14}",
            str_of(&c["scid"]),
            str_of(&c["direction"]),
            str_of(if out { &c["to"] } else { &c["from"] }),
            c["payments"].to_string(),
            c["volume_msat"].to_string(),
            c["revenue_msat"].to_string(),
        );
    }
}

fn history_table(v: &Value) {
    println!(
        "{:<24} {:<16} {:>18} {:>18} {:<13} {:<7}  reason",
        "at (UTC ms)", "scid", "old base/ppm", "new base/ppm", "strategy", "applied"
    );
    for c in v["changes"].as_array().into_iter().flatten() {
        println!(
            "{:<24} {:<16} {:>18} {:>18} {:<13} {:<7}  {}",
            c["at_ms"].to_string(),
            str_of(&c["scid"]),
            format!("{}/{}", c["old_base_fee_msat"], c["old_fee_ppm"]),
            format!("{}/{}", c["new_base_fee_msat"], c["new_fee_ppm"]),
            str_of(&c["strategy"]),
            c["applied"].to_string(),
            str_of(&c["reason"]),
        );
    }
}

/// `SCID:BASE:PPM` into its three parts.
fn split_override(s: &str) -> Result<(&str, u32, u32)> {
    let parts: Vec<&str> = s.split(':').collect();
    let [scid, base, ppm] = parts[..] else {
        bail!("--override {s:?}: expected SCID:BASE_FEE_MSAT:FEE_PPM");
    };
    let base: u32 = base
        .parse()
        .with_context(|| format!("--override {s:?}: base fee"))?;
    let ppm: u32 = ppm
        .parse()
        .with_context(|| format!("--override {s:?}: ppm"))?;
    Ok((scid, base, ppm))
}

/// `SCID:BASE:PPM` into an override of the direction leaving `node`.
fn parse_override(s: &str, node: &str) -> Result<Value> {
    let (scid, base, ppm) = split_override(s)?;
    Ok(json!({"scid": scid, "from": node, "base_fee_msat": base, "fee_ppm": ppm}))
}

/// Payments a plan simulates when not told (the API's default too).
const DEFAULT_PLAN_PAYMENTS: usize = 2_000;

fn parse_node(s: &str) -> Result<NodeId> {
    s.parse()
        .map_err(|e| anyhow!("--node {s:?}: not a node id: {e}"))
}

/// What an action prints: the answer, whether as JSON, and its table.
type Answer = (Value, bool, fn(&Value));

/// `plan --file` / `simulate --file`: the answer computed offline; any other action back.
async fn offline(action: FeesAction) -> Result<std::result::Result<Answer, FeesAction>> {
    match action {
        FeesAction::Plan {
            node,
            files,
            strategy,
            payments,
            seed,
            json,
        } if !files.is_empty() => {
            let node = parse_node(node.as_deref().context("plan --file needs --node")?)?;
            let forced = match strategy {
                Some(s) => Some(Strategy::named(&s).with_context(|| {
                    format!(
                        "--strategy {s:?}: expected proportional, competitive, cost_floor or flow"
                    )
                })?),
                None => None,
            };
            let req = PlanRequest {
                node,
                rules: Rules::default(),
                strategy: forced,
                channels: Vec::new(),
                balances: Balances::HalfCapacity,
                demand: DemandSpec::Random(RandomDemand::new(
                    payments.unwrap_or(DEFAULT_PLAN_PAYMENTS),
                    seed.unwrap_or(0),
                )),
            };
            let g = crate::analyze::read_graph_files(files).await?;
            let plan = tokio::task::spawn_blocking(move || switchyard_fees::plan(&g, &req))
                .await
                .context("planning thread")?
                .context("planning")?;
            Ok(Ok((serde_json::to_value(plan)?, json, channel_table)))
        }
        FeesAction::Simulate {
            node,
            files,
            overrides,
            payments,
            seed,
            min_sat,
            max_sat,
            json,
        } if !files.is_empty() => {
            let node = parse_node(&node)?;
            let overrides = overrides
                .iter()
                .map(|o| {
                    let (scid, base_fee_msat, fee_ppm) = split_override(o)?;
                    let scid = scid
                        .parse()
                        .map_err(|e| anyhow!("--override {o:?}: not a channel id: {e}"))?;
                    Ok(PolicyOverride {
                        scid,
                        from: node,
                        base_fee_msat,
                        fee_ppm,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let demand = RandomDemand {
                amounts: AmountDistribution::LogUniform { min_sat, max_sat },
                ..RandomDemand::new(payments, seed)
            };
            let req = SimulateRequest {
                node,
                overrides,
                demand: DemandSpec::Random(demand),
                return_routes: false,
            };
            let g = crate::analyze::read_graph_files(files).await?;
            let r = tokio::task::spawn_blocking(move || {
                switchyard_fees::simulate(&g, &req, &Balances::HalfCapacity)
            })
            .await
            .context("simulation thread")?
            .context("simulating")?;
            Ok(Ok((serde_json::to_value(r)?, json, simulation_table)))
        }
        other => Ok(Err(other)),
    }
}

fn query(pairs: &[(&str, Option<String>)]) -> String {
    let q: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect();
    q.join("&")
}

/// Runs one `fees` action against the API (or offline, see the module documentation).
pub async fn fees(api: &ApiArgs, action: FeesAction) -> Result<ExitCode> {
    let action = match offline(action).await? {
        Ok((v, json, table)) => return Ok(print(&v, json, table)),
        Err(action) => action,
    };
    let c = ApiClient::new(&api.api, &api.data_dir, api.api_cert.as_deref());
    let (v, json, table): Answer = match action {
        FeesAction::Plan {
            node,
            strategy,
            payments,
            seed,
            json,
            ..
        } => {
            let node = match node {
                Some(n) => n,
                None => c.call("GET", "/v1/node", None).await?["node_id"]
                    .as_str()
                    .context("the API runs no Lightning node: pass --node")?
                    .to_string(),
            };
            let q = query(&[
                ("node", Some(node)),
                ("strategy", strategy),
                ("payments", payments.map(|p| p.to_string())),
                ("seed", seed.map(|s| s.to_string())),
            ]);
            let v = c.call("GET", &format!("/v1/fees/plan?{q}"), None).await?;
            (v, json, channel_table)
        }
        FeesAction::Simulate {
            node,
            overrides,
            payments,
            seed,
            min_sat,
            max_sat,
            json,
            ..
        } => {
            let overrides = overrides
                .iter()
                .map(|o| parse_override(o, &node))
                .collect::<Result<Vec<_>>>()?;
            let body = json!({
                "node": node,
                "overrides": overrides,
                "demand": {"payments": payments, "seed": seed,
                           "amount_sat": {"min": min_sat, "max": max_sat}},
            });
            let v = c.call("POST", "/v1/fees/simulate", Some(&body)).await?;
            (v, json, simulation_table)
        }
        FeesAction::Apply {
            strategy,
            channels,
            dry_run,
            json,
        } => {
            let mut body = json!({"dry_run": dry_run});
            if let Some(s) = strategy {
                body["strategy"] = json!(s);
            }
            if !channels.is_empty() {
                body["channels"] = json!(channels);
            }
            let v = c.call("POST", "/v1/fees/apply", Some(&body)).await?;
            (v, json, channel_table)
        }
        FeesAction::History {
            scid,
            since,
            limit,
            json,
        } => {
            let q = query(&[
                ("scid", scid),
                ("since", since.map(|s| s.to_string())),
                ("limit", Some(limit.to_string())),
            ]);
            let v = c
                .call("GET", &format!("/v1/fees/history?{q}"), None)
                .await?;
            (v, json, history_table)
        }
    };
    Ok(print(&v, json, table))
}

fn print(v: &Value, json: bool, table: fn(&Value)) -> ExitCode {
    if json {
        print_json(v);
    } else {
        table(v);
    }
    ExitCode::SUCCESS
}
