//! Sign-in for people: the registry as a SMART App Launch 2.0 authorization server for
//! user-facing apps, federating authentication to OpenID Connect identity providers.
//!
//! 1. An app sends the person's browser to `GET /auth/authorize` (authorization code
//!    with PKCE S256, SMART scopes, `aud` = the FHIR base URL).
//! 2. The registry keeps the request as a single-use *login* handle and sends the person
//!    on to their identity provider (its own PKCE, state and nonce).
//! 3. The provider sends them back to `GET /auth/callback`; the registry exchanges the
//!    code, verifies the ID token ([`super::idp`]), recognises the person
//!    ([`super::people`]), opens a *session* and gives the app a single-use code.
//! 4. The app exchanges the code at `POST /auth/token` for an access token (the same
//!    kind of token SIHCE systems hold, naming the person, their role and the session),
//!    an ID token, and a refresh token that is replaced at each use; a refresh token
//!    used twice ends the session (it was copied), as does a code used twice.
//! 5. `POST /auth/revoke` and `GET /auth/logout` end the session: every token of it is
//!    refused from then on (checked on each request, see [`super::sessions::Sessions`]).
//!
//! Clinicians open emergency access (break-glass) deliberately: a refresh with
//! `purpose_of_use=ETREAT` and a stated `emergency_reason` gives a short-lived
//! emergency access token; the opening is audited, and every disclosure under it too.
//!
//! Sign-ins, failed sign-ins, emergency openings and sign-outs are audited
//! (`audit::sign_in_event`).

use std::fmt::Write as _;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use renhice_store::sign_in::{self as stored, Handle, Session, Taken};

use super::oauth::OAuthError;
use super::people::{self, App, IdentityProvider, Person};
use super::scopes::{Context, Scopes};
use super::token::{Grant, Purpose, Role, SignIn};
use crate::AppState;
use crate::audit::{SignInEvent, sign_in_event};

/// The client id of the registry's own web app (a public client).
pub const WEB_APP: &str = "renhice-web";

/// How long a person has to sign in at their provider, in seconds.
const LOGIN_LIFETIME: i64 = 600;
/// How long an authorization code lives, in seconds (RFC 6749 §4.1.2: short).
const CODE_LIFETIME: i64 = 60;
/// The shortest emergency reason accepted, in characters.
const MIN_REASON: usize = 10;

fn now() -> i64 {
    i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap_or(i64::MAX)
}

/// A new unguessable handle (256 bits).
fn new_handle() -> String {
    let mut bytes = [0_u8; 32];
    if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).is_err() {
        // The system's generator failing is all but unheard of; uuid's v4 draws from the
        // same source by another path (244 random bits in all).
        bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    B64.encode(bytes)
}

/// The stored form of a handle: its SHA-256, hex.
fn digest(handle: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, handle.as_bytes());
    d.as_ref()
        .iter()
        .fold(String::with_capacity(64), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

/// A new single-use handle of `kind` (given out) and its stored form (its digest only),
/// carrying `payload`, valid until `expires_at`.
fn issued(
    kind: &str,
    session: Option<&str>,
    payload: &impl Serialize,
    expires_at: i64,
) -> (String, Handle) {
    let handle = new_handle();
    let stored = Handle {
        digest: digest(&handle),
        kind: kind.to_owned(),
        session_id: session.map(str::to_owned),
        payload: json!(payload).to_string(),
        expires_at,
        used_at: None,
    };
    (handle, stored)
}

/// The PKCE S256 challenge of a verifier.
fn s256(verifier: &str) -> String {
    B64.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ))
}

/// Whether a PKCE verifier or challenge has RFC 7636's form.
fn pkce_form(text: &str) -> bool {
    (43..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// The registry's public base URL (the FHIR base without `/fhir`).
fn public_base(state: &AppState) -> String {
    let audience = state.auth.config.audience.trim_end_matches('/');
    audience
        .strip_suffix("/fhir")
        .unwrap_or(audience)
        .to_owned()
}

fn issuer(state: &AppState) -> String {
    state.auth.config.issuer.trim_end_matches('/').to_owned()
}

/// The registry's own web app and the apps of the configuration.
fn apps(state: &AppState) -> Vec<App> {
    let base = public_base(state);
    let mut apps = vec![App {
        client_id: WEB_APP.to_owned(),
        name: "renhice".to_owned(),
        redirect_uris: vec![format!("{base}/")],
        post_logout_redirect_uris: vec![format!("{base}/")],
    }];
    apps.extend(state.auth.config.apps.iter().cloned());
    apps
}

fn app(state: &AppState, client_id: &str) -> Option<App> {
    apps(state).into_iter().find(|a| a.client_id == client_id)
}

/// What a login in flight carries (the app's request and the registry's secrets for
/// the provider).
#[derive(Debug, Serialize, Deserialize)]
struct Login {
    client_id: String,
    redirect_uri: String,
    scope: String,
    state: String,
    code_challenge: String,
    nonce: Option<String>,
    provider: String,
    provider_nonce: String,
    provider_verifier: String,
}

/// What an authorization code carries.
#[derive(Debug, Serialize, Deserialize)]
struct Granted {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    nonce: Option<String>,
}

/// What a refresh token carries.
#[derive(Debug, Serialize, Deserialize)]
struct Refresh {
    client_id: String,
}

/// What a logout in flight at the provider carries.
#[derive(Debug, Serialize, Deserialize)]
struct Logout {
    redirect: Option<String>,
    state: Option<String>,
}

/// The person of a session, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SessionPerson {
    person: Person,
    role: Role,
    /// The patient's own Patient id (patient sign-ins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    patient: Option<String>,
    provider: String,
    /// The provider's ID token, for signing out there too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    provider_id_token: Option<String>,
}

// ---------------------------------------------------------------------------------
// Pages people see (Spanish first, English after).

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A plain page: the registry's sign-in pages have no script and no outside resource.
fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!doctype html><html lang=\"es\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · renhice</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;\
         padding:0 1rem;line-height:1.5;color:#1b1b1b}}a{{color:#0b4f8a}}\
         li{{margin:.5rem 0}}</style></head>\
         <body><main><h1>{title}</h1>{body}<p><a href=\"/\">Volver al inicio / Back to the start</a></p>\
         </main></body></html>",
        title = escape(title)
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ))
        .body(html)
}

fn problem_page(status: StatusCode, es: &str, en: &str) -> HttpResponse {
    page(
        status,
        "No se pudo ingresar",
        &format!("<p>{}</p><p lang=\"en\">{}</p>", escape(es), escape(en)),
    )
}

fn redirect(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// Sends the person back to the app with an OAuth error (RFC 6749 §4.1.2.1).
fn app_error(
    redirect_uri: &str,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> HttpResponse {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return problem_page(StatusCode::BAD_REQUEST, description, description);
    };
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("error", error);
        q.append_pair("error_description", description);
        if let Some(state) = state {
            q.append_pair("state", state);
        }
    }
    redirect(url.as_str())
}

fn single(query: &[(String, String)], name: &str) -> Result<Option<String>, String> {
    let mut found = query.iter().filter(|(k, _)| k == name);
    let first = found.next().map(|(_, v)| v.clone());
    if found.next().is_some() {
        return Err(format!("the parameter {name} is repeated"));
    }
    Ok(first.filter(|v| !v.is_empty()))
}

// ---------------------------------------------------------------------------------
// GET /auth/authorize

/// `GET /auth/authorize`: an app asks for a person's sign-in.
pub(crate) async fn authorize(
    req: HttpRequest,
    query: web::Query<Vec<(String, String)>>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let q = query.into_inner();
    let get = |name: &str| single(&q, name);
    // Until the app and its redirect URI are known, errors are shown, never redirected
    // (RFC 6749 §4.1.2.1: an unverified redirect URI would make the registry an open
    // redirector).
    let (Ok(Some(client_id)), Ok(Some(redirect_uri))) = (get("client_id"), get("redirect_uri"))
    else {
        return problem_page(
            StatusCode::BAD_REQUEST,
            "La aplicación no se identificó (client_id y redirect_uri, una vez cada uno).",
            "The app did not identify itself (client_id and redirect_uri, once each).",
        );
    };
    let Some(app) = app(&state, &client_id) else {
        return problem_page(
            StatusCode::BAD_REQUEST,
            &format!("La aplicación {client_id:?} no está registrada en el registro."),
            &format!("The app {client_id:?} is not registered with the registry."),
        );
    };
    if !app.redirect_uris.contains(&redirect_uri) {
        return problem_page(
            StatusCode::BAD_REQUEST,
            &format!(
                "La dirección de retorno {redirect_uri:?} no está registrada para esta aplicación."
            ),
            &format!("The redirect URI {redirect_uri:?} is not registered for this app."),
        );
    }
    let app_state = get("state").ok().flatten();
    let fail = |error: &str, description: String| {
        app_error(&redirect_uri, app_state.as_deref(), error, &description)
    };
    match begin(&req, &q, &state, &client_id, &redirect_uri).await {
        Ok(response) => response,
        Err((error, description)) => fail(error, description),
    }
}

async fn begin(
    req: &HttpRequest,
    q: &[(String, String)],
    state: &AppState,
    client_id: &str,
    redirect_uri: &str,
) -> Result<HttpResponse, (&'static str, String)> {
    let get = |name: &str| single(q, name).map_err(|e| ("invalid_request", e));
    if get("response_type")?.as_deref() != Some("code") {
        return Err((
            "unsupported_response_type",
            "response_type must be code (the authorization code flow)".to_owned(),
        ));
    }
    let app_state = get("state")?.ok_or((
        "invalid_request",
        "state is required (the app's protection against cross-site request forgery)".to_owned(),
    ))?;
    if get("code_challenge_method")?.as_deref() != Some("S256") {
        return Err((
            "invalid_request",
            "PKCE is required with code_challenge_method=S256".to_owned(),
        ));
    }
    let code_challenge = get("code_challenge")?.filter(|c| pkce_form(c)).ok_or((
        "invalid_request",
        "code_challenge must be the base64url SHA-256 of a code_verifier (43 to 128 characters)"
            .to_owned(),
    ))?;
    let audience = state.auth.config.audience.trim_end_matches('/');
    if get("aud")?.as_deref().map(|a| a.trim_end_matches('/')) != Some(audience) {
        return Err((
            "invalid_request",
            format!("aud must be this registry's FHIR base URL, {audience}"),
        ));
    }
    let scope = get("scope")?.unwrap_or_default();
    let scopes = Scopes::parse(&scope).map_err(|e| ("invalid_scope", e.0))?;
    scopes.context().map_err(|e| ("invalid_scope", e.0))?;
    let providers = &state.auth.config.identity_providers;
    if providers.is_empty() {
        return Err((
            "temporarily_unavailable",
            "this registry has no identity provider configured for people to sign in at \
             (auth.identity_providers)"
                .to_owned(),
        ));
    }
    let provider = match get("idp")? {
        Some(name) => providers.iter().find(|p| p.name == name).ok_or((
            "invalid_request",
            format!("no identity provider {name:?} is configured"),
        ))?,
        None if providers.len() == 1 => &providers[0],
        None => return Ok(chooser(req, providers)),
    };
    let login = Login {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        scope: scopes.to_string(),
        state: app_state,
        code_challenge,
        nonce: get("nonce")?,
        provider: provider.name.clone(),
        provider_nonce: new_handle(),
        provider_verifier: new_handle(),
    };
    let (handle, stored_handle) = issued("login", None, &login, now() + LOGIN_LIFETIME);
    let callback = format!("{}/callback", issuer(state));
    let destination = state
        .sign_in
        .federation
        .authorization_url(
            provider,
            &callback,
            &handle,
            &login.provider_nonce,
            &s256(&login.provider_verifier),
        )
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "cannot send a person to their identity provider");
            ("temporarily_unavailable", e.to_string())
        })?;
    let at = now();
    state
        .store
        .run(move |conn| stored::put(conn, &stored_handle, at))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cannot record a sign-in");
            (
                "temporarily_unavailable",
                "the registry's database is not available".to_owned(),
            )
        })?;
    Ok(redirect(&destination))
}

/// The page where a person picks their identity provider.
fn chooser(req: &HttpRequest, providers: &[IdentityProvider]) -> HttpResponse {
    let query = req.query_string();
    let items = providers.iter().fold(String::new(), |mut items, p| {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        pairs.append_pair("idp", &p.name);
        let _ = write!(
            items,
            "<li><a href=\"/auth/authorize?{}&amp;{}\">{}</a></li>",
            escape(query),
            pairs.finish(),
            escape(p.title())
        );
        items
    });
    page(
        StatusCode::OK,
        "Ingresar al registro",
        &format!(
            "<p>Elija dónde demostrar quién es. <span lang=\"en\">Choose where to prove who you are.</span></p><ul>{items}</ul>"
        ),
    )
}

// ---------------------------------------------------------------------------------
// GET /auth/callback

/// `GET /auth/callback`: the identity provider sends the person back.
pub(crate) async fn callback(
    req: HttpRequest,
    query: web::Query<Vec<(String, String)>>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let q = query.into_inner();
    let get = |name: &str| single(&q, name).ok().flatten();
    let expired = || {
        problem_page(
            StatusCode::BAD_REQUEST,
            "Este ingreso ya se completó o expiró. Vuelva a la aplicación e ingrese otra vez.",
            "This sign-in was completed already or has expired. Go back to the app and sign in again.",
        )
    };
    let Some(handle) = get("state") else {
        return expired();
    };
    let d = digest(&handle);
    let at = now();
    let taken = match state
        .store
        .run(move |conn| stored::take(conn, &d, "login", at))
        .await
    {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "cannot read a sign-in");
            return problem_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "El registro no puede atender el ingreso ahora; intente en unos minutos.",
                "The registry cannot complete sign-ins now; try again in a few minutes.",
            );
        }
    };
    let Taken::Fresh(found) = taken else {
        return expired();
    };
    let Ok(login) = serde_json::from_str::<Login>(&found.payload) else {
        return expired();
    };
    let network = req.peer_addr().map(|a| a.ip().to_string());
    match finish(&q, &state, &login).await {
        Ok((code, session_person)) => {
            let event = sign_in_event(
                SignInEvent::Login,
                Some((&session_person.person, session_person.role)),
                &login.client_id,
                None,
                network.as_deref(),
                &state.auth.config.audience,
            );
            if let Err(e) = state.audit.write(vec![event]).await {
                tracing::error!(error = %e, "a sign-in could not be audited; refused");
                return app_error(
                    &login.redirect_uri,
                    Some(&login.state),
                    "temporarily_unavailable",
                    "the sign-in could not be audited; nothing was granted",
                );
            }
            let Ok(mut url) = url::Url::parse(&login.redirect_uri) else {
                return expired();
            };
            url.query_pairs_mut()
                .append_pair("code", &code)
                .append_pair("state", &login.state);
            redirect(url.as_str())
        }
        Err(failure) => {
            let event = sign_in_event(
                SignInEvent::LoginFailed,
                failure.person.as_deref().map(|p| (p, Role::Patient)),
                &login.client_id,
                Some(&failure.description),
                network.as_deref(),
                &state.auth.config.audience,
            );
            if let Err(e) = state.audit.write(vec![event]).await {
                tracing::error!(error = %e, "a failed sign-in could not be audited");
            }
            app_error(
                &login.redirect_uri,
                Some(&login.state),
                failure.error,
                &failure.description,
            )
        }
    }
}

/// A sign-in that did not succeed, and who tried, if known.
struct Failure {
    error: &'static str,
    description: String,
    person: Option<Box<Person>>,
}

impl Failure {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            description: description.into(),
            person: None,
        }
    }
}

/// The provider's answer at the callback: its code, from the provider the sign-in went
/// to, or the failure it reports.
fn provider_answer<'s>(
    q: &[(String, String)],
    state: &'s AppState,
    login: &Login,
) -> Result<(String, &'s IdentityProvider), Failure> {
    let get = |name: &str| single(q, name).ok().flatten();
    if let Some(error) = get("error") {
        let description = get("error_description").unwrap_or_else(|| error.clone());
        return Err(Failure::new(
            "access_denied",
            format!("el proveedor de identidad no completó el ingreso: {description}"),
        ));
    }
    let provider = state
        .auth
        .config
        .identity_providers
        .iter()
        .find(|p| p.name == login.provider)
        .ok_or_else(|| {
            Failure::new(
                "access_denied",
                "el proveedor de identidad ya no está configurado",
            )
        })?;
    // RFC 9207: a provider that names itself in the answer must be the one the sign-in
    // went to (a mix-up between providers otherwise goes unseen).
    if let Some(iss) = get("iss")
        && iss.trim_end_matches('/') != provider.issuer.trim_end_matches('/')
    {
        return Err(Failure::new(
            "access_denied",
            "la respuesta viene de otro proveedor de identidad (iss)",
        ));
    }
    let code = get("code").ok_or_else(|| {
        Failure::new(
            "access_denied",
            "el proveedor de identidad no devolvió un código",
        )
    })?;
    Ok((code, provider))
}

/// Completes a sign-in: the provider's code exchanged, the person recognised, a session
/// opened and the app's code issued.
async fn finish(
    q: &[(String, String)],
    state: &AppState,
    login: &Login,
) -> Result<(String, SessionPerson), Failure> {
    let (code, provider) = provider_answer(q, state, login)?;
    let callback = format!("{}/callback", issuer(state));
    let (claims, provider_id_token) = state
        .sign_in
        .federation
        .exchange(
            provider,
            &code,
            &login.provider_verifier,
            &callback,
            &login.provider_nonce,
            state.auth.config.leeway_secs,
        )
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, provider = %provider.name, "a sign-in failed at the provider");
            Failure::new("access_denied", e.to_string())
        })?;
    let person =
        people::recognise(provider, &claims).map_err(|e| Failure::new("access_denied", e.0))?;
    let scopes = Scopes::parse(&login.scope).map_err(|e| Failure::new("invalid_scope", e.0))?;
    let (role, patient) = act_as(state, &person, &scopes).await?;
    let session_person = SessionPerson {
        person: person.clone(),
        role,
        patient,
        provider: provider.name.clone(),
        provider_id_token: Some(provider_id_token),
    };
    let at = now();
    let session = Session {
        id: uuid::Uuid::new_v4().to_string(),
        client_id: login.client_id.clone(),
        subject: person.subject.clone(),
        person: json!(session_person).to_string(),
        scope: login.scope.clone(),
        created_at: at,
        expires_at: at + i64::try_from(state.auth.config.session_lifetime_secs).unwrap_or(43_200),
        ended_at: None,
        ended_why: None,
    };
    let (code, handle) = issued(
        "code",
        Some(&session.id),
        &Granted {
            client_id: login.client_id.clone(),
            redirect_uri: login.redirect_uri.clone(),
            code_challenge: login.code_challenge.clone(),
            nonce: login.nonce.clone(),
        },
        at + CODE_LIFETIME,
    );
    state
        .store
        .run(move |conn| stored::open(conn, &session, &handle, at))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cannot open a session");
            Failure::new(
                "temporarily_unavailable",
                "la base de datos del registro no está disponible",
            )
        })?;
    Ok((code, session_person))
}

/// The role a recognised person signs in with, by the context of the scopes asked: a
/// patient's own records (their identity document must name a registered patient, whose
/// id is returned), or their professional role.
async fn act_as(
    state: &AppState,
    person: &Person,
    scopes: &Scopes,
) -> Result<(Role, Option<String>), Failure> {
    let refuse = |e: people::NotRecognised, person: &Person| Failure {
        error: "access_denied",
        description: e.0,
        person: Some(Box::new(person.clone())),
    };
    let acting = match scopes
        .context()
        .map_err(|e| Failure::new("invalid_scope", e.0))?
    {
        Context::Patient => {
            let document = person
                .patient_document()
                .map_err(|e| refuse(e, person))?
                .to_owned();
            let key = document.clone();
            let holder = state
                .store
                .run(move |conn| renhice_store::resources::key_holder(conn, "Patient", &key))
                .await
                .map_err(|_| {
                    Failure::new(
                        "temporarily_unavailable",
                        "la base de datos del registro no está disponible",
                    )
                })?;
            let patient = holder.ok_or_else(|| Failure {
                error: "access_denied",
                description: "el registro no tiene un paciente con su documento de identidad: \
                              su IPRESS lo registra al atenderlo"
                    .to_owned(),
                person: Some(Box::new(person.clone())),
            })?;
            (Role::Patient, Some(patient))
        }
        Context::User => (
            person.professional_role().map_err(|e| refuse(e, person))?,
            None,
        ),
        // `Scopes::parse` refuses system/ scopes; a person never holds them.
        Context::System => {
            return Err(Failure::new(
                "invalid_scope",
                "system/ scopes are for SIHCE systems, not for people's sign-in",
            ));
        }
    };
    Ok(acting)
}

// ---------------------------------------------------------------------------------
// POST /auth/token: authorization_code and refresh_token

/// The form of a people's token request.
#[derive(Debug, Deserialize)]
pub(crate) struct PeopleTokenForm {
    grant_type: String,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    client_id: Option<String>,
    scope: Option<String>,
    purpose_of_use: Option<String>,
    emergency_reason: Option<String>,
}

/// Answers `grant_type=authorization_code` and `grant_type=refresh_token`.
pub(crate) async fn token(
    req: &HttpRequest,
    form: PeopleTokenForm,
    state: &AppState,
) -> Result<Value, OAuthError> {
    let client_id = form.client_id.clone().ok_or_else(|| {
        OAuthError::client("client_id is required (a public client names itself)")
    })?;
    if app(state, &client_id).is_none() {
        return Err(OAuthError::client(format!(
            "no app {client_id:?} is registered"
        )));
    }
    match form.grant_type.as_str() {
        "authorization_code" => by_code(req, &form, &client_id, state).await,
        "refresh_token" => by_refresh(req, &form, &client_id, state).await,
        _ => Err(OAuthError::request("unreachable grant type")),
    }
}

async fn by_code(
    req: &HttpRequest,
    form: &PeopleTokenForm,
    client_id: &str,
    state: &AppState,
) -> Result<Value, OAuthError> {
    let (Some(code), Some(redirect_uri), Some(verifier)) =
        (&form.code, &form.redirect_uri, &form.code_verifier)
    else {
        return Err(OAuthError::request(
            "an authorization_code request carries code, redirect_uri and code_verifier",
        ));
    };
    // RFC 6749 §4.1.2: a code used twice revokes what it gave.
    let found = spend(
        state,
        code,
        "code",
        (
            "code-reused",
            "this code was used before; the sign-in it opened is ended",
        ),
        "the code is unknown or has expired (codes live 60 s)",
    )
    .await?;
    let payload: Granted = serde_json::from_str(&found.payload)
        .map_err(|_| OAuthError::grant("the code is unreadable"))?;
    if payload.client_id != client_id {
        return Err(OAuthError::grant("the code was issued to another app"));
    }
    if &payload.redirect_uri != redirect_uri {
        return Err(OAuthError::grant(
            "redirect_uri differs from the authorization request's",
        ));
    }
    if !pkce_form(verifier) || s256(verifier) != payload.code_challenge {
        return Err(OAuthError::grant(
            "code_verifier does not match the code_challenge (PKCE S256)",
        ));
    }
    let session = live_session(state, found.session_id.as_deref()).await?;
    issue(
        req,
        state,
        &session,
        Purpose::Treat,
        None,
        payload.nonce.as_deref(),
    )
    .await
}

/// Spends the single-use handle `handle` of `kind`: the handle if it was unused; if it
/// was used before, its sign-in ends for `reused.0` and the refusal says `reused.1`;
/// unknown or expired, the refusal says `unknown`.
async fn spend(
    state: &AppState,
    handle: &str,
    kind: &'static str,
    reused: (&'static str, &str),
    unknown: &str,
) -> Result<Handle, OAuthError> {
    let d = digest(handle);
    let at = now();
    let taken = state
        .store
        .run(move |conn| stored::take(conn, &d, kind, at))
        .await
        .map_err(|e| OAuthError::database(&e))?;
    match taken {
        Taken::Fresh(h) => Ok(h),
        Taken::Reused(h) => {
            if let Some(session) = &h.session_id {
                end_session(state, session, reused.0).await;
            }
            Err(OAuthError::grant(reused.1))
        }
        Taken::Expired | Taken::Unknown => Err(OAuthError::grant(unknown)),
    }
}

async fn by_refresh(
    req: &HttpRequest,
    form: &PeopleTokenForm,
    client_id: &str,
    state: &AppState,
) -> Result<Value, OAuthError> {
    let refresh = form
        .refresh_token
        .as_deref()
        .ok_or_else(|| OAuthError::request("a refresh_token request carries refresh_token"))?;
    let at = now();
    // Everything that can refuse the request is checked before the token is spent: a
    // refused refresh (a missing emergency reason, say) leaves the sign-in as it was.
    let peek_digest = digest(refresh);
    let peeked = state
        .store
        .run(move |conn| stored::peek(conn, &peek_digest))
        .await
        .map_err(|e| OAuthError::database(&e))?
        .filter(|h| h.kind == "refresh");
    let mut checked = None;
    if let Some(h) = peeked
        .as_ref()
        .filter(|h| h.used_at.is_none() && h.expires_at > at)
    {
        let payload: Refresh = serde_json::from_str(&h.payload)
            .map_err(|_| OAuthError::grant("the refresh token is unreadable"))?;
        if payload.client_id != client_id {
            return Err(OAuthError::grant(
                "the refresh token was issued to another app",
            ));
        }
        let session = live_session(state, h.session_id.as_deref()).await?;
        if let Some(scope) = &form.scope
            && Scopes::parse(scope).map(|s| s.to_string()).ok().as_deref()
                != Some(session.scope.as_str())
        {
            return Err(OAuthError::scope(
                "a refresh keeps the scopes granted at sign-in; sign in again for others",
            ));
        }
        let person: SessionPerson = serde_json::from_str(&session.person)
            .map_err(|_| OAuthError::grant("the session is unreadable"))?;
        let purpose = purpose_of(form, &person)?;
        checked = Some((session, person, purpose));
    }
    // A refresh token is replaced at each use: a second use means a copy exists (OAuth
    // 2.0 Security BCP §4.14.2), so the whole sign-in ends.
    spend(
        state,
        refresh,
        "refresh",
        (
            "refresh-token-reused",
            "this refresh token was used before; the sign-in is ended, sign in again",
        ),
        "the refresh token is unknown or has expired; sign in again",
    )
    .await?;
    // Fresh when taken means it was fresh when peeked (handles only ever get spent).
    let Some((session, person, (purpose, reason))) = checked else {
        return Err(OAuthError::grant(
            "the refresh token is unknown or has expired; sign in again",
        ));
    };
    if let Some(reason) = &reason {
        let event = sign_in_event(
            SignInEvent::EmergencyOpened,
            Some((&person.person, person.role)),
            client_id,
            Some(reason),
            req.peer_addr().map(|a| a.ip().to_string()).as_deref(),
            &state.auth.config.audience,
        );
        state.audit.write(vec![event]).await.map_err(|e| {
            tracing::error!(error = %e, "an emergency access could not be audited; refused");
            OAuthError::unavailable(
                "the emergency access could not be audited; nothing was granted",
            )
        })?;
    }
    issue(req, state, &session, purpose, reason, None).await
}

/// The purpose a refresh asks for, and the emergency's reason: emergency access is for
/// clinicians, with a stated reason.
fn purpose_of(
    form: &PeopleTokenForm,
    person: &SessionPerson,
) -> Result<(Purpose, Option<String>), OAuthError> {
    match form.purpose_of_use.as_deref() {
        None | Some("TREAT") => Ok((Purpose::Treat, None)),
        Some("ETREAT") => {
            if person.role != Role::Clinician {
                return Err(OAuthError::request("emergency access is for clinicians"));
            }
            let reason = form
                .emergency_reason
                .as_deref()
                .map(str::trim)
                .filter(|r| r.chars().count() >= MIN_REASON)
                .ok_or_else(|| {
                    OAuthError::request(format!(
                        "emergency access states why, in emergency_reason (at least \
                         {MIN_REASON} characters)"
                    ))
                })?;
            Ok((Purpose::Emergency, Some(reason.to_owned())))
        }
        Some(other) => Err(OAuthError::request(format!(
            "purpose_of_use is TREAT or ETREAT, not {other}"
        ))),
    }
}

async fn live_session(state: &AppState, id: Option<&str>) -> Result<Session, OAuthError> {
    let id = id
        .ok_or_else(|| OAuthError::grant("the grant belongs to no session"))?
        .to_owned();
    let session = state
        .store
        .run(move |conn| stored::session(conn, &id))
        .await
        .map_err(|e| OAuthError::database(&e))?
        .ok_or_else(|| OAuthError::grant("the sign-in is unknown"))?;
    if !session.alive_at(now()) {
        return Err(OAuthError::grant("the sign-in has ended; sign in again"));
    }
    Ok(session)
}

/// Ends a session (best effort: the caller is already refusing something).
async fn end_session(state: &AppState, session: &str, why: &'static str) {
    state.sign_in.forget(session);
    let id = session.to_owned();
    let at = now();
    if let Err(e) = state
        .store
        .run(move |conn| stored::end(conn, &id, at, why))
        .await
    {
        tracing::error!(error = %e, session, why, "cannot end a session");
    }
}

/// The grant a session's access tokens carry.
fn grant_of(
    session: &Session,
    person: &SessionPerson,
    purpose: Purpose,
    reason: Option<String>,
) -> Grant {
    let p = &person.person;
    let purpose = match (person.role, purpose) {
        (_, Purpose::Emergency) => Purpose::Emergency,
        (Role::Patient, _) => Purpose::PatientRequest,
        (Role::Auditor | Role::Admin, _) => Purpose::Operations,
        _ => Purpose::Treat,
    };
    Grant {
        subject: p.subject.clone(),
        role: person.role,
        organization: (person.role == Role::Clinician)
            .then(|| p.renipress.clone())
            .flatten(),
        practitioner: (person.role == Role::Clinician)
            .then(|| p.colegiatura.clone())
            .flatten(),
        name: p.name.clone(),
        person: (person.role == Role::Patient)
            .then(|| p.document.clone())
            .flatten(),
        purpose,
        emergency_reason: reason,
        sign_in: Some(SignIn {
            session: session.id.clone(),
            client: session.client_id.clone(),
            scope: session.scope.clone(),
        }),
        system_scope: None,
    }
}

/// The name of the IPRESS with RENIPRESS `code`, as registered (for the app to show).
async fn ipress_name(state: &AppState, code: &str) -> Option<String> {
    let key = format!("renipress|{code}");
    let body = state
        .store
        .run(move |conn| {
            let Some(id) = renhice_store::resources::key_holder(conn, "Organization", &key)? else {
                return Ok(None);
            };
            Ok(renhice_store::resources::read(conn, "Organization", &id)?.and_then(|r| r.body))
        })
        .await
        .ok()
        .flatten()?;
    serde_json::from_str::<Value>(&body).ok()?["name"]
        .as_str()
        .map(str::to_owned)
}

/// Issues a session's tokens: an access token, and (on a fresh sign-in or a refresh)
/// a new refresh token and ID token as the scopes ask.
async fn issue(
    req: &HttpRequest,
    state: &AppState,
    session: &Session,
    purpose: Purpose,
    reason: Option<String>,
    nonce: Option<&str>,
) -> Result<Value, OAuthError> {
    let person: SessionPerson = serde_json::from_str(&session.person)
        .map_err(|_| OAuthError::grant("the session is unreadable"))?;
    let scopes = Scopes::parse(&session.scope).map_err(|e| OAuthError::grant(e.0))?;
    let config = &state.auth.config;
    let at = now();
    let left = u64::try_from(session.expires_at - at).unwrap_or(0);
    let lifetime = if purpose == Purpose::Emergency {
        config.emergency_lifetime_secs
    } else {
        config.token_lifetime_secs
    }
    .min(left);
    let grant = grant_of(session, &person, purpose, reason);
    // The token request's audit event names the person it was answered for.
    crate::audit::handle_of(req).caller(&grant);
    let signing_failed = |e: super::keys::KeyError| {
        tracing::error!(error = %e, "cannot sign a token");
        OAuthError::server("the registry cannot sign tokens now; see its log")
    };
    let access_token = state
        .auth
        .issue(&grant, Some(lifetime))
        .map_err(signing_failed)?;
    let fhir_user = person
        .patient
        .as_ref()
        .map(|id| format!("{}/Patient/{id}", config.audience.trim_end_matches('/')));
    let mut answer = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "scope": session.scope,
        "renhice_role": person.role.code(),
        "renhice_purpose": grant.purpose.code(),
    });
    if let Some(name) = &person.person.name {
        answer["renhice_name"] = json!(name);
    }
    if person.role == Role::Clinician
        && let Some(code) = &person.person.renipress
    {
        answer["renhice_ipress"] = json!(code);
        if let Some(name) = ipress_name(state, code).await {
            answer["renhice_ipress_name"] = json!(name);
        }
    }
    if person.role == Role::Patient {
        if let Some(patient) = &person.patient {
            answer["patient"] = json!(patient);
        }
    } else {
        answer["need_patient_banner"] = json!(true);
    }
    if scopes.openid {
        let mut claims = json!({
            "iss": issuer(state),
            "sub": person.person.subject,
            "aud": session.client_id,
            "iat": at,
            "exp": at + i64::try_from(config.token_lifetime_secs).unwrap_or(300),
            "auth_time": session.created_at,
            "sid": session.id,
        });
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        if scopes.fhir_user
            && let Some(fhir_user) = &fhir_user
        {
            claims["fhirUser"] = json!(fhir_user);
        }
        if let Some(name) = &person.person.name {
            claims["name"] = json!(name);
        }
        answer["id_token"] = json!(state.auth.keys.sign(&claims).map_err(signing_failed)?);
    }
    // Every answer carries a new refresh token, the emergency one too: the one used is
    // spent, and the app goes on with the new one when the emergency ends.
    if scopes.refresh {
        answer["refresh_token"] = json!(new_refresh(state, session, at).await?);
    }
    Ok(answer)
}

/// A new refresh token of `session`, valid while the session lasts.
async fn new_refresh(state: &AppState, session: &Session, at: i64) -> Result<String, OAuthError> {
    let (refresh, handle) = issued(
        "refresh",
        Some(&session.id),
        &Refresh {
            client_id: session.client_id.clone(),
        },
        session.expires_at,
    );
    state
        .store
        .run(move |conn| stored::put(conn, &handle, at))
        .await
        .map_err(|e| OAuthError::database(&e))?;
    Ok(refresh)
}

// ---------------------------------------------------------------------------------
// POST /auth/revoke, POST /auth/introspect, GET /auth/logout

#[derive(Debug, Deserialize)]
pub(crate) struct TokenHint {
    token: Option<String>,
    client_id: Option<String>,
    #[allow(
        dead_code,
        reason = "read by RFC 7009 clients; every kind is looked up anyway"
    )]
    token_type_hint: Option<String>,
}

/// The session a token (a refresh token, or one of the registry's access or ID
/// tokens, even expired) belongs to, and the app it was issued to.
async fn session_of(state: &AppState, token: &str) -> Option<(String, String)> {
    let d = digest(token);
    if let Ok(Some(h)) = state.store.run(move |conn| stored::peek(conn, &d)).await
        && h.kind == "refresh"
        && let Some(session) = h.session_id
    {
        let client = serde_json::from_str::<Refresh>(&h.payload).ok()?.client_id;
        return Some((session, client));
    }
    let claims: Value = state.auth.keys.verify_signature_only(token)?;
    let sid = claims["sid"].as_str()?.to_owned();
    let client = claims["client_id"]
        .as_str()
        .or_else(|| claims["aud"].as_str())
        .unwrap_or_default()
        .to_owned();
    Some((sid, client))
}

fn form_of<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    body: &[u8],
) -> Result<T, OAuthError> {
    if !crate::fhir::rest::is_form(req) {
        return Err(OAuthError::request(
            "the request is an application/x-www-form-urlencoded form",
        ));
    }
    serde_urlencoded::from_bytes(body)
        .map_err(|e| OAuthError::request(format!("the form is malformed: {e}")))
}

fn oauth_error(e: &OAuthError) -> HttpResponse {
    e.response()
}

/// `POST /auth/revoke` (RFC 7009): ends the sign-in a token belongs to. Unknown tokens
/// are answered 200 like known ones, so the endpoint tells nothing about them.
pub(crate) async fn revoke(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form: TokenHint = match form_of(&req, &body) {
        Ok(f) => f,
        Err(e) => return oauth_error(&e),
    };
    let Some(client_id) = form.client_id.filter(|c| app(&state, c).is_some()) else {
        return oauth_error(&OAuthError::client("client_id names no registered app"));
    };
    let Some(token) = form.token else {
        return oauth_error(&OAuthError::request("token is required"));
    };
    if let Some((session, client)) = session_of(&state, &token).await {
        if client != client_id {
            return oauth_error(&OAuthError {
                status: StatusCode::BAD_REQUEST,
                error: "unauthorized_client",
                description: "the token was issued to another app".to_owned(),
            });
        }
        // RFC 7009 §2.2.1: a revocation the registry could not carry out is a 503, so the
        // app knows the tokens may still be honoured elsewhere.
        if let Err(e) = end_and_audit(&req, &state, &session, "revoked", SignInEvent::Logout).await
        {
            return oauth_error(&OAuthError::database(&e));
        }
    }
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// Ends a session and audits it with its person.
async fn end_and_audit(
    req: &HttpRequest,
    state: &AppState,
    session: &str,
    why: &'static str,
    kind: SignInEvent,
) -> Result<(), renhice_store::StoreError> {
    state.sign_in.forget(session);
    let id = session.to_owned();
    let at = now();
    let ended = state
        .store
        .run(move |conn| {
            let found = stored::session(conn, &id)?;
            let ended = stored::end(conn, &id, at, why)?;
            Ok((found, ended))
        })
        .await;
    match ended {
        Ok((Some(found), true)) => {
            let person = serde_json::from_str::<SessionPerson>(&found.person).ok();
            let event = sign_in_event(
                kind,
                person.as_ref().map(|p| (&p.person, p.role)),
                &found.client_id,
                Some(why),
                req.peer_addr().map(|a| a.ip().to_string()).as_deref(),
                &state.auth.config.audience,
            );
            if let Err(e) = state.audit.write(vec![event]).await {
                tracing::error!(error = %e, "a sign-out could not be audited");
            }
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(e) => {
            tracing::error!(error = %e, "cannot end a session");
            Err(e)
        }
    }
}

/// `POST /auth/introspect` (RFC 7662), for resource servers: a SIHCE's or an
/// administrator's token authorises the question.
pub(crate) async fn introspect(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let asker = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .and_then(|t| state.auth.verify(t.trim()).ok());
    if !asker.is_some_and(|g| matches!(g.role, Role::System | Role::Admin) && g.sign_in.is_none()) {
        return HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(json!({"error": "invalid_client",
                "error_description": "introspection is for SIHCE systems and administrators: Authorization: Bearer <their token>"}));
    }
    let form: TokenHint = match form_of(&req, &body) {
        Ok(f) => f,
        Err(e) => return oauth_error(&e),
    };
    let inactive = || {
        HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(json!({"active": false}))
    };
    let Some(token) = form.token else {
        return inactive();
    };
    // An access token of the registry: valid now, and its session alive.
    if let Ok(grant) = state.auth.verify(&token) {
        if let Some(sign_in) = &grant.sign_in
            && !state
                .sign_in
                .alive(&state.store, &sign_in.session)
                .await
                .unwrap_or(false)
        {
            return inactive();
        }
        let claims = state
            .auth
            .keys
            .verify_signature_only(&token)
            .unwrap_or(Value::Null);
        let mut answer = json!({
            "active": true,
            "token_type": "Bearer",
            "sub": grant.subject,
            "iss": claims["iss"], "aud": claims["aud"], "exp": claims["exp"], "iat": claims["iat"],
            "renhice_role": grant.role.code(),
            "renhice_purpose": grant.purpose.code(),
        });
        if let Some(s) = &grant.sign_in {
            answer["scope"] = json!(s.scope);
            answer["client_id"] = json!(s.client);
            answer["sid"] = json!(s.session);
        }
        return HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(answer);
    }
    // A refresh token: unused, unexpired, its session alive.
    let d = digest(&token);
    let found = state
        .store
        .run(move |conn| stored::peek(conn, &d))
        .await
        .ok()
        .flatten();
    let Some(h) =
        found.filter(|h| h.kind == "refresh" && h.used_at.is_none() && h.expires_at > now())
    else {
        return inactive();
    };
    let Some(session) = h.session_id.clone() else {
        return inactive();
    };
    let id = session.clone();
    let Ok(Some(s)) = state
        .store
        .run(move |conn| stored::session(conn, &id))
        .await
    else {
        return inactive();
    };
    if !s.alive_at(now()) {
        return inactive();
    }
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "active": true, "token_type": "refresh_token", "scope": s.scope, "client_id": s.client_id,
            "sub": s.subject, "exp": h.expires_at, "sid": s.id,
        }))
}

/// `GET /auth/logout` (OpenID Connect RP-Initiated Logout): ends the session the ID
/// token names, then the person's session at their provider, then back to the app.
pub(crate) async fn logout(
    req: HttpRequest,
    query: web::Query<Vec<(String, String)>>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let q = query.into_inner();
    let get = |name: &str| single(&q, name).ok().flatten();
    // Only an ID token of the registry's, issued to a registered app (never an access
    // token, which carries IUA claims), names the sign-in to end; a client_id other
    // than its audience makes it name none.
    let hint = get("id_token_hint")
        .and_then(|t| state.auth.keys.verify_signature_only(&t))
        .filter(|c| c.get("extensions").is_none())
        .filter(|c| c["aud"].as_str().is_some_and(|a| app(&state, a).is_some()))
        .filter(|c| get("client_id").is_none_or(|id| c["aud"].as_str() == Some(id.as_str())));
    let client_id = hint
        .as_ref()
        .and_then(|c| c["aud"].as_str().map(str::to_owned))
        .or_else(|| get("client_id"));
    let app = client_id.as_deref().and_then(|c| app(&state, c));
    let back = get("post_logout_redirect_uri").filter(|uri| {
        app.as_ref()
            .is_some_and(|a| a.post_logout_redirect_uris.contains(uri))
    });
    let app_state = get("state");
    let mut provider_logout = None;
    if let Some(sid) = hint
        .as_ref()
        .and_then(|c| c["sid"].as_str().map(str::to_owned))
    {
        let id = sid.clone();
        let found = state
            .store
            .run(move |conn| stored::session(conn, &id))
            .await
            .ok()
            .flatten();
        if let Some(person) =
            found.and_then(|s| serde_json::from_str::<SessionPerson>(&s.person).ok())
        {
            provider_logout = Some(person);
        }
        // A logout the database did not record still signs the person out here and at
        // their provider; the error is in the log.
        let _ = end_and_audit(&req, &state, &sid, "logout", SignInEvent::Logout).await;
    }
    // The person's session at the provider ends too, where it offers that; it sends them
    // back here, and from here they go back to the app.
    if let Some(person) = provider_logout
        && let Some(provider) = state
            .auth
            .config
            .identity_providers
            .iter()
            .find(|p| p.name == person.provider)
        && let Ok(discovery) = state.sign_in.federation.discovery(provider).await
        && let Some(end) = discovery.end_session_endpoint
        && let Ok(mut url) = url::Url::parse(&end)
    {
        let at = now();
        let (handle, stored_handle) = issued(
            "logout",
            None,
            &Logout {
                redirect: back.clone(),
                state: app_state.clone(),
            },
            at + LOGIN_LIFETIME,
        );
        if state
            .store
            .run(move |conn| stored::put(conn, &stored_handle, at))
            .await
            .is_ok()
        {
            {
                let mut pairs = url.query_pairs_mut();
                pairs.append_pair("client_id", &provider.client_id);
                pairs.append_pair(
                    "post_logout_redirect_uri",
                    &format!("{}/logged-out", issuer(&state)),
                );
                pairs.append_pair("state", &handle);
                if let Some(token) = &person.provider_id_token {
                    pairs.append_pair("id_token_hint", token);
                }
            }
            return redirect(url.as_str());
        }
    }
    signed_out(back.as_deref(), app_state.as_deref())
}

fn signed_out(back: Option<&str>, app_state: Option<&str>) -> HttpResponse {
    match back.and_then(|b| url::Url::parse(b).ok()) {
        Some(mut url) => {
            if let Some(s) = app_state {
                url.query_pairs_mut().append_pair("state", s);
            }
            redirect(url.as_str())
        }
        None => page(
            StatusCode::OK,
            "Sesión cerrada",
            "<p>Su sesión en el registro terminó. <span lang=\"en\">You are signed out of the registry.</span></p>",
        ),
    }
}

/// `GET /auth/logged-out`: the provider sends the person back after signing them out.
pub(crate) async fn logged_out(
    query: web::Query<Vec<(String, String)>>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let q = query.into_inner();
    let Some(handle) = single(&q, "state").ok().flatten() else {
        return signed_out(None, None);
    };
    let d = digest(&handle);
    let at = now();
    let taken = state
        .store
        .run(move |conn| stored::take(conn, &d, "logout", at))
        .await;
    match taken {
        Ok(Taken::Fresh(h)) => {
            let logout: Option<Logout> = serde_json::from_str(&h.payload).ok();
            let (back, app_state) = logout.map_or((None, None), |l| (l.redirect, l.state));
            signed_out(back.as_deref(), app_state.as_deref())
        }
        _ => signed_out(None, None),
    }
}

/// Refuses a configuration of people's sign-in that would be ambiguous: two providers
/// of one name (subjects are `name|sub`), a name with `|`, two apps of one id, an app
/// with the web app's id, an app without redirect URIs.
pub fn check_config(config: &super::AuthConfig) -> Result<(), String> {
    let mut names = std::collections::HashSet::new();
    for p in &config.identity_providers {
        let valid = !p.name.is_empty()
            && p.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(format!(
                "auth.identity_providers: the name {:?} is not letters, digits, '-' or '_'",
                p.name
            ));
        }
        if !names.insert(p.name.as_str()) {
            return Err(format!(
                "auth.identity_providers: two providers are named {:?}",
                p.name
            ));
        }
    }
    let mut ids = std::collections::HashSet::from([WEB_APP]);
    for a in &config.apps {
        if !ids.insert(a.client_id.as_str()) {
            return Err(format!(
                "auth.apps: the client id {:?} is used twice (or is the web app's)",
                a.client_id
            ));
        }
        if a.redirect_uris.is_empty() {
            return Err(format!("auth.apps: {:?} has no redirect_uris", a.client_id));
        }
    }
    Ok(())
}

/// The registry's authorization-server metadata, shared by
/// `/.well-known/smart-configuration` and `/auth/.well-known/openid-configuration`.
pub(crate) fn metadata(state: &AppState) -> Value {
    let issuer = issuer(state);
    json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/jwks"),
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": super::authority::token_endpoint(&issuer),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "end_session_endpoint": format!("{issuer}/logout"),
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "ES384", "RS256", "RS384"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "subject_types_supported": ["public"],
        "scopes_supported": [
            "openid", "fhirUser", "profile", "offline_access", "online_access", "launch/patient",
            "patient/*.rs", "patient/*.cruds", "user/*.rs", "user/*.cruds",
            "system/*.rs", "system/*.cruds"
        ],
        "claims_supported": ["sub", "name", "fhirUser", "sid"],
        "capabilities": [
            "launch-standalone", "client-public", "client-confidential-asymmetric",
            "sso-openid-connect", "context-standalone-patient", "permission-offline",
            "permission-online", "permission-patient", "permission-user", "permission-v1",
            "permission-v2"
        ],
        "identity_providers": state.auth.config.identity_providers.iter()
            .map(|p| json!({"name": p.name, "title": p.title()})).collect::<Vec<_>>(),
    })
}

/// `GET /auth/.well-known/openid-configuration`.
pub(crate) async fn openid_configuration(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(metadata(&state))
}

/// Refuses a signed-in person's token from any app but the registry's own web app, for
/// `action` on endpoints no SMART scope names (client registration, accreditation runs):
/// another app a person signed in to cannot be allowed them by its scopes.
pub(crate) fn only_from_web_app(
    caller: &super::access::Caller,
    action: &str,
) -> Result<(), crate::ApiError> {
    match &caller.0.sign_in {
        Some(s) if s.client != WEB_APP => Err(super::access::forbidden(
            "scope",
            format!(
                "a token from the app {:?} may not {action}: that is done from the \
                 registry's own web app",
                s.client
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_is_rfc_7636s_example() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(pkce_form(verifier));
        assert_eq!(
            s256(verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(!pkce_form("short"));
        assert!(!pkce_form(&"a".repeat(129)));
        assert!(!pkce_form(&format!("{}+", "a".repeat(43))));
    }

    #[test]
    fn handles_are_stored_only_as_digests() {
        let h = new_handle();
        assert_eq!(h.len(), 43);
        assert_ne!(new_handle(), h);
        assert_eq!(digest(&h).len(), 64);
        assert!(!digest(&h).contains(&h));
    }

    #[test]
    fn ambiguous_sign_in_configurations_are_refused() {
        let mut config = super::super::AuthConfig::default();
        assert_eq!(check_config(&config), Ok(()));
        config.apps.push(App {
            client_id: WEB_APP.to_owned(),
            name: String::new(),
            redirect_uris: vec!["https://x/".to_owned()],
            post_logout_redirect_uris: Vec::new(),
        });
        assert!(check_config(&config).is_err(), "the web app's id");
        config.apps[0].client_id = "mi-app".to_owned();
        assert_eq!(check_config(&config), Ok(()));
        config.apps[0].redirect_uris.clear();
        assert!(check_config(&config).is_err(), "no redirect URI");
    }

    #[test]
    fn pages_escape_what_they_show() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
