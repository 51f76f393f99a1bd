//! Who may call what: every route has an [`Access`] class (in [`crate::ROUTES`]) and one
//! middleware enforces it before any handler runs.
//!
//! Two bearer tokens, simplified macaroons: the **read token** shows the node's own data
//! (balances, channels, payments, invoices, forwards, earnings, wallet, peers), the **admin
//! token** also moves money and changes policy (and grants every read). Public graph, route
//! and analytics endpoints stay open unless [`Auth::private_reads`] is set; probes and the
//! OpenAPI document stay open always.
//!
//! Tokens live in files (mode 0600) and are re-read when the file changes (a new inode, size
//! or mtime), so `switchyard token rotate` takes effect on the next request, without a restart.
//! A token never appears in a log line or an error message: errors name the file only.
//! Comparison is constant-time.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

/// What a route needs from the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Probes and the API description: always open (orchestrators call them without tokens).
    Open,
    /// Public network data (graph, routes, analytics, metrics): open unless private reads are
    /// configured, then the read token.
    Public,
    /// The node's own data: the read (or admin) token.
    Read,
    /// Moves money or changes the node or its policy: the admin token.
    Admin,
}

impl Access {
    /// The OpenAPI security requirement name(s) for this class (empty: none).
    pub fn schemes(self) -> &'static [&'static str] {
        match self {
            Access::Open | Access::Public => &[],
            Access::Read => &["readToken", "adminToken"],
            Access::Admin => &["adminToken"],
        }
    }
}

/// The file of the admin token in the data directory.
pub const ADMIN_TOKEN_FILE: &str = "api_token";
/// The file of the read token in the data directory.
pub const READ_TOKEN_FILE: &str = "api_read_token";
/// Tokens shorter than this are refused (a typo'd or truncated file must not open the API).
const MIN_TOKEN_LEN: usize = 32;

/// Compares without an early exit, so response time does not reveal a token prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// (device, inode, size, mtime seconds, mtime nanoseconds) of a token file.
type Stamp = (u64, u64, u64, i64, i64);

/// Where one token comes from.
enum Source {
    Fixed(Option<Arc<str>>),
    File {
        path: PathBuf,
        cache: Mutex<(Option<Stamp>, Option<Arc<str>>)>,
    },
}

impl Source {
    fn file(path: PathBuf) -> Source {
        Source::File {
            path,
            cache: Mutex::new((None, None)),
        }
    }

    /// The current token: a file is re-read only when its stamp changed.
    fn current(&self) -> Option<Arc<str>> {
        let (path, cache) = match self {
            Source::Fixed(t) => return t.clone(),
            Source::File { path, cache } => (path, cache),
        };
        let stamp = fs::metadata(path)
            .ok()
            .map(|m| (m.dev(), m.ino(), m.size(), m.mtime(), m.mtime_nsec()));
        let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
        if stamp.is_some() && cache.0 == stamp {
            return cache.1.clone();
        }
        let token = match fs::read_to_string(path) {
            Ok(s) if s.trim().len() >= MIN_TOKEN_LEN => Some(Arc::from(s.trim())),
            Ok(_) => {
                tracing::warn!(file = %path.display(), "token file holds a token shorter than 32 characters; refusing it");
                None
            }
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "token file unreadable; refusing requests that need it");
                None
            }
        };
        *cache = (stamp, token.clone());
        token
    }
}

/// The API's tokens and whether public reads need the read token.
pub struct Auth {
    read: Source,
    admin: Source,
    /// Require the read token on [`Access::Public`] routes too.
    pub private_reads: bool,
}

/// Which token a request presented.
#[derive(Debug, PartialEq, Eq)]
enum Presented {
    None,
    Wrong,
    Read,
    Admin,
}

impl Auth {
    /// No tokens: private reads and changes are refused (403 `auth_not_configured`).
    pub fn none() -> Auth {
        Auth::fixed(None, None)
    }

    /// Tokens given in memory (tests, embedding).
    pub fn fixed(read: Option<&str>, admin: Option<&str>) -> Auth {
        Auth {
            read: Source::Fixed(read.map(Arc::from)),
            admin: Source::Fixed(admin.map(Arc::from)),
            private_reads: false,
        }
    }

    /// Tokens in `data_dir`'s token files, created (mode 0600) when missing, re-read when
    /// rotated.
    pub fn from_data_dir(data_dir: &Path) -> Result<Auth, switchyard_node::NodeError> {
        let read = data_dir.join(READ_TOKEN_FILE);
        let admin = data_dir.join(ADMIN_TOKEN_FILE);
        switchyard_node::secret::load_or_create_token(&read)?;
        switchyard_node::secret::load_or_create_token(&admin)?;
        Ok(Auth {
            read: Source::file(read),
            admin: Source::file(admin),
            private_reads: false,
        })
    }

    fn presented(&self, headers: &HeaderMap) -> Presented {
        let Some(given) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
        else {
            return Presented::None;
        };
        let matches = |s: &Source| {
            s.current()
                .is_some_and(|t| constant_time_eq(given.as_bytes(), t.as_bytes()))
        };
        // Both comparisons always run.
        let (admin, read) = (matches(&self.admin), matches(&self.read));
        match (admin, read) {
            (true, _) => Presented::Admin,
            (false, true) => Presented::Read,
            _ => Presented::Wrong,
        }
    }

    /// Passes when the request's bearer token grants `access`.
    pub fn check(&self, access: Access, headers: &HeaderMap) -> Result<(), ApiError> {
        let needs_admin = match access {
            Access::Open => return Ok(()),
            Access::Public if !self.private_reads => return Ok(()),
            Access::Public | Access::Read => false,
            Access::Admin => true,
        };
        let configured = if needs_admin {
            self.admin.current().is_some()
        } else {
            self.read.current().is_some() || self.admin.current().is_some()
        };
        if !configured {
            return Err(ApiError::Forbidden {
                code: "auth_not_configured",
                message: "no API token is configured, so this endpoint is refused".into(),
            });
        }
        match (self.presented(headers), needs_admin) {
            (Presented::Admin, _) | (Presented::Read, false) => Ok(()),
            (Presented::Read, true) => Err(ApiError::Forbidden {
                code: "admin_token_required",
                message: format!("this endpoint changes the node: it needs the admin token (the data directory's {ADMIN_TOKEN_FILE} file), not the read token"),
            }),
            (Presented::Wrong, _) => Err(ApiError::Unauthorized("invalid API token".into())),
            (Presented::None, admin) => Err(ApiError::Unauthorized(format!(
                "this endpoint needs `Authorization: Bearer <token>` (the {} token: the data directory's {} file)",
                if admin { "admin" } else { "read" },
                if admin { ADMIN_TOKEN_FILE } else { READ_TOKEN_FILE },
            ))),
        }
    }
}

/// Passes when the request carries the admin token. The middleware already enforces each
/// route's class; handlers that change the node call this too, so a misfiled route still
/// cannot move money.
pub fn require_token(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    state.auth.check(Access::Admin, headers)
}

/// The class of `method path` (a route template) in [`crate::ROUTES`]. A route missing from
/// the table is treated as [`Access::Admin`]: forgetting to classify fails closed.
pub fn route_access(method: &Method, path: &str) -> Access {
    let method = if method == Method::HEAD {
        "get"
    } else {
        method.as_str()
    };
    crate::ROUTES
        .iter()
        .find(|(m, p, _)| m.eq_ignore_ascii_case(method) && *p == path)
        .map(|(_, _, a)| *a)
        .unwrap_or(Access::Admin)
}

/// The middleware: refuses a request whose token does not grant its route's class.
pub(crate) async fn authorize(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let access = match req.extensions().get::<MatchedPath>() {
        Some(p) => route_access(req.method(), p.as_str()),
        None => Access::Admin,
    };
    if state.read_only && access == Access::Admin {
        return crate::replica::refusal().into_response();
    }
    match state.auth.check(access, req.headers()) {
        Ok(()) => next.run(req).await,
        Err(e) => {
            state.metrics.auth_refused(&e);
            e.into_response()
        }
    }
}

/// A token file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    /// The file or its directory could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// No random bytes for the token.
    #[error(transparent)]
    Random(#[from] switchyard_node::NodeError),
}

/// Replaces the token in `path` with a fresh random one (mode 0600, written to a temporary
/// file and renamed over the old one, so a reader never sees half a token). A running API
/// uses the new token from its next request on.
pub fn rotate_token_file(path: &Path) -> Result<(), TokenFileError> {
    let io = |p: &Path| {
        let p = p.to_owned();
        move |source| TokenFileError::Io { path: p, source }
    };
    let mut raw = [0u8; 32];
    switchyard_node::secret::random_bytes(&mut raw)?;
    let token: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io(dir))?;
    let tmp = path.with_extension("rotating");
    let _ = fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(&tmp))?;
    writeln!(f, "{token}")
        .and_then(|_| f.sync_all())
        .map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_whole_tokens() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    fn bearer(t: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            format!("Bearer {t}").parse().expect("header"),
        );
        h
    }

    #[test]
    fn rotation_takes_effect_without_a_restart_and_files_are_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let auth = Auth::from_data_dir(dir.path()).expect("tokens");
        let admin_path = dir.path().join(ADMIN_TOKEN_FILE);
        for f in [ADMIN_TOKEN_FILE, READ_TOKEN_FILE] {
            let mode = fs::metadata(dir.path().join(f)).expect("file").mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
        let old = fs::read_to_string(&admin_path).expect("admin token");
        let read = fs::read_to_string(dir.path().join(READ_TOKEN_FILE)).expect("read token");
        assert_ne!(old.trim(), read.trim());
        assert!(auth.check(Access::Admin, &bearer(old.trim())).is_ok());
        assert!(matches!(
            auth.check(Access::Admin, &bearer(read.trim())),
            Err(ApiError::Forbidden { .. })
        ));
        assert!(auth.check(Access::Read, &bearer(read.trim())).is_ok());

        rotate_token_file(&admin_path).expect("rotate");
        let new = fs::read_to_string(&admin_path).expect("new token");
        assert_ne!(old, new);
        assert_eq!(
            fs::metadata(&admin_path).expect("file").mode() & 0o777,
            0o600
        );
        assert!(matches!(
            auth.check(Access::Admin, &bearer(old.trim())),
            Err(ApiError::Unauthorized(_))
        ));
        assert!(auth.check(Access::Admin, &bearer(new.trim())).is_ok());
        assert!(auth.check(Access::Read, &bearer(read.trim())).is_ok());
    }
}
