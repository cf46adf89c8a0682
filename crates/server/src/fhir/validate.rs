//! `POST /fhir/$validate` and `POST /fhir/{type}/$validate`: a resource checked against
//! FHIR R4 and the profiles under `profiles/` by `renhice-validator`, answered with an
//! `OperationOutcome`.
//!
//! The body is the resource itself, or a `Parameters` whose `resource` parameter holds it
//! (as FHIR's `$validate` defines; `mode` `create` and `update` are accepted and change
//! nothing, `delete` is refused). A `profile` (a `Parameters` parameter, or `?profile=`
//! in the URL, repeatable) checks the resource against that profile too; one the
//! registry does not know is a 400 naming it. The profiles the resource claims in
//! `meta.profile` are checked whenever they are known. The
//! answer is 200 whenever validation ran, valid or not: the issues say which, each with
//! its element path and rule. Nothing is stored. Any authenticated caller may validate:
//! the body is the caller's own, and no patient record is read.

use actix_web::{HttpRequest, HttpResponse, web};
use renhice_validator::Validator;
use serde_json::Value;

use crate::auth::access::Caller;
use crate::auth::token::Role;
use crate::{ApiError, AppState};

fn invalid(path: &str, message: impl Into<String>) -> ApiError {
    ApiError::Invalid {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// The resource to validate (the body, or its `Parameters.resource`) and the profiles
/// the `Parameters` ask for.
fn resource_of(body: Value) -> Result<(Value, Vec<String>), ApiError> {
    if body.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
        return Ok((body, Vec::new()));
    }
    let mut profiles = Vec::new();
    let parameters = body
        .get("parameter")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut resource = None;
    for (index, parameter) in parameters.into_iter().enumerate() {
        let path = format!("Parameters.parameter[{index}]");
        match parameter.get("name").and_then(Value::as_str) {
            Some("resource") => {
                resource =
                    Some(parameter.get("resource").cloned().ok_or_else(|| {
                        invalid(&path, "the resource parameter carries no resource")
                    })?);
            }
            Some("mode") => {
                let mode = parameter.get("valueCode").and_then(Value::as_str);
                if !matches!(mode, Some("create" | "update")) {
                    return Err(invalid(
                        &path,
                        format!("mode {mode:?} is not supported (create, update)"),
                    ));
                }
            }
            Some("profile") => {
                let url = ["valueUri", "valueCanonical", "valueString"]
                    .iter()
                    .find_map(|key| parameter.get(*key).and_then(Value::as_str))
                    .ok_or_else(|| invalid(&path, "the profile parameter carries no valueUri"))?;
                profiles.push(url.to_owned());
            }
            other => {
                return Err(invalid(
                    &path,
                    format!("{other:?} is not a parameter of $validate (resource, mode, profile)"),
                ));
            }
        }
    }
    let resource = resource
        .ok_or_else(|| invalid("Parameters", "no resource parameter: nothing to validate"))?;
    Ok((resource, profiles))
}

/// The `profile` parameters of the query string.
fn query_profiles(request: &HttpRequest) -> Vec<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(request.query_string())
        .unwrap_or_default()
        .into_iter()
        .filter(|(name, _)| name == "profile")
        .map(|(_, value)| value)
        .collect()
}

async fn run(
    body: web::Bytes,
    expected_type: Option<String>,
    asked: Vec<String>,
    caller: &Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require(&Role::ALL, "validate a resource ($validate)")?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(invalid(
            "$validate",
            "the request has no body; send the resource (or a Parameters with a resource parameter) as application/fhir+json",
        ));
    }
    let outcome = web::block(move || -> Result<_, ApiError> {
        let validator = Validator::renhice();
        let Ok(value) = serde_json::from_slice::<Value>(&body) else {
            // Not JSON: the validator says where.
            return Ok(renhice_validator::outcome(validator.validate_json(&body)));
        };
        let (resource, mut profiles) = resource_of(value)?;
        profiles.extend(asked);
        if let Some(unknown) = profiles.iter().find(|url| {
            validator
                .definitions()
                .by_url(url)
                .is_none_or(|definition| !definition.is_profile())
        }) {
            return Err(invalid(
                "profile",
                format!(
                    "{unknown} is not a profile the registry knows (it knows: {})",
                    validator.definitions().profile_urls().join(", ")
                ),
            ));
        }
        let found = resource.get("resourceType").and_then(Value::as_str);
        if let (Some(expected), Some(found)) = (&expected_type, found)
            && expected != found
        {
            return Err(invalid(
                &format!("{found}.resourceType"),
                format!("the body is a {found}, but the URL is for {expected}"),
            ));
        }
        Ok(renhice_validator::outcome(
            validator.validate_against(&resource, &profiles),
        ))
    })
    .await
    .map_err(|error| ApiError::caused("a worker task failed", error))??;
    crate::fhir::rest::ok_outcome(&outcome)
}

/// `POST /fhir/$validate`.
pub(crate) async fn any(
    request: HttpRequest,
    body: web::Bytes,
    _state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    run(body, None, query_profiles(&request), &caller).await
}

/// `POST /fhir/{type}/$validate`.
pub(crate) async fn typed(
    request: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    _state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    run(
        body,
        Some(path.into_inner()),
        query_profiles(&request),
        &caller,
    )
    .await
}
