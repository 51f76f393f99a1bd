//! Secret files in the data directory: the node seed, the API token, the onion service key.
//!
//! Created once with mode 0600 (never readable by others), read back on every start, and
//! never logged: errors name the file, not its contents.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::error::NodeError;

/// Fills `buf` from the kernel's CSPRNG.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), NodeError> {
    let mut f = fs::File::open("/dev/urandom").map_err(|e| NodeError::io("/dev/urandom", e))?;
    f.read_exact(buf)
        .map_err(|e| NodeError::io("/dev/urandom", e))
}

/// Writes a new secret file (mode 0600, its directory created if needed); fails if the file
/// exists, so a secret is never overwritten.
pub fn create_private(path: &Path, contents: &[u8]) -> Result<(), NodeError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| NodeError::io(dir, e))?;
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| NodeError::io(path, e))?;
    f.write_all(contents)
        .and_then(|_| f.sync_all())
        .map_err(|e| NodeError::io(path, e))
}

/// Reads the `len`-byte secret in `path`, creating it (mode 0600, random) when missing.
/// Returns the bytes and whether the file was created now.
pub fn load_or_create(path: &Path, len: usize) -> Result<(Vec<u8>, bool), NodeError> {
    match fs::read(path) {
        Ok(bytes) => {
            if bytes.len() != len {
                return Err(NodeError::Config(format!(
                    "{}: expected {len} bytes, found {}; refusing to guess (restore the file or move it away)",
                    path.display(),
                    bytes.len()
                )));
            }
            if let Ok(meta) = fs::metadata(path) {
                if meta.permissions().mode() & 0o077 != 0 {
                    tracing::warn!(file = %path.display(), "secret file is readable by other users; chmod 600 it");
                }
            }
            Ok((bytes, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = vec![0u8; len];
            random_bytes(&mut bytes)?;
            create_private(path, &bytes)?;
            Ok((bytes, true))
        }
        Err(e) => Err(NodeError::io(path, e)),
    }
}

/// The API bearer token in `path` (64 hex characters), created on first use.
pub fn load_or_create_token(path: &Path) -> Result<String, NodeError> {
    match fs::read_to_string(path) {
        Ok(s) => {
            let t = s.trim().to_string();
            if t.len() < 32 {
                return Err(NodeError::Config(format!(
                    "{}: API token is shorter than 32 characters",
                    path.display()
                )));
            }
            Ok(t)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut raw = [0u8; 32];
            random_bytes(&mut raw)?;
            let token: String = raw.iter().map(|b| format!("{b:02x}")).collect();
            create_private(path, format!("{token}\n").as_bytes())?;
            Ok(token)
        }
        Err(e) => Err(NodeError::io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_is_created_private_and_read_back_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/node_seed");
        let (a, created) = load_or_create(&path, 32).unwrap();
        assert!(created);
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let (b, created) = load_or_create(&path, 32).unwrap();
        assert!(!created);
        assert_eq!(a, b);
        fs::write(&path, [1u8; 5]).unwrap();
        assert!(matches!(
            load_or_create(&path, 32),
            Err(NodeError::Config(_))
        ));
    }

    #[test]
    fn token_is_hex_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api_token");
        let t = load_or_create_token(&path).unwrap();
        assert_eq!(t.len(), 64);
        assert!(t.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(load_or_create_token(&path).unwrap(), t);
    }
}
