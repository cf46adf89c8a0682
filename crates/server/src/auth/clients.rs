//! `GET /auth/clients`, `PUT /auth/clients/{id}`: administrators register the SIHCE
//! systems that get tokens with their own keys (what `renhice client register` does,
//! for the web app's administration page). Audited like every FHIR request.
//!
//! A client is `{"renipress": "00012345", "jwks": {"keys": [...]}, "active": true}`:
//! the IPRESS it acts for and its public keys. Registering again replaces both (a key
//! rotation takes effect at once); `"active": false` stops it getting new tokens.

use actix_web::{HttpResponse, web};
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
    for (i, key) in keys.iter().enumerate() {
        if !key["kid"].is_string() {
            return Err(JwksRefused(format!("keys[{i}] has no kid")));
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
    serde_json::from_value::<jsonwebtoken::jwk::JwkSet>(value.clone())
        .map(|_| ())
        .map_err(|e| JwksRefused(format!("the JWKS does not parse: {e}")))
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
        "updated": renhice_store::Timestamp::from_micros(client.updated_at).to_rfc3339(),
    })
}

/// `GET /auth/clients`: every registered client.
pub(crate) async fn list(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin], "list the registered clients")?;
    let clients = state.store.run(stored::list).await?;
    Ok(HttpResponse::Ok().json(json!({"clients": clients.iter().map(shown).collect::<Vec<_>>()})))
}

/// The body of a registration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Registration {
    renipress: String,
    jwks: Value,
    #[serde(default = "active")]
    active: bool,
}

const fn active() -> bool {
    true
}

fn invalid(path: &str, message: impl Into<String>) -> ApiError {
    ApiError::Invalid {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// `PUT /auth/clients/{id}`: registers a client or replaces it.
pub(crate) async fn register(
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin], "register clients")?;
    let client_id = path.into_inner();
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
    let registration: Registration = serde_json::from_slice(&body).map_err(|e| {
        invalid(
            "body",
            format!("a registration is {{\"renipress\", \"jwks\", \"active\"}}: {e}"),
        )
    })?;
    let renipress = Renipress::parse(&registration.renipress)
        .map_err(|e| invalid("renipress", e.to_string()))?;
    check_jwks(&registration.jwks).map_err(|e| invalid("jwks", e.0))?;
    let client = Client {
        client_id: client_id.clone(),
        renipress: renipress.as_str().to_owned(),
        jwks: registration.jwks.to_string(),
        active: registration.active,
        updated_at: renhice_store::Timestamp::now().micros(),
    };
    let lookup = client_id.clone();
    let stored_client = client.clone();
    let existed = state
        .store
        .run(move |conn| {
            let existed = stored::find(conn, &lookup)?.is_some();
            stored::register(conn, &stored_client)?;
            Ok(existed)
        })
        .await?;
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
