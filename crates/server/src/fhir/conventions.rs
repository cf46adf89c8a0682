//! FHIR's REST conventions that a generic client relies on, applied to every `/fhir`
//! request in one place rather than in each handler:
//!
//! - **text**: the path and the query string must percent-decode to UTF-8 without
//!   control characters, or the answer is 400 (nothing is searched for a U+FFFD the
//!   client never sent, and no NUL reaches the database);
//! - **content negotiation**: `_format` or `Accept` must allow FHIR JSON or FHIR XML
//!   (with `q` weights; the first of equal weight; a wildcard means JSON), and a `fhirVersion`
//!   media-type parameter must be 4.0 (R4), or the answer is 406; a body sent with
//!   `POST`/`PUT` must be FHIR JSON (`application/fhir+json`, `application/json`), FHIR
//!   XML (`application/fhir+xml`, `application/xml`, `text/xml`) or, for `_search`, a
//!   form, or the answer is 415. An XML body is read by the model (a 400 naming the
//!   element, line and column where it is not FHIR XML) and handed on as JSON, so every
//!   handler, rule and profile holds for both; an answer is written as XML by
//!   [`answer_format`] when XML was asked for;
//! - **absolute `Location`** (and `Content-Location`) headers, from the request's base;
//! - **conditional reads**: `If-None-Match` with the current `ETag` (or `*`), or
//!   `If-Modified-Since` not older than `Last-Modified`, is a 304 without a body;
//! - **`Prefer: return=`** on creates and updates: `minimal` (no body), `representation`
//!   (the default), `OperationOutcome` (an outcome saying what was stored), with
//!   `Preference-Applied`;
//! - **`_summary`** (`true`, `text`, `data`, `false`; `count` is the search's own) and
//!   **`_elements`** on reads and searches: the top-level elements kept are R4's summary
//!   elements (`isSummary`), or those named plus the mandatory ones, and the resource is
//!   tagged `SUBSETTED`.
//!
//! What a handler answers is unchanged for clients that use none of these.

use std::str::FromStr as _;
use std::time::SystemTime;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue, HttpDate};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, HttpRequest, HttpResponse};
use serde_json::{Map, Value, json};

use renhice_model::resources::Resource;

use crate::error::ApiError;

/// The tag of a resource some of whose elements were left out (FHIR R4 §3.1.1.5.7).
const SUBSETTED: (&str, &str) = (
    "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "SUBSETTED",
);

/// Middleware: the conventions above, for `/fhir` paths.
///
/// # Errors
/// Those of the services it wraps.
pub async fn apply(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let path = req.path();
    if !(path == "/fhir" || path.starts_with("/fhir/")) {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    let body = match request_text(req.request())
        .and_then(|()| negotiate(req.request()))
        .and_then(|_| content_type(req.request()))
    {
        Ok(body) => body,
        Err(refusal) => {
            return Ok(req
                .into_response(HttpResponse::from_error(refusal))
                .map_into_boxed_body());
        }
    };
    let mut req = req;
    if body == Body::Xml {
        match xml_body_as_json(&mut req).await {
            Ok(()) => {}
            Err(refusal) => {
                return Ok(req.into_response(refusal).map_into_boxed_body());
            }
        }
    }
    let asked = Asked::of(req.request());
    let res = next.call(req).await?.map_into_boxed_body();
    asked.answer(res).await
}

/// The representation of a FHIR resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Xml,
}

/// What a media range (`application/fhir+xml; fhirVersion=4.0; q=0.9`) allows: the
/// format (`None` for a wildcard, which either format satisfies), and how much it is
/// wanted (0: not at all). `None` for a type the server does not write or a FHIR version
/// other than R4's.
fn media_range(range: &str) -> Option<(Option<Format>, f32)> {
    let mut parts = range.split(';');
    let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let format = match media.as_str() {
        "*/*" | "application/*" => None,
        "json" | "application/json" | "application/fhir+json" | "application/json+fhir" => {
            Some(Format::Json)
        }
        "xml"
        | "text/xml"
        | "application/xml"
        | "application/fhir+xml"
        | "application/xml+fhir" => Some(Format::Xml),
        _ => return None,
    };
    let mut weight = 1.0f32;
    for parameter in parts {
        let (name, value) = parameter.split_once('=').unwrap_or((parameter, ""));
        let value = value.trim().trim_matches('"');
        match name.trim().to_ascii_lowercase().as_str() {
            "fhirversion" if !matches!(value, "4.0" | "4.0.0" | "4.0.1") => return None,
            "q" => {
                weight = value
                    .parse()
                    .ok()
                    .filter(|q: &f32| (0.0..=1.0).contains(q))?;
            }
            _ => {}
        }
    }
    Some((format, weight))
}

/// The format a list of media ranges wants most: the first of the greatest weight; a
/// wildcard stands for JSON, or for XML when JSON is refused by name (`q=0`).
fn preferred(ranges: &str) -> Option<Format> {
    let ranges: Vec<(Option<Format>, f32)> = ranges
        .split(',')
        .filter(|r| !r.trim().is_empty())
        .filter_map(media_range)
        .collect();
    let refused = |format| ranges.contains(&(Some(format), 0.0));
    let mut best: Option<(Format, f32)> = None;
    for (format, weight) in ranges.iter().copied() {
        let format = match format {
            Some(format) if weight > 0.0 => format,
            None if weight > 0.0 && !refused(Format::Json) => Format::Json,
            None if weight > 0.0 && !refused(Format::Xml) => Format::Xml,
            _ => continue,
        };
        if best.is_none_or(|(_, w)| weight > w) {
            best = Some((format, weight));
        }
    }
    best.map(|(format, _)| format)
}

/// Whether a request's body is declared JSON (`application/json`, or any `+json` type):
/// the bodies of the registry's own JSON endpoints (client registration, accreditation).
pub(crate) fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let mime = v.split(';').next().unwrap_or_default().trim();
            mime == "application/json" || mime.ends_with("+json")
        })
}

/// 400 unless the path and the query string decode to UTF-8 text without control
/// characters: a decoder would otherwise put U+FFFD in place of the bytes it cannot
/// read, and search for something nobody sent; and no id, type or value holds a control
/// character (a NUL cannot even reach PostgreSQL).
fn request_text(req: &HttpRequest) -> Result<(), ApiError> {
    let path = percent_encoding::percent_decode_str(req.path()).decode_utf8();
    let path_ok = path.is_ok_and(|p| !p.chars().any(char::is_control));
    if !path_ok {
        return Err(ApiError::Invalid {
            path: "URL".to_owned(),
            message: "the URL's path is not UTF-8 text, or holds a control character; \
                      no resource type, id or operation does"
                .to_owned(),
        });
    }
    let query = req.query_string();
    for part in query.split('&') {
        let spaced = part.replace('+', " ");
        let decoded = percent_encoding::percent_decode_str(&spaced).decode_utf8();
        let control = decoded.as_ref().ok().and_then(|text| {
            text.chars()
                .find(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n'))
        });
        let shown: String = part.chars().take(64).collect();
        if decoded.is_err() {
            return Err(ApiError::Invalid {
                path: "query".to_owned(),
                message: format!(
                    "{shown:?} is not percent-encoded UTF-8 text; encode each parameter's \
                     UTF-8 bytes"
                ),
            });
        }
        if let Some(c) = control {
            return Err(ApiError::Invalid {
                path: "query".to_owned(),
                message: format!(
                    "{shown:?} holds the control character U+{:04X}; no parameter value does",
                    u32::from(c)
                ),
            });
        }
    }
    Ok(())
}

/// The format `_format` (first) or `Accept` asks for; 406 unless one is R4 JSON or XML.
pub(crate) fn negotiate(req: &HttpRequest) -> Result<Format, ApiError> {
    // A client that writes `_format=application/fhir+xml` without encoding the `+` means
    // the plus, not the space a form decoder makes of it.
    let format = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(name, _)| name == "_format")
        .map(|(_, value)| value.replace(' ', "+"));
    let wanted = match format {
        Some(format) => format,
        None => match req.headers().get(header::ACCEPT).map(HeaderValue::to_str) {
            Some(Ok(accept)) => accept.to_owned(),
            Some(Err(_)) => {
                return Err(ApiError::NotAcceptable {
                    accept: "an Accept header that is not text".to_owned(),
                });
            }
            None => return Ok(Format::Json),
        },
    };
    if wanted.trim().is_empty() {
        return Ok(Format::Json);
    }
    preferred(&wanted).ok_or(ApiError::NotAcceptable { accept: wanted })
}

/// What a request's body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// No body is read (not a `POST`, `PUT` or `PATCH`, or an empty one).
    None,
    Json,
    Xml,
    /// A form, for a search.
    Form,
    /// A PDF, for `$verify-signature`.
    Pdf,
}

/// 415 unless a request body is FHIR JSON or XML (or a form, for a search).
fn content_type(req: &HttpRequest) -> Result<Body, ApiError> {
    if !matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH) {
        return Ok(Body::None);
    }
    let empty = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "0");
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return if empty {
            Ok(Body::None)
        } else {
            Err(ApiError::UnsupportedMediaType {
                content_type: "none".to_owned(),
            })
        };
    };
    let text = value.to_str().unwrap_or_default();
    let form = text.split(';').next().is_some_and(|m| {
        m.trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    });
    let search = req.path().ends_with("/_search");
    if form && search {
        return Ok(Body::Form);
    }
    // `*/*` and friends are ranges for Accept, not a body's type.
    let media = text.split(';').next().unwrap_or("").trim();
    // A signed PDF is verified as it is: no FHIR wrapping needed.
    if media.eq_ignore_ascii_case(renhice_signature::pades::PDF)
        && req.path().ends_with("/$verify-signature")
    {
        return Ok(Body::Pdf);
    }
    if !form && !media.is_empty() {
        match media_range(text) {
            Some((Some(Format::Json), _)) => return Ok(Body::Json),
            Some((Some(Format::Xml), _)) => return Ok(Body::Xml),
            _ => {}
        }
    }
    Err(ApiError::UnsupportedMediaType {
        content_type: text.to_owned(),
    })
}

/// Reads an XML body into the model and hands it on as FHIR JSON (with its
/// `Content-Type` changed to match): a 400 naming the element, line and column where it
/// is not FHIR XML, a 413 past `server.max_body_bytes`.
async fn xml_body_as_json(req: &mut ServiceRequest) -> Result<(), HttpResponse> {
    use actix_web::HttpMessage as _;
    use futures_util::StreamExt as _;
    let limit = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .map_or(16 * 1024 * 1024, |state| state.config.max_body_bytes);
    // A body sent compressed (`Content-Encoding: gzip`) is read as the JSON extractors
    // read theirs, and handed on uncompressed.
    let mut payload = actix_web::dev::Decompress::from_headers(req.take_payload(), req.headers());
    req.headers_mut().remove(header::CONTENT_ENCODING);
    let mut bytes = actix_web::web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(HttpResponse::from_error)?;
        if bytes.len() + chunk.len() > limit {
            return Err(HttpResponse::from_error(
                actix_web::error::PayloadError::Overflow,
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    let bytes = bytes.freeze();
    let json = actix_web::web::block(move || {
        Resource::from_xml(&bytes).map(|resource| resource.to_json())
    })
    .await
    .map_err(|e| HttpResponse::from_error(ApiError::caused("a worker task failed", e)))?
    .map_err(|e| {
        HttpResponse::from_error(ApiError::Invalid {
            path: if e.path.is_empty() {
                "Resource".to_owned()
            } else {
                e.path.clone()
            },
            message: format!("the body is not FHIR XML: {e}"),
        })
    })?;
    req.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(renhice_model::FHIR_JSON_MIME),
    );
    req.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(json.len()));
    req.set_payload(actix_web::dev::Payload::from(actix_web::web::Bytes::from(
        json,
    )));
    Ok(())
}

/// Middleware, outside the error handlers so their outcomes are included: a
/// FHIR answer is written as FHIR XML when `_format` or `Accept` prefers XML.
///
/// Every FHIR answer passes through the model, so what XML says is what JSON says. An
/// answer the model cannot write as XML (a lenient read kept a character XML cannot
/// carry) stays JSON, with a warning in the log, rather than becoming an error.
///
/// # Errors
/// Those of the services it wraps.
pub async fn answer_format(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let path = req.path();
    let fhir = path == "/fhir" || path.starts_with("/fhir/");
    let xml = fhir && matches!(negotiate(req.request()), Ok(Format::Xml));
    let mut res = next.call(req).await?.map_into_boxed_body();
    if fhir {
        // The answer's form depends on `Accept`: no shared cache may give one client's
        // XML to another that asked for JSON.
        res.headers_mut()
            .append(header::VARY, HeaderValue::from_static("accept"));
    }
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(renhice_model::FHIR_JSON_MIME));
    if !xml || !is_json {
        return Ok(res);
    }
    let (req, res) = res.into_parts();
    let (head, body) = res.into_parts();
    let bytes = actix_web::body::to_bytes(body)
        .await
        .map_err(|e| ApiError::internal(format!("an answer could not be read back: {e}")))?;
    let mut res = head.set_body(());
    if bytes.is_empty() {
        return Ok(ServiceResponse::new(req, res.set_body(BoxBody::new(bytes))));
    }
    let written = actix_web::web::block(move || {
        let xml = Resource::from_json_with(&bytes, renhice_model::json::Mode::Lenient)
            .map_err(|e| e.to_string())
            .and_then(|resource| resource.to_xml().map_err(|e| e.to_string()));
        (xml, bytes)
    })
    .await
    .map_err(|e| ApiError::caused("a worker task failed", e))?;
    let body = match written {
        (Ok(xml), _) => {
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/fhir+xml; charset=utf-8"),
            );
            xml
        }
        (Err(why), json) => {
            tracing::warn!(%why, "an answer could not be written as XML; it is sent as JSON");
            json.to_vec()
        }
    };
    res.headers_mut().remove(header::CONTENT_LENGTH);
    Ok(ServiceResponse::new(req, res.set_body(BoxBody::new(body))))
}

/// What `Prefer: return=` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Return {
    Minimal,
    Representation,
    Outcome,
}

/// What the request asked of the answer's form.
struct Asked {
    base: String,
    /// A read, vread or search (`GET`).
    get: bool,
    /// A create or an update of a resource (not an operation, not a Bundle).
    write: bool,
    if_none_match: Option<String>,
    if_modified_since: Option<SystemTime>,
    prefer: Option<Return>,
    summary: Option<String>,
    elements: Option<Vec<String>>,
}

impl Asked {
    fn of(req: &HttpRequest) -> Self {
        let info = req.connection_info();
        let base = format!("{}://{}", info.scheme(), info.host());
        let segments: Vec<&str> = req
            .path()
            .trim_start_matches("/fhir")
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        let resource_path = segments
            .first()
            .is_some_and(|t| t.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
            && !segments
                .iter()
                .any(|s| s.starts_with('$') || *s == "_search");
        let write = resource_path
            && ((*req.method() == Method::POST && segments.len() == 1)
                || (*req.method() == Method::PUT && segments.len() <= 2));
        let header_text = |name| {
            req.headers()
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let prefer = header_text(header::HeaderName::from_static("prefer")).and_then(|p| {
            p.split([',', ';']).find_map(|part| {
                match part.trim().strip_prefix("return=")?.trim_matches('"') {
                    "minimal" => Some(Return::Minimal),
                    "representation" => Some(Return::Representation),
                    "OperationOutcome" => Some(Return::Outcome),
                    _ => None,
                }
            })
        });
        let query: Vec<(String, String)> =
            url::form_urlencoded::parse(req.query_string().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
        let summary = query
            .iter()
            .find(|(k, _)| k == "_summary")
            .map(|(_, v)| v.clone());
        let elements = query.iter().find(|(k, _)| k == "_elements").map(|(_, v)| {
            v.split(',')
                .map(|e| e.trim().to_owned())
                .filter(|e| !e.is_empty())
                .collect()
        });
        Self {
            base,
            get: *req.method() == Method::GET && resource_path,
            write,
            if_none_match: header_text(header::IF_NONE_MATCH),
            if_modified_since: header_text(header::IF_MODIFIED_SINCE)
                .and_then(|v| HttpDate::from_str(&v).ok())
                .map(SystemTime::from),
            prefer,
            summary,
            elements,
        }
    }

    async fn answer(
        self,
        res: ServiceResponse<BoxBody>,
    ) -> Result<ServiceResponse<BoxBody>, Error> {
        let (req, mut res) = res.into_parts();
        for name in [header::LOCATION, header::CONTENT_LOCATION] {
            let relative = res
                .headers()
                .get(&name)
                .and_then(|v| v.to_str().ok())
                .filter(|v| v.starts_with('/'))
                .map(str::to_owned);
            if let Some(path) = relative
                && let Ok(value) = HeaderValue::from_str(&format!("{}{path}", self.base))
            {
                res.headers_mut().insert(name, value);
            }
        }
        let status = res.status();
        if self.get && status == StatusCode::OK && self.not_modified(&res) {
            let mut unchanged = HttpResponse::NotModified();
            for name in [header::ETAG, header::LAST_MODIFIED] {
                if let Some(value) = res.headers().get(&name) {
                    unchanged.insert_header((name, value.clone()));
                }
            }
            return Ok(ServiceResponse::new(req, unchanged.finish()));
        }
        let prefer = self.prefer.filter(|_| self.write && status.is_success());
        let shape = self.get
            && status == StatusCode::OK
            && (self.elements.is_some()
                || self
                    .summary
                    .as_deref()
                    .is_some_and(|s| matches!(s, "true" | "text" | "data")));
        if prefer.is_none() && !shape {
            return Ok(ServiceResponse::new(req, res));
        }
        let (head, body) = res.into_parts();
        let bytes = actix_web::body::to_bytes(body)
            .await
            .map_err(|e| ApiError::internal(format!("an answer could not be read back: {e}")))?;
        let mut res = head.set_body(());
        let body = match prefer {
            Some(preference) => {
                res.headers_mut().insert(
                    header::HeaderName::from_static("preference-applied"),
                    HeaderValue::from_static(match preference {
                        Return::Minimal => "return=minimal",
                        Return::Representation => "return=representation",
                        Return::Outcome => "return=OperationOutcome",
                    }),
                );
                match preference {
                    Return::Representation => bytes.to_vec(),
                    Return::Minimal => {
                        res.headers_mut().remove(header::CONTENT_TYPE);
                        Vec::new()
                    }
                    Return::Outcome => stored_outcome(&res, status),
                }
            }
            None => match serde_json::from_slice::<Value>(&bytes) {
                Ok(mut value) => {
                    self.shape(&mut value);
                    in_fhir_order(&value)
                }
                Err(_) => bytes.to_vec(),
            },
        };
        Ok(ServiceResponse::new(req, res.set_body(BoxBody::new(body))))
    }

    /// Whether a conditional read finds the resource unchanged.
    fn not_modified(&self, res: &HttpResponse) -> bool {
        if let Some(wanted) = &self.if_none_match {
            let Some(etag) = res
                .headers()
                .get(header::ETAG)
                .and_then(|v| v.to_str().ok())
            else {
                return false;
            };
            // `W/"2"`, `"2"` and (as some clients send it) `2` name one version.
            let bare = |tag: &str| {
                tag.trim()
                    .trim_start_matches("W/")
                    .trim_matches('"')
                    .to_owned()
            };
            return wanted
                .split(',')
                .any(|tag| tag.trim() == "*" || bare(tag) == bare(etag));
        }
        match (
            self.if_modified_since,
            res.headers()
                .get(header::LAST_MODIFIED)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| HttpDate::from_str(v).ok())
                .map(SystemTime::from),
        ) {
            (Some(since), Some(modified)) => modified <= since,
            _ => false,
        }
    }

    /// `_summary` and `_elements` on a resource, or on each resource of a Bundle.
    fn shape(&self, value: &mut Value) {
        if value["resourceType"] == "Bundle"
            && matches!(value["type"].as_str(), Some("searchset" | "history"))
        {
            for entry in value["entry"].as_array_mut().into_iter().flatten() {
                if let Some(resource) = entry.get_mut("resource") {
                    self.shape_resource(resource);
                }
            }
        } else {
            self.shape_resource(value);
        }
    }

    fn shape_resource(&self, resource: &mut Value) {
        let Some(object) = resource.as_object_mut() else {
            return;
        };
        let Some((summary, required)) = object
            .get("resourceType")
            .and_then(Value::as_str)
            .and_then(renhice_model::resources::summary_elements)
        else {
            return;
        };
        // Kept whatever is asked: what makes the resource itself.
        let always = ["resourceType", "id", "meta"];
        let keep: Box<dyn Fn(&str) -> bool> = match (self.summary.as_deref(), &self.elements) {
            (_, Some(named)) => Box::new(move |key| {
                always.contains(&key)
                    || named.iter().any(|n| is(key, n))
                    || required.iter().any(|n| is(key, n))
            }),
            (Some("true"), None) => {
                Box::new(move |key| always.contains(&key) || summary.iter().any(|n| is(key, n)))
            }
            (Some("text"), None) => Box::new(move |key| {
                always.contains(&key) || key == "text" || required.iter().any(|n| is(key, n))
            }),
            (Some("data"), None) => Box::new(|key| key != "text"),
            _ => return,
        };
        let before = object.len();
        object.retain(|key, _| keep(key.strip_prefix('_').unwrap_or(key)));
        if object.len() < before {
            tag_subsetted(object);
        }
    }
}

/// A shaped resource or Bundle written back in FHIR's element order (`resourceType`
/// first, then as the definitions order them), through the model; as JSON's own order
/// only if the model cannot read it back.
fn in_fhir_order(value: &Value) -> Vec<u8> {
    let text = value.to_string();
    renhice_model::resources::Resource::from_json(text.as_bytes())
        .map_or_else(|_| text.into_bytes(), |resource| resource.to_json())
}

/// Whether JSON key `key` is the element `name` (a choice's key, `deceasedBoolean`, is
/// its base name followed by a type).
fn is(key: &str, name: &str) -> bool {
    key == name
        || key
            .strip_prefix(name)
            .and_then(|rest| rest.chars().next())
            .is_some_and(|c| c.is_ascii_uppercase())
}

fn tag_subsetted(object: &mut Map<String, Value>) {
    let meta = object
        .entry("meta")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(meta) = meta.as_object_mut() else {
        return;
    };
    let tags = meta
        .entry("tag")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Some(tags) = tags.as_array_mut()
        && !tags.iter().any(|t| t["code"] == SUBSETTED.1)
    {
        tags.push(json!({"system": SUBSETTED.0, "code": SUBSETTED.1}));
    }
}

/// `Prefer: return=OperationOutcome`: what was stored, in words.
fn stored_outcome(res: &HttpResponse<()>, status: StatusCode) -> Vec<u8> {
    let location = res
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let what = if status == StatusCode::CREATED {
        "created"
    } else {
        "updated"
    };
    let diagnostics = if location.is_empty() {
        format!("the resource was {what}")
    } else {
        format!("the resource was {what}: {location}")
    };
    json!({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "information", "code": "informational", "diagnostics": diagnostics}],
    })
    .to_string()
    .into_bytes()
}

/// CORS for browser apps of the configured origins (`server.cors_allowed_origins`; `*`
/// for any): preflights answered, the headers a FHIR client sends allowed and those it
/// reads exposed. No cookies: tokens travel as bearer tokens, so credentials are not
/// allowed. With no origin configured, cross-origin requests get no CORS headers and
/// browsers keep them from other origins' scripts.
pub(crate) fn cors(origins: &[String]) -> actix_cors::Cors {
    let mut cors = actix_cors::Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "OPTIONS"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            header::IF_MODIFIED_SINCE,
            header::HeaderName::from_static("prefer"),
            header::HeaderName::from_static("if-none-exist"),
            header::HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            header::LOCATION,
            header::CONTENT_LOCATION,
            header::ETAG,
            header::LAST_MODIFIED,
            header::RETRY_AFTER,
            header::HeaderName::from_static("preference-applied"),
            header::HeaderName::from_static("x-request-id"),
            header::HeaderName::from_static(super::summary::WITHHELD_HEADER),
        ])
        .max_age(3600);
    for origin in origins {
        cors = if origin == "*" {
            cors.allow_any_origin()
        } else {
            cors.allowed_origin(origin)
        };
    }
    cors
}

/// Refuses an origin a browser could never send (`https://host[:port]`, no path), so a
/// typing error stops the start instead of allowing nothing.
///
/// # Errors
/// The first such origin, named.
pub(crate) fn check_origins(origins: &[String]) -> std::io::Result<()> {
    for origin in origins.iter().filter(|o| *o != "*") {
        let usable = url::Url::parse(origin).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some()
                && u.path() == "/"
                && u.query().is_none()
                && !origin.ends_with('/')
        });
        if !usable {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "server.cors_allowed_origins: {origin:?} is not an origin; write it as \
                     https://host or https://host:port (or \"*\" for any)"
                ),
            ));
        }
    }
    Ok(())
}
