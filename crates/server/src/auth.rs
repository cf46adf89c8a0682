//! Who is calling: the registry's access tokens and the keys that sign them.
//!
//! Callers present a bearer JWT with IHE IUA claims ([`token`]); the registry signs the
//! tokens it issues with its own ES256 keys ([`keys`]) and publishes their public halves
//! at `GET /auth/jwks`. `renhice token issue` mints tokens from the same key directory
//! for development and tests.

use std::path::PathBuf;
use std::sync::Arc;

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::AppState;

pub mod access;
pub mod keys;
pub mod token;

pub use access::Caller;
pub use keys::{KeyError, KeyRing};
pub use token::{Claims, Grant, Purpose, Role, TokenRejected};

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
        }
    }
}

/// The registry's token authority: its configuration and signing keys.
#[derive(Debug, Clone)]
pub struct Authority {
    /// The configuration.
    pub config: AuthConfig,
    /// The signing keys.
    pub keys: Arc<KeyRing>,
}

impl Authority {
    /// An authority over `keys`.
    #[must_use]
    pub fn new(config: AuthConfig, keys: KeyRing) -> Self {
        Self {
            config,
            keys: Arc::new(keys),
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

    /// The grant of a bearer token, if the registry accepts the token.
    pub fn verify(&self, bearer: &str) -> Result<Grant, TokenRejected> {
        token::verify(
            &self.keys,
            bearer,
            &self.config.issuer,
            &self.config.audience,
            self.config.leeway_secs,
            self.config.max_token_lifetime_secs,
        )
        .map(|(grant, _)| grant)
    }
}

/// `GET /auth/jwks`: the public keys that verify the registry's tokens.
pub(crate) async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/jwk-set+json")
        .json(state.auth.keys.jwks())
}
