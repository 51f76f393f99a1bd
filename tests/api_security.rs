//! The API's security as an operator meets it, with the real binary: `up` refuses plain HTTP
//! beyond loopback, serves TLS with a generated certificate that the CLI trusts, takes the
//! right token for each call, rotates a token without a restart, and never logs a token.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use switchyard_store::testing::TestDb;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BIN: &str = env!("CARGO_BIN_EXE_switchyard");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn cli(args: &[&str]) -> Output {
    tokio::process::Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn up_refuses_plain_http_beyond_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    for listen in ["0.0.0.0:0", "[::]:0"] {
        let out = cli(&[
            "up",
            "--no-node",
            "--listen",
            listen,
            "--data-dir",
            data,
            // Never reached: the refusal comes before the database.
            "--database-url",
            "postgres://nobody@127.0.0.1:1/none",
        ])
        .await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{listen}: {stderr}");
        assert!(
            stderr.contains("refusing to serve the API over plain HTTP")
                && stderr.contains("--insecure-http")
                && stderr.contains("--tls"),
            "{listen}: {stderr}"
        );
    }
}

/// (status, body) of one HTTPS request trusting `cert`.
async fn https(
    addr: SocketAddr,
    cert: &Path,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let config = switchyard_api::tls::client_config(cert).map_err(std::io::Error::other)?;
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = switchyard_api::tls::TlsConnector::from(config)
        .connect(name, tcp)
        .await?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Length: 0\r\n\r\n"
    );
    tls.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    tls.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, text))
}

#[tokio::test]
async fn tls_end_to_end_with_the_cli_tokens_rotate_and_are_never_logged() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap().to_owned();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let log = dir.path().join("switchyard.log");
    let mut up = tokio::process::Command::new(BIN)
        .args([
            "up",
            "--no-node",
            "--no-bundle",
            "--tls",
            "--refresh-secs",
            "1",
        ])
        .args(["--listen", &addr.to_string(), "--data-dir", &data_s])
        .arg("--database-url")
        .arg(db.url())
        // As verbose as an operator debugging would run it.
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let cert = data.join(switchyard_api::tls::SELF_SIGNED_CERT);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if cert.exists() {
            if let Ok((200, _)) = https(addr, &cert, "GET", "/healthz", None).await {
                break;
            }
        }
        if let Ok(Some(status)) = up.try_wait() {
            panic!(
                "up exited ({status}):\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "up not serving TLS in 2 minutes");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Token files: created on first start, private.
    let token = |f: &str| {
        std::fs::read_to_string(data.join(f))
            .unwrap()
            .trim()
            .to_owned()
    };
    for f in ["api_token", "api_read_token"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
    let (read, admin) = (token("api_read_token"), token("api_token"));

    // The CLI speaks TLS to it, trusting the generated certificate, with the read token for a
    // read: the refusal is the node's absence (503), not the token or the handshake.
    let api = format!("https://{addr}");
    let out = cli(&["wallet", "balance", "--api", &api, "--data-dir", &data_s]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && stderr.contains("503")
            && stderr.contains("without the Lightning node"),
        "{stderr}"
    );
    // Plain HTTP to the TLS port gets no answer the CLI could take for one.
    let out = cli(&[
        "wallet",
        "balance",
        "--api",
        &addr.to_string(),
        "--data-dir",
        &data_s,
    ])
    .await;
    assert!(!out.status.success());
    // Another certificate is not trusted.
    let other = tempfile::tempdir().unwrap();
    let (other_cert, _, _) = switchyard_api::tls::self_signed(other.path(), &[]).unwrap();
    assert!(https(addr, &other_cert, "GET", "/healthz", None)
        .await
        .is_err());
    let out = cli(&[
        "wallet",
        "balance",
        "--api",
        &api,
        "--data-dir",
        &data_s,
        "--api-cert",
        other_cert.to_str().unwrap(),
    ])
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("TLS handshake"),
        "{stderr}"
    );

    // Tokens by class over TLS.
    let status = |r: std::io::Result<(u16, String)>| r.unwrap().0;
    assert_eq!(
        status(https(addr, &cert, "GET", "/v1/wallet", None).await),
        401
    );
    assert_eq!(
        status(https(addr, &cert, "GET", "/v1/wallet", Some(&read)).await),
        503
    );
    let send = "/v1/wallet/address";
    assert_eq!(
        status(https(addr, &cert, "POST", send, Some(&read)).await),
        403
    );
    assert_eq!(
        status(https(addr, &cert, "POST", send, Some(&admin)).await),
        503
    );

    // Rotation takes effect on the running server.
    let out = cli(&["token", "rotate", "--admin", "--data-dir", &data_s]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new_admin = token("api_token");
    assert_ne!(new_admin, admin);
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&new_admin));
    assert_eq!(
        status(https(addr, &cert, "POST", send, Some(&admin)).await),
        401
    );
    assert_eq!(
        status(https(addr, &cert, "POST", send, Some(&new_admin)).await),
        503
    );
    assert_eq!(
        status(https(addr, &cert, "GET", "/v1/wallet", Some(&read)).await),
        503
    );

    up.start_kill().unwrap();
    let _ = up.wait().await;
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("API served over TLS") && logged.contains("sha256"),
        "{logged}"
    );
    for (name, t) in [
        ("read", &read),
        ("old admin", &admin),
        ("new admin", &new_admin),
    ] {
        assert!(
            !logged.contains(t.as_str()),
            "the {name} token is in the log"
        );
    }
}
