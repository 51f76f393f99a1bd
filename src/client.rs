//! The operator commands (`channel`, `wallet`, `invoice`, `pay`, `earnings`, `fees`): thin
//! clients of a running node's HTTP API, authenticated with the tokens in the data directory.
//! HTTP/1.1 is hyper's (one connection per command, over TCP or, for an `https://` API,
//! tokio-rustls trusting the API's certificate); this module adds the tokens, JSON bodies and
//! the API's error messages.

use std::path::Path;

use anyhow::{bail, Context, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{header, Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::Value;

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

/// A plain or TLS connection to the API.
trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Stream for T {}

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

    /// A connection to the API: TCP, then TLS for an `https://` API.
    async fn connect(&self) -> Result<Box<dyn Stream>> {
        let tcp = tokio::net::TcpStream::connect(&self.addr)
            .await
            .with_context(|| {
                format!(
                    "connecting to the API at {} (is `switchyard up` running? see --api)",
                    self.addr
                )
            })?;
        let Some(connector) = &self.tls else {
            return Ok(Box::new(tcp));
        };
        let connector = connector.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"))?;
        let host = self.addr.rsplit_once(':').map_or(&*self.addr, |(h, _)| h);
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(
            host.trim_matches(|c| c == '[' || c == ']').to_string(),
        )
        .with_context(|| format!("{host:?} is not a TLS server name"))?;
        let tls = connector.connect(name, tcp).await.with_context(|| {
            format!(
                "TLS handshake with the API at {} (see --api-cert)",
                self.addr
            )
        })?;
        Ok(Box::new(tls))
    }

    /// Sends one request; returns the JSON body of a 2xx answer, or the API's error message.
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let token = if method == "GET" {
            &self.read_token
        } else {
            &self.admin_token
        };
        let mut req = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).context("HTTP method")?)
            .uri(path)
            .header(header::HOST, &self.addr)
            .header(header::ACCEPT, "application/json");
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let payload = match body {
            Some(b) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                b.to_string()
            }
            None => String::new(),
        };
        let req = req
            .body(Full::new(Bytes::from(payload)))
            .with_context(|| format!("{path} is not a usable API path"))?;
        let io = TokioIo::new(self.connect().await?);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .with_context(|| format!("HTTP with the API at {}", self.addr))?;
        let driver = tokio::spawn(conn);
        let resp = sender.send_request(req).await.with_context(|| {
            format!(
                "the API at {} gave no answer (an https:// API needs --api https://...)",
                self.addr
            )
        })?;
        let status = resp.status().as_u16();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .context("reading the API's answer")?
            .to_bytes();
        driver.abort();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if !(200..300).contains(&status) {
            let msg = json["error"]["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| json.to_string());
            if status == 401 && token.is_none() {
                bail!("{msg} (no api_token file in the data directory; pass --data-dir)");
            }
            bail!("{status}: {msg}");
        }
        Ok(json)
    }
}

/// The TLS connector for an `https://` API: trusts exactly the certificate in `cert`.
fn tls_connector(cert: &Path) -> Result<switchyard_api::tls::TlsConnector> {
    let config = switchyard_api::tls::client_config(cert)
        .with_context(|| format!("the API certificate to trust ({})", cert.display()))?;
    Ok(switchyard_api::tls::TlsConnector::from(config))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;
    use switchyard_api::metrics::Metrics;
    use switchyard_api::AppState;
    use switchyard_store::testing::TestDb;

    use super::*;

    /// The real API (no node) on a free port, with `token`.
    async fn serve(token: &str) -> (String, TestDb) {
        let db = TestDb::new().await;
        let mut state = AppState::new(db.store.clone(), Arc::new(Metrics::new()));
        state.auth = Arc::new(switchyard_api::auth::Auth::fixed(None, Some(token)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = switchyard_api::serve(listener, state, std::future::pending()).await;
        });
        (addr.to_string(), db)
    }

    fn data_dir(token: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        if let Some(t) = token {
            std::fs::write(dir.path().join("api_token"), format!("{t}\n")).unwrap();
        }
        dir
    }

    #[tokio::test]
    async fn calls_the_api_with_token_and_json_and_passes_its_errors_on() {
        let token = "k".repeat(64);
        let (addr, _db) = serve(&token).await;
        let dir = data_dir(Some(&token));
        let api = ApiClient::new(&format!("http://{addr}/"), dir.path(), None);

        let v = api
            .call("GET", "/v1/earnings?group_by=peer", None)
            .await
            .unwrap();
        assert_eq!(v["total_fees_earned_msat"], 0, "{v}");
        assert_eq!(v["group_by"], "peer", "{v}");
        // A JSON body behind the token: the API read it, and its message comes back.
        let e = api
            .call("POST", "/v1/peers", Some(&json!({"peer": "nope"})))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("400: invalid peer \"nope\""), "{e}");
        let e = api
            .call("GET", "/v1/earnings?group_by=moon", None)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("400: "), "{e}");

        // No token file: the hint says where the token lives; a wrong token is refused.
        let refused = async |token: Option<&str>| {
            let dir = data_dir(token);
            ApiClient::new(&addr, dir.path(), None)
                .call("POST", "/v1/peers", Some(&json!({"peer": "nope"})))
                .await
                .unwrap_err()
                .to_string()
        };
        let e = refused(None).await;
        assert!(e.contains("no api_token file in the data directory"), "{e}");
        let e = refused(Some(&"w".repeat(64))).await;
        assert!(e.starts_with("401: "), "{e}");

        // Nobody there: the error names the address and the likely cause.
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let e = format!(
            "{:#}",
            ApiClient::new(&closed.to_string(), dir.path(), None)
                .call("GET", "/v1/node", None)
                .await
                .unwrap_err()
        );
        assert!(
            e.contains(&format!("connecting to the API at {closed}")),
            "{e}"
        );
    }
}
