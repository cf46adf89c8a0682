//! People's sign-in (SMART App Launch over OpenID Connect), end to end: a real identity
//! provider (`tests/idp`, the npm package oidc-provider, started per test), the registry
//! over real HTTP, and an HTTP client playing the person's browser (cookies, redirects,
//! the provider's login form) and the app (PKCE, the token endpoint).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use renhice_server::auth::people::{ClaimNames, IdentityProvider};
use renhice_server::auth::{Grant, Role};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value;

use crate::access::{count_at, loayza, push};
use crate::push::identities;
use crate::{HOME_IPRESS, TestApp, admin, sihce, spawn_with_auth};
use renhice_testing::{TestDb, backend_tests};

/// The test identity provider, stopped when dropped.
pub(crate) struct Idp {
    child: Child,
    /// Its issuer, `http://127.0.0.1:port`.
    pub(crate) issuer: String,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Idp {
    /// Starts `node tests/idp/idp.mjs` on a free port; it accepts any loopback redirect
    /// URI, as the registry's port is chosen after it starts.
    pub(crate) async fn start(extra: &[&str]) -> Self {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/idp");
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "the test identity provider's packages are not installed: run \
             `npm ci --prefix tests/idp` (scripts/test does)"
        );
        let mut child = Command::new("node")
            .arg(dir.join("idp.mjs"))
            .args(["--port", "0", "--any-loopback-redirect"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs (Node.js 20 or later is needed for the sign-in tests)");
        let stdout = child.stdout.take().unwrap();
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        })
        .await
        .unwrap()
        .unwrap();
        let started: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the identity provider did not start ({e}): {line:?}"));
        Self {
            child,
            issuer: started["issuer"].as_str().unwrap().to_owned(),
        }
    }

    /// The registry's configuration of this provider.
    pub(crate) fn provider(&self) -> IdentityProvider {
        IdentityProvider {
            name: "pruebas".to_owned(),
            title: "IdP de pruebas".to_owned(),
            issuer: self.issuer.clone(),
            client_id: "renhice".to_owned(),
            client_secret: "renhice-dev-secret".to_owned(),
            client_secret_env: String::new(),
            scopes: vec!["openid".into(), "profile".into(), "renhice".into()],
            claims: ClaimNames::default(),
            roles: vec![Role::Patient, Role::Clinician, Role::Auditor, Role::Admin],
            ipress: Vec::new(),
        }
    }
}

/// A registry federated to `idp`.
pub(crate) async fn registry(db: &TestDb, idp: &Idp) -> TestApp {
    let provider = idp.provider();
    spawn_with_auth(db, |auth, _| auth.identity_providers = vec![provider]).await
}

/// A person's browser: follows nothing by itself, keeps the provider's cookies.
struct Browser {
    http: reqwest::Client,
    idp: String,
    cookies: HashMap<String, String>,
}

impl Browser {
    fn new(idp: &Idp) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            idp: idp.issuer.clone(),
            cookies: HashMap::new(),
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder, url: &str) -> reqwest::Response {
        let mut request = request;
        if url.starts_with(&self.idp) && !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request = request.header(COOKIE, jar.join("; "));
        }
        let res = request.send().await.unwrap();
        if url.starts_with(&self.idp) {
            for c in res.headers().get_all(SET_COOKIE) {
                let pair = c.to_str().unwrap().split(';').next().unwrap();
                let (k, v) = pair.split_once('=').unwrap();
                self.cookies.insert(k.trim().to_owned(), v.to_owned());
            }
        }
        res
    }

    async fn get(&mut self, url: &str) -> reqwest::Response {
        let r = self.http.get(url);
        self.send(r, url).await
    }

    async fn post_form(&mut self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let r = self
            .http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(r, url).await
    }

    /// Follows redirects from `url`, signing in at the provider's login form with
    /// `login`/`password` when it shows one, until a page outside the provider and the
    /// registry's sign-in endpoints: returns that URL (the app's redirect URI).
    async fn walk(&mut self, app: &TestApp, url: &str, login: &str, password: &str) -> String {
        let mut url = url.to_owned();
        let mut signed = false;
        for _ in 0..20 {
            let at_registry = url.starts_with(&format!("{}/auth/", app.base));
            if !url.starts_with(&self.idp) && !at_registry {
                return url;
            }
            let res = self.get(&url).await;
            if res.status() == StatusCode::SEE_OTHER || res.status() == StatusCode::FOUND {
                let next = res.headers()[LOCATION].to_str().unwrap().to_owned();
                url = if next.starts_with('/') {
                    let origin = if url.starts_with(&self.idp) {
                        &self.idp
                    } else {
                        &app.base
                    };
                    format!("{origin}{next}")
                } else {
                    next
                };
                continue;
            }
            let status = res.status();
            let page = res.text().await.unwrap();
            assert!(
                status == StatusCode::OK && page.contains("name=\"password\"") && !signed,
                "unexpected page at {url} ({status}): {page}"
            );
            signed = true;
            let uid = url.rsplit('/').next().unwrap().to_owned();
            let action = format!("{}/interaction/{uid}/login", self.idp);
            let res = self
                .post_form(&action, &[("login", login), ("password", password)])
                .await;
            assert!(
                res.status().is_redirection(),
                "login refused: {}",
                res.text().await.unwrap()
            );
            let next = res.headers()[LOCATION].to_str().unwrap().to_owned();
            url = if next.starts_with('/') {
                format!("{}{next}", self.idp)
            } else {
                next
            };
        }
        panic!("too many redirects");
    }
}

/// An app's PKCE pair: a verifier and its S256 challenge.
fn pkce() -> (String, String) {
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = B64.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ));
    (verifier, challenge)
}

/// The registry's web app's authorization request.
fn authorize_url(app: &TestApp, scope: &str, state: &str, challenge: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", "renhice-web")
        .append_pair("redirect_uri", &format!("{}/", app.base))
        .append_pair("scope", scope)
        .append_pair("state", state)
        .append_pair("aud", &format!("{}/fhir", app.base))
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    format!("{}/auth/authorize?{query}", app.base)
}

fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// A form POST to the registry: the status and the JSON answer.
async fn form(url: &str, pairs: &[(&str, &str)]) -> (StatusCode, Value) {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let res = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A refresh at the token endpoint `url` by `client`, asking emergency access with
/// `reason` if given: the status and the answer.
async fn refresh_at(
    url: &str,
    token: &str,
    client: &str,
    reason: Option<&str>,
) -> (StatusCode, Value) {
    let mut pairs = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", token),
        ("client_id", client),
    ];
    if let Some(reason) = reason {
        pairs.extend([("purpose_of_use", "ETREAT"), ("emergency_reason", reason)]);
    }
    form(url, &pairs).await
}

/// Signs `login` in to the web app with `scope`: the token answer, or the OAuth error
/// and its description as the app receives them.
async fn sign_in(
    app: &TestApp,
    idp: &Idp,
    login: &str,
    password: &str,
    scope: &str,
) -> Result<Value, (String, String)> {
    sign_in_to(app, idp, (login, password), scope, ("renhice-web", "/")).await
}

/// [`sign_in`] to another app: its client id and the path of its redirect URI.
async fn sign_in_to(
    app: &TestApp,
    idp: &Idp,
    (login, password): (&str, &str),
    scope: &str,
    (client, path): (&str, &str),
) -> Result<Value, (String, String)> {
    let (verifier, challenge) = pkce();
    let redirect = format!("{}{path}", app.base);
    let mut browser = Browser::new(idp);
    let url = authorize_url(app, scope, "estado-1", &challenge)
        .replace("client_id=renhice-web", &format!("client_id={client}"))
        .replace(
            &format!(
                "redirect_uri={}",
                url::form_urlencoded::byte_serialize(format!("{}/", app.base).as_bytes())
                    .collect::<String>()
            ),
            &format!(
                "redirect_uri={}",
                url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
            ),
        );
    let back = browser.walk(app, &url, login, password).await;
    assert!(back.starts_with(&format!("{redirect}?")), "{back}");
    let q = query_of(&back);
    assert_eq!(q["state"], "estado-1", "the app's state comes back");
    if let Some(error) = q.get("error") {
        return Err((
            error.clone(),
            q.get("error_description").cloned().unwrap_or_default(),
        ));
    }
    let (status, answer) = form(
        &format!("{}/auth/token", app.base),
        &[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", &redirect),
            ("client_id", client),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    Ok(answer)
}

/// Whether a `$record-locations` answer says the caller's access left entries out.
fn withheld(parameters: &Value) -> bool {
    parameters["parameter"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "withheld" && p["valueBoolean"] == true)
}

const CLINICIAN: &str = "openid fhirUser offline_access user/*.rs";
const PATIENT: &str = "openid fhirUser offline_access launch/patient patient/*.rs";

async fn bearer_get(url: &str, token: &str) -> (StatusCode, Value) {
    let res = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The sign-in events of the audit trail, as an auditor reads them.
async fn sign_in_events(app: &TestApp) -> Vec<Value> {
    let auditor = Grant {
        subject: "auditor".to_owned(),
        role: Role::Auditor,
        ..admin()
    };
    let (status, bundle) = app
        .client(&auditor)
        .get(&format!("{}/fhir/AuditEvent?_count=200", app.base))
        .await;
    assert_eq!(status, 200, "{bundle}");
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"].clone())
        .filter(|e| e["type"]["code"] == "110114" || e["type"]["code"] == "110113")
        .collect()
}

async fn a_clinician_signs_in_and_sees_where_a_patients_history_lives(db: TestDb) {
    let idp = Idp::start(&[]).await;
    let app = registry(&db, &idp).await;
    let base = &app.base;
    let (patient, home) = identities(&app).await;
    let other = loayza(&app).await;
    for (ipress, org, set, doc) in [
        (
            HOME_IPRESS,
            &home,
            "urn:uuid:5e7a0001-0000-4000-8000-000000000001",
            1,
        ),
        (
            "00005938",
            &other,
            "urn:uuid:5e7a0001-0000-4000-8000-000000000002",
            2,
        ),
    ] {
        let (status, body) = app
            .client(&sihce(ipress))
            .post(&format!("{base}/fhir"), &push(&patient, org, set, doc))
            .await;
        assert_eq!(status, 200, "{body}");
    }

    // Dra. Quispe (colegiatura 01|012345, IPRESS 00012345) signs in at her provider.
    let answer = sign_in(&app, &idp, "medica", "medica-clave", CLINICIAN)
        .await
        .unwrap();
    assert_eq!(answer["renhice_role"], "clinician");
    assert_eq!(answer["renhice_ipress"], HOME_IPRESS);
    assert_eq!(answer["renhice_name"], "Dra. Rosa Quispe Mamani");
    assert_eq!(answer["renhice_ipress_name"], "Hospital Santa Clara");
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["scope"], "openid fhirUser offline_access user/*.rs");
    assert!(answer["refresh_token"].is_string() && answer["id_token"].is_string());
    assert!(
        answer.get("patient").is_none(),
        "no patient context for a professional"
    );
    let token = answer["access_token"].as_str().unwrap();

    // Her token is held to the same rules as a SIHCE's clinician: her IPRESS's entries
    // only, without the patient's consent.
    let (status, locations) = bearer_get(
        &format!("{base}/fhir/Patient/{patient}/$record-locations"),
        token,
    )
    .await;
    assert_eq!(status, 200, "{locations}");
    assert_eq!(count_at(&locations, HOME_IPRESS), Some(1));
    assert_eq!(
        count_at(&locations, "00005938"),
        None,
        "withheld without consent"
    );
    assert!(
        withheld(&locations),
        "but the answer says records exist elsewhere: {locations}"
    );

    // Scopes narrow: user/*.rs cannot create.
    let res = reqwest::Client::new()
        .post(format!("{base}/fhir/Consent"))
        .bearer_auth(token)
        .header("content-type", "application/fhir+json")
        .body("{\"resourceType\": \"Consent\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert!(body.to_string().contains("scope"), "{body}");

    // The ID token is the registry's, for the app, naming the sign-in.
    let claims = app
        .authority
        .keys
        .verify_signature_only(answer["id_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims["aud"], "renhice-web");
    assert_eq!(claims["iss"], format!("{base}/auth"));
    assert_eq!(
        claims["sub"],
        "pruebas|3f6b2c1e-8a4d-4e2b-9c71-0d5e6f7a8b01"
    );

    // The read was audited under her colegiatura; her sign-in too.
    let events = sign_in_events(&app).await;
    let login = events
        .iter()
        .find(|e| e["subtype"][0]["code"] == "110122")
        .expect("the sign-in is audited");
    assert_eq!(login["outcome"], "0");
    assert_eq!(login["agent"][0]["who"]["identifier"]["value"], "01|012345");
    assert_eq!(login["agent"][0]["name"], "Dra. Rosa Quispe Mamani");
    assert!(
        login["agent"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["type"]["coding"][0]["code"] == "PROV"
                && a["who"]["identifier"]["value"] == HOME_IPRESS),
        "the sign-in names her IPRESS: {login}"
    );
    // Her token request and her read name her, and the read names its operation.
    let auditor = Grant {
        subject: "auditor".to_owned(),
        role: Role::Auditor,
        ..admin()
    };
    let (_, trail) = app
        .client(&auditor)
        .get(&format!(
            "{base}/fhir/AuditEvent?patient={patient}&_count=50"
        ))
        .await;
    let read = trail["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|e| {
            e["subtype"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["code"] == "record-locations")
        })
        .unwrap_or_else(|| panic!("the read names $record-locations: {trail}"));
    assert!(read.to_string().contains("01|012345"), "{read}");
    let (_, tokens) = app
        .client(&auditor)
        .get(&format!(
            "{base}/fhir/AuditEvent?action=E&outcome=0&_count=200"
        ))
        .await;
    let token_request = tokens["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|e| {
            e["subtype"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["code"] == "ITI-71")
        })
        .unwrap_or_else(|| panic!("the token request is audited: {tokens}"));
    assert!(
        token_request.to_string().contains("01|012345"),
        "the token request names her: {token_request}"
    );
    let (_, refused) = app
        .client(&auditor)
        .get(&format!(
            "{base}/fhir/AuditEvent?outcome=4&ipress={HOME_IPRESS}&_count=200"
        ))
        .await;
    let refusals = refused["entry"].as_array().unwrap();
    assert!(!refusals.is_empty(), "her refused create: {refused}");
    assert!(
        refusals.iter().all(|e| e["resource"]["outcome"] == "4"),
        "{refused}"
    );
    // Who acted: a word of her name, from its start, accents and case aside.
    let mut found = Vec::new();
    for name in [
        "quispe",
        "QUÍSPE",
        "rosa%20quis",
        "uispe",
        "quispe%25",
        "nadie,quispe",
    ] {
        let (status, bundle) = app
            .client(&auditor)
            .get(&format!(
                "{base}/fhir/AuditEvent?agent-name={name}&_count=500"
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {bundle}");
        let entries = bundle["entry"].as_array().cloned().unwrap_or_default();
        for entry in &entries {
            let agents = entry["resource"]["agent"].to_string();
            assert!(agents.contains("Quispe"), "{name} finds only her: {agents}");
        }
        found.push(entries.len());
    }
    assert!(found[0] > 0, "her events are found by her name");
    assert_eq!(found[1], found[0], "accents and case aside");
    assert_eq!(found[2], found[0], "words that follow each other");
    assert_eq!(found[3], 0, "a word is matched from its start");
    assert_eq!(found[4], 0, "% is a character, not a wildcard");
    assert_eq!(found[5], found[0], "a comma is any of the values");
    app.stop().await;
}

async fn emergency_access_is_a_deliberate_audited_step(db: TestDb) {
    let idp = Idp::start(&[]).await;
    let app = registry(&db, &idp).await;
    let base = &app.base;
    let (patient, _) = identities(&app).await;
    let other = loayza(&app).await;
    let (status, body) = app
        .client(&sihce("00005938"))
        .post(
            &format!("{base}/fhir"),
            &push(
                &patient,
                &other,
                "urn:uuid:5e7a0002-0000-4000-8000-000000000001",
                3,
            ),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let answer = sign_in(&app, &idp, "medica", "medica-clave", CLINICIAN)
        .await
        .unwrap();
    let refresh = answer["refresh_token"].as_str().unwrap();
    let token_url = format!("{base}/auth/token");

    // No reason, no emergency: and the refresh token was not spent by the refusal.
    let (status, refused) = refresh_at(&token_url, refresh, "renhice-web", Some("urgente")).await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["error_description"]
            .as_str()
            .unwrap()
            .contains("emergency_reason"),
        "{refused}"
    );
    let (status, refreshed) = refresh_at(&token_url, refresh, "renhice-web", None).await;
    assert_eq!(
        status, 200,
        "a refused emergency leaves the sign-in as it was: {refreshed}"
    );
    let refresh = refreshed["refresh_token"].as_str().unwrap();

    let reason = "paciente inconsciente en emergencia, sin acompañantes";
    let (status, emergency) = refresh_at(&token_url, refresh, "renhice-web", Some(reason)).await;
    assert_eq!(status, 200, "{emergency}");
    assert_eq!(emergency["renhice_purpose"], "ETREAT");
    assert!(emergency["expires_in"].as_u64().unwrap() <= 3600);
    assert!(
        emergency["refresh_token"].is_string(),
        "the ordinary sign-in goes on"
    );
    let (status, locations) = bearer_get(
        &format!("{base}/fhir/Patient/{patient}/$record-locations"),
        emergency["access_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{locations}");
    assert_eq!(
        count_at(&locations, "00005938"),
        Some(1),
        "opened by the emergency"
    );
    assert!(!withheld(&locations), "nothing left out: {locations}");

    let events = sign_in_events(&app).await;
    let opened = events
        .iter()
        .find(|e| e["subtype"][0]["code"] == "110127")
        .expect("the opening of emergency access is audited");
    assert_eq!(opened["entity"][0]["detail"][0]["valueString"], reason);

    // A patient cannot open emergency access.
    let patient_answer = sign_in(&app, &idp, "paciente", "paciente-clave", PATIENT)
        .await
        .unwrap();
    let (status, refused) = refresh_at(
        &token_url,
        patient_answer["refresh_token"].as_str().unwrap(),
        "renhice-web",
        Some(reason),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    app.stop().await;
}

async fn a_patient_signs_in_and_sees_who_read_their_records(db: TestDb) {
    let idp = Idp::start(&["--claims-in-id-token"]).await;
    let app = registry(&db, &idp).await;
    let base = &app.base;
    let (patient, _) = identities(&app).await;

    // María's DNI 45678912 is the registered patient's.
    let answer = sign_in(&app, &idp, "paciente", "paciente-clave", PATIENT)
        .await
        .unwrap();
    assert_eq!(answer["renhice_role"], "patient");
    assert_eq!(
        answer["patient"],
        patient.as_str(),
        "the patient in context is her own record"
    );
    let claims = app
        .authority
        .keys
        .verify_signature_only(answer["id_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims["fhirUser"], format!("{base}/fhir/Patient/{patient}"));
    let token = answer["access_token"].as_str().unwrap();
    let (status, read) = bearer_get(&format!("{base}/fhir/Patient/{patient}"), token).await;
    assert_eq!(status, 200, "{read}");

    // The SIHCE read her record; she sees it in the audit trail.
    let (status, _) = app
        .client(&sihce(HOME_IPRESS))
        .get(&format!("{base}/fhir/Patient/{patient}/$record-locations"))
        .await;
    assert_eq!(status, 200);
    let (status, trail) = bearer_get(
        &format!("{base}/fhir/AuditEvent?patient={patient}&_count=50"),
        token,
    )
    .await;
    assert_eq!(status, 200, "{trail}");
    let read_by_sihce = trail["entry"].as_array().unwrap().iter().any(|e| {
        e["resource"]["agent"][0]["who"]["identifier"]["value"] == format!("sihce-{HOME_IPRESS}")
    });
    assert!(read_by_sihce, "{trail}");

    // A person the registry has no patient for is refused, with the reason, audited.
    let (error, description) = sign_in(&app, &idp, "auditora", "auditora-clave", PATIENT)
        .await
        .unwrap_err();
    assert_eq!(error, "access_denied");
    assert!(
        description.contains("documento de identidad") && !description.contains("41234567"),
        "the reason, without the number in the URL: {description}"
    );
    // A person with no professional role cannot sign in as one.
    let (error, description) = sign_in(&app, &idp, "paciente", "paciente-clave", CLINICIAN)
        .await
        .unwrap_err();
    assert_eq!(error, "access_denied");
    assert!(description.contains("rol profesional"), "{description}");
    let failed: Vec<Value> = sign_in_events(&app)
        .await
        .into_iter()
        .filter(|e| e["outcome"] == "4")
        .collect();
    assert_eq!(
        failed.len(),
        2,
        "each failed sign-in is audited: {failed:?}"
    );
    app.stop().await;
}

async fn refresh_tokens_rotate_and_a_replayed_one_ends_the_sign_in(db: TestDb) {
    let idp = Idp::start(&[]).await;
    let app = registry(&db, &idp).await;
    let base = &app.base;
    identities(&app).await;
    let answer = sign_in(&app, &idp, "auditora", "auditora-clave", CLINICIAN)
        .await
        .unwrap();
    assert_eq!(answer["renhice_role"], "auditor");
    let token_url = format!("{base}/auth/token");
    let first = answer["refresh_token"].as_str().unwrap().to_owned();
    let (status, second) = refresh_at(&token_url, &first, "renhice-web", None).await;
    assert_eq!(status, 200, "{second}");
    assert_ne!(second["refresh_token"], first.as_str(), "rotated");
    let access = second["access_token"].as_str().unwrap().to_owned();
    let (status, _) = bearer_get(&format!("{base}/fhir/AuditEvent?_count=1"), &access).await;
    assert_eq!(status, 200, "an auditor reads the trail");

    // Another app cannot use it.
    let (status, refused) = refresh_at(
        &token_url,
        second["refresh_token"].as_str().unwrap(),
        "otra-app",
        None,
    )
    .await;
    assert_eq!(status, 401, "{refused}");

    // The first refresh token again: a copy exists, so the sign-in ends, and every token
    // of it with it.
    let (status, replay) = refresh_at(&token_url, &first, "renhice-web", None).await;
    assert_eq!(status, 400, "{replay}");
    assert_eq!(replay["error"], "invalid_grant");
    let (status, _) = refresh_at(
        &token_url,
        second["refresh_token"].as_str().unwrap(),
        "renhice-web",
        None,
    )
    .await;
    assert_eq!(
        status, 400,
        "the newest refresh token ended with the sign-in"
    );
    let (status, body) = bearer_get(&format!("{base}/fhir/AuditEvent?_count=1"), &access).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.to_string().contains("ended"), "{body}");
    app.stop().await;
}

async fn a_code_is_bound_to_its_app_its_verifier_and_one_use(db: TestDb) {
    let idp = Idp::start(&[]).await;
    let app = registry(&db, &idp).await;
    let base = &app.base;
    let redirect = format!("{base}/");
    let token_url = format!("{base}/auth/token");
    let (verifier, challenge) = pkce();
    let mut browser = Browser::new(&idp);
    let back = browser
        .walk(
            &app,
            &authorize_url(&app, CLINICIAN, "s", &challenge),
            "medica",
            "medica-clave",
        )
        .await;
    let code = query_of(&back)["code"].clone();
    let (wrong, _) = pkce();
    let (status, refused) = form(
        &token_url,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("client_id", "renhice-web"),
            ("code_verifier", &wrong),
        ],
    )
    .await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{refused}"
    );
    // The refusal spent the code (it was used): a second try, even right, is a replay.
    let (status, replay) = form(
        &token_url,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("client_id", "renhice-web"),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 400, "{replay}");

    // What the authorization endpoint refuses: without a verified redirect URI, a page
    // (no redirect); with one, the error goes back to the app.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let evil = authorize_url(&app, CLINICIAN, "s", &challenge).replace(
        &url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>(),
        "https%3A%2F%2Fevil.example%2F",
    );
    let res = client.get(&evil).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(
        res.headers().get(LOCATION).is_none(),
        "never redirected to an unregistered URI"
    );
    assert!(res.text().await.unwrap().contains("no está registrada"));
    for (from, to, error) in [
        (
            "code_challenge_method=S256",
            "code_challenge_method=plain",
            "invalid_request",
        ),
        ("user%2F*.rs", "system%2F*.rs", "invalid_scope"),
        (
            "response_type=code",
            "response_type=token",
            "unsupported_response_type",
        ),
    ] {
        let url = authorize_url(&app, CLINICIAN, "s", &challenge).replace(from, to);
        let res = client.get(&url).send().await.unwrap();
        assert_eq!(res.status(), 303, "{url}");
        let q = query_of(res.headers()[LOCATION].to_str().unwrap());
        assert_eq!(q["error"], error, "{q:?}");
        assert_eq!(q["state"], "s");
    }
    let wrong_aud = authorize_url(&app, CLINICIAN, "s", &challenge).replace("%2Ffhir", "%2Fotro");
    let res = client.get(&wrong_aud).send().await.unwrap();
    assert_eq!(
        query_of(res.headers()[LOCATION].to_str().unwrap())["error"],
        "invalid_request"
    );

    // A cancelled sign-in at the provider comes back as access_denied, audited.
    let mut browser = Browser::new(&idp);
    let res = browser
        .get(&authorize_url(&app, CLINICIAN, "s", &challenge))
        .await;
    let mut url = res.headers()[LOCATION].to_str().unwrap().to_owned();
    loop {
        let res = browser.get(&url).await;
        if res.status() == 200 {
            break;
        }
        let next = res.headers()[LOCATION].to_str().unwrap().to_owned();
        url = if next.starts_with('/') {
            format!("{}{next}", idp.issuer)
        } else {
            next
        };
    }
    let uid = url.rsplit('/').next().unwrap().to_owned();
    let res = browser
        .post_form(&format!("{}/interaction/{uid}/abort", idp.issuer), &[])
        .await;
    let next = res.headers()[LOCATION].to_str().unwrap().to_owned();
    let next = if next.starts_with('/') {
        format!("{}{next}", idp.issuer)
    } else {
        next
    };
    let back = browser.walk(&app, &next, "-", "-").await;
    let q = query_of(&back);
    assert_eq!(q["error"], "access_denied", "{q:?}");
    assert!(q["error_description"].contains("canceló"), "{q:?}");
    let events = sign_in_events(&app).await;
    assert!(events.iter().any(|e| e["outcome"] == "4"), "{events:?}");
    app.stop().await;
}

async fn revocation_and_logout_end_every_token_of_the_sign_in(db: TestDb) {
    let idp = Idp::start(&[]).await;
    let app = registry(&db, &idp).await;
    let base = &app.base;
    identities(&app).await;
    let answer = sign_in(&app, &idp, "auditora", "auditora-clave", CLINICIAN)
        .await
        .unwrap();
    let access = answer["access_token"].as_str().unwrap();

    // Introspection, for a SIHCE: active while the sign-in lasts.
    let sihce_token = app.token(&sihce(HOME_IPRESS));
    let introspect = |token: String| {
        let url = format!("{base}/auth/introspect");
        let sihce_token = sihce_token.clone();
        async move {
            let res = reqwest::Client::new()
                .post(url)
                .bearer_auth(sihce_token)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("token={token}"))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            res.json::<Value>().await.unwrap()
        }
    };
    let seen = introspect(access.to_owned()).await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["renhice_role"], "auditor");
    assert_eq!(seen["client_id"], "renhice-web");
    let seen = introspect(answer["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(seen["active"], true, "{seen}");
    let (status, _) = form(&format!("{base}/auth/introspect"), &[("token", access)]).await;
    assert_eq!(
        status, 401,
        "introspection needs a SIHCE's or administrator's token"
    );

    // Revoking the refresh token ends the sign-in: the access token is refused at once.
    let (status, _) = form(
        &format!("{base}/auth/revoke"),
        &[
            ("token", answer["refresh_token"].as_str().unwrap()),
            ("token_type_hint", "refresh_token"),
            ("client_id", "renhice-web"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = bearer_get(&format!("{base}/fhir/AuditEvent?_count=1"), access).await;
    assert_eq!(status, 401);
    assert_eq!(introspect(access.to_owned()).await["active"], false);
    let (status, _) = form(
        &format!("{base}/auth/revoke"),
        &[("token", "no-such-token"), ("client_id", "renhice-web")],
    )
    .await;
    assert_eq!(status, 200, "unknown tokens are answered alike");

    // Logout: the registry's session ends, then the provider's, then back to the app.
    let again = sign_in(&app, &idp, "medica", "medica-clave", CLINICIAN)
        .await
        .unwrap();
    let mut browser = Browser::new(&idp);
    let logout = format!(
        "{base}/auth/logout?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("id_token_hint", again["id_token"].as_str().unwrap())
            .append_pair("post_logout_redirect_uri", &format!("{base}/"))
            .append_pair("state", "adios")
            .finish()
    );
    let res = browser.get(&logout).await;
    assert_eq!(res.status(), 303);
    let at_provider = res.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(at_provider.starts_with(&idp.issuer), "{at_provider}");
    // The provider's confirmation form (submitted by its script in a browser).
    let page = browser.get(&at_provider).await.text().await.unwrap();
    let xsrf = page
        .split("name=\"xsrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("{page}"))
        .to_owned();
    let action = page
        .split("action=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    let action = if action.starts_with('/') {
        format!("{}{action}", idp.issuer)
    } else {
        action
    };
    let res = browser
        .post_form(&action, &[("xsrf", &xsrf), ("logout", "yes")])
        .await;
    let next = res.headers()[LOCATION].to_str().unwrap().to_owned();
    let back = browser.walk(&app, &next, "-", "-").await;
    assert_eq!(back, format!("{base}/?state=adios"));
    let (status, _) = bearer_get(
        &format!("{base}/fhir/AuditEvent?_count=1"),
        again["access_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(status, 401, "signed out");
    let logouts = sign_in_events(&app)
        .await
        .into_iter()
        .filter(|e| e["subtype"][0]["code"] == "110123")
        .count();
    assert_eq!(logouts, 2, "the revocation and the logout are audited");
    app.stop().await;
}

async fn the_smart_configuration_tells_apps_how_to_sign_people_in(db: TestDb) {
    let idp = Idp::start(&[]).await;
    let app = registry(&db, &idp).await;
    let base = &app.base;
    for path in [
        "/.well-known/smart-configuration",
        "/auth/.well-known/openid-configuration",
    ] {
        let res = reqwest::get(format!("{base}{path}")).await.unwrap();
        assert_eq!(res.status(), 200);
        let c: Value = res.json().await.unwrap();
        assert_eq!(
            c["authorization_endpoint"],
            format!("{base}/auth/authorize")
        );
        assert_eq!(
            c["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        for capability in [
            "launch-standalone",
            "client-public",
            "sso-openid-connect",
            "permission-v2",
            "context-standalone-patient",
        ] {
            assert!(
                c["capabilities"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| x == capability),
                "{capability}"
            );
        }
        assert_eq!(c["identity_providers"][0]["name"], "pruebas");
    }
    app.stop().await;
}

backend_tests!(
    a_clinician_signs_in_and_sees_where_a_patients_history_lives,
    emergency_access_is_a_deliberate_audited_step,
    a_patient_signs_in_and_sees_who_read_their_records,
    refresh_tokens_rotate_and_a_replayed_one_ends_the_sign_in,
    a_code_is_bound_to_its_app_its_verifier_and_one_use,
    revocation_and_logout_end_every_token_of_the_sign_in,
    the_smart_configuration_tells_apps_how_to_sign_people_in,
);

async fn the_web_app_is_served_compressed_under_a_strict_policy(db: TestDb) {
    let idp = Idp::start(&[]).await;
    let app = registry(&db, &idp).await;
    let base = &app.base;
    let client = reqwest::Client::new();
    let res = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let page = res.text().await.unwrap();
    assert!(
        page.contains("/app/main.js") && page.contains("lang=\"es\""),
        "{page}"
    );
    let res = client
        .get(format!("{base}/"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304, "unchanged: not sent again");
    let res = client
        .get(format!("{base}/app/main.js"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-encoding"], "gzip");
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let res = client
        .get(format!("{base}/app/nada.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    app.stop().await;
}

backend_tests!(the_web_app_is_served_compressed_under_a_strict_policy);

async fn another_app_of_an_administrator_cannot_register_clients(db: TestDb) {
    let idp = Idp::start(&[]).await;
    let provider = idp.provider();
    let app = spawn_with_auth(&db, |auth, base| {
        auth.identity_providers = vec![provider];
        auth.apps = vec![renhice_server::auth::people::App {
            client_id: "otra-app".to_owned(),
            name: "Otra aplicación".to_owned(),
            redirect_uris: vec![format!("{base}/otra")],
            post_logout_redirect_uris: Vec::new(),
        }];
    })
    .await;
    let base = &app.base;
    identities(&app).await;
    let scope = "openid user/*.cruds";
    let web = sign_in(&app, &idp, "admin", "admin-clave", scope)
        .await
        .unwrap();
    let (status, _) = bearer_get(
        &format!("{base}/auth/clients"),
        web["access_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(status, 200, "from the registry's web app");
    let other = sign_in_to(
        &app,
        &idp,
        ("admin", "admin-clave"),
        scope,
        ("otra-app", "/otra"),
    )
    .await
    .unwrap();
    let (status, body) = bearer_get(
        &format!("{base}/auth/clients"),
        other["access_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.to_string().contains("scope"), "{body}");
    // An access token is no logout hint: the sign-in it belongs to goes on.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client
        .get(format!(
            "{base}/auth/logout?id_token_hint={}",
            web["access_token"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success() || res.status().is_redirection());
    let (status, _) = bearer_get(
        &format!("{base}/auth/clients"),
        web["access_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(status, 200, "not signed out by an access token");
    app.stop().await;
}

backend_tests!(another_app_of_an_administrator_cannot_register_clients);
