//! `GET /auth/clients`, `PUT /auth/clients/{id}`: administrators register the SIHCE
//! systems that get tokens with their own keys (what `renhice client register` does,
//! for the web app's administration page). Audited like every FHIR request.
//!
//! A client is `{"renipress": "00012345", "jwks": {"keys": [...]}, "active": true,
//! "scope": "system/Patient.cru system/DocumentReference.crs"}`: the IPRESS it acts for,
//! its public keys and the SMART `system/` scopes its tokens may carry (all its role
//! allows, `system/*.cruds`, when none is named). Registering again replaces both (a key
//! rotation takes effect at once); `"active": false` stops it getting new tokens.

use actix_web::{HttpRequest, HttpResponse, web};
use renhice_model::peru::Renipress;
use renhice_store::clients::{self as stored, Client};
use serde::Deserialize;
use serde_json::{Value, json};

use super::access::Caller;
use super::token::Role;
use crate::{ApiError, AppState};

/// Why a key set cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JwksRefused(pub String);

/// Refuses a key set the token endpoint could not use: every key needs a `kid` and an
/// algorithm family the endpoint accepts, and no private part may be in it.
pub fn check_jwks(value: &Value) -> Result<(), JwksRefused> {
    let keys = value["keys"]
        .as_array()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| JwksRefused("a JWKS is {\"keys\": [ … ]} with at least one key".into()))?;
    let mut kids = std::collections::HashSet::new();
    for (i, key) in keys.iter().enumerate() {
        let Some(kid) = key["kid"].as_str().filter(|k| !k.is_empty()) else {
            return Err(JwksRefused(format!("keys[{i}] has no kid")));
        };
        // The token endpoint picks the key by kid: two keys with one kid would make
        // which one verifies an accident.
        if !kids.insert(kid) {
            return Err(JwksRefused(format!("keys[{i}]: kid {kid:?} is repeated")));
        }
        if key.get("d").is_some() {
            return Err(JwksRefused(format!(
                "keys[{i}] holds a private key: register only the public keys"
            )));
        }
        if !matches!(key["kty"].as_str(), Some("EC" | "RSA")) {
            return Err(JwksRefused(format!(
                "keys[{i}] is neither an EC nor an RSA key"
            )));
        }
    }
    let set = serde_json::from_value::<jsonwebtoken::jwk::JwkSet>(value.clone())
        .map_err(|e| JwksRefused(format!("the JWKS does not parse: {e}")))?;
    // Each key must be one the token endpoint can verify with, now rather than at the
    // client's first request: its parts of the right size for its curve, RSA of 2048
    // bits at least. (Whether an EC point lies on its curve is found at the first
    // assertion it verifies, which then fails naming the key.)
    for (i, (jwk, raw)) in set.keys.iter().zip(keys).enumerate() {
        jsonwebtoken::DecodingKey::from_jwk(jwk)
            .map_err(|e| JwksRefused(format!("keys[{i}] is not a usable public key: {e}")))?;
        let bytes = |name: &str| {
            raw[name]
                .as_str()
                .and_then(|v| {
                    base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, v)
                        .ok()
                })
                .map_or(0, |b| b.len())
        };
        let fits = match raw["kty"].as_str() {
            Some("EC") => {
                let size = match raw["crv"].as_str() {
                    Some("P-256") => 32,
                    Some("P-384") => 48,
                    Some("P-521") => 66,
                    _ => 0,
                };
                size > 0 && bytes("x") == size && bytes("y") == size
            }
            _ => bytes("n") >= 256 && bytes("e") > 0,
        };
        if !fits {
            return Err(JwksRefused(format!(
                "keys[{i}] is not a usable public key: an EC key on P-256, P-384 or P-521 \
                 with coordinates of its size, or an RSA key of 2048 bits or more"
            )));
        }
    }
    Ok(())
}

/// Refuses all but an administrator; a signed-in administrator only through the
/// registry's own web app. No SMART scope names these endpoints, so another app an
/// administrator signed in to cannot be allowed them by its scopes: it could replace a
/// SIHCE's keys and act for its IPRESS.
fn administrator(caller: &Caller, action: &str) -> Result<(), ApiError> {
    caller.require(&[Role::Admin], action)?;
    super::signin::only_from_web_app(caller, action)
}

/// A client as the API shows it: its keys by id, never more.
fn shown(client: &Client) -> Value {
    let kids: Vec<Value> = serde_json::from_str::<Value>(&client.jwks)
        .ok()
        .and_then(|j| j["keys"].as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .map(|k| k["kid"].clone())
        .collect();
    json!({
        "client_id": client.client_id,
        "renipress": client.renipress,
        "active": client.active,
        "kids": kids,
        "scope": client.scope.as_deref().unwrap_or(ALL_SYSTEM_SCOPES),
        "updated": renhice_store::Timestamp::from_micros(client.updated_at).to_rfc3339(),
    })
}

/// `GET /auth/clients`: every registered client.
pub(crate) async fn list(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    administrator(&caller, "list the registered clients")?;
    let clients = state.store.run(stored::list).await?;
    Ok(HttpResponse::Ok().json(json!({"clients": clients.iter().map(shown).collect::<Vec<_>>()})))
}

/// The body of a registration: `jwks` may be left out to change only the IPRESS or
/// `active` of a registered client.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Registration {
    renipress: String,
    #[serde(default)]
    jwks: Option<Value>,
    #[serde(default = "active")]
    active: bool,
    /// The SMART `system/` scopes its tokens may carry; left out: as registered before
    /// (a new client: every scope its role allows).
    #[serde(default)]
    scope: Option<String>,
}

/// What a client may be granted when its registration names no scope.
pub const ALL_SYSTEM_SCOPES: &str = "system/*.cruds";

const fn active() -> bool {
    true
}

fn invalid(path: &str, message: impl Into<String>) -> ApiError {
    ApiError::Invalid {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// A registration's body, checked: the client id's form, not a people's app's id, JSON,
/// the RENIPRESS code's form and the keys.
fn read_registration(
    req: &HttpRequest,
    client_id: &str,
    body: &[u8],
    state: &AppState,
) -> Result<(Registration, Renipress), ApiError> {
    let valid_id = !client_id.is_empty()
        && client_id.len() <= 64
        && client_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
    if !valid_id {
        return Err(invalid(
            "client_id",
            "a client id is 1 to 64 letters, digits, '-', '.' or '_'",
        ));
    }
    let reserved = client_id == super::signin::WEB_APP
        || state
            .auth
            .config
            .apps
            .iter()
            .any(|a| a.client_id == client_id);
    if reserved {
        return Err(invalid(
            "client_id",
            format!("{client_id:?} is the id of a people's app of this registry"),
        ));
    }
    if !crate::fhir::conventions::is_json(req) {
        return Err(invalid(
            "content-type",
            "a registration is sent as application/json",
        ));
    }
    let registration: Registration = serde_json::from_slice(body).map_err(|e| {
        invalid(
            "body",
            format!("a registration is {{\"renipress\", \"jwks\", \"active\", \"scope\"}}: {e}"),
        )
    })?;
    let renipress = Renipress::parse(&registration.renipress)
        .map_err(|e| invalid("renipress", e.to_string()))?;
    if let Some(jwks) = &registration.jwks {
        check_jwks(jwks).map_err(|e| invalid("jwks", e.0))?;
    }
    if let Some(scope) = &registration.scope {
        super::scopes::Scopes::parse_system(scope).map_err(|e| invalid("scope", e.0))?;
    }
    Ok((registration, renipress))
}

/// `PUT /auth/clients/{id}`: registers a client or replaces it.
pub(crate) async fn register(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    administrator(&caller, "register clients")?;
    let client_id = path.into_inner();
    let (registration, renipress) = read_registration(&req, &client_id, &body, &state)?;
    let lookup = client_id.clone();
    let code = renipress.as_str().to_owned();
    let (existing, ipress) = state
        .store
        .run(move |conn| {
            let existing = stored::find(conn, &lookup)?;
            let ipress = renhice_store::resources::key_holder(
                conn,
                "Organization",
                &format!("renipress|{code}"),
            )?;
            Ok((existing, ipress))
        })
        .await?;
    if ipress.is_none() {
        return Err(invalid(
            "renipress",
            format!(
                "no IPRESS with RENIPRESS code {} is registered: register it as an \
                 Organization first",
                renipress.as_str()
            ),
        ));
    }
    let jwks = match (registration.jwks, &existing) {
        (Some(jwks), _) => jwks.to_string(),
        (None, Some(known)) => known.jwks.clone(),
        (None, None) => {
            return Err(invalid(
                "jwks",
                "a new client is registered with its public keys (jwks)",
            ));
        }
    };
    let client = Client {
        client_id: client_id.clone(),
        renipress: renipress.as_str().to_owned(),
        jwks,
        active: registration.active,
        updated_at: renhice_store::Timestamp::now().micros(),
        scope: registration
            .scope
            .as_deref()
            .and_then(|s| super::scopes::Scopes::parse_system(s).ok())
            .map(|s| s.to_string())
            .or_else(|| existing.as_ref().and_then(|e| e.scope.clone())),
    };
    let stored_client = client.clone();
    state
        .store
        .run(move |conn| stored::register(conn, &stored_client))
        .await?;
    let existed = existing.is_some();
    caller.audit().entity("Device", &client_id);
    tracing::info!(client = %client_id, renipress = %client.renipress, active = client.active, "client registered");
    let mut res = if existed {
        HttpResponse::Ok()
    } else {
        HttpResponse::Created()
    };
    Ok(res.json(shown(&client)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_keys_with_ids_are_registered() {
        let good = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]});
        assert_eq!(check_jwks(&good), Ok(()));
        for bad in [
            json!({"keys": []}),
            json!({"keys": [{"kty": "EC", "crv": "P-256"}]}),
            json!({"keys": [{"kty": "oct", "kid": "s", "k": "c2VjcmV0"}]}),
            json!({"keys": [{"kty": "EC", "kid": "p", "crv": "P-256", "d": "x", "x": "y", "y": "z"}]}),
        ] {
            assert!(check_jwks(&bad).is_err(), "{bad}");
        }
    }
}
