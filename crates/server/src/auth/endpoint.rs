//! `POST /auth/token`: access tokens for SIHCE systems, by OAuth 2.0 client credentials
//! authenticated with `private_key_jwt` (SMART Backend Services; RFC 7523), and
//! `GET /.well-known/smart-configuration`, which tells clients how.
//!
//! A client is registered by an administrator (`renhice client register`) with the
//! RENIPRESS code of its IPRESS and its public keys (a JWKS; registering again replaces
//! them, which rotates the keys at once). It asks for a token with a client assertion it
//! signs: `iss` = `sub` = its client id, `aud` = this endpoint's URL, `exp` at most five
//! minutes ahead, a `jti` never used before (the registry keeps each until it expires),
//! and a `kid` of its JWKS. The assertion may name the clinician acting through the
//! SIHCE and the purpose, in the same `extensions.ihe_iua` claims the access token
//! carries (`national_provider_identifier`, `subject_name`, `purpose_of_use`; an
//! emergency reason in `extensions.renhice.emergency_reason`): the token's role is then
//! `clinician`, otherwise `system`. The IPRESS always comes from the registration, never
//! from the assertion.
//!
//! Errors are OAuth's (RFC 6749 §5.2): `{"error": …, "error_description": …}`, 400, or
//! 401 for a client that is not authenticated.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::json;

use renhice_store::clients::Client;

use super::oauth::OAuthError;
use super::token::{Extensions, PURPOSE_SYSTEM};
use super::token::{Grant, Purpose, Role};
use crate::ApiError;
use crate::AppState;

/// What a client assertion may be signed with (SMART asks for ES384 and RS384).
pub const ASSERTION_ALGORITHMS: [Algorithm; 4] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::RS256,
    Algorithm::RS384,
];

/// The longest a client assertion may live, in seconds (SMART Backend Services).
pub const MAX_ASSERTION_LIFETIME_SECS: u64 = 300;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The form of a token request.
#[derive(Debug, Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
    scope: Option<String>,
}

/// The claims of a client assertion.
#[derive(Debug, Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    exp: u64,
    #[serde(default)]
    iat: Option<u64>,
    jti: Option<String>,
    #[serde(default)]
    extensions: Extensions,
}

pub use super::authority::token_endpoint;

/// `POST /auth/token`.
pub(crate) async fn token(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    // Each assertion costs a signature check: requests count against their address.
    let address = req
        .peer_addr()
        .map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string());
    if let Err(ApiError::TooManyRequests { retry_after_secs }) =
        state.limits.check(&format!("ip:{address}"))
    {
        return HttpResponse::TooManyRequests()
            .insert_header((header::RETRY_AFTER, retry_after_secs.to_string()))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(serde_json::json!({
                "error": "temporarily_unavailable",
                "error_description": format!("too many token requests from this address; retry after {retry_after_secs} s"),
            }));
    }
    match issue(&req, &body, &state).await {
        Ok(response) => response,
        Err(e) => e.response(),
    }
}

async fn issue(
    req: &HttpRequest,
    body: &[u8],
    state: &AppState,
) -> Result<HttpResponse, OAuthError> {
    if !crate::fhir::rest::is_form(req) {
        return Err(OAuthError::request(
            "a token request is an application/x-www-form-urlencoded form",
        ));
    }
    let form: TokenForm = serde_urlencoded::from_bytes(body)
        .map_err(|e| OAuthError::request(format!("the form is malformed: {e}")))?;
    if matches!(
        form.grant_type.as_deref(),
        Some("authorization_code" | "refresh_token")
    ) {
        // People's sign-ins (SMART App Launch): see `super::signin`.
        let people: super::signin::PeopleTokenForm = serde_urlencoded::from_bytes(body)
            .map_err(|e| OAuthError::request(format!("the form is malformed: {e}")))?;
        let answer = super::signin::token(req, people, state).await?;
        return Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(answer));
    }
    if form.grant_type.as_deref() != Some("client_credentials") {
        return Err(OAuthError {
            status: StatusCode::BAD_REQUEST,
            error: "unsupported_grant_type",
            description: "this endpoint grants client_credentials (SIHCE systems), \
                          authorization_code and refresh_token (people's apps)"
                .to_owned(),
        });
    }
    if form.client_assertion_type.as_deref() != Some(ASSERTION_TYPE) {
        return Err(OAuthError::client(format!(
            "clients authenticate with private_key_jwt: client_assertion_type={ASSERTION_TYPE}"
        )));
    }
    let assertion = form
        .client_assertion
        .ok_or_else(|| OAuthError::client("the client_assertion is missing"))?;
    let mut grant = verify_assertion(state, &assertion).await?;
    let scope = granted_scope(
        form.scope.as_deref(),
        grant
            .system_scope
            .as_deref()
            .unwrap_or(super::clients::ALL_SYSTEM_SCOPES),
    )?;
    grant.system_scope = Some(scope.clone());
    let lifetime = state.auth.config.token_lifetime_secs;
    let access_token = state.auth.issue(&grant, None).map_err(|e| {
        tracing::error!(error = %e, "cannot sign an access token");
        OAuthError::server("the registry cannot sign tokens now; see its log")
    })?;
    tracing::info!(client = %grant.subject, role = %grant.role, "access token issued");
    // The token request's audit event names the client it was answered for.
    crate::audit::handle_of(req).caller(&grant);
    // RFC 6749 §5.1: the scope granted, which the client may compare with its request.
    let answer = json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": lifetime,
        "scope": scope,
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(answer))
}

/// The registered client an assertion names, and the key of its JWKS (by the
/// assertion's `kid`) that must have signed it with the algorithm of its header.
async fn client_key(
    state: &AppState,
    assertion: &str,
) -> Result<(Client, DecodingKey, Algorithm), OAuthError> {
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| {
        OAuthError::client(
            "the client_assertion is not a JWT signed with ES256, ES384, RS256 or RS384",
        )
    })?;
    if !ASSERTION_ALGORITHMS.contains(&header.alg) {
        return Err(OAuthError::client(format!(
            "the client_assertion is signed with {:?}; accepted: ES256, ES384, RS256, RS384",
            header.alg
        )));
    }
    let kid = header
        .kid
        .ok_or_else(|| OAuthError::client("the client_assertion names no key (kid)"))?;
    // The client is named inside the assertion; its keys decide whether to believe it.
    let unverified: AssertionClaims = jsonwebtoken::dangerous::insecure_decode_claims(assertion)
        .map_err(|_| OAuthError::client("the client_assertion's claims are malformed"))?;
    let client_id = unverified.iss;
    let lookup = client_id.clone();
    let client = state
        .store
        .run(move |conn| renhice_store::clients::find(conn, &lookup))
        .await
        .map_err(|e| OAuthError::database(&e))?
        .filter(|c| c.active)
        .ok_or_else(|| {
            OAuthError::client(format!("no active client {client_id:?} is registered"))
        })?;
    let jwks: JwkSet = serde_json::from_str(&client.jwks)
        .map_err(|_| OAuthError::client("the client's registered JWKS is unreadable"))?;
    let jwk = jwks.find(&kid).ok_or_else(|| {
        OAuthError::client(format!(
            "key {kid:?} is not among the client's registered keys"
        ))
    })?;
    let key = DecodingKey::from_jwk(jwk)
        .map_err(|_| OAuthError::client(format!("the client's key {kid:?} is not usable")))?;
    Ok((client, key, header.alg))
}

/// Checks a client assertion and returns the grant its client may have.
async fn verify_assertion(state: &AppState, assertion: &str) -> Result<Grant, OAuthError> {
    let (client, key, alg) = client_key(state, assertion).await?;
    let client_id = client.client_id.clone();
    let endpoint = token_endpoint(&state.auth.config.issuer);
    let leeway = state.auth.config.leeway_secs;
    let mut validation = Validation::new(alg);
    validation.leeway = leeway;
    validation.validate_nbf = true;
    validation.set_audience(&[endpoint.as_str()]);
    validation.set_issuer(&[client_id.as_str()]);
    validation.sub = Some(client_id.clone());
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    let claims = jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &validation)
        .map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            OAuthError::client(match e.kind() {
                ErrorKind::ExpiredSignature => "the client_assertion has expired".to_owned(),
                ErrorKind::InvalidAudience => {
                    format!("the client_assertion's aud must be this endpoint, {endpoint}")
                }
                ErrorKind::InvalidIssuer | ErrorKind::InvalidSubject => {
                    "the client_assertion's iss and sub are both the client id".to_owned()
                }
                ErrorKind::InvalidSignature => {
                    "the client_assertion's signature does not verify".to_owned()
                }
                ErrorKind::ImmatureSignature => {
                    "the client_assertion is not valid yet (nbf)".to_owned()
                }
                _ => "the client_assertion is not valid".to_owned(),
            })
        })?
        .claims;
    let now = jsonwebtoken::get_current_timestamp();
    let lives = claims
        .exp
        .saturating_sub(claims.iat.unwrap_or(now).min(now));
    if lives > MAX_ASSERTION_LIFETIME_SECS + leeway {
        return Err(OAuthError::client(format!(
            "the client_assertion lives {lives} s; at most {MAX_ASSERTION_LIFETIME_SECS} s"
        )));
    }
    let jti = claims
        .jti
        .clone()
        .filter(|j| !j.is_empty())
        .ok_or_else(|| OAuthError::client("the client_assertion has no jti"))?;
    let expires = i64::try_from(claims.exp).unwrap_or(i64::MAX);
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    let fresh = state
        .store
        .run(move |conn| {
            renhice_store::clients::use_assertion(conn, &client_id, &jti, expires, now)
        })
        .await
        .map_err(|e| OAuthError::database(&e))?;
    if !fresh {
        return Err(OAuthError::grant(
            "this client_assertion (its jti) was used before; sign a new one for each request",
        ));
    }
    grant_for(&client, &claims)
}

/// The grant of a verified assertion: the client's IPRESS, and the clinician and
/// purpose it names, if any.
fn grant_for(client: &Client, claims: &AssertionClaims) -> Result<Grant, OAuthError> {
    let iua = &claims.extensions.ihe_iua;
    let purpose = match &iua.purpose_of_use {
        None => Purpose::Treat,
        Some(c) if c.system == PURPOSE_SYSTEM => Purpose::from_code(&c.code)
            .filter(|p| matches!(p, Purpose::Treat | Purpose::Emergency))
            .ok_or_else(|| {
                OAuthError::grant(format!(
                    "a SIHCE asks for TREAT or ETREAT purposes, not {}",
                    c.code
                ))
            })?,
        Some(c) => {
            return Err(OAuthError::grant(format!(
                "purpose_of_use is a code of {PURPOSE_SYSTEM}, not of {}",
                c.system
            )));
        }
    };
    let role = if iua.national_provider_identifier.is_some() {
        Role::Clinician
    } else {
        Role::System
    };
    Ok(Grant {
        subject: claims.sub.clone(),
        role,
        organization: Some(client.renipress.clone()),
        practitioner: iua.national_provider_identifier.clone(),
        name: iua.subject_name.clone(),
        person: None,
        purpose,
        emergency_reason: claims.extensions.renhice.emergency_reason.clone(),
        sign_in: None,
        // What the registration grants; the token request may narrow it.
        system_scope: Some(
            client
                .scope
                .clone()
                .unwrap_or_else(|| super::clients::ALL_SYSTEM_SCOPES.to_owned()),
        ),
    })
}

/// The scopes a SIHCE's token carries: those it asked for (`asked`), if each lies within
/// what its registration grants (`registered`); all of those otherwise.
fn granted_scope(asked: Option<&str>, registered: &str) -> Result<String, OAuthError> {
    use super::scopes::Scopes;
    let invalid = |description: String| OAuthError {
        status: StatusCode::BAD_REQUEST,
        error: "invalid_scope",
        description,
    };
    let registered_scopes = Scopes::parse_system(registered).map_err(|e| {
        OAuthError::server(format!("the client's registered scope is unusable: {e}"))
    })?;
    let Some(asked) = asked.filter(|a| !a.trim().is_empty()) else {
        return Ok(registered_scopes.to_string());
    };
    let asked_scopes = Scopes::parse_system(asked).map_err(|e| invalid(e.0))?;
    if !asked_scopes.within(&registered_scopes) {
        return Err(invalid(format!(
            "{asked:?} asks for more than this client is registered for: {registered}"
        )));
    }
    Ok(asked_scopes.to_string())
}

/// `GET /.well-known/smart-configuration`: how to get a token here, for SIHCE systems
/// (client credentials) and people's apps (SMART App Launch).
pub(crate) async fn smart_configuration(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(super::signin::metadata(&state))
}

/// `GET /auth/jwks`: the public keys that verify the registry's tokens.
pub(crate) async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/jwk-set+json")
        .json(state.auth.keys.jwks())
}
