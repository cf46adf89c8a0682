//! `POST /fhir/$verify-signature`: the registry's signature verifier, for clinicians and
//! auditors who hold a signed act and want to know whether its firma digital stands,
//! with the registry's trust anchors, revocation information and clock.
//!
//! The body is what carries the signatures: a Bundle (its own `Bundle.signature`, and the
//! signatures of its Provenance entries over the entries they target) or a Provenance
//! whose targets are among its `contained` resources; or a `Parameters` with that
//! resource as `resource` and the resources a Provenance signs as repeated `target`
//! parameters; or a signed PDF (`PAdES`), sent as `application/pdf` or as a `Binary`
//! (alone or as the `resource` parameter). The answer is 200 with the verifier's report as an `OperationOutcome` (one
//! verdict issue per signature, with its ETSI indication and sub-indication, then one
//! issue per check), whatever the verdict; a body with no signature is a 422. Nothing is
//! stored; the request is audited as every FHIR interaction is (operation
//! `verify-signature`). Where the registry verifies no signatures (no trust directory, or
//! `server.signature_policy = "off"`), it holds no trust anchor, every signature's path is
//! untrusted, and the answer says so first.

use actix_web::{HttpResponse, web};
use renhice_model::resources::Resource;
use renhice_model::{IssueSeverity, IssueType, OperationOutcomeIssue};
use serde_json::Value;
use time::OffsetDateTime;

use crate::auth::access::Caller;
use crate::auth::token::Role;
use crate::signatures::Policy;
use crate::{ApiError, AppState};

/// The operation's definition (`profiles/renhice/OperationDefinition-verify-signature.json`).
pub(crate) const DEFINITION: &str = "http://renhice.org/fhir/OperationDefinition/verify-signature";

fn invalid(path: &str, message: impl Into<String>) -> ApiError {
    ApiError::Invalid {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// The signed resource and the resources a Provenance signs.
fn inputs(body: Value) -> Result<(Value, Vec<Value>), ApiError> {
    if body.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
        return Ok((body, Vec::new()));
    }
    let mut resource = None;
    let mut targets = Vec::new();
    let parameters = body
        .get("parameter")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (index, parameter) in parameters.into_iter().enumerate() {
        let path = format!("Parameters.parameter[{index}]");
        let carried = || {
            parameter
                .get("resource")
                .cloned()
                .ok_or_else(|| invalid(&path, "the parameter carries no resource"))
        };
        match parameter.get("name").and_then(Value::as_str) {
            Some("resource") if resource.is_none() => resource = Some(carried()?),
            Some("resource") => {
                return Err(invalid(
                    &path,
                    "a second resource parameter: verify one signed resource per request",
                ));
            }
            Some("target") => targets.push(carried()?),
            other => {
                return Err(invalid(
                    &path,
                    format!("{other:?} is not a parameter of $verify-signature (resource, target)"),
                ));
            }
        }
    }
    let resource = resource.ok_or_else(|| {
        invalid(
            "Parameters",
            "no resource parameter: send the signed Bundle or Provenance as the resource parameter",
        )
    })?;
    Ok((resource, targets))
}

fn parse(value: &Value, path: &str) -> Result<Resource, ApiError> {
    Resource::from_json(value.to_string().as_bytes())
        .map_err(|error| invalid(path, format!("not a FHIR R4 resource: {error}")))
}

/// The bytes of a `Binary` holding a PDF.
fn binary_pdf(binary: &Value) -> Result<Vec<u8>, ApiError> {
    use base64::Engine as _;
    let content_type = binary
        .get("contentType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !content_type.split(';').next().is_some_and(|media| {
        media
            .trim()
            .eq_ignore_ascii_case(renhice_signature::pades::PDF)
    }) {
        return Err(invalid(
            "Binary.contentType",
            format!(
                "a Binary of {content_type:?} carries no firma digital this operation reads: send a signed PDF (application/pdf)"
            ),
        ));
    }
    let data = binary.get("data").and_then(Value::as_str).ok_or_else(|| {
        invalid(
            "Binary.data",
            "the Binary has no data: send the PDF's base64",
        )
    })?;
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|error| invalid("Binary.data", format!("not base64: {error}")))
}

/// `POST /fhir/$verify-signature`.
pub(crate) async fn verify_signature(
    req: actix_web::HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require(&Role::ALL, "verify a firma digital ($verify-signature)")?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(invalid(
            "$verify-signature",
            "the request has no body; send the signed Bundle or Provenance (or a Parameters with resource and target parameters) as application/fhir+json, or a signed PDF as application/pdf or in a Binary",
        ));
    }
    let pdf_body = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case(renhice_signature::pades::PDF)
        });
    if pdf_body {
        return verify_pdf(body.to_vec(), "$verify-signature", &state).await;
    }
    let value: Value = serde_json::from_slice(&body).map_err(|error| {
        invalid(
            "$verify-signature",
            format!("the body is not JSON: {error}"),
        )
    })?;
    let (resource, targets) = inputs(value)?;
    let kind = resource
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if kind == "Binary" {
        return verify_pdf(binary_pdf(&resource)?, "Binary.data", &state).await;
    }
    if !matches!(kind.as_str(), "Bundle" | "Provenance") {
        return Err(invalid(
            &format!("{kind}.resourceType"),
            format!(
                "a {kind} carries no firma digital this operation reads: send a Bundle (Bundle.signature, or Provenance entries) or a Provenance"
            ),
        ));
    }
    let resource = parse(&resource, &kind)?;
    let targets = targets
        .iter()
        .enumerate()
        .map(|(index, target)| parse(target, &format!("Parameters.parameter.target[{index}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let reports = state
        .signatures
        .verify_fetching(&resource, &targets, OffsetDateTime::now_utc())
        .await;
    if reports.is_empty() {
        return Err(ApiError::Unprocessable {
            path: kind.clone(),
            message: format!(
                "the {kind} carries no firma digital: no Bundle.signature and no Provenance.signature"
            ),
        });
    }
    answer(&reports, &state)
}

/// A PDF's signatures, verified with the registry's trust and revocation information.
async fn verify_pdf(pdf: Vec<u8>, path: &str, state: &AppState) -> Result<HttpResponse, ApiError> {
    use renhice_signature::PdfError;
    let now = OffsetDateTime::now_utc();
    // The file is read once to refuse what is not a signed PDF with its reason; the
    // reports come from the verification that may fetch revocation information.
    if let Err(error) = state.signatures.verifier().verify_pdf(&pdf, now) {
        return Err(match error {
            PdfError::Encrypted | PdfError::TooManySignatures { .. } => ApiError::Unprocessable {
                path: path.to_owned(),
                message: error.to_string(),
            },
            _ => invalid(path, error.to_string()),
        });
    }
    let reports = state
        .signatures
        .verify_fetching_with(
            |verifier| verifier.verify_pdf(&pdf, now).unwrap_or_default(),
            now,
        )
        .await;
    if reports.is_empty() {
        return Err(ApiError::Unprocessable {
            path: path.to_owned(),
            message: "the PDF carries no signature: no signature field has a value".into(),
        });
    }
    answer(&reports, state)
}

/// The reports as an `OperationOutcome`, warning first where the registry holds no trust.
fn answer(
    reports: &[renhice_signature::SignatureReport],
    state: &AppState,
) -> Result<HttpResponse, ApiError> {
    let mut outcome = renhice_signature::operation_outcome(reports);
    if state.signatures.policy() == Policy::Off {
        outcome.issue.insert(
            0,
            OperationOutcomeIssue::new(
                IssueSeverity::Warning,
                IssueType::Incomplete,
                "this registry verifies no signatures (server.signature_policy is off, or no server.signature_trust_dir is set): it holds no trust anchor, so no certificate path can reach one and no signature can pass; the integrity and signature value checks still say whether the content was changed",
            ),
        );
    }
    crate::fhir::rest::ok_outcome(&outcome)
}
