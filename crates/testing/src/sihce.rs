//! Sample SIHCE endpoints, the targets of the accreditation suites' tests: a small FHIR
//! server with what an IPRESS's electronic health record shows the suites, either as the
//! accreditation wants it or deliberately not.
//!
//! The **conforming** one answers over HTTPS (a certificate from a CA made here, given to
//! the client as [`SampleSihce::ca_pem`]), refuses every request but `metadata` without
//! its bearer token (401), claims `PacientePe` for Patient in its CapabilityStatement,
//! serves its patient and the patient's summary as given, and refuses a Patient that is
//! not a `PacientePe` (422, checked with the registry's own validator).
//!
//! The **non-conforming** one answers over plain HTTP, to anyone, claims FHIR 4.0.0 and
//! no profile, and takes whatever it is sent (201).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, mpsc};

use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};

/// The profile a conforming SIHCE holds its patients to.
pub const PACIENTE_PE: &str =
    "https://www.gob.pe/minsa/RENHICE/fhir/StructureDefinition/PacientePe";

/// What a sample SIHCE holds.
#[derive(Debug, Clone)]
pub struct Holdings {
    /// The bearer token it accepts (the conforming one only).
    pub token: String,
    /// Its patient (with an `id`), served at `Patient/{id}`.
    pub patient: Value,
    /// The patient's summary (a document Bundle), served at `Patient/{id}/$summary`.
    pub summary: Value,
}

struct State {
    conforming: bool,
    holdings: Holdings,
    base: String,
    created: AtomicU32,
}

/// A running sample SIHCE; stopped when dropped.
pub struct SampleSihce {
    /// Its FHIR base URL (`https://127.0.0.1:PORT/fhir` or `http://…`).
    pub base_url: String,
    /// The PEM certificate of the CA that issued its TLS certificate (conforming only).
    pub ca_pem: Option<String>,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for SampleSihce {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SampleSihce")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl SampleSihce {
    /// Starts a sample SIHCE on an ephemeral loopback port.
    ///
    /// # Panics
    /// When the server cannot start (a test set-up failure).
    #[must_use]
    #[allow(
        clippy::expect_used,
        reason = "test set-up: a failure must stop the test"
    )]
    pub fn start(conforming: bool, holdings: Holdings) -> Self {
        let tls = conforming.then(tls_material);
        let (ready, started) = mpsc::channel();
        let server_tls = tls.as_ref().map(|(config, _)| config.clone());
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                // The state names the base URL, known only once the port is bound.
                let shared: Arc<std::sync::OnceLock<web::Data<State>>> = Arc::default();
                let shared_for_app = Arc::clone(&shared);
                let server = HttpServer::new(move || {
                    let data = shared_for_app
                        .get()
                        .cloned()
                        .expect("the state is set before the server runs");
                    App::new().app_data(data).service(
                        web::scope("/fhir")
                            .route("/metadata", web::get().to(metadata))
                            .route("/Patient", web::post().to(create_patient))
                            .route("/Patient/{id}", web::get().to(read_patient))
                            .route("/Patient/{id}/$summary", web::get().to(summary)),
                    )
                })
                .workers(1);
                let server = match server_tls {
                    Some(config) => server
                        .bind_rustls_0_23(("127.0.0.1", 0), config)
                        .expect("bind"),
                    None => server.bind(("127.0.0.1", 0)).expect("bind"),
                };
                let address = server.addrs()[0];
                let scheme = if conforming { "https" } else { "http" };
                let base = format!("{scheme}://{address}/fhir");
                let _ = shared.set(web::Data::new(State {
                    conforming,
                    holdings,
                    base: base.clone(),
                    created: AtomicU32::new(0),
                }));
                let server = server.run();
                ready
                    .send((base, server.handle()))
                    .expect("the starter waits");
                let _ = server.await;
            });
        });
        let (base_url, handle) = started.recv().expect("the sample SIHCE starts");
        Self {
            base_url,
            ca_pem: tls.map(|(_, ca)| ca),
            handle,
            thread: Some(thread),
        }
    }
}

impl Drop for SampleSihce {
    fn drop(&mut self) {
        // Stopping is awaited on the server's own runtime; here it is only asked for.
        drop(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A rustls server configuration for `127.0.0.1`/`localhost` and its CA's PEM.
#[allow(
    clippy::expect_used,
    reason = "test set-up: a failure must stop the test"
)]
fn tls_material() -> (rustls::ServerConfig, String) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "SIHCE de ejemplo CA");
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.subject_alt_names = vec![
        SanType::IpAddress("127.0.0.1".parse().expect("address")),
        SanType::DnsName("localhost".try_into().expect("name")),
    ];
    params
        .distinguished_name
        .push(DnType::CommonName, "sihce.example");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().expect("key");
    let certificate = params.signed_by(&key, &ca).expect("certificate");
    let chain = vec![CertificateDer::from_pem_slice(certificate.pem().as_bytes()).expect("PEM")];
    let key = PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).expect("PEM");
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("TLS configuration");
    (config, ca.pem())
}

fn fhir(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/fhir+json")
        .body(body.to_string())
}

fn outcome(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    fhir(
        status,
        &json!({"resourceType": "OperationOutcome", "issue": [
            {"severity": "error", "code": code, "diagnostics": message}
        ]}),
    )
}

/// The conforming SIHCE's refusal of a request without its token.
fn unauthenticated(request: &HttpRequest, state: &State) -> Option<HttpResponse> {
    if !state.conforming {
        return None;
    }
    let expected = format!("Bearer {}", state.holdings.token);
    let given = request
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok());
    (given != Some(expected.as_str())).then(|| {
        let mut response = outcome(
            StatusCode::UNAUTHORIZED,
            "login",
            "a bearer token is required",
        );
        response.headers_mut().insert(
            actix_web::http::header::WWW_AUTHENTICATE,
            actix_web::http::header::HeaderValue::from_static("Bearer"),
        );
        response
    })
}

async fn metadata(state: web::Data<State>) -> HttpResponse {
    let patient = if state.conforming {
        json!({"type": "Patient", "supportedProfile": [PACIENTE_PE],
               "interaction": [{"code": "read"}, {"code": "create"}]})
    } else {
        json!({"type": "Patient", "interaction": [{"code": "read"}, {"code": "create"}]})
    };
    let mut rest = json!({"mode": "server", "resource": [patient],
        "operation": [{"name": "summary", "definition": "http://hl7.org/fhir/uv/ips/OperationDefinition/summary"}]});
    if state.conforming {
        rest["security"] = json!({"service": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
            "code": "SMART-on-FHIR"}]}]});
    }
    fhir(
        StatusCode::OK,
        &json!({
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": "2026-12-01",
            "kind": "instance",
            "implementation": {"description": "SIHCE de ejemplo", "url": state.base},
            "fhirVersion": if state.conforming { "4.0.1" } else { "4.0.0" },
            "format": ["application/fhir+json"],
            "rest": [rest]
        }),
    )
}

async fn read_patient(
    request: HttpRequest,
    id: web::Path<String>,
    state: web::Data<State>,
) -> HttpResponse {
    held(&request, &id, &state, &state.holdings.patient)
}

/// `document` (the patient or their summary) if `id` is the patient's, to a caller the
/// SIHCE lets in.
fn held(request: &HttpRequest, id: &str, state: &State, document: &Value) -> HttpResponse {
    if let Some(refusal) = unauthenticated(request, state) {
        return refusal;
    }
    if state.holdings.patient["id"] == id {
        fhir(StatusCode::OK, document)
    } else {
        outcome(StatusCode::NOT_FOUND, "not-found", "no such patient")
    }
}

async fn create_patient(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<State>,
) -> HttpResponse {
    if let Some(refusal) = unauthenticated(&request, &state) {
        return refusal;
    }
    let Ok(mut patient) = serde_json::from_slice::<Value>(&body) else {
        return outcome(StatusCode::BAD_REQUEST, "structure", "not JSON");
    };
    if state.conforming {
        let issues = renhice_validator::Validator::renhice()
            .validate_against(&patient, &[PACIENTE_PE.to_owned()]);
        let errors: Vec<_> = issues
            .into_iter()
            .filter(|issue| {
                matches!(
                    issue.severity,
                    renhice_model::IssueSeverity::Error | renhice_model::IssueSeverity::Fatal
                )
            })
            .collect();
        if !errors.is_empty() {
            let outcome = renhice_validator::outcome(errors);
            let body = serde_json::to_value(&outcome).unwrap_or(Value::Null);
            return fhir(StatusCode::UNPROCESSABLE_ENTITY, &body);
        }
    }
    let number = state.created.fetch_add(1, Ordering::Relaxed) + 1;
    let id = format!("nuevo-{number}");
    patient["id"] = json!(id);
    let mut response = fhir(StatusCode::CREATED, &patient);
    if let Ok(location) =
        actix_web::http::header::HeaderValue::from_str(&format!("{}/Patient/{id}", state.base))
    {
        response
            .headers_mut()
            .insert(actix_web::http::header::LOCATION, location);
    }
    response
}

async fn summary(
    request: HttpRequest,
    id: web::Path<String>,
    state: web::Data<State>,
) -> HttpResponse {
    held(&request, &id, &state, &state.holdings.summary)
}
