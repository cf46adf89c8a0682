//! The registry's token authority: its configuration, its keys, and the tokens it
//! issues and verifies.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::keys::{KeyError, KeyRing};
use super::token::{self, Grant, TokenRejected};

/// The `[auth]` section of the renhice configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The `iss` of the registry's tokens: the URL of its token endpoint.
    pub issuer: String,
    /// The `aud` the registry's tokens must name: its public FHIR base URL.
    pub audience: String,
    /// The directory of the registry's signing keys (created with a first key if empty).
    pub keys_dir: PathBuf,
    /// Lifetime of the access tokens the registry issues, in seconds.
    pub token_lifetime_secs: u64,
    /// The longest lifetime (`exp - iat`) of a token the registry accepts, in seconds.
    pub max_token_lifetime_secs: u64,
    /// Clock skew tolerated on `exp` and `iat`, in seconds.
    pub leeway_secs: u64,
    /// How long a person's sign-in lasts, in seconds: its refresh tokens end with it.
    pub session_lifetime_secs: u64,
    /// Lifetime of an emergency access token (break-glass), in seconds.
    pub emergency_lifetime_secs: u64,
    /// The OpenID Connect providers people sign in at; none: people cannot sign in.
    pub identity_providers: Vec<super::people::IdentityProvider>,
    /// User-facing apps besides the registry's own web app (`renhice-web`).
    pub apps: Vec<super::people::App>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            issuer: "http://127.0.0.1:8080/auth".to_owned(),
            audience: "http://127.0.0.1:8080/fhir".to_owned(),
            keys_dir: PathBuf::from("renhice-keys"),
            // SMART Backend Services: access tokens live at most five minutes.
            token_lifetime_secs: 300,
            max_token_lifetime_secs: 3600,
            leeway_secs: 30,
            // A clinical shift: a person signs in once for it.
            session_lifetime_secs: 12 * 3600,
            emergency_lifetime_secs: 3600,
            identity_providers: Vec::new(),
            apps: Vec::new(),
        }
    }
}

/// The URL of the token endpoint, which client assertions must name as `aud`.
#[must_use]
pub fn token_endpoint(issuer: &str) -> String {
    format!("{}/token", issuer.trim_end_matches('/'))
}

/// The most verified tokens remembered; past it the memory starts afresh.
const VERIFIED_CAPACITY: usize = 50_000;

/// A token checked before: what it grants, until when, by which key.
#[derive(Debug, Clone)]
struct Verified {
    grant: Grant,
    exp: u64,
    kid: String,
}

/// The registry's token authority: its configuration and signing keys.
#[derive(Debug, Clone)]
pub struct Authority {
    /// The configuration.
    pub config: AuthConfig,
    /// The signing keys.
    pub keys: Arc<KeyRing>,
    /// Tokens already verified, by the SHA-256 of their text. A client sends the same
    /// token with every request of its lifetime, and checking an ES256 signature costs
    /// more CPU than answering `$record-locations`; a token seen before is accepted again
    /// only while unexpired and while the key that signed it is still in the ring.
    verified: Arc<Mutex<HashMap<[u8; 32], Verified>>>,
}

impl Authority {
    /// An authority over `keys`.
    #[must_use]
    pub fn new(config: AuthConfig, keys: KeyRing) -> Self {
        Self {
            config,
            keys: Arc::new(keys),
            verified: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A signed access token for `grant`, valid for `lifetime_secs` (the configured
    /// lifetime if `None`) from now.
    pub fn issue(&self, grant: &Grant, lifetime_secs: Option<u64>) -> Result<String, KeyError> {
        token::issue(
            &self.keys,
            grant,
            &self.config.issuer,
            &self.config.audience,
            jsonwebtoken::get_current_timestamp(),
            lifetime_secs.unwrap_or(self.config.token_lifetime_secs),
        )
    }

    /// The grant of a bearer token, if the registry accepts the token now.
    pub fn verify(&self, bearer: &str) -> Result<Grant, TokenRejected> {
        self.verify_at(bearer, jsonwebtoken::get_current_timestamp())
    }

    /// The grant of a bearer token, if the registry accepts the token at `now` (seconds
    /// since the Unix epoch).
    pub fn verify_at(&self, bearer: &str, now: u64) -> Result<Grant, TokenRejected> {
        let digest = ring::digest::digest(&ring::digest::SHA256, bearer.as_bytes());
        let mut fingerprint = [0_u8; 32];
        fingerprint.copy_from_slice(digest.as_ref());
        let known = self.remembered().get(&fingerprint).cloned();
        if let Some(known) = known
            && now <= known.exp + self.config.leeway_secs
            && self.keys.has(&known.kid)
        {
            return Ok(known.grant);
        }
        let (grant, claims, kid) = token::verify(
            &self.keys,
            bearer,
            (&self.config.issuer, &self.config.audience),
            (self.config.leeway_secs, self.config.max_token_lifetime_secs),
            now,
        )?;
        let mut remembered = self.remembered();
        if remembered.len() >= VERIFIED_CAPACITY {
            remembered.retain(|_, v| now <= v.exp + self.config.leeway_secs);
            if remembered.len() >= VERIFIED_CAPACITY {
                remembered.clear();
            }
        }
        remembered.insert(
            fingerprint,
            Verified {
                grant: grant.clone(),
                exp: claims.exp,
                kid,
            },
        );
        Ok(grant)
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Verified>> {
        // A poisoned lock only means a holder panicked; the map is a cache.
        self.verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use crate::auth::keys;
    use crate::auth::token::{Purpose, Role};

    fn sihce() -> Grant {
        Grant {
            subject: "sihce".to_owned(),
            role: Role::System,
            organization: Some("00012345".to_owned()),
            practitioner: None,
            name: None,
            person: None,
            purpose: Purpose::Treat,
            emergency_reason: None,
            sign_in: None,
            system_scope: None,
        }
    }

    #[test]
    fn a_remembered_token_fails_once_its_key_is_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let keys = KeyRing::open_or_create(tmp.path()).unwrap();
        let kid = keys.kids().pop().unwrap();
        let authority = Authority::new(AuthConfig::default(), keys);
        let token = authority.issue(&sihce(), None).unwrap();
        assert_eq!(authority.verify(&token).unwrap(), sihce());
        assert_eq!(authority.verify(&token).unwrap(), sihce(), "remembered");
        // Retiring a key (it leaked, say) ends every token it signed at once.
        keys::create_key(tmp.path()).unwrap();
        std::fs::remove_file(tmp.path().join(format!("{kid}.pem"))).unwrap();
        assert!(authority.verify(&token).is_err());
    }

    #[test]
    fn a_remembered_token_expires() {
        let config = AuthConfig {
            leeway_secs: 0,
            ..AuthConfig::default()
        };
        let authority = Authority::new(config, KeyRing::ephemeral().unwrap());
        let now = jsonwebtoken::get_current_timestamp();
        let token = authority.issue(&sihce(), Some(1)).unwrap();
        assert!(authority.verify_at(&token, now).is_ok());
        assert!(authority.verify_at(&token, now + 1).is_ok(), "remembered");
        assert_eq!(
            authority.verify_at(&token, now + 3).unwrap_err().0,
            "the token has expired"
        );
    }
}
