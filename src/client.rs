//! The operator commands (`channel`, `wallet`, `invoice`, `pay`, `earnings`): thin clients of a
//! running node's HTTP API, authenticated with the token in the data directory. HTTP/1.1 is
//! hyper's (through `hyper-util`'s client, already in the tree with axum); this module adds the
//! token, JSON bodies and the API's error messages.

use std::path::Path;

use anyhow::{bail, Context, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{header, Method, Request};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// Where the API is and how to authenticate.
pub struct ApiClient {
    addr: String,
    token: Option<String>,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl ApiClient {
    pub fn new(api: &str, data_dir: &Path) -> ApiClient {
        let addr = api
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let token = std::fs::read_to_string(data_dir.join("api_token"))
            .ok()
            .map(|t| t.trim().to_string());
        let http = Client::builder(TokioExecutor::new()).build_http();
        ApiClient { addr, token, http }
    }

    /// Sends one request; returns the JSON body of a 2xx answer, or the API's error message.
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let uri = format!("http://{}{path}", self.addr);
        let mut req = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).context("HTTP method")?)
            .uri(&uri)
            .header(header::ACCEPT, "application/json");
        if let Some(t) = &self.token {
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
            .with_context(|| format!("{uri} is not a usable API address (see --api)"))?;
        let resp = self.http.request(req).await.with_context(|| {
            format!(
                "connecting to the API at {} (is `switchyard up` running? see --api)",
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
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if !(200..300).contains(&status) {
            let msg = json["error"]["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| json.to_string());
            if status == 401 && self.token.is_none() {
                bail!("{msg} (no api_token file in the data directory; pass --data-dir)");
            }
            bail!("{status}: {msg}");
        }
        Ok(json)
    }
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
        state.api_token = Some(token.into());
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
        let api = ApiClient::new(&format!("http://{addr}/"), dir.path());

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
            ApiClient::new(&addr, dir.path())
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
            ApiClient::new(&closed.to_string(), dir.path())
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
