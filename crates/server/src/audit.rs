//! The audit trail of requests: a BALP `AuditEvent` for every FHIR interaction and every
//! token request, allowed or refused.
//!
//! A request carries an [`AuditHandle`] (a request extension, also held by its
//! [`crate::auth::access::Caller`]) into which the handlers note what they learn: the
//! patients concerned, the resources read or written, the consent or emergency that
//! opened them. A handler that changes the database builds the events of its change
//! (`AuditHandle::events_for_commit`) and writes them in the change's transaction,
//! then marks them committed. Whatever is left when the response is ready — reads,
//! searches, refusals, failed writes — the `record` middleware writes through the
//! [`AuditWriter`] before the response leaves: a response is never sent unaudited; if
//! the audit cannot be written, the client gets a 500 instead.
//!
//! One event per patient (BALP: each patient's log can be handed to them without
//! anyone else's); an event concerning no patient (an IPRESS registered, a token
//! refused) has no patient entity. Emergency access that discloses records is a BALP
//! Privacy Disclosure (DICOM 110106 "Export", ISO 21089 `disclose`), with the stated
//! reason, and the patient sees it in their own view (`GET /fhir/AuditEvent`).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError, web};
use base64::Engine;
use renhice_store::Store;
use renhice_store::audit::{self as stored, NewAuditEvent};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::auth::token::{Grant, ROLE_SYSTEM, Role};
use crate::error::ApiError;
use crate::observe::RequestId;

const DCM: &str = "http://dicom.nema.org/resources/ontology/DCM";
const REST: &str = "http://hl7.org/fhir/restful-interaction";
const ACT_REASON: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
const ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
const OBJECT_ROLE: &str = "http://terminology.hl7.org/CodeSystem/object-role";
const BALP: &str = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.";
/// The system of the operation names in an operation's subtype (`record-locations`,
/// `summary`, `verify-chain`, `ihe-pix`, `validate`).
pub const OPERATION: &str = "urn:renhice:operation";

/// What opened a patient's records to the caller, as the audit records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Basis {
    /// The caller's own records or its own IPRESS's entries.
    Own,
    /// A patient's consent (the Consent's id).
    Consent(String),
    /// Emergency access, with the stated reason: a privacy disclosure.
    Emergency(String),
}

/// One interaction of a request (a batch has one per entry besides its own).
#[derive(Debug, Clone)]
struct Interaction {
    /// `restful-interaction` code: read, vread, history-instance, search-type, create,
    /// update, transaction, batch, operation.
    subtype: &'static str,
    /// `C`, `R`, `U`, `D` or `E`.
    action: &'static str,
    /// The IHE transaction, where one applies (`ITI-65`, `ITI-67`, …).
    iti: Option<&'static str>,
    /// The operation's name, for an operation (`record-locations`, `summary`, …): what
    /// a patient reading their trail needs to know was done.
    operation: Option<String>,
    /// What it is about, beyond the request line: `Type/id` of resources touched.
    what: Vec<String>,
    /// The patients concerned (logical ids).
    patients: Vec<String>,
    basis: Basis,
    /// An outcome set by the handler (a batch entry that failed): status and why.
    outcome: Option<(u16, String)>,
    /// Already written with the change it records.
    committed: bool,
}

/// Names the interaction of a request line: its `restful-interaction` code, audit
/// action and IHE transaction. The routes table's (`crate::routes::classify`) is given
/// to the [`Recorder`] when the server starts, so this module knows no route.
pub type Classify = fn(&str, &str) -> (&'static str, &'static str, Option<&'static str>);

/// Names an interaction by its method alone: for handles no route table classifies.
fn by_method(method: &str, _path: &str) -> (&'static str, &'static str, Option<&'static str>) {
    match method {
        "POST" => ("create", "C", None),
        "PUT" => ("update", "U", None),
        "DELETE" => ("delete", "D", None),
        _ => ("read", "R", None),
    }
}

/// What a request's audit events are made from.
#[derive(Debug)]
struct Draft {
    classify: Classify,
    request_id: String,
    method: String,
    path: String,
    query: String,
    network: Option<String>,
    caller: Option<Grant>,
    /// The first is the request itself.
    interactions: Vec<Interaction>,
}

/// The audit notes of one request, shared by its handlers.
#[derive(Debug, Clone)]
pub struct AuditHandle(Arc<Mutex<Draft>>);

impl Interaction {
    /// The interaction a request line stands for, with nothing noted yet.
    fn of(classify: Classify, method: &str, path: &str) -> Self {
        let (subtype, action, iti) = classify(method, path);
        let operation = path
            .split('?')
            .next()
            .and_then(|p| p.rsplit('/').next())
            .and_then(|last| last.strip_prefix('$'))
            .filter(|name| !name.is_empty())
            .map(str::to_owned);
        Self {
            subtype,
            action,
            iti,
            operation,
            what: Vec::new(),
            patients: Vec::new(),
            basis: Basis::Own,
            outcome: None,
            committed: false,
        }
    }
}

impl AuditHandle {
    fn new(classify: Classify, request_id: String, method: &str, path: &str, query: &str) -> Self {
        Self(Arc::new(Mutex::new(Draft {
            classify,
            request_id,
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            network: None,
            caller: None,
            interactions: vec![Interaction::of(classify, method, path)],
        })))
    }

    /// A handle that records nothing anyone reads (requests outside the audited paths
    /// and unit tests).
    #[must_use]
    pub fn detached() -> Self {
        Self::new(by_method, String::new(), "", "", "")
    }

    fn with<T>(&self, f: impl FnOnce(&mut Draft) -> T) -> T {
        let mut draft = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut draft)
    }

    fn current<T>(&self, f: impl FnOnce(&mut Interaction) -> T) -> T {
        self.with(|d| {
            let last = d.interactions.len() - 1;
            f(&mut d.interactions[last])
        })
    }

    /// Notes the authenticated caller.
    pub(crate) fn caller(&self, grant: &Grant) {
        self.with(|d| d.caller = Some(grant.clone()));
    }

    /// Notes a patient the current interaction concerns.
    pub(crate) fn patient(&self, id: &str) {
        if id.is_empty() {
            return;
        }
        self.current(|i| {
            if !i.patients.iter().any(|p| p == id) {
                i.patients.push(id.to_owned());
            }
        });
    }

    /// Notes a resource the current interaction touched.
    pub(crate) fn entity(&self, resource_type: &str, id: &str) {
        let what = format!("{resource_type}/{id}");
        self.current(|i| {
            if !i.what.contains(&what) {
                i.what.push(what);
            }
        });
    }

    /// Notes what opened the records (the widest basis noted wins).
    pub(crate) fn basis(&self, basis: Basis) {
        self.current(|i| {
            if !matches!(i.basis, Basis::Emergency(_)) {
                i.basis = basis;
            }
        });
    }

    /// Names the current interaction (an ITI transaction, an operation).
    pub(crate) fn interaction(
        &self,
        subtype: &'static str,
        action: &'static str,
        iti: Option<&'static str>,
    ) {
        self.current(|i| {
            i.subtype = subtype;
            i.action = action;
            i.iti = iti;
        });
    }

    /// Starts the interaction of a batch entry.
    pub(crate) fn begin_entry(&self, method: &str, url: &str) {
        self.with(|d| {
            let entry = Interaction::of(d.classify, method, &format!("/fhir/{url}"));
            d.interactions.push(entry);
        });
    }

    /// Notes that the current batch entry failed.
    pub(crate) fn entry_failed(&self, error: &ApiError) {
        let outcome = (error.status_code().as_u16(), description(error));
        self.current(|i| i.outcome = Some(outcome));
    }

    /// The events of the current interaction as a success, to be written in the
    /// transaction of its change; [`AuditHandle::committed`] after it commits.
    pub(crate) fn events_for_commit(&self, observer: &str) -> Vec<NewAuditEvent> {
        self.with(|d| {
            let i = d.interactions.len() - 1;
            events(d, i, 200, None, observer)
        })
    }

    /// Marks the current interaction's events as written with its change.
    pub(crate) fn committed(&self) {
        self.current(|i| i.committed = true);
    }

    /// The events of every interaction not yet written, with the response's outcome
    /// where the handler set none.
    fn remaining(
        &self,
        status: u16,
        error: Option<&ApiError>,
        observer: &str,
    ) -> Vec<NewAuditEvent> {
        self.with(|d| {
            let mut out = Vec::new();
            for i in 0..d.interactions.len() {
                if d.interactions[i].committed {
                    continue;
                }
                let (status, why) = match d.interactions[i].outcome.clone() {
                    Some((s, why)) => (s, Some(why)),
                    None if i == 0 => (status, error.map(description)),
                    // A batch entry the handler did not report failed succeeded.
                    None => (200, None),
                };
                out.extend(events(d, i, status, why.as_deref(), observer));
            }
            out
        })
    }
}

/// What the audit says of a failure: the refusal with its rule; internal failures
/// without their detail (that goes to the server log).
fn description(error: &ApiError) -> String {
    match error {
        ApiError::Internal { .. } | ApiError::Store(_) | ApiError::DatabaseUnavailable(_) => {
            format!("{} ({})", error.status_code(), error_kind(error))
        }
        other => other.to_string(),
    }
}

fn error_kind(error: &ApiError) -> &'static str {
    match error {
        ApiError::DatabaseUnavailable(_) => "the database was not available",
        _ => "internal error",
    }
}

fn coding(system: &str, code: &str) -> Value {
    json!({"system": system, "code": code})
}

/// The BALP outcome code of an HTTP status: 0 success, 4 minor failure (the request
/// refused or invalid), 8 serious failure (the registry failed).
fn outcome_code(status: u16) -> &'static str {
    match status {
        200..=399 => "0",
        400..=499 => "4",
        _ => "8",
    }
}

/// The events of interaction `i` of the draft with `status`: one per patient, or one.
fn events(
    d: &Draft,
    i: usize,
    status: u16,
    why: Option<&str>,
    observer: &str,
) -> Vec<NewAuditEvent> {
    let interaction = &d.interactions[i];
    let recorded = renhice_store::Timestamp::now().micros();
    let patients: Vec<Option<&str>> = if interaction.patients.is_empty() {
        vec![None]
    } else {
        interaction
            .patients
            .iter()
            .map(|p| Some(p.as_str()))
            .collect()
    };
    patients
        .into_iter()
        .map(|patient| {
            // Time-ordered, so the id index grows at its right edge.
            let id = uuid::Uuid::now_v7().to_string();
            let body = event_json(
                d,
                interaction,
                patient,
                status,
                why,
                observer,
                &id,
                recorded,
            );
            NewAuditEvent {
                id,
                recorded,
                patient_id: patient.map(str::to_owned),
                ipress: d.caller.as_ref().and_then(|g| g.organization.clone()),
                role: d.caller.as_ref().map(|g| g.role.code().to_owned()),
                action: interaction.action.to_owned(),
                outcome: outcome_code(status).to_owned(),
                body: body.to_string(),
                agent_name: d
                    .caller
                    .as_ref()
                    .map(|g| agent_name(g.name.as_deref().unwrap_or(&g.subject))),
            }
        })
        .collect()
}

#[allow(
    clippy::too_many_arguments,
    reason = "one event's parts, assembled in one place"
)]
fn event_json(
    d: &Draft,
    interaction: &Interaction,
    patient: Option<&str>,
    status: u16,
    why: Option<&str>,
    observer: &str,
    id: &str,
    recorded: i64,
) -> Value {
    let disclosure = matches!(interaction.basis, Basis::Emergency(_)) && status < 300;
    let mut subtype = vec![coding(REST, interaction.subtype)];
    if let Some(iti) = interaction.iti {
        subtype.push(coding("urn:ihe:event-type-code", iti));
    }
    if let Some(operation) = &interaction.operation {
        subtype.push(coding(OPERATION, operation));
    }
    let (event_type, profile) = if disclosure {
        subtype.insert(
            0,
            coding(
                "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle",
                "disclose",
            ),
        );
        (coding(DCM, "110106"), "PrivacyDisclosure.Source")
    } else {
        (
            coding(
                "http://terminology.hl7.org/CodeSystem/audit-event-type",
                "rest",
            ),
            balp_profile(interaction, patient.is_some()),
        )
    };
    let mut event = json!({
        "resourceType": "AuditEvent",
        "id": id,
        "meta": {"profile": [format!("{BALP}{profile}")]},
        "type": event_type,
        "subtype": subtype,
        "action": interaction.action,
        "recorded": renhice_store::Timestamp::from_micros(recorded).to_rfc3339(),
        "outcome": outcome_code(status),
        "agent": agents(d, interaction, observer),
        "source": {
            "site": "renhice",
            "observer": {"display": observer},
            "type": [coding("http://terminology.hl7.org/CodeSystem/security-source-type", "4")]
        },
        "entity": entities(d, interaction, patient),
    });
    if let Some(why) = why {
        event["outcomeDesc"] = json!(why);
    }
    if let Some(grant) = &d.caller {
        event["purposeOfEvent"] = json!([{"coding": [coding(ACT_REASON, grant.purpose.code())]}]);
    }
    event
}

fn balp_profile(interaction: &Interaction, with_patient: bool) -> &'static str {
    match (interaction.action, with_patient) {
        ("C", true) => "PatientCreate",
        ("C", false) => "Create",
        ("U", true) => "PatientUpdate",
        ("U", false) => "Update",
        ("D", true) => "PatientDelete",
        ("D", false) => "Delete",
        ("R", true) => "PatientRead",
        ("R", false) => "Read",
        (_, true) => "PatientQuery",
        (_, false) => "Query",
    }
}

fn agents(d: &Draft, interaction: &Interaction, observer: &str) -> Value {
    let mut agents = Vec::new();
    // The client: a SIHCE (its token's subject), the patient's app, or whoever sent a
    // request without an acceptable token.
    let mut client = json!({
        "type": {"coding": [coding(DCM, "110150")]},
        "who": {"identifier": {"system": "urn:renhice:token-subject",
            "value": d.caller.as_ref().map_or("unauthenticated", |g| g.subject.as_str())}},
        "requestor": d.caller.as_ref().is_none_or(|g| g.role == Role::System),
    });
    if let Some(address) = &d.network {
        client["network"] = json!({"address": address, "type": "2"});
    }
    if let Basis::Consent(consent) = &interaction.basis {
        client["policy"] = json!([format!("Consent/{consent}")]);
    }
    agents.push(client);
    if let Some(grant) = &d.caller {
        if let Some(code) = &grant.organization {
            agents.push(json!({
                "type": {"coding": [coding("http://terminology.hl7.org/CodeSystem/v3-RoleClass", "PROV")]},
                "who": {"identifier": {"system": renhice_model::peru::url::CS_IPRESS, "value": code}},
                "requestor": false,
            }));
        }
        let person = match grant.role {
            Role::Clinician => grant
                .practitioner
                .as_ref()
                .map(|p| ("urn:renhice:colegiatura", p)),
            Role::Patient => grant
                .person
                .as_ref()
                .map(|p| ("urn:renhice:identity-document", p)),
            _ => None,
        };
        if person.is_some() || matches!(grant.role, Role::Auditor | Role::Admin) {
            let mut human = json!({
                "type": {"coding": [coding("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP")]},
                "who": match person {
                    Some((system, value)) => json!({"identifier": {"system": system, "value": value}}),
                    None => json!({"identifier": {"system": "urn:renhice:token-subject", "value": grant.subject}}),
                },
                "requestor": true,
                "role": [{"coding": [coding(ROLE_SYSTEM, grant.role.code())]}],
                "purposeOfUse": [{"coding": [coding(ACT_REASON, grant.purpose.code())]}],
            });
            if let Some(name) = &grant.name {
                human["name"] = json!(name);
            }
            agents.push(human);
        }
    }
    agents.push(json!({
        "type": {"coding": [coding(DCM, "110152")]},
        "who": {"display": observer},
        "requestor": false,
        "network": {"address": observer, "type": "5"},
    }));
    Value::Array(agents)
}

fn entities(d: &Draft, interaction: &Interaction, patient: Option<&str>) -> Value {
    let mut entities = Vec::new();
    if let Some(patient) = patient {
        let mut entity = json!({
            "what": {"reference": format!("Patient/{patient}")},
            "type": coding(ENTITY_TYPE, "1"),
            "role": coding(OBJECT_ROLE, "1"),
        });
        if let Basis::Emergency(reason) = &interaction.basis {
            entity["detail"] = json!([{"type": "emergency-reason", "valueString": reason}]);
        }
        entities.push(entity);
    }
    for what in &interaction.what {
        entities.push(json!({
            "what": {"reference": what},
            "type": coding(ENTITY_TYPE, "2"),
            "role": coding(OBJECT_ROLE, "4"),
        }));
    }
    if interaction.action == "E" && !d.query.is_empty() {
        let line = format!("{} {}?{}", d.method, d.path, d.query);
        entities.push(json!({
            "type": coding(ENTITY_TYPE, "2"),
            "role": coding(OBJECT_ROLE, "24"),
            "description": line,
            "query": base64::engine::general_purpose::STANDARD.encode(line.as_bytes()),
        }));
    }
    entities.push(json!({
        "what": {"identifier": {
            "type": {"coding": [coding("https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType", "XrequestId")]},
            "value": d.request_id,
        }},
        "type": coding(ENTITY_TYPE, "4"),
    }));
    Value::Array(entities)
}

/// A sign-in event: people's sign-ins are audited apart from requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignInEvent {
    /// A person signed in (DICOM 110122 Login).
    Login,
    /// A sign-in failed (Login, with a failure outcome and why).
    LoginFailed,
    /// A sign-in ended: signed out, revoked (DICOM 110123 Logout).
    Logout,
    /// A clinician opened emergency access (DICOM 110127 Emergency Override Started).
    EmergencyOpened,
}

/// The audit event of a sign-in event: who (the person as recognised, and the role
/// they act in), through which app, from where, and why (a failure's reason, an
/// emergency's stated reason, how a session ended).
pub(crate) fn sign_in_event(
    kind: SignInEvent,
    person: Option<(&crate::auth::people::Person, Role)>,
    client_id: &str,
    why: Option<&str>,
    network: Option<&str>,
    observer: &str,
) -> NewAuditEvent {
    let recorded = renhice_store::Timestamp::now().micros();
    let id = uuid::Uuid::now_v7().to_string();
    let (event_type, subtype, outcome) = match kind {
        SignInEvent::Login => ("110114", "110122", "0"),
        SignInEvent::LoginFailed => ("110114", "110122", "4"),
        SignInEvent::Logout => ("110114", "110123", "0"),
        SignInEvent::EmergencyOpened => ("110113", "110127", "0"),
    };
    let mut human = json!({
        "type": {"coding": [coding("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP")]},
        "who": {"identifier": {"system": "urn:renhice:token-subject", "value": "unknown"}},
        "requestor": true,
    });
    if let Some((person, role)) = person {
        let (system, value) = match (role, &person.colegiatura, &person.document) {
            (Role::Clinician, Some(c), _) => ("urn:renhice:colegiatura", c.as_str()),
            (Role::Patient, _, Some(d)) => ("urn:renhice:identity-document", d.as_str()),
            _ => ("urn:renhice:token-subject", person.subject.as_str()),
        };
        human["who"] = json!({"identifier": {"system": system, "value": value}});
        human["role"] = json!([{"coding": [coding(ROLE_SYSTEM, role.code())]}]);
        if let Some(name) = &person.name {
            human["name"] = json!(name);
        }
        human["altId"] = json!(person.subject);
    }
    if kind == SignInEvent::EmergencyOpened {
        human["purposeOfUse"] = json!([{"coding": [coding(ACT_REASON, "ETREAT")]}]);
    }
    if let Some(address) = network {
        human["network"] = json!({"address": address, "type": "2"});
    }
    let app = json!({
        "type": {"coding": [coding(DCM, "110150")]},
        "who": {"identifier": {"system": "urn:renhice:client-id", "value": client_id}},
        "requestor": false,
    });
    let mut agents = vec![human, app];
    // A clinician acts for an IPRESS: named as in every request's events.
    if let Some((person, Role::Clinician)) = person
        && let Some(code) = &person.renipress
    {
        agents.push(json!({
            "type": {"coding": [coding("http://terminology.hl7.org/CodeSystem/v3-RoleClass", "PROV")]},
            "who": {"identifier": {"system": renhice_model::peru::url::CS_IPRESS, "value": code}},
            "requestor": false,
        }));
    }
    let registry = json!({
        "type": {"coding": [coding(DCM, "110152")]},
        "who": {"display": observer},
        "requestor": false,
        "network": {"address": observer, "type": "5"},
    });
    agents.push(registry);
    let mut event = json!({
        "resourceType": "AuditEvent",
        "id": id,
        "type": coding(DCM, event_type),
        "subtype": [coding(DCM, subtype)],
        "action": "E",
        "recorded": renhice_store::Timestamp::from_micros(recorded).to_rfc3339(),
        "outcome": outcome,
        "agent": agents,
        "source": {
            "site": "renhice",
            "observer": {"display": observer},
            "type": [coding("http://terminology.hl7.org/CodeSystem/security-source-type", "4")]
        },
    });
    match (kind, why) {
        (SignInEvent::EmergencyOpened, Some(reason)) => {
            event["entity"] = json!([{
                "type": coding(ENTITY_TYPE, "2"),
                "description": "emergency access",
                "detail": [{"type": "emergency-reason", "valueString": reason}],
            }]);
        }
        (_, Some(why)) => event["outcomeDesc"] = json!(why),
        (_, None) => {}
    }
    let role = person.map(|(_, r)| r.code().to_owned());
    let ipress = person
        .filter(|(_, r)| *r == Role::Clinician)
        .and_then(|(p, _)| p.renipress.clone());
    NewAuditEvent {
        id,
        recorded,
        patient_id: None,
        ipress,
        role,
        action: "E".to_owned(),
        outcome: outcome.to_owned(),
        body: event.to_string(),
        agent_name: person.map(|(p, _)| agent_name(p.name.as_deref().unwrap_or(&p.subject))),
    }
}

/// The searchable form of who acted (`agent-name`): the folded words of `name`, each
/// after a space, so a word's start is found by one LIKE.
pub(crate) fn agent_name(name: &str) -> String {
    format!(" {}", renhice_registry::text::normalise_text(name))
}

/// Writes audit events off the request path in batches: each request waits for its own
/// events to be durable, and one transaction carries the events of every request that
/// arrived while the previous one was being written.
#[derive(Debug, Clone)]
pub struct AuditWriter {
    tx: mpsc::Sender<Job>,
}

/// A request's events and where to answer whether they were written.
type Job = (
    Vec<NewAuditEvent>,
    oneshot::Sender<Result<(), AuditWriteError>>,
);

/// Why a request's audit events were not written.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AuditWriteError {
    /// The writer task is gone: the server is stopping.
    #[error("the audit writer has stopped")]
    Stopped,
    /// The database did not store the events (the batch they were written with failed);
    /// the store's error is kept whole, shared by every request of the batch.
    #[error("the audit events could not be stored")]
    Store(#[source] Arc<renhice_store::StoreError>),
}

/// Requests whose events one transaction carries at most.
const BATCH: usize = 512;

impl AuditWriter {
    /// Starts the writer and the sealer on the current tokio runtime.
    #[must_use]
    pub fn start(store: Store, seal_interval: Duration) -> Self {
        let (tx, mut rx) = mpsc::channel::<Job>(8192);
        let writer_store = store.clone();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < BATCH {
                    match rx.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let (events, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
                let events: Vec<NewAuditEvent> = events.into_iter().flatten().collect();
                let result = writer_store
                    .run(move |conn| stored::append_now(conn, &events))
                    .await
                    .map_err(|e| AuditWriteError::Store(Arc::new(e)));
                if let Err(AuditWriteError::Store(e)) = &result {
                    tracing::error!(error = %e, "the audit trail could not be written");
                }
                for reply in replies {
                    let _ = reply.send(result.clone());
                }
            }
        });
        if !seal_interval.is_zero() {
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(seal_interval);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    if let Err(e) = store.run(stored::seal_all).await {
                        tracing::warn!(error = %e, "sealing the audit trail failed; retrying");
                    }
                }
            });
        }
        Self { tx }
    }

    /// Writes `events` durably, or says why not.
    pub async fn write(&self, events: Vec<NewAuditEvent>) -> Result<(), AuditWriteError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((events, reply))
            .await
            .map_err(|_| AuditWriteError::Stopped)?;
        answer.await.map_err(|_| AuditWriteError::Stopped)?
    }
}

/// What the audit middleware needs: the writer, the registry's name as the observer of
/// its events, how request lines are named, and the refusals being counted.
#[derive(Debug)]
pub struct Recorder {
    writer: AuditWriter,
    audience: String,
    classify: Classify,
    refusals: Refusals,
}

impl Recorder {
    /// A recorder writing with `writer`, naming the registry `audience`, counting each
    /// client's refusals over `refusals` (see [`Refusals`]).
    #[must_use]
    pub fn new(
        writer: AuditWriter,
        audience: String,
        classify: Classify,
        refusals: Refusals,
    ) -> Self {
        Self {
            writer,
            audience,
            classify,
            refusals,
        }
    }

    /// Writes the counts of every refusal window, closed or not: what a stopping server
    /// does last.
    pub async fn flush_all_refusals(&self) {
        let all = self.refusals.drain();
        if !all.is_empty()
            && let Err(e) = self.writer.write(all).await
        {
            tracing::error!(error = %e, "the counts of refused requests could not be audited");
        }
    }

    /// Writes the counts of the refusal windows that have closed (called now and then,
    /// so that a client that stopped is counted too).
    pub async fn flush_refusals(&self) {
        let due = self.refusals.due();
        if !due.is_empty()
            && let Err(e) = self.writer.write(due).await
        {
            tracing::error!(error = %e, "the counts of refused requests could not be audited");
        }
    }
}

/// Refusals that name no caller the registry knows (401) or that a rate limit turned
/// away (429), aggregated per client and window: the first of a window is recorded in
/// full; the others are counted, and when the window has closed one event records how
/// many there were, between when and when, like which first one. Without this one client
/// without a token could make the registry write thousands of rows a second; with it,
/// each refusal is still accounted for in the hash chain.
#[derive(Debug)]
pub struct Refusals {
    window_nanos: u64,
    clock: crate::limits::LimitClock,
    open: Mutex<std::collections::HashMap<String, RefusalWindow>>,
}

/// The most clients whose refusals are counted apart at once.
const MAX_WINDOWS: usize = 10_000;

/// The client a refusal is counted for: its token's subject if it has one, and its
/// address (an IPv6 address by its /64, which one host is commonly given whole).
fn refusing_client(network: Option<&str>, subject: Option<&str>, status: u16) -> String {
    let address = match network.and_then(|n| n.parse::<std::net::IpAddr>().ok()) {
        Some(std::net::IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(ip) => ip.to_string(),
        None => "an unknown address".to_owned(),
    };
    match subject {
        Some(subject) => format!("{address} {subject} ({status})"),
        None => format!("{address} ({status})"),
    }
}

/// One client's refusals in the window its first one opened.
#[derive(Debug)]
struct RefusalWindow {
    /// When it opened, on the window's clock.
    opened: u64,
    /// When it opened, for the record.
    opened_at: i64,
    /// The event that opened it, recorded in full.
    first: NewAuditEvent,
    /// Refusals counted since, not recorded one by one.
    more: u64,
}

impl Refusals {
    /// Windows of `window` (zero: every refusal recorded), timed by `clock`.
    #[must_use]
    pub fn new(window: Duration, clock: crate::limits::LimitClock) -> Self {
        Self {
            window_nanos: u64::try_from(window.as_nanos()).unwrap_or(u64::MAX),
            clock,
            open: Mutex::new(std::collections::HashMap::new()),
        }
    }

    fn now(&self) -> u64 {
        use governor::clock::Clock as _;
        self.clock.now().as_u64()
    }

    /// The events of one refusal of `client` to write now: all of them when it opens a
    /// window (or nothing is aggregated), with the count of the window it closes if that
    /// one counted any; none when it is counted in an open one. Past [`MAX_WINDOWS`]
    /// clients at once, the others share one window, so memory stays bounded whatever
    /// the number of addresses an attacker has.
    fn admit(&self, client: String, events: Vec<NewAuditEvent>) -> Vec<NewAuditEvent> {
        if self.window_nanos == 0 || events.is_empty() {
            return events;
        }
        let now = self.now();
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let client = if open.len() >= MAX_WINDOWS && !open.contains_key(&client) {
            "other clients (too many to count apart)".to_owned()
        } else {
            client
        };
        let mut out = Vec::new();
        if let Some(window) = open.get_mut(&client) {
            if now < window.opened.saturating_add(self.window_nanos) {
                window.more += 1;
                return Vec::new();
            }
            // Closed: its count is written with the refusal that opens the next one.
            if window.more > 0 {
                out.push(counted(&client, window));
            }
        }
        open.insert(
            client,
            RefusalWindow {
                opened: now,
                opened_at: renhice_store::Timestamp::now().micros(),
                first: events[0].clone(),
                more: 0,
            },
        );
        out.extend(events);
        out
    }

    /// The counts of every window, as events, open ones included; no window is left.
    fn drain(&self) -> Vec<NewAuditEvent> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.drain()
            .filter(|(_, window)| window.more > 0)
            .map(|(client, window)| counted(&client, &window))
            .collect()
    }

    /// The counts of the windows that have closed, as events; those windows are done.
    fn due(&self) -> Vec<NewAuditEvent> {
        if self.window_nanos == 0 {
            return Vec::new();
        }
        let now = self.now();
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = Vec::new();
        open.retain(|client, window| {
            if now < window.opened.saturating_add(self.window_nanos) {
                return true;
            }
            if window.more > 0 {
                out.push(counted(client, window));
            }
            false
        });
        out
    }
}

/// The event that records a window's counted refusals: the first one's, saying how many
/// more there were and over what time.
fn counted(client: &str, window: &RefusalWindow) -> NewAuditEvent {
    let id = uuid::Uuid::now_v7().to_string();
    let recorded = renhice_store::Timestamp::now().micros();
    let mut event = window.first.clone();
    let mut body: Value = serde_json::from_str(&event.body).unwrap_or_default();
    let first_why = body["outcomeDesc"].as_str().unwrap_or_default().to_owned();
    body["id"] = json!(id);
    body["recorded"] = json!(renhice_store::Timestamp::from_micros(recorded).to_rfc3339());
    body["outcomeDesc"] = json!(format!(
        "{} more refused requests from {client} between {} and {}, like AuditEvent/{} \
         ({first_why}); counted, not recorded one by one",
        window.more,
        renhice_store::Timestamp::from_micros(window.opened_at).to_rfc3339(),
        renhice_store::Timestamp::from_micros(recorded).to_rfc3339(),
        window.first.id,
    ));
    event.id = id;
    event.recorded = recorded;
    event.body = body.to_string();
    event
}

/// Whether requests to `path` are audited: the FHIR API but its capability statement,
/// the token endpoint, the registration of clients, and accreditation runs started and
/// their reports read (not the live view's polls of a run, once a second). (People's
/// sign-ins and sign-outs are audited by `auth::signin` itself, as sign-in events.)
fn audited(path: &str) -> bool {
    (path == "/fhir" || path.starts_with("/fhir/")) && path != "/fhir/metadata"
        || path == "/auth/token"
        || path == "/auth/clients"
        || path.starts_with("/auth/clients/")
        || path == "/accreditation/runs"
        || path
            .strip_prefix("/accreditation/runs/")
            .is_some_and(|rest| rest.contains('/'))
}

/// Middleware: gives each audited request its [`AuditHandle`], and writes what its
/// handlers did not before the response leaves.
pub(crate) async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, Error> {
    if !audited(req.path()) {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.as_str().to_owned())
        .unwrap_or_default();
    let Some(recorder) = req.app_data::<web::Data<Recorder>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let handle = AuditHandle::new(
        recorder.classify,
        request_id,
        req.method().as_str(),
        req.path(),
        req.query_string(),
    );
    let peer = req.peer_addr().map(|a| a.ip().to_string());
    handle.with(|d| d.network = peer);
    req.extensions_mut().insert(handle.clone());
    let res = next.call(req).await?;
    let status = res.status().as_u16();
    let error = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>());
    let mut events = handle.remaining(status, error, &recorder.audience);
    if matches!(status, 401 | 429) {
        let client = handle.with(|d| {
            refusing_client(
                d.network.as_deref(),
                d.caller.as_ref().map(|g| g.subject.as_str()),
                status,
            )
        });
        events = recorder.refusals.admit(client, events);
    }
    if events.is_empty() {
        return Ok(res.map_into_left_body());
    }
    match recorder.writer.write(events).await {
        Ok(()) => Ok(res.map_into_left_body()),
        // The database went away: a 503 to retry, like any request that meets the outage.
        Err(AuditWriteError::Store(e)) if e.is_unavailable() => {
            let refusal = ApiError::DatabaseUnavailable(renhice_store::StoreError::Task(format!(
                "the request could not be audited, so nothing was disclosed: {e}"
            )));
            let (req, _) = res.into_parts();
            Ok(ServiceResponse::new(req, refusal.error_response()).map_into_right_body())
        }
        Err(e) => {
            let refusal =
                ApiError::caused("the request could not be audited; nothing was disclosed", e);
            let (req, _) = res.into_parts();
            Ok(ServiceResponse::new(req, refusal.error_response()).map_into_right_body())
        }
    }
}

/// The handle of a request (a detached one outside the audited paths).
pub(crate) fn handle_of(req: &actix_web::HttpRequest) -> AuditHandle {
    req.extensions()
        .get::<AuditHandle>()
        .cloned()
        .unwrap_or_else(AuditHandle::detached)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_events_are_valid_fhir_audit_events() {
        let person = crate::auth::people::Person {
            subject: "idgobpe|a1".to_owned(),
            name: Some("Dra. Rosa Quispe".to_owned()),
            document: Some("1|PER|40123456".to_owned()),
            colegiatura: Some("01|012345".to_owned()),
            renipress: Some("00012345".to_owned()),
            roles: vec![Role::Clinician],
        };
        for (kind, why) in [
            (SignInEvent::Login, None),
            (SignInEvent::LoginFailed, Some("sin rol")),
            (SignInEvent::Logout, Some("logout")),
            (SignInEvent::EmergencyOpened, Some("paciente inconsciente")),
        ] {
            let e = sign_in_event(
                kind,
                Some((&person, Role::Clinician)),
                "renhice-web",
                why,
                Some("127.0.0.1"),
                "x",
            );
            renhice_model::resources::Resource::from_json(e.body.as_bytes())
                .unwrap_or_else(|err| panic!("{err}: {}", e.body));
            assert_eq!(e.ipress.as_deref(), Some("00012345"));
        }
        let failed = sign_in_event(
            SignInEvent::LoginFailed,
            None,
            "renhice-web",
            Some("x"),
            None,
            "x",
        );
        let v: Value = serde_json::from_str(&failed.body).unwrap();
        assert_eq!(v["outcome"], "4");
        assert_eq!(v["outcomeDesc"], "x");
    }

    #[test]
    fn every_event_is_a_valid_fhir_audit_event() {
        let handle = AuditHandle::new(
            by_method,
            "req-1".to_owned(),
            "GET",
            "/fhir/Patient/p1/$summary",
            "",
        );
        handle.patient("p1");
        handle.patient("p2");
        handle.entity("Bundle", "b1");
        handle.basis(Basis::Emergency("inconsciente".to_owned()));
        let events = handle.remaining(200, None, "http://127.0.0.1:8080/fhir");
        assert_eq!(events.len(), 2, "one per patient");
        for e in &events {
            let parsed = renhice_model::resources::Resource::from_json(e.body.as_bytes())
                .unwrap_or_else(|err| panic!("{err}: {}", e.body));
            assert_eq!(parsed.resource_type(), "AuditEvent");
            let v: Value = serde_json::from_str(&e.body).unwrap();
            assert_eq!(v["type"]["code"], "110106", "an emergency disclosure: {v}");
            assert_eq!(v["entity"][0]["detail"][0]["valueString"], "inconsciente");
        }
        assert_eq!(events[0].patient_id.as_deref(), Some("p1"));
        assert_eq!(events[1].patient_id.as_deref(), Some("p2"));
        // Refused: no disclosure, the outcome and why.
        let refused = handle.remaining(
            403,
            Some(&ApiError::Forbidden {
                rule: "role",
                message: "no".to_owned(),
                path: None,
            }),
            "x",
        );
        let v: Value = serde_json::from_str(&refused[0].body).unwrap();
        assert_eq!(v["outcome"], "4");
        assert_eq!(v["type"]["code"], "rest");
        assert!(
            v["outcomeDesc"].as_str().unwrap().contains("rule: role"),
            "{v}"
        );
    }
}
