//! The registry as a relying party of OpenID Connect identity providers: discovery, the
//! authorization request, the code exchange, and the ID token's verification.
//!
//! The registry is a confidential client of each provider (`client_secret_basic`), uses
//! PKCE (S256) and a `nonce` on every sign-in, verifies the ID token's signature with the
//! provider's published keys (asymmetric algorithms only), its issuer, audience, expiry
//! and nonce, and reads the person's claims from the ID token and the userinfo endpoint
//! (many providers give profile claims only there), refusing a userinfo answer about
//! anyone other than the ID token's subject.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::people::IdentityProvider;

/// The algorithms an ID token may be signed with: asymmetric only, so that nothing the
/// registry holds (its client secret) could forge one.
const ID_TOKEN_ALGORITHMS: [Algorithm; 8] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
];

/// How long a provider's configuration and keys are kept before being read again.
const REFRESH: Duration = Duration::from_hours(1);
/// A provider's keys are re-read for an unknown `kid` at most this often (key rotation
/// without letting forged `kid`s make the registry hammer the provider).
const KEY_RETRY: Duration = Duration::from_mins(1);

/// Why a sign-in at a provider failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdpError {
    /// The provider could not be reached or answered what is not its protocol.
    #[error("the identity provider {provider} is not available: {detail}")]
    Unavailable {
        /// The provider's name.
        provider: String,
        /// What went wrong.
        detail: String,
    },
    /// The provider refused the code exchange.
    #[error("the identity provider {provider} refused the sign-in: {detail}")]
    Refused {
        /// The provider's name.
        provider: String,
        /// Its `error` and `error_description`.
        detail: String,
    },
    /// The ID token (or the userinfo answer) is not acceptable.
    #[error("the identity provider's ID token is not acceptable: {0}")]
    InvalidIdToken(String),
}

/// What the registry reads of a provider's OpenID configuration.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    /// Its issuer (must equal the configured one).
    pub issuer: String,
    /// Where people sign in.
    pub authorization_endpoint: String,
    /// Where codes are exchanged.
    pub token_endpoint: String,
    /// Its signing keys.
    pub jwks_uri: String,
    /// Where the person's claims are read.
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    /// Where a person's session at the provider is ended (RP-initiated logout).
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
}

#[derive(Debug)]
struct Known {
    discovery: Discovery,
    read: Instant,
    keys: Option<(JwkSet, Instant)>,
}

/// The registry's view of its identity providers: their configuration and keys, read
/// when first needed and again after an hour.
#[derive(Debug)]
pub struct Federation {
    http: reqwest::Client,
    known: Mutex<HashMap<String, Known>>,
}

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
    access_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct IdClaims {
    nonce: Option<String>,
    sub: String,
    #[serde(default)]
    aud: Value,
    #[serde(default)]
    azp: Option<String>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

impl Federation {
    /// A federation using `http` to reach the providers.
    #[must_use]
    pub fn new(http: reqwest::Client) -> Self {
        Self {
            http,
            known: Mutex::new(HashMap::new()),
        }
    }

    fn unavailable(provider: &IdentityProvider, detail: impl std::fmt::Display) -> IdpError {
        IdpError::Unavailable {
            provider: provider.name.clone(),
            detail: detail.to_string(),
        }
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        provider: &IdentityProvider,
        url: &str,
    ) -> Result<T, IdpError> {
        let res = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| Self::unavailable(provider, format!("{url}: {e}")))?;
        if !res.status().is_success() {
            return Err(Self::unavailable(
                provider,
                format!("{url} answered {}", res.status()),
            ));
        }
        res.json()
            .await
            .map_err(|e| Self::unavailable(provider, format!("{url}: {e}")))
    }

    /// The provider's OpenID configuration (read at most hourly).
    pub async fn discovery(&self, provider: &IdentityProvider) -> Result<Discovery, IdpError> {
        if let Some(known) = self.lock().get(&provider.name)
            && known.read.elapsed() < REFRESH
        {
            return Ok(known.discovery.clone());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            provider.issuer.trim_end_matches('/')
        );
        let discovery: Discovery = self.get_json(provider, &url).await?;
        // OpenID Connect Discovery §4.3: the issuer it states must be the one asked.
        if discovery.issuer.trim_end_matches('/') != provider.issuer.trim_end_matches('/') {
            return Err(Self::unavailable(
                provider,
                format!(
                    "its configuration names issuer {:?}, not {:?}",
                    discovery.issuer, provider.issuer
                ),
            ));
        }
        self.lock().insert(
            provider.name.clone(),
            Known {
                discovery: discovery.clone(),
                read: Instant::now(),
                keys: None,
            },
        );
        Ok(discovery)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Known>> {
        // A poisoned lock only means a holder panicked; the map is a cache.
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The URL that sends a person to sign in at the provider.
    pub async fn authorization_url(
        &self,
        provider: &IdentityProvider,
        redirect_uri: &str,
        state: &str,
        nonce: &str,
        code_challenge: &str,
    ) -> Result<String, IdpError> {
        let discovery = self.discovery(provider).await?;
        let mut scopes = vec!["openid".to_owned()];
        scopes.extend(provider.scopes.iter().filter(|s| *s != "openid").cloned());
        let mut url = url::Url::parse(&discovery.authorization_endpoint)
            .map_err(|e| Self::unavailable(provider, format!("authorization_endpoint: {e}")))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &provider.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &scopes.join(" "))
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", code_challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(url.into())
    }

    /// Exchanges an authorization code and returns the person's claims (the ID token's,
    /// then userinfo's for what the ID token lacks) and the raw ID token.
    pub async fn exchange(
        &self,
        provider: &IdentityProvider,
        code: &str,
        code_verifier: &str,
        redirect_uri: &str,
        nonce: &str,
        leeway_secs: u64,
    ) -> Result<(Map<String, Value>, String), IdpError> {
        let discovery = self.discovery(provider).await?;
        let res = self
            .http
            .post(&discovery.token_endpoint)
            .basic_auth(&provider.client_id, Some(provider.secret()))
            .header(reqwest::header::ACCEPT, "application/json")
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("grant_type", "authorization_code")
                    .append_pair("code", code)
                    .append_pair("redirect_uri", redirect_uri)
                    .append_pair("code_verifier", code_verifier)
                    .finish(),
            )
            .send()
            .await
            .map_err(|e| Self::unavailable(provider, format!("token endpoint: {e}")))?;
        let status = res.status();
        let body: Value = res
            .json()
            .await
            .map_err(|e| Self::unavailable(provider, format!("token endpoint: {e}")))?;
        if !status.is_success() {
            return Err(IdpError::Refused {
                provider: provider.name.clone(),
                detail: format!(
                    "{} {}",
                    body["error"].as_str().unwrap_or("error"),
                    body["error_description"].as_str().unwrap_or_default()
                ),
            });
        }
        let answer: TokenAnswer = serde_json::from_value(body)
            .map_err(|e| Self::unavailable(provider, format!("token answer: {e}")))?;
        let id_token = answer
            .id_token
            .ok_or_else(|| IdpError::InvalidIdToken("the provider gave no ID token".into()))?;
        let id = self
            .verify_id_token(provider, &discovery, &id_token, nonce, leeway_secs)
            .await?;
        let mut claims = id.rest;
        claims.insert("sub".to_owned(), Value::String(id.sub.clone()));
        if let (Some(userinfo), Some(access)) = (&discovery.userinfo_endpoint, &answer.access_token)
        {
            let res = self
                .http
                .get(userinfo)
                .bearer_auth(access)
                .header(reqwest::header::ACCEPT, "application/json")
                .send()
                .await
                .map_err(|e| Self::unavailable(provider, format!("userinfo: {e}")))?;
            if res.status().is_success() {
                let info: Map<String, Value> = res
                    .json()
                    .await
                    .map_err(|e| Self::unavailable(provider, format!("userinfo: {e}")))?;
                // OpenID Connect Core §5.3.2: userinfo about another subject is discarded.
                if info.get("sub").and_then(Value::as_str) != Some(id.sub.as_str()) {
                    return Err(IdpError::InvalidIdToken(
                        "userinfo describes another subject than the ID token".into(),
                    ));
                }
                for (k, v) in info {
                    claims.entry(k).or_insert(v);
                }
            }
        }
        Ok((claims, id_token))
    }

    async fn verify_id_token(
        &self,
        provider: &IdentityProvider,
        discovery: &Discovery,
        id_token: &str,
        nonce: &str,
        leeway_secs: u64,
    ) -> Result<IdClaims, IdpError> {
        let invalid = |m: &str| IdpError::InvalidIdToken(m.to_owned());
        let header = jsonwebtoken::decode_header(id_token)
            .map_err(|_| invalid("it is not a well-formed JWT"))?;
        if !ID_TOKEN_ALGORITHMS.contains(&header.alg) {
            return Err(IdpError::InvalidIdToken(format!(
                "it is signed with {:?}; only asymmetric algorithms are accepted",
                header.alg
            )));
        }
        let key = self
            .key(provider, discovery, header.kid.as_deref(), header.alg)
            .await?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = leeway_secs;
        validation.set_issuer(&[discovery.issuer.as_str()]);
        validation.set_audience(&[provider.client_id.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<IdClaims>(id_token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            invalid(match e.kind() {
                ErrorKind::ExpiredSignature => "it has expired",
                ErrorKind::InvalidSignature => "its signature does not verify",
                ErrorKind::InvalidAudience => "it is for another client (aud)",
                ErrorKind::InvalidIssuer => "it is from another issuer (iss)",
                _ => "its claims are incomplete or malformed",
            })
        })?;
        if data.claims.nonce.as_deref() != Some(nonce) {
            return Err(invalid("its nonce is not the one this sign-in sent"));
        }
        // OpenID Connect Core §3.1.3.7: with several audiences, the authorized party
        // must be the registry.
        let audiences = data.claims.aud.as_array().map_or(1, Vec::len);
        if audiences > 1 && data.claims.azp.as_deref() != Some(provider.client_id.as_str()) {
            return Err(invalid(
                "it names several audiences and the registry is not its azp",
            ));
        }
        Ok(data.claims)
    }

    /// The provider's key `kid` (the only one, if the token names none), re-reading
    /// the provider's keys when it is not known (rotation), at most once a minute.
    async fn key(
        &self,
        provider: &IdentityProvider,
        discovery: &Discovery,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<DecodingKey, IdpError> {
        let pick = |set: &JwkSet| -> Option<DecodingKey> {
            let jwk = match kid {
                Some(kid) => set.find(kid),
                None if set.keys.len() == 1 => set.keys.first(),
                None => None,
            }?;
            let fits = jwk
                .common
                .key_algorithm
                .is_none_or(|a| a.to_string() == format!("{alg:?}"));
            fits.then(|| DecodingKey::from_jwk(jwk).ok()).flatten()
        };
        let cached = self.lock().get(&provider.name).and_then(|k| k.keys.clone());
        if let Some((set, read)) = &cached {
            if let Some(key) = pick(set) {
                return Ok(key);
            }
            if read.elapsed() < KEY_RETRY {
                return Err(IdpError::InvalidIdToken(
                    "it is signed with a key the provider does not publish".into(),
                ));
            }
        }
        let set: JwkSet = self.get_json(provider, &discovery.jwks_uri).await?;
        let key = pick(&set);
        if let Some(known) = self.lock().get_mut(&provider.name) {
            known.keys = Some((set, Instant::now()));
        }
        key.ok_or_else(|| {
            IdpError::InvalidIdToken("it is signed with a key the provider does not publish".into())
        })
    }
}
