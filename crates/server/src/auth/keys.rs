//! The registry's token signing keys: a directory of ES256 private keys, one PEM file
//! per key, named by its key id (`kid`).
//!
//! Tokens are signed with the newest key (key ids sort by creation time) and verified
//! with whichever key their `kid` names, so a key is rotated by adding a new file
//! (`renhice keys rotate`) and, once the tokens it signed have expired (minutes), removing
//! the old one. The server re-reads the directory whenever it changes, so neither step
//! needs a restart. The public halves are published at `/auth/jwks` for anyone who verifies the
//! registry's tokens.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

/// How often the directory is re-read even if its modification time did not change.
const REFRESH_EVERY: Duration = Duration::from_mins(1);

/// Why the keys could not be loaded or made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The directory or a file in it could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
    /// A file is not a PKCS #8 P-256 private key.
    #[error("{path}: not a PKCS #8 PEM P-256 private key ({message})")]
    BadKey {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// The directory holds no key.
    #[error(
        "{0}: no signing key (*.pem); create one with `renhice keys rotate` or start the server once"
    )]
    Empty(PathBuf),
}

/// One signing key.
struct SigningKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
    public: Jwk,
}

/// The keys of one directory as last read.
#[derive(Default)]
struct Loaded {
    /// By key id; the last is the newest.
    keys: BTreeMap<String, SigningKey>,
    read_at: Option<Instant>,
    /// The directory's modification time when it was read.
    dir_modified: Option<std::time::SystemTime>,
}

/// The registry's signing keys, re-read from their directory as it changes.
pub struct KeyRing {
    /// `None` for a key ring held only in memory.
    dir: Option<PathBuf>,
    loaded: RwLock<Loaded>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the keys themselves.
        f.debug_struct("KeyRing")
            .field("dir", &self.dir)
            .field("kids", &self.kids())
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    /// The keys in `dir`; an error if there are none.
    pub fn open(dir: &Path) -> Result<Self, KeyError> {
        let ring = Self {
            dir: Some(dir.to_owned()),
            loaded: RwLock::new(Loaded::default()),
        };
        ring.reload()?;
        if ring.kids().is_empty() {
            return Err(KeyError::Empty(dir.to_owned()));
        }
        Ok(ring)
    }

    /// The keys in `dir`, creating the directory and a first key if there are none (the
    /// zero-setup start).
    pub fn open_or_create(dir: &Path) -> Result<Self, KeyError> {
        let has_key = fs::read_dir(dir).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == "pem"))
        });
        if !has_key {
            create_key(dir)?;
        }
        Self::open(dir)
    }

    /// One new key held only in memory, never written anywhere: for tests and for
    /// tools that verify their own tokens.
    pub fn ephemeral() -> Result<Self, KeyError> {
        let pkcs8 = generate_pkcs8(Path::new("(memory)"))?;
        let kid = new_kid();
        let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", pkcs8));
        let key = load_key(Path::new("(memory)"), &kid, pem.as_bytes())?;
        Ok(Self {
            dir: None,
            loaded: RwLock::new(Loaded {
                keys: BTreeMap::from([(kid, key)]),
                read_at: Some(Instant::now()),
                dir_modified: None,
            }),
        })
    }

    /// The directory the keys live in (`None` for an ephemeral ring).
    #[must_use]
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    fn describe(&self) -> PathBuf {
        self.dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("(memory)"))
    }

    /// The key ids, oldest first.
    #[must_use]
    pub fn kids(&self) -> Vec<String> {
        self.read().keys.keys().cloned().collect()
    }

    /// The public keys as a JSON Web Key Set.
    #[must_use]
    pub fn jwks(&self) -> JwkSet {
        self.refresh_if_stale();
        JwkSet {
            keys: self
                .read()
                .keys
                .values()
                .map(|k| k.public.clone())
                .collect(),
        }
    }

    /// Signs `claims` with the newest key.
    pub fn sign<T: serde::Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        self.refresh_if_stale();
        let loaded = self.read();
        let (kid, key) = loaded
            .keys
            .last_key_value()
            .ok_or_else(|| KeyError::Empty(self.describe()))?;
        let mut header = jsonwebtoken::Header::new(Algorithm::ES256);
        header.kid = Some(kid.clone());
        header.typ = Some("JWT".to_owned());
        jsonwebtoken::encode(&header, claims, &key.encoding).map_err(|e| KeyError::BadKey {
            path: self.describe().join(format!("{kid}.pem")),
            message: e.to_string(),
        })
    }

    /// Whether the ring (as the directory now holds it) has key `kid`.
    #[must_use]
    pub fn has(&self, kid: &str) -> bool {
        self.refresh_if_stale();
        self.read().keys.contains_key(kid)
    }

    /// The verification key named `kid`.
    pub(crate) fn decoding_key(&self, kid: &str) -> Option<DecodingKey> {
        self.refresh_if_stale();
        self.read().keys.get(kid).map(|k| k.decoding.clone())
    }

    /// The claims of a JWT this ring signed (ES256, by one of its keys), whatever its
    /// expiry, audience or issuer: for telling which sign-in a presented token belongs
    /// to (revocation, logout), never for accepting it as a credential.
    #[must_use]
    pub fn verify_signature_only(&self, token: &str) -> Option<serde_json::Value> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != Algorithm::ES256 {
            return None;
        }
        let key = self.decoding_key(header.kid.as_deref()?)?;
        let mut validation = jsonwebtoken::Validation::new(Algorithm::ES256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
            .ok()
            .map(|d| d.claims)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Loaded> {
        // A poisoned lock only means a reader panicked; the data is a plain cache.
        self.loaded
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Re-reads the directory if it changed since it was read (a key was added, renamed
    /// or removed: one `stat` per call), and at least every [`REFRESH_EVERY`] in case
    /// the file system's timestamps are coarse.
    fn refresh_if_stale(&self) {
        let Some(dir) = &self.dir else {
            return;
        };
        let modified = fs::metadata(dir).and_then(|m| m.modified()).ok();
        let stale = {
            let loaded = self.read();
            loaded.dir_modified != modified
                || loaded
                    .read_at
                    .is_none_or(|at| at.elapsed() >= REFRESH_EVERY)
        };
        if stale && let Err(e) = self.reload() {
            tracing::warn!(error = %e, "re-reading the signing keys failed; keeping the old set");
        }
    }

    /// Reads every `*.pem` of the directory. A directory that cannot be read, or a bad
    /// file, leaves the previous set in place (a half-copied key must not lock every
    /// client out).
    fn reload(&self) -> Result<(), KeyError> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        // Taken before the listing, so a change during it is seen next time.
        let modified = fs::metadata(dir).and_then(|m| m.modified()).ok();
        let listed = read_dir_keys(dir);
        let mut loaded = self
            .loaded
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A failed read is not retried until the directory changes again (or the
        // periodic refresh comes): it is logged once, not on every request.
        loaded.read_at = Some(Instant::now());
        loaded.dir_modified = modified;
        loaded.keys = listed?;
        Ok(())
    }
}

/// Every `*.pem` key of `dir`, by key id.
fn read_dir_keys(dir: &Path) -> Result<BTreeMap<String, SigningKey>, KeyError> {
    let io = |source| KeyError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut keys = BTreeMap::new();
    for entry in fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().is_none_or(|x| x != "pem") {
            continue;
        }
        let Some(kid) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let pem = fs::read(&path).map_err(|source| KeyError::Io {
            path: path.clone(),
            source,
        })?;
        keys.insert(kid.to_owned(), load_key(&path, kid, &pem)?);
    }
    Ok(keys)
}

fn load_key(path: &Path, kid: &str, pem: &[u8]) -> Result<SigningKey, KeyError> {
    let bad = |message: String| KeyError::BadKey {
        path: path.to_owned(),
        message,
    };
    let encoding = EncodingKey::from_ec_pem(pem).map_err(|e| bad(e.to_string()))?;
    let mut public =
        Jwk::from_encoding_key(&encoding, Algorithm::ES256).map_err(|e| bad(e.to_string()))?;
    public.common.key_id = Some(kid.to_owned());
    public.common.public_key_use = Some(PublicKeyUse::Signature);
    public.common.key_algorithm = Some(KeyAlgorithm::ES256);
    let decoding = DecodingKey::from_jwk(&public).map_err(|e| bad(e.to_string()))?;
    Ok(SigningKey {
        encoding,
        decoding,
        public,
    })
}

/// Creates a new P-256 signing key in `dir` (created if missing, readable only by its
/// owner) and returns its key id, which sorts after every earlier one.
pub fn create_key(dir: &Path) -> Result<String, KeyError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| KeyError::Io { path, source }
    };
    fs::create_dir_all(dir).map_err(io(dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
    }
    let pkcs8 = generate_pkcs8(dir)?;
    // The newest key signs, so a new id must sort after every existing one, even one
    // made in the same microsecond or by a machine whose clock ran ahead.
    let newest = read_dir_kids(dir).map_err(io(dir))?.pop();
    let mut kid = new_kid();
    if newest.as_ref().is_some_and(|n| *n >= kid) {
        // Same microsecond, a clock behind, or a hand-named key: extend the newest id,
        // which sorts right after it.
        let random = uuid::Uuid::new_v4().simple().to_string();
        kid = format!("{}-{}", newest.unwrap_or_default(), &random[..8]);
    }
    let path = dir.join(format!("{kid}.pem"));
    // Written under another name and renamed, so that a server re-reading the directory
    // never sees half a key.
    let partial = dir.join(format!("{kid}.pem.partial"));
    let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", pkcs8));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&partial).map_err(io(&partial))?;
    file.write_all(pem.as_bytes()).map_err(io(&partial))?;
    file.sync_all().map_err(io(&partial))?;
    fs::rename(&partial, &path).map_err(io(&path))?;
    Ok(kid)
}

/// A new P-256 private key as PKCS #8 DER.
fn generate_pkcs8(place: &Path) -> Result<Vec<u8>, KeyError> {
    let rng = ring::rand::SystemRandom::new();
    ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &rng,
    )
    .map(|doc| doc.as_ref().to_vec())
    .map_err(|_| KeyError::BadKey {
        path: place.to_owned(),
        message: "the system random generator failed".to_owned(),
    })
}

/// A key id that sorts by creation time: `20261202T173500-123456-1a2b3c4d` (UTC, then
/// microseconds, then random).
fn new_kid() -> String {
    let now = time::OffsetDateTime::now_utc();
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}-{:06}-{}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.microsecond(),
        &random[..8]
    )
}

/// The key ids in `dir`, sorted.
fn read_dir_kids(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut kids: Vec<String> = fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pem"))
        .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_owned))
        .collect();
    kids.sort();
    Ok(kids)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn a_directory_is_created_with_a_key_and_rotation_is_seen_without_reopening() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("keys");
        let ring = KeyRing::open_or_create(&dir).unwrap();
        let first = ring.kids();
        assert_eq!(first.len(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let file = dir.join(format!("{}.pem", first[0]));
            assert_eq!(
                fs::metadata(&file).unwrap().permissions().mode() & 0o777,
                0o600
            );
            assert_eq!(
                fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
                0o700
            );
        }
        // Keys made back to back still sort in the order they were made.
        let second = create_key(&dir).unwrap();
        let third = create_key(&dir).unwrap();
        assert!(first[0] < second && second < third);
        let token = ring.sign(&serde_json::json!({"sub": "x"})).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(
            header.kid.as_deref(),
            Some(third.as_str()),
            "the newest key signs"
        );
        assert_eq!(ring.jwks().keys.len(), 3);
        // A file that is not a key leaves the keys as they were, rather than none.
        fs::write(dir.join("broken.pem"), "not a key").unwrap();
        assert!(ring.decoding_key(&third).is_some());
        assert_eq!(ring.kids().len(), 3);
        fs::remove_file(dir.join("broken.pem")).unwrap();
        fs::remove_file(dir.join(format!("{}.pem", first[0]))).unwrap();
        assert!(
            ring.decoding_key(&first[0]).is_none(),
            "a removed key verifies nothing"
        );
        assert_eq!(ring.kids(), [second, third]);
    }

    #[test]
    fn an_empty_directory_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let e = KeyRing::open(tmp.path()).unwrap_err();
        assert!(e.to_string().contains("renhice keys rotate"), "{e}");
    }
}
