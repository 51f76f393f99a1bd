//! The operator commands: each one call (or a few) to the running node's API, printed for a
//! human.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Result};
use serde_json::{json, Value};

use crate::cli::{ApiArgs, ChannelAction, WalletAction};
use crate::client::ApiClient;

fn client(api: &ApiArgs) -> ApiClient {
    ApiClient::new(&api.api, &api.data_dir, api.api_cert.as_deref())
}

fn print(v: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}

pub async fn channel(api: &ApiArgs, action: ChannelAction) -> Result<ExitCode> {
    let c = client(api);
    match action {
        ChannelAction::List { json } => {
            let v = c.call("GET", "/v1/channels/own", None).await?;
            if json {
                print(&v);
            } else {
                println!(
                    "{:<16} {:<66} {:>12} {:>14} {:>14} {:>6} {:>8}  state",
                    "scid", "peer", "capacity_sat", "local_msat", "remote_msat", "htlcs", "fee_ppm"
                );
                for ch in v["channels"].as_array().into_iter().flatten() {
                    println!(
                        "{:<16} {:<66} {:>12} {:>14} {:>14} {:>6} {:>8}  {}",
                        ch["short_channel_id"].as_str().unwrap_or("-"),
                        ch["counterparty"].as_str().unwrap_or("?"),
                        ch["capacity_sat"],
                        ch["local_balance_msat"],
                        ch["remote_balance_msat"],
                        ch["pending_htlcs_in"].as_u64().unwrap_or(0)
                            + ch["pending_htlcs_out"].as_u64().unwrap_or(0),
                        ch["policy"]["fee_ppm"],
                        ch["state"].as_str().unwrap_or("?"),
                    );
                }
            }
        }
        ChannelAction::Open {
            peer,
            amount_sat,
            push_msat,
            private,
        } => {
            let body = json!({"peer": peer, "amount_sat": amount_sat, "push_msat": push_msat, "announce": !private});
            print(&c.call("POST", "/v1/channels/own", Some(&body)).await?);
        }
        ChannelAction::Close { channel, force } => {
            let path = format!("/v1/channels/own/{channel}/close");
            print(
                &c.call("POST", &path, Some(&json!({"force": force})))
                    .await?,
            );
        }
        ChannelAction::Policy {
            channel,
            base_fee_msat,
            fee_ppm,
            cltv_expiry_delta,
            htlc_minimum_msat,
        } => {
            let mut body = json!({});
            let fields = [
                ("channel", channel.map(Value::from)),
                ("base_fee_msat", base_fee_msat.map(Value::from)),
                ("fee_ppm", fee_ppm.map(Value::from)),
                ("cltv_expiry_delta", cltv_expiry_delta.map(Value::from)),
                ("htlc_minimum_msat", htlc_minimum_msat.map(Value::from)),
            ];
            for (k, v) in fields {
                if let Some(v) = v {
                    body[k] = v;
                }
            }
            print(
                &c.call("POST", "/v1/channels/own/policy", Some(&body))
                    .await?,
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn wallet(api: &ApiArgs, action: WalletAction) -> Result<ExitCode> {
    let c = client(api);
    let v = match action {
        WalletAction::Balance => c.call("GET", "/v1/wallet", None).await?,
        WalletAction::Address => c.call("POST", "/v1/wallet/address", None).await?,
        WalletAction::Send {
            address,
            amount_sat,
        } => {
            let body = json!({"address": address, "amount_sat": amount_sat});
            c.call("POST", "/v1/wallet/send", Some(&body)).await?
        }
    };
    print(&v);
    Ok(ExitCode::SUCCESS)
}

pub async fn invoice(
    api: &ApiArgs,
    amount_msat: Option<u64>,
    description: &str,
    expiry_secs: u32,
) -> Result<ExitCode> {
    let body =
        json!({"amount_msat": amount_msat, "description": description, "expiry_secs": expiry_secs});
    print(
        &client(api)
            .call("POST", "/v1/invoices", Some(&body))
            .await?,
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn pay(
    api: &ApiArgs,
    invoice: Option<String>,
    destination: Option<String>,
    amount_msat: Option<u64>,
    max_fee_msat: Option<u64>,
) -> Result<ExitCode> {
    let c = client(api);
    let body = match (invoice, destination) {
        (Some(i), None) => {
            json!({"invoice": i, "amount_msat": amount_msat, "max_fee_msat": max_fee_msat})
        }
        (None, Some(d)) => {
            json!({"destination": d, "amount_msat": amount_msat, "max_fee_msat": max_fee_msat})
        }
        _ => bail!("give an invoice or --destination (keysend), not both"),
    };
    let started = c.call("POST", "/v1/payments", Some(&body)).await?;
    let id = started["payment_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    eprintln!("payment {id} sent; waiting for the outcome");
    for _ in 0..120 {
        let p = c.call("GET", &format!("/v1/payments/{id}"), None).await;
        if let Ok(p) = p {
            match p["status"].as_str() {
                Some("succeeded") => {
                    print(&p);
                    return Ok(ExitCode::SUCCESS);
                }
                Some("failed") => {
                    print(&p);
                    return Ok(ExitCode::FAILURE);
                }
                _ => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bail!("payment {id} still pending after 60 s; see GET /v1/payments/{id}")
}

pub async fn earnings(
    api: &ApiArgs,
    group_by: &str,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<ExitCode> {
    let mut path = format!("/v1/earnings?group_by={group_by}");
    if let Some(f) = from {
        path.push_str(&format!("&from={f}"));
    }
    if let Some(t) = to {
        path.push_str(&format!("&to={t}"));
    }
    print(&client(api).call("GET", &path, None).await?);
    Ok(ExitCode::SUCCESS)
}

/// `GET /readyz`: succeeds when the API answers 2xx.
pub async fn ready(api: &ApiArgs) -> Result<ExitCode> {
    let v = client(api).call("GET", "/readyz", None).await?;
    println!("{v}");
    Ok(ExitCode::SUCCESS)
}
