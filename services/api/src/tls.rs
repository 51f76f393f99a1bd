//! TLS for the API (rustls with the `ring` provider): the server's configuration from PEM
//! files, a self-signed certificate generated once and kept in the data directory, the
//! serving loop over TLS, and the client configuration that trusts exactly one certificate
//! (the operator CLI's).
//!
//! Must not read or print private keys anywhere but the key file.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use sha2::{Digest, Sha256};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, RootCertStore};

pub use tokio_rustls::rustls::{ClientConfig, ServerConfig};
pub use tokio_rustls::{TlsAcceptor, TlsConnector};

/// The generated certificate's file in the data directory.
pub const SELF_SIGNED_CERT: &str = "tls/cert.pem";
/// The generated key's file in the data directory (mode 0600).
pub const SELF_SIGNED_KEY: &str = "tls/key.pem";
/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What can go wrong preparing TLS.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not the PEM it should be.
    #[error("{path}: not a PEM {what}: {message}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What it should hold.
        what: &'static str,
        /// What the parser said.
        message: String,
    },
    /// rustls refused the certificate, key or configuration.
    #[error("{0}")]
    Rustls(#[from] rustls::Error),
    /// rcgen could not make the certificate.
    #[error("generating the self-signed certificate: {0}")]
    Generate(String),
}

/// The `ring` provider: deprecated in rustls 0.23.48 for lacking post-quantum key exchange,
/// but the alternative (aws-lc) needs cmake to build; classic ECDHE is what every client here
/// offers anyway.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = |message: String| TlsError::Pem {
        path: path.to_owned(),
        what: "certificate",
        message,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem(e.to_string()))?;
    if certs.is_empty() {
        return Err(pem("no CERTIFICATE block".into()));
    }
    Ok(certs)
}

/// The server configuration for the certificate chain and private key in these PEM files.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = certs(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Pem {
        path: key.to_owned(),
        what: "private key",
        message: e.to_string(),
    })?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A client configuration trusting exactly the certificate(s) in `cert` (the server's own,
/// self-signed or not, or the CA that issued it).
pub fn client_config(cert: &Path) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    for c in certs(cert)? {
        roots.add(c)?;
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// SHA-256 of the first certificate in `cert` (DER), as colon-separated hex.
pub fn fingerprint(cert: &Path) -> Result<String, TlsError> {
    let der = certs(cert)?.remove(0);
    let digest = Sha256::digest(der.as_ref());
    Ok(digest
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":"))
}

fn write_private(path: &Path, contents: &str, mode: u32) -> Result<(), TlsError> {
    let io = |source| TlsError::Io {
        path: path.to_owned(),
        source,
    };
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io)?;
    f.write_all(contents.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(io)
}

/// The self-signed certificate and key in `data_dir` (created on first use, valid for
/// `names`: DNS names or IP addresses; `localhost`, 127.0.0.1 and ::1 always). Returns the
/// (certificate, key) paths and whether they were created now. An existing pair is kept as
/// it is: delete both files to make a new one (for new names).
pub fn self_signed(
    data_dir: &Path,
    names: &[String],
) -> Result<(PathBuf, PathBuf, bool), TlsError> {
    let cert = data_dir.join(SELF_SIGNED_CERT);
    let key = data_dir.join(SELF_SIGNED_KEY);
    if cert.exists() && key.exists() {
        return Ok((cert, key, false));
    }
    let mut all: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    for n in names {
        if !all.contains(n) {
            all.push(n.clone());
        }
    }
    let generated =
        rcgen::generate_simple_self_signed(all).map_err(|e| TlsError::Generate(e.to_string()))?;
    let dir = cert.parent().unwrap_or(data_dir);
    fs::create_dir_all(dir).map_err(|source| TlsError::Io {
        path: dir.to_owned(),
        source,
    })?;
    // A half-written pair from an earlier crash is replaced.
    let _ = fs::remove_file(&cert);
    let _ = fs::remove_file(&key);
    write_private(&key, &generated.key_pair.serialize_pem(), 0o600)?;
    write_private(&cert, &generated.cert.pem(), 0o644)?;
    Ok((cert, key, true))
}

/// Serves `app` over TLS on `listener` until `shutdown` resolves, then lets open connections
/// finish. Each request carries the client's address as [`ConnectInfo`] (as `axum::serve`
/// gives it for plain HTTP).
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: Arc<ServerConfig>,
    app: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(config);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accepting an API connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                tower::ServiceExt::oneshot(app.clone(), req)
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(%peer, error = %e, "API connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
