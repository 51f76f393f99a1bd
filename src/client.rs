//! The operator commands (`channel`, `wallet`, `invoice`, `pay`, `earnings`): thin clients of a
//! running node's HTTP API, authenticated with the token in the data directory. A dozen lines
//! of HTTP/1.1 over a local socket is all they need, so no HTTP client crate.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Where the API is and how to authenticate: reads (`GET`) send the read token, changes the
/// admin token (least privilege; the admin token also serves reads when no read token file
/// is there).
pub struct ApiClient {
    addr: String,
    /// For `https://` APIs: the TLS connector trusting the API's certificate.
    tls: Option<Result<switchyard_api::tls::TlsConnector>>,
    read_token: Option<String>,
    admin_token: Option<String>,
}

/// The token in `data_dir/file`, if readable.
fn token_file(data_dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(data_dir.join(file))
        .ok()
        .map(|t| t.trim().to_string())
}

impl ApiClient {
    pub fn new(api: &str, data_dir: &Path, cert: Option<&Path>) -> ApiClient {
        let tls = api.starts_with("https://").then(|| {
            let default = data_dir.join(switchyard_api::tls::SELF_SIGNED_CERT);
            tls_connector(cert.unwrap_or(&default))
        });
        let addr = api
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .to_string();
        let admin_token = token_file(data_dir, "api_token");
        let read_token = token_file(data_dir, "api_read_token").or_else(|| admin_token.clone());
        ApiClient {
            addr,
            tls,
            read_token,
            admin_token,
        }
    }

    /// Sends one request; returns the JSON body of a 2xx answer, or the API's error message.
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let tcp = tokio::net::TcpStream::connect(&self.addr)
            .await
            .with_context(|| {
                format!(
                    "connecting to the API at {} (is `switchyard up` running? see --api)",
                    self.addr
                )
            })?;
        let mut stream: Box<dyn Stream> = match &self.tls {
            None => Box::new(tcp),
            Some(connector) => {
                let connector = connector.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"))?;
                let host = self.addr.rsplit_once(':').map_or(&*self.addr, |(h, _)| h);
                let name = tokio_rustls::rustls::pki_types::ServerName::try_from(
                    host.trim_matches(|c| c == '[' || c == ']').to_string(),
                )
                .with_context(|| format!("{host:?} is not a TLS server name"))?;
                Box::new(connector.connect(name, tcp).await.with_context(|| {
                    format!(
                        "TLS handshake with the API at {} (see --api-cert)",
                        self.addr
                    )
                })?)
            }
        };
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept: application/json\r\n",
            self.addr
        );
        let token = if method == "GET" {
            &self.read_token
        } else {
            &self.admin_token
        };
        if let Some(t) = token {
            req.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        if body.is_some() {
            req.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                payload.len()
            ));
        }
        req.push_str("\r\n");
        req.push_str(&payload);
        stream.write_all(req.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        let text = String::from_utf8_lossy(&raw);
        if text.is_empty() {
            bail!("the API at {} closed the connection without an answer (an https:// API needs --api https://...)", self.addr);
        }
        let (head, body) = text
            .split_once("\r\n\r\n")
            .context("the API sent a malformed response")?;
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("the API sent no status")?;
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_string()
        };
        let json: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
        if !(200..300).contains(&status) {
            let msg = json["error"]["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| json.to_string());
            if status == 401 && token.is_none() {
                bail!("{msg} (no token file in the data directory; pass --data-dir)");
            }
            bail!("{status}: {msg}");
        }
        Ok(json)
    }
}

/// A plain or TLS connection to the API.
trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Stream for T {}

/// The TLS connector for an `https://` API: trusts exactly the certificate in `cert`.
fn tls_connector(cert: &Path) -> Result<switchyard_api::tls::TlsConnector> {
    let config = switchyard_api::tls::client_config(cert)
        .with_context(|| format!("the API certificate to trust ({})", cert.display()))?;
    Ok(switchyard_api::tls::TlsConnector::from(config))
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}
