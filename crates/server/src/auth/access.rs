//! Who may do what: the caller of a request and the registry's access rules.
//!
//! Every FHIR endpoint but `/fhir/metadata` takes a [`Caller`], so a request without a
//! token the registry accepts is a 401 before any handler runs. The rules, each named in
//! the 403 that it causes:
//!
//! | rule | what it says |
//! | --- | --- |
//! | `role` | each interaction is open to some roles only |
//! | `ipress-registered` | a SIHCE or clinician acts for an IPRESS the registry knows |
//! | `custodian-is-caller` | a SIHCE writes (pushes, corrects, summarises) only for its own IPRESS |
//! | `own-ipress-entries` | without consent, a SIHCE or clinician reads only the entries its own IPRESS holds |
//! | `consent-authorisation` | a SIHCE records a patient's consent only with the patient's signed authorisation |
//! | `patient-own-records` | a patient reads only their own records (and those merged into them) |
//! | `person-registered` | a patient token names an identity document the registry knows |
//! | `emergency-reason` | emergency access (`ETREAT`) states why |
//! | `certificate-ipress` | on a mutual-TLS connection, only a token for the client certificate's IPRESS |
//! | `scope` | a person's token does only what the SMART scopes granted to its app allow |

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};

use renhice_store::resources as stored;
use renhice_store::{DbConnection, StoreError, consents, records};

use super::token::{Grant, Purpose, Role};
use crate::audit::{AuditHandle, Basis};
use crate::tls::PeerCertificate;
use crate::{ApiError, AppState};

/// The authenticated caller of a request, and the request's audit notes.
#[derive(Debug, Clone)]
pub struct Caller(pub Grant, pub(crate) AuditHandle);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
    }
}

async fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal("the application state is missing"))?;
    let mut refused = authenticated(req, state);
    if let Ok(caller) = &refused
        && let Some(sign_in) = &caller.0.sign_in
    {
        refused = signed_in(req, state, caller, sign_in).await;
    } else if let Ok(caller) = &refused
        && let Some(granted) = &caller.0.system_scope
    {
        let scopes = super::scopes::Scopes::parse_system(granted).unwrap_or_default();
        if let Err(refusal) = within_scopes(req, state, &scopes, granted, "the system") {
            refused = Err(refusal);
        }
    }
    if refused.is_err() {
        // Requests without an acceptable token count against their address.
        let address = req
            .peer_addr()
            .map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string());
        state.limits.check(&format!("ip:{address}"))?;
    }
    let caller = refused?;
    state.limits.check(&format!("sub:{}", caller.0.subject))?;
    Ok(caller)
}

/// The caller a request's token (and client certificate) makes it.
fn authenticated(req: &HttpRequest, state: &AppState) -> Result<Caller, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Err(ApiError::Unauthenticated {
            reason: "this endpoint needs an access token: Authorization: Bearer <token> \
                     (renhice token issue, or the registry's token endpoint)"
                .to_owned(),
            presented: false,
        });
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::Unauthenticated {
            reason: "the Authorization header is not a bearer token".to_owned(),
            presented: true,
        })?;
    let grant = state
        .auth
        .verify(token)
        .map_err(|e| ApiError::Unauthenticated {
            reason: e.0,
            presented: true,
        })?;
    // On a mutual-TLS connection the token must be for the certificate's IPRESS.
    crate::audit::handle_of(req).caller(&grant);
    if let Some(peer) = req.conn_data::<PeerCertificate>() {
        let bound = matches!(grant.role, Role::System | Role::Clinician)
            && peer.renipress.is_some()
            && grant.organization == peer.renipress;
        if !bound {
            return Err(forbidden(
                "certificate-ipress",
                format!(
                    "this connection's client certificate names IPRESS {}; only a SIHCE or \
                     clinician token for that IPRESS is accepted on it",
                    peer.renipress.as_deref().unwrap_or("(none)")
                ),
            ));
        }
    }
    Ok(Caller(grant, crate::audit::handle_of(req)))
}

/// A person's token: honoured while its sign-in lasts, and for what its scopes allow.
async fn signed_in(
    req: &HttpRequest,
    state: &AppState,
    caller: &Caller,
    sign_in: &super::token::SignIn,
) -> Result<Caller, ApiError> {
    if !state.sign_in.alive(&state.store, &sign_in.session).await? {
        return Err(ApiError::Unauthenticated {
            reason: "the sign-in this token belongs to has ended (signed out or revoked); \
                     sign in again"
                .to_owned(),
            presented: true,
        });
    }
    let scopes = super::scopes::Scopes::parse(&sign_in.scope).unwrap_or_default();
    within_scopes(req, state, &scopes, &sign_in.scope, "the app")?;
    Ok(caller.clone())
}

/// Refuses a request its token's SMART scopes do not allow (`who` was granted
/// `granted`): the scope letter the route needs on its resource type. The route is found
/// from the decoded path, as the router finds it (`/fhir/Pati%65nt` is `Patient`).
fn within_scopes(
    req: &HttpRequest,
    state: &AppState,
    scopes: &super::scopes::Scopes,
    granted: &str,
    who: &str,
) -> Result<(), ApiError> {
    let path = percent_encoding::percent_decode_str(req.path()).decode_utf8_lossy();
    match (state.sign_in.permission)(req.method().as_str(), &path) {
        Some((resource, letter)) if !scopes.allows(resource, letter) => {
            Err(scope_refusal(who, granted, resource, letter))
        }
        _ => Ok(()),
    }
}

/// The 403 of a scope that does not allow `letter` on `resource`.
fn scope_refusal(who: &str, granted: &str, resource: &str, letter: char) -> ApiError {
    forbidden(
        "scope",
        format!(
            "{who} was granted {granted:?}, which does not allow {} on {resource} \
             (SMART scope letter {letter})",
            match letter {
                'c' => "create",
                'r' => "read",
                'u' => "update",
                'd' => "delete",
                _ => "search",
            }
        ),
    )
}

impl Caller {
    /// Refuses what the token's SMART scopes (a person's app's, or a SIHCE system's
    /// `system/` scopes) do not allow: `letter` of `cruds` on `resource`. For what one
    /// request does several of (the entries of a batch, a push's index entries), beyond
    /// the check of its route. Tokens without scopes pass.
    pub(crate) fn check_scope(&self, resource: &str, letter: char) -> Result<(), ApiError> {
        let (scopes, granted, who) = if let Some(sign_in) = &self.0.sign_in {
            (
                super::scopes::Scopes::parse(&sign_in.scope).unwrap_or_default(),
                sign_in.scope.as_str(),
                "the app",
            )
        } else if let Some(granted) = &self.0.system_scope {
            (
                super::scopes::Scopes::parse_system(granted).unwrap_or_default(),
                granted.as_str(),
                "the system",
            )
        } else {
            return Ok(());
        };
        if scopes.allows(resource, letter) {
            Ok(())
        } else {
            Err(scope_refusal(who, granted, resource, letter))
        }
    }
}

/// A 403 naming the rule.
pub(crate) fn forbidden(rule: &'static str, message: String) -> ApiError {
    ApiError::Forbidden {
        rule,
        message,
        path: None,
    }
}

use renhice_registry::access::{self, Asker, Consented};
pub(crate) use renhice_registry::access::{Reading, Scope};

impl Caller {
    /// The request's audit notes.
    pub(crate) fn audit(&self) -> &AuditHandle {
        &self.1
    }

    /// The role.
    #[must_use]
    pub fn role(&self) -> Role {
        self.0.role
    }

    /// Refuses unless the caller's role is one of `roles`.
    pub(crate) fn require(&self, roles: &[Role], action: &str) -> Result<(), ApiError> {
        if roles.contains(&self.0.role) {
            Ok(())
        } else {
            let allowed: Vec<&str> = roles.iter().map(|r| r.code()).collect();
            Err(forbidden(
                "role",
                format!(
                    "a {} token may not {action}; that is for: {}",
                    self.0.role,
                    allowed.join(", ")
                ),
            ))
        }
    }

    /// The `Organization` id of the caller's IPRESS (systems and clinicians).
    pub(crate) async fn ipress(&self, state: &AppState) -> Result<String, ApiError> {
        let caller = self.clone();
        state.store.run(move |conn| caller.ipress_on(conn)).await?
    }

    /// [`Caller::ipress`] on a connection the caller already holds.
    pub(crate) fn ipress_on(
        &self,
        conn: &mut DbConnection,
    ) -> Result<Result<String, ApiError>, StoreError> {
        let Some(code) = self.0.organization.as_deref() else {
            return Ok(Err(forbidden(
                "ipress-registered",
                format!("a {} token acts for no IPRESS", self.0.role),
            )));
        };
        let holder = stored::key_holder(conn, "Organization", &format!("renipress|{code}"))?;
        Ok(holder.ok_or_else(|| {
            forbidden(
                "ipress-registered",
                format!(
                    "the token's IPRESS (RENIPRESS {code}) is not registered in the registry; \
                     an administrator registers it as an Organization first"
                ),
            )
        }))
    }

    /// Refuses unless `custodian` (an `Organization` id) is the caller's own IPRESS;
    /// `path` is the element naming it.
    pub(crate) async fn check_custodian(
        &self,
        state: &AppState,
        custodian: &str,
        path: &str,
    ) -> Result<(), ApiError> {
        let own = self.ipress(state).await?;
        if own == custodian {
            return Ok(());
        }
        Err(self.not_own(&own, custodian, path))
    }

    /// The refusal of a write for `custodian` by a caller acting for `own`.
    pub(crate) fn not_own(&self, own: &str, custodian: &str, path: &str) -> ApiError {
        ApiError::Forbidden {
            rule: "custodian-is-caller",
            message: format!(
                "a SIHCE writes only for its own IPRESS: the token acts for Organization/{own} \
                 (RENIPRESS {}), and {path} names Organization/{custodian}",
                self.0.organization.as_deref().unwrap_or_default()
            ),
            path: Some(path.to_owned()),
        }
    }

    /// The patient records of a patient caller: their registered record and every one
    /// merged into it.
    fn own_family_on(
        &self,
        conn: &mut DbConnection,
    ) -> Result<Result<Vec<String>, ApiError>, StoreError> {
        let person = self.0.person.as_deref().unwrap_or_default();
        let Some(patient) = stored::key_holder(conn, "Patient", person)? else {
            return Ok(Err(forbidden(
                "person-registered",
                format!("no patient of the registry holds the token's identity document {person}"),
            )));
        };
        Ok(Ok(records::family(conn, &patient)?))
    }

    /// [`Caller::own_family_on`], for a search to keep to the caller's own records.
    pub(crate) async fn own_family(&self, state: &AppState) -> Result<Vec<String>, ApiError> {
        let caller = self.clone();
        state
            .store
            .run(move |conn| caller.own_family_on(conn))
            .await?
    }

    /// Refuses a patient caller unless `patient` is one of their own records; other
    /// roles pass (their rules are about custodians, see [`Caller::scope`]).
    pub(crate) async fn check_patient(
        &self,
        state: &AppState,
        patient: &str,
    ) -> Result<(), ApiError> {
        if self.0.role != Role::Patient {
            return Ok(());
        }
        self.1.patient(patient);
        let family = self.own_family(state).await?;
        access::scope(
            Asker::Patient { family: &family },
            patient,
            Reading::Entries,
        )
        .map(|_| ())
        .map_err(ApiError::from)
    }

    /// Which of `patient`'s entries the caller may see for `reading`, or a refusal.
    pub(crate) async fn scope(
        &self,
        state: &AppState,
        patient: &str,
        reading: Reading,
    ) -> Result<Scope, ApiError> {
        let (caller, patient) = (self.clone(), patient.to_owned());
        state
            .store
            .run(move |conn| caller.scope_on(conn, &patient, reading))
            .await?
    }

    /// [`Caller::scope`] on a connection the caller already holds: a patient sees all of
    /// their own records; a SIHCE or clinician the entries its IPRESS holds, what an
    /// active consent of the patient grants it (or the clinician) for the token's
    /// purpose, and under emergency (with a reason) the locations and summaries of every
    /// IPRESS, except the entries other IPRESS labelled sensitive.
    pub(crate) fn scope_on(
        &self,
        conn: &mut DbConnection,
        patient: &str,
        reading: Reading,
    ) -> Result<Result<Scope, ApiError>, StoreError> {
        // The audit notes whose records were asked for, allowed or not, and what opened
        // them.
        self.1.patient(patient);
        let decided = self.decide_scope(conn, patient, reading)?;
        match &decided {
            Ok(Scope::Consented { consent, .. }) => self.1.basis(Basis::Consent(consent.clone())),
            Ok(Scope::Emergency(_)) => self.1.basis(Basis::Emergency(
                self.0.emergency_reason.clone().unwrap_or_default(),
            )),
            _ => {}
        }
        Ok(decided)
    }

    fn decide_scope(
        &self,
        conn: &mut DbConnection,
        patient: &str,
        reading: Reading,
    ) -> Result<Result<Scope, ApiError>, StoreError> {
        let decided = match self.0.role {
            Role::Patient => match self.own_family_on(conn)? {
                Ok(family) => access::scope(Asker::Patient { family: &family }, patient, reading),
                Err(refusal) => return Ok(Err(refusal)),
            },
            Role::System | Role::Clinician => {
                let own = match self.ipress_on(conn)? {
                    Ok(own) => own,
                    Err(refusal) => return Ok(Err(refusal)),
                };
                let consented = self.consent_on(conn, patient, &own)?;
                let asker = Asker::Ipress {
                    own: &own,
                    consented: consented.as_ref(),
                    emergency: self.0.purpose == Purpose::Emergency,
                    reason: self.0.emergency_reason.as_deref(),
                };
                access::scope(asker, patient, reading)
            }
            Role::Auditor | Role::Admin => access::scope(
                Asker::Other {
                    role: self.0.role.code(),
                },
                patient,
                reading,
            ),
        };
        Ok(decided.map_err(ApiError::from))
    }

    /// What an active consent of `patient` (or of a record merged into theirs) grants
    /// this SIHCE or clinician now, for the token's purpose.
    fn consent_on(
        &self,
        conn: &mut DbConnection,
        patient: &str,
        own: &str,
    ) -> Result<Option<Consented>, StoreError> {
        let family = records::family(conn, patient)?;
        let mut grantees = vec![renhice_registry::consent::organization_grantee(own)];
        if self.0.role == Role::Clinician {
            grantees.extend(
                self.0
                    .practitioner
                    .as_deref()
                    .and_then(renhice_registry::consent::clinician_grantee),
            );
        }
        let found = consents::for_grantees(conn, &family, &grantees)?;
        Ok(access::widest(
            found.iter().map(|f| (&f.grant, f.consent_id.as_str())),
            renhice_store::Timestamp::now().micros(),
            self.0.purpose.code(),
        ))
    }
}

/// Refuses an entry outside `scope` (read by id): the rule that applies to the caller.
pub(crate) fn check_in_scope(
    scope: &Scope,
    custodian: &str,
    sensitive: bool,
) -> Result<(), ApiError> {
    Ok(scope.check(custodian, sensitive)?)
}

/// The refusal of what another IPRESS (`custodian`, an `Organization` id) holds.
pub(crate) fn outside_scope(custodian: &str) -> ApiError {
    access::outside(custodian).into()
}
