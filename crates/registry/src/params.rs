//! The one table of search parameters.
//!
//! Each parameter the registry knows is one [`SearchParam`] in [`PARAMS`]: its resource
//! type, name, type, where its values come from and what it means. The table is read by
//! the search ([`crate::query`]), by the index writer ([`index`]: every value a stored
//! resource is found by), by the CapabilityStatement, by the documentation
//! (`docs/search-parameters.md` is [`markdown`], checked by a test) and by the tests.
//! Adding a parameter is one entry here, plus its extraction where the resource holds
//! it.

use std::fmt::Write as _;

use renhice_model::Primitive;
use renhice_model::peru::{PersonId, Renipress, url};
use renhice_model::resources::Resource;
use renhice_model::types::{Coding, ExtensionValue, Identifier};
use renhice_store::resources::{DateEntry, ReferenceEntry, SearchIndex, StringEntry, TokenEntry};

use crate::ResourceType::{self, Consent, DocumentReference, List, Organization, Patient};
use crate::RuleError;
use crate::dates::{datetime_range, instant_micros};
use crate::references::local_id;
use crate::text::normalise_text;

/// A search parameter's type, as FHIR names it, with what the registry needs to read
/// its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `[system|]code`.
    Token,
    /// `identifier:of-type=type-system|type-code|value` (a token modifier).
    OfType,
    /// Text, matched by prefix, accents and case ignored.
    String,
    /// A date with an optional prefix (`eq`, `ge`, `le`, `gt`, `lt`).
    Date,
    /// A reference to a resource of this type (`Patient/123` or `123`).
    Reference(ResourceType),
    /// `patient.identifier`: the patients carrying an identifier, resolved before the
    /// search.
    PatientIdentifier,
}

impl Kind {
    /// The FHIR `SearchParamType` code.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::Token | Self::OfType | Self::PatientIdentifier => "token",
            Self::String => "string",
            Self::Date => "date",
            Self::Reference(_) => "reference",
        }
    }
}

/// Where a parameter's values come from.
#[derive(Clone, Copy)]
pub enum Source {
    /// Read from the resource by this function when it is stored.
    Resource(fn(&Resource, &mut Values<'_>)),
    /// The row's logical id.
    Id,
    /// Another parameter of the same type: one index serves both names.
    Alias(&'static str),
    /// Resolved when searching (`patient.identifier`: the patients found first).
    Chain,
    /// Set by the push from what it is about (the push's patient and custodian).
    Push,
    /// Set by the named rule while it checks the resource.
    Rule(&'static str),
    /// A column the store keeps for every stored resource (`_lastUpdated`: the
    /// version's time) or for the type (the audit trail's).
    Column,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Resource(_) => f.write_str("Resource"),
            Self::Id => f.write_str("Id"),
            Self::Alias(name) => write!(f, "Alias({name})"),
            Self::Chain => f.write_str("Chain"),
            Self::Push => f.write_str("Push"),
            Self::Rule(rule) => write!(f, "Rule({rule})"),
            Self::Column => f.write_str("Column"),
        }
    }
}

/// Who sees a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Offered to clients and listed in the CapabilityStatement.
    Listed,
    /// Offered to clients, documented with the parameter it modifies or names again
    /// (`identifier:of-type`, `subject`).
    Unlisted,
    /// The registry's own index (unique identities, merges, who a Consent involves):
    /// never searched by clients.
    Internal,
}

/// One search parameter.
#[derive(Debug, Clone, Copy)]
pub struct SearchParam {
    /// The resource type it searches.
    pub resource: ResourceType,
    /// Its name in a query.
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
    /// Where its values come from.
    pub source: Source,
    /// Who sees it.
    pub visibility: Visibility,
    /// What it finds, for the CapabilityStatement and the documentation.
    pub description: &'static str,
}

impl SearchParam {
    /// The name its values are indexed under (an alias's target).
    #[must_use]
    pub const fn index_name(&self) -> &'static str {
        match self.source {
            Source::Alias(target) => target,
            _ if matches!(self.kind, Kind::PatientIdentifier) => "patient",
            _ => self.name,
        }
    }

    /// Whether each of its values names one or a few resources (a logical id, a business
    /// identifier, an identity document, a RENIPRESS code, a patient): a search may
    /// start from it whatever else it asks (`renhice_store::search::Criterion::narrow`).
    #[must_use]
    pub fn narrows(&self) -> bool {
        matches!(
            self.kind,
            Kind::Reference(ResourceType::Patient) | Kind::OfType | Kind::PatientIdentifier
        ) || matches!(self.name, "_id" | "identifier" | IDENTITY_KEY | RENIPRESS)
    }

    /// Whether clients may search by it.
    #[must_use]
    pub fn offered(&self) -> bool {
        self.visibility != Visibility::Internal
    }
}

const fn param(
    resource: ResourceType,
    name: &'static str,
    kind: Kind,
    source: Source,
    description: &'static str,
) -> SearchParam {
    SearchParam {
        resource,
        name,
        kind,
        source,
        visibility: Visibility::Listed,
        description,
    }
}

const fn unlisted(p: SearchParam) -> SearchParam {
    SearchParam {
        visibility: Visibility::Unlisted,
        ..p
    }
}

const fn internal(p: SearchParam) -> SearchParam {
    SearchParam {
        visibility: Visibility::Internal,
        ..p
    }
}

/// The token parameter under which identity-document keys (`kind|country|number`) are
/// indexed: how a patient is found by an identity document however it was spelled.
pub const IDENTITY_KEY: &str = "identity-key";
/// The reference parameter naming every IPRESS a Consent involves (grantee or
/// recorder): what a SIHCE's searches and reads of Consents are kept to.
pub const PARTY: &str = "party";
/// The reference a merged patient keeps to the record that replaced it.
pub const REPLACED_BY: &str = "replaced-by";
/// The token an IPRESS's RENIPRESS code is indexed under.
pub const RENIPRESS: &str = "renipress";

const ID: &str = "Logical id";

/// Every search parameter of the registry, by resource type.
pub static PARAMS: &[SearchParam] = &[
    // PDQm ITI-78 (and PIXm's identity feed).
    param(Patient, "_id", Kind::Token, Source::Id, ID),
    param(
        Patient,
        "_lastUpdated",
        Kind::Date,
        Source::Column,
        "When the patient's record last changed in the registry (meta.lastUpdated); prefixes eq, ge, le, gt, lt",
    ),
    param(
        Patient,
        "identifier",
        Kind::Token,
        Source::Resource(identifiers),
        "Business identifier, system|value or value; also identifier:of-type=type-system|type-code|value",
    ),
    unlisted(param(
        Patient,
        "identifier:of-type",
        Kind::OfType,
        Source::Resource(identifiers_of_type),
        "An identifier by its type: type-system|type-code|value (identity documents by IdspersonaPeru code)",
    )),
    param(
        Patient,
        "family",
        Kind::String,
        Source::Resource(family),
        "Either surname or the whole family name (accent- and case-insensitive prefix)",
    ),
    param(
        Patient,
        "given",
        Kind::String,
        Source::Resource(given),
        "A given name (accent- and case-insensitive prefix)",
    ),
    param(
        Patient,
        "birthdate",
        Kind::Date,
        Source::Resource(birthdate),
        "Date of birth; prefixes eq, ge, le, gt, lt",
    ),
    param(
        Patient,
        "gender",
        Kind::Token,
        Source::Resource(gender),
        "Administrative gender",
    ),
    internal(param(
        Patient,
        IDENTITY_KEY,
        Kind::Token,
        Source::Resource(identity_keys),
        "Each identity document as kind|country|number (PIXm cross-references, uniqueness)",
    )),
    internal(param(
        Patient,
        REPLACED_BY,
        Kind::Reference(Patient),
        Source::Resource(replaced_by),
        "The record a merged patient was replaced by (link replaced-by)",
    )),
    // The IPRESS.
    param(Organization, "_id", Kind::Token, Source::Id, ID),
    param(
        Organization,
        "_lastUpdated",
        Kind::Date,
        Source::Column,
        "When the IPRESS last changed in the registry (meta.lastUpdated); prefixes eq, ge, le, gt, lt",
    ),
    param(
        Organization,
        "identifier",
        Kind::Token,
        Source::Resource(identifiers),
        "Business identifier, system|value or value; also identifier:of-type=type-system|type-code|value",
    ),
    unlisted(param(
        Organization,
        "identifier:of-type",
        Kind::OfType,
        Source::Resource(identifiers_of_type),
        "An identifier by its type: type-system|type-code|value (the RENIPRESS code by IPRESSCS)",
    )),
    param(
        Organization,
        "name",
        Kind::String,
        Source::Resource(organization_name),
        "The IPRESS's name or an alias, from any of its words on (accent- and case-insensitive prefix)",
    ),
    internal(param(
        Organization,
        RENIPRESS,
        Kind::Token,
        Source::Resource(renipress),
        "The 8-digit RENIPRESS code",
    )),
    // MHD ITI-67.
    param(
        DocumentReference,
        "patient",
        Kind::Reference(Patient),
        Source::Resource(subject),
        "The patient (required, or patient.identifier)",
    ),
    unlisted(param(
        DocumentReference,
        "subject",
        Kind::Reference(Patient),
        Source::Alias("patient"),
        "The patient, as patient",
    )),
    param(
        DocumentReference,
        "patient.identifier",
        Kind::PatientIdentifier,
        Source::Chain,
        "An identifier of the patient (chained)",
    ),
    param(
        DocumentReference,
        "status",
        Kind::Token,
        Source::Resource(document_status),
        "current, superseded or entered-in-error (required)",
    ),
    param(DocumentReference, "_id", Kind::Token, Source::Id, ID),
    param(
        DocumentReference,
        "identifier",
        Kind::Token,
        Source::Resource(master_identifier),
        "masterIdentifier, system|value",
    ),
    param(
        DocumentReference,
        "date",
        Kind::Date,
        Source::Resource(document_date),
        "When the reference was created; prefixes eq, ge, le, gt, lt",
    ),
    param(
        DocumentReference,
        "_lastUpdated",
        Kind::Date,
        Source::Column,
        "When the entry last changed in the registry (meta.lastUpdated): pushed, superseded or marked entered-in-error; prefixes eq, ge, le, gt, lt",
    ),
    param(
        DocumentReference,
        "type",
        Kind::Token,
        Source::Resource(document_type),
        "Kind of document",
    ),
    param(
        DocumentReference,
        "category",
        Kind::Token,
        Source::Resource(document_category),
        "Categorization of the document",
    ),
    param(
        DocumentReference,
        "custodian",
        Kind::Reference(Organization),
        Source::Resource(document_custodian),
        "The IPRESS holding the document",
    ),
    param(
        DocumentReference,
        "security-label",
        Kind::Token,
        Source::Resource(security_label),
        "Confidentiality labels",
    ),
    param(
        DocumentReference,
        "period",
        Kind::Date,
        Source::Resource(period),
        "Time of service documented (context.period); prefixes eq, ge, le, gt, lt",
    ),
    param(
        DocumentReference,
        "facility",
        Kind::Token,
        Source::Resource(facility),
        "Kind of facility (context.facilityType)",
    ),
    param(
        DocumentReference,
        "setting",
        Kind::Token,
        Source::Resource(setting),
        "Clinical specialty (context.practiceSetting)",
    ),
    // MHD ITI-66: SubmissionSets.
    param(
        List,
        "patient",
        Kind::Reference(Patient),
        Source::Resource(subject),
        "The patient (required, or patient.identifier)",
    ),
    unlisted(param(
        List,
        "subject",
        Kind::Reference(Patient),
        Source::Alias("patient"),
        "The patient, as patient",
    )),
    param(
        List,
        "patient.identifier",
        Kind::PatientIdentifier,
        Source::Chain,
        "An identifier of the patient (chained)",
    ),
    param(
        List,
        "status",
        Kind::Token,
        Source::Resource(list_status),
        "current (required)",
    ),
    param(List, "_id", Kind::Token, Source::Id, ID),
    param(
        List,
        "_lastUpdated",
        Kind::Date,
        Source::Column,
        "When the SubmissionSet last changed in the registry (meta.lastUpdated); prefixes eq, ge, le, gt, lt",
    ),
    param(
        List,
        "identifier",
        Kind::Token,
        Source::Resource(list_identifiers),
        "SubmissionSet uniqueId, system|value",
    ),
    param(
        List,
        "code",
        Kind::Token,
        Source::Resource(list_code),
        "submissionset",
    ),
    param(
        List,
        "date",
        Kind::Date,
        Source::Resource(list_date),
        "When the SubmissionSet was made; prefixes eq, ge, le, gt, lt",
    ),
    param(
        List,
        "designationType",
        Kind::Token,
        Source::Resource(designation_type),
        "Clinical code of the SubmissionSet (ihe-designationType)",
    ),
    param(
        List,
        "sourceId",
        Kind::Token,
        Source::Resource(source_id),
        "The submitting system (ihe-sourceId), system|value",
    ),
    internal(param(
        List,
        "custodian",
        Kind::Reference(Organization),
        Source::Push,
        "The IPRESS that pushed the SubmissionSet",
    )),
    internal(param(
        ResourceType::Provenance,
        "patient",
        Kind::Reference(Patient),
        Source::Push,
        "The patient of the push the Provenance signs",
    )),
    internal(param(
        ResourceType::Provenance,
        "custodian",
        Kind::Reference(Organization),
        Source::Push,
        "The IPRESS that pushed the Provenance",
    )),
    // PCF ITI-108.
    param(Consent, "_id", Kind::Token, Source::Id, ID),
    param(
        Consent,
        "_lastUpdated",
        Kind::Date,
        Source::Column,
        "When the consent last changed in the registry (meta.lastUpdated); prefixes eq, ge, le, gt, lt",
    ),
    param(
        Consent,
        "identifier",
        Kind::Token,
        Source::Resource(identifiers),
        "Business identifier, system|value or value",
    ),
    param(
        Consent,
        "patient",
        Kind::Reference(Patient),
        Source::Resource(consent_patient),
        "The patient (Patient/id or id); patient or patient.identifier is required",
    ),
    param(
        Consent,
        "patient.identifier",
        Kind::PatientIdentifier,
        Source::Chain,
        "The patient by an identity document, system|value",
    ),
    param(
        Consent,
        "status",
        Kind::Token,
        Source::Resource(consent_status),
        "Consent status (active, inactive, …); required",
    ),
    internal(param(
        Consent,
        PARTY,
        Kind::Reference(Organization),
        Source::Rule("consent::check"),
        "Every IPRESS the Consent names: recorder or grantee",
    )),
    // The audit trail (IHE RESTful ATNA ITI-81).
    param(
        ResourceType::AuditEvent,
        "patient",
        Kind::Reference(Patient),
        Source::Column,
        "The patient an event is about (id or Patient/id)",
    ),
    param(
        ResourceType::AuditEvent,
        "date",
        Kind::Date,
        Source::Column,
        "When the event was recorded; prefixes eq, ge, le, gt, lt",
    ),
    param(
        ResourceType::AuditEvent,
        "ipress",
        Kind::Token,
        Source::Column,
        "The IPRESS the caller acted for, by RENIPRESS code (auditors)",
    ),
    param(
        ResourceType::AuditEvent,
        "action",
        Kind::Token,
        Source::Column,
        "C, R, U, D or E (audit-event-action)",
    ),
    param(
        ResourceType::AuditEvent,
        "outcome",
        Kind::Token,
        Source::Column,
        "0 success, 4 refused or invalid, 8 the registry failed (audit-event-outcome)",
    ),
    param(
        ResourceType::AuditEvent,
        "agent-name",
        Kind::String,
        Source::Column,
        "Who acted: a word of the person's name (or the SIHCE client's id) starting with the value, accents and case aside",
    ),
];

/// A parameter added after resources were written: the registry indexes it for the
/// resources already held when a server of the build that adds it starts
/// (`renhice_store::reindex`).
#[derive(Debug, Clone, Copy)]
pub struct IndexUpgrade {
    /// The index version it brings the database to (the first upgrade is 2).
    pub version: i64,
    /// The resource type.
    pub resource: ResourceType,
    /// The parameter's name in [`PARAMS`].
    pub param: &'static str,
}

/// The index upgrades, in order; a parameter added to [`PARAMS`] for resources already
/// held gets one here (a test keeps the versions consecutive and the parameters real).
pub const INDEX_UPGRADES: &[IndexUpgrade] = &[IndexUpgrade {
    version: 2,
    resource: Organization,
    param: "name",
}];

/// The parameter `name` of a resource type, if any (internal ones included).
#[must_use]
pub fn find(resource: ResourceType, name: &str) -> Option<&'static SearchParam> {
    PARAMS
        .iter()
        .find(|p| p.resource == resource && p.name == name)
}

/// The parameter `name` a client may search a resource type by.
#[must_use]
pub fn offered(resource: ResourceType, name: &str) -> Option<&'static SearchParam> {
    find(resource, name).filter(|p| p.offered())
}

/// The parameters of a resource type, in table order.
pub fn of(resource: ResourceType) -> impl Iterator<Item = &'static SearchParam> {
    PARAMS.iter().filter(move |p| p.resource == resource)
}

/// The types clients search.
#[must_use]
pub fn searchable() -> Vec<ResourceType> {
    let mut types: Vec<ResourceType> = PARAMS
        .iter()
        .filter(|p| p.offered())
        .map(|p| p.resource)
        .collect();
    types.sort();
    types.dedup();
    types
}

/// Every value a resource is found by, from the parameters the resource itself holds
/// ([`Source::Resource`]). Values set by a push or a rule are added by them.
#[must_use]
pub fn index(resource: &Resource) -> SearchIndex {
    let mut out = SearchIndex::default();
    if let Some(resource_type) = ResourceType::of(resource) {
        for p in of(resource_type) {
            if let Source::Resource(extract) = p.source {
                extract(
                    resource,
                    &mut Values {
                        param: p.index_name(),
                        index: &mut out,
                    },
                );
            }
        }
    }
    out
}

pub use crate::text::MAX_INDEX_VALUE_BYTES;

/// [`index`], refusing a resource whose index would hold a value longer than
/// [`MAX_INDEX_VALUE_BYTES`] or a control character FHIR strings may not hold (all but
/// tab, carriage return and line feed; a NUL cannot even be stored in PostgreSQL's
/// text). `at` is where the resource sits in the request (its type for a resource on
/// its own, `Bundle.entry[2].resource` in a push); the error names the element the
/// value came from.
///
/// # Errors
/// [`RuleError::Unprocessable`] naming the element and what is wrong with its value.
pub fn indexed(resource: &Resource, at: &str) -> Result<SearchIndex, RuleError> {
    let index = index(resource);
    let values = index
        .tokens
        .iter()
        .flat_map(|t| [Some(t.code.as_str()), t.system.as_deref()])
        .flatten()
        .chain(index.strings.iter().map(|s| s.value.as_str()))
        .chain(index.references.iter().map(|r| r.target_id.as_str()));
    let mut fault = None;
    for value in values {
        if value.len() > MAX_INDEX_VALUE_BYTES {
            fault = Some((
                value,
                format!(
                    "a value the registry searches by may hold at most {MAX_INDEX_VALUE_BYTES} \
                 bytes; this one holds {}",
                    value.len()
                ),
            ));
            break;
        }
        if let Some(c) = value.chars().find(|c| is_forbidden_control(*c)) {
            fault = Some((
                value,
                format!(
                    "a FHIR string may not hold the control character U+{:04X} (only tab, \
                 carriage return and line feed)",
                    u32::from(c)
                ),
            ));
            break;
        }
    }
    let Some((value, message)) = fault else {
        return Ok(index);
    };
    let json: serde_json::Value =
        serde_json::from_slice(&resource.to_json()).unwrap_or(serde_json::Value::Null);
    let path = source_of(&json, value, at).unwrap_or_else(|| at.to_owned());
    Err(RuleError::unprocessable(path, message))
}

/// A control character a FHIR string may not hold.
fn is_forbidden_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\r' | '\n')
}

/// The path of the string in `json` an index value was taken from: the string itself,
/// a reference ending in it, or a text that folds to it.
fn source_of(json: &serde_json::Value, value: &str, at: &str) -> Option<String> {
    match json {
        serde_json::Value::String(s)
            if s == value || s.ends_with(value) || normalise_text(s) == value =>
        {
            Some(at.to_owned())
        }
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| source_of(item, value, &format!("{at}[{i}]"))),
        serde_json::Value::Object(members) => members
            .iter()
            .filter(|(name, _)| name.as_str() != "resourceType")
            .find_map(|(name, item)| source_of(item, value, &format!("{at}.{name}"))),
        _ => None,
    }
}

/// Adds a value of a parameter set from outside the resource ([`Source::Push`],
/// [`Source::Rule`]).
///
/// # Panics
/// In debug builds, if the table has no such parameter (a programming error).
pub fn add_reference(
    index: &mut SearchIndex,
    resource: ResourceType,
    name: &'static str,
    target: ResourceType,
    id: &str,
) {
    debug_assert!(
        find(resource, name).is_some_and(|p| p.kind == Kind::Reference(target)),
        "{resource}.{name} is not a reference parameter to {target} in params::PARAMS"
    );
    Values { param: name, index }.reference(target, id);
}

/// Where an extraction writes the values of one parameter.
pub struct Values<'a> {
    param: &'static str,
    index: &'a mut SearchIndex,
}

impl Values<'_> {
    /// A token value.
    pub fn token(&mut self, system: Option<&str>, code: &str) {
        let entry = TokenEntry {
            param: self.param.to_owned(),
            system: system.map(str::to_owned),
            code: code.to_owned(),
        };
        if !self.index.tokens.contains(&entry) {
            self.index.tokens.push(entry);
        }
    }

    /// The codes of codings, each a token.
    pub fn codings(&mut self, codings: &[Coding]) {
        for c in codings {
            if let Some(code) = c.code.as_ref().and_then(Primitive::as_str) {
                self.token(c.system.as_ref().and_then(Primitive::as_str), code);
            }
        }
    }

    /// A string value, folded ([`normalise_text`]); empty text is not indexed.
    pub fn string(&mut self, text: &str) {
        let value = normalise_text(text);
        if !value.is_empty()
            && !self
                .index
                .strings
                .iter()
                .any(|s| s.param == self.param && s.value == value)
        {
            self.index.strings.push(StringEntry {
                param: self.param.to_owned(),
                value,
            });
        }
    }

    /// A closed range of microseconds.
    pub fn date(&mut self, low: i64, high: i64) {
        self.index.dates.push(DateEntry {
            param: self.param.to_owned(),
            low,
            high,
        });
    }

    /// A reference to `target/id`.
    pub fn reference(&mut self, target: ResourceType, id: &str) {
        let entry = ReferenceEntry {
            param: self.param.to_owned(),
            target_type: target.as_str().to_owned(),
            target_id: id.to_owned(),
        };
        if !self.index.references.contains(&entry) {
            self.index.references.push(entry);
        }
    }
}

// The extractions, one per parameter the resource holds.

fn identifiers_of(resource: &Resource) -> &[Identifier] {
    match resource {
        Resource::Patient(p) => &p.identifier,
        Resource::Organization(o) => &o.identifier,
        Resource::Consent(c) => &c.identifier,
        _ => &[],
    }
}

fn identifiers(resource: &Resource, out: &mut Values<'_>) {
    for identifier in identifiers_of(resource) {
        if let Some(value) = identifier.value_str() {
            out.token(identifier.system_str(), value);
        }
    }
}

/// System `{type system}|{type code}`, code the identifier's value; identity documents
/// by their normalised number however they were spelled (`ve1234567` and `VE1234567`
/// are one passport).
fn identifiers_of_type(resource: &Resource, out: &mut Values<'_>) {
    for identifier in identifiers_of(resource) {
        let Some(value) = identifier.value_str() else {
            continue;
        };
        let value = match PersonId::from_identifier(identifier) {
            Ok(Some(id)) => id.value().to_owned(),
            _ => value.to_owned(),
        };
        for coding in identifier.r#type.iter().flat_map(|t| &t.coding) {
            if let (Some(system), Some(code)) = (
                coding.system.as_ref().and_then(Primitive::as_str),
                coding.code.as_ref().and_then(Primitive::as_str),
            ) {
                out.token(Some(&format!("{system}|{code}")), &value);
            }
        }
    }
}

/// PDQm: `family` matches the whole family name and each surname in it, so either
/// apellido finds the patient; the HL7 fathers/mothers-family extensions too.
fn family(resource: &Resource, out: &mut Values<'_>) {
    let Resource::Patient(p) = resource else {
        return;
    };
    for family in p.name.iter().filter_map(|n| n.family.as_ref()) {
        if let Some(text) = family.as_str() {
            out.string(text);
            for part in text.split_whitespace() {
                out.string(part);
            }
        }
        for ext in family.extensions() {
            if let Some(ExtensionValue::String(v)) = &ext.value
                && let Some(text) = v.as_str()
            {
                out.string(text);
            }
        }
    }
}

fn organization_name(resource: &Resource, out: &mut Values<'_>) {
    let Resource::Organization(o) = resource else {
        return;
    };
    for name in o.name.iter().chain(&o.alias).filter_map(Primitive::as_str) {
        // From each word to the end: "santa cl" finds "Hospital Santa Clara" as "clara"
        // and "hospital" do (a string search matches the start of a value).
        let words: Vec<&str> = name.split_whitespace().collect();
        for start in 0..words.len() {
            out.string(&words[start..].join(" "));
        }
    }
}

fn given(resource: &Resource, out: &mut Values<'_>) {
    if let Resource::Patient(p) = resource {
        for given in p.name.iter().flat_map(|n| &n.given) {
            if let Some(text) = given.as_str() {
                out.string(text);
            }
        }
    }
}

fn birthdate(resource: &Resource, out: &mut Values<'_>) {
    if let Resource::Patient(p) = resource
        && let Some((low, high)) = p
            .birth_date
            .as_ref()
            .and_then(Primitive::value)
            .and_then(|d| crate::dates::date_range(&d.parts()))
    {
        out.date(low, high);
    }
}

fn gender(resource: &Resource, out: &mut Values<'_>) {
    if let Resource::Patient(p) = resource
        && let Some(gender) = p.gender.as_ref().and_then(Primitive::as_str)
    {
        out.token(None, gender);
    }
}

/// Each well-formed identity document; a malformed one is refused by
/// [`crate::identity::patient`] before anything is stored.
fn identity_keys(resource: &Resource, out: &mut Values<'_>) {
    if let Resource::Patient(p) = resource {
        for identifier in &p.identifier {
            if let Ok(Some(id)) = PersonId::from_identifier(identifier) {
                out.token(None, &id.key());
            }
        }
    }
}

/// Where a merged record points, so the survivor's record locations include its
/// documents.
fn replaced_by(resource: &Resource, out: &mut Values<'_>) {
    if let Resource::Patient(p) = resource {
        for link in &p.link {
            if link.r#type.as_ref().and_then(Primitive::as_str) == Some("replaced-by")
                && let Some(target) = link
                    .other
                    .as_deref()
                    .and_then(|o| o.reference_str())
                    .and_then(|r| r.strip_prefix("Patient/"))
            {
                out.reference(Patient, target);
            }
        }
    }
}

fn renipress(resource: &Resource, out: &mut Values<'_>) {
    if let Resource::Organization(o) = resource {
        for identifier in o.identifier.iter().filter(|i| is_ipress_code(i)) {
            if let Ok(code) = Renipress::parse(identifier.value_str().unwrap_or_default()) {
                out.token(None, code.as_str());
            }
        }
    }
}

/// Whether an identifier is typed as a RENIPRESS code (`IPRESSCS`).
pub(crate) fn is_ipress_code(identifier: &Identifier) -> bool {
    identifier.r#type.as_deref().is_some_and(|t| {
        t.coding
            .iter()
            .any(|c| c.system.as_ref().and_then(Primitive::as_str) == Some(url::CS_IPRESS))
    })
}

/// `subject` (`Patient/{id}`) of a DocumentReference or List.
fn subject(resource: &Resource, out: &mut Values<'_>) {
    let reference = match resource {
        Resource::DocumentReference(d) => d.subject.as_deref(),
        Resource::List(l) => l.subject.as_deref(),
        _ => None,
    };
    if let Some(id) = local_id(reference.and_then(|r| r.reference_str()), "Patient") {
        out.reference(Patient, id);
    }
}

fn document_custodian(resource: &Resource, out: &mut Values<'_>) {
    if let Resource::DocumentReference(d) = resource
        && let Some(id) = local_id(
            d.custodian.as_deref().and_then(|r| r.reference_str()),
            "Organization",
        )
    {
        out.reference(Organization, id);
    }
}

fn document_status(resource: &Resource, out: &mut Values<'_>) {
    if let Resource::DocumentReference(d) = resource
        && let Some(status) = d.status.as_ref().and_then(Primitive::as_str)
    {
        out.token(None, status);
    }
}

fn master_identifier(resource: &Resource, out: &mut Values<'_>) {
    if let Resource::DocumentReference(d) = resource
        && let Some(m) = d.master_identifier.as_deref()
        && let Some(value) = m.value_str()
    {
        out.token(m.system_str(), value);
    }
}

fn document_date(resource: &Resource, out: &mut Values<'_>) {
    if let Resource::DocumentReference(d) = resource
        && let Some(at) = d
            .date
            .as_ref()
            .and_then(Primitive::value)
            .and_then(instant_micros)
    {
        out.date(at, at);
    }
}

fn document_type(resource: &Resource, out: &mut Values<'_>) {
    if let Resource::DocumentReference(d) = resource
        && let Some(t) = &d.r#type
    {
        out.codings(&t.coding);
    }
}

fn document_category(resource: &Resource, out: &mut Values<'_>) {
    if let Resource::DocumentReference(d) = resource {
        for c in &d.category {
            out.codings(&c.coding);
        }
    }
}

fn security_label(resource: &Resource, out: &mut Values<'_>) {
    if let Resource::DocumentReference(d) = resource {
        for c in &d.security_label {
            out.codings(&c.coding);
        }
    }
}

/// `context.period`; an open end reaches as far as the index can.
fn period(resource: &Resource, out: &mut Values<'_>) {
    let Resource::DocumentReference(d) = resource else {
        return;
    };
    let Some(period) = d.context.as_deref().and_then(|c| c.period.as_deref()) else {
        return;
    };
    if period.start.is_none() && period.end.is_none() {
        return;
    }
    let start = period
        .start
        .as_ref()
        .and_then(Primitive::value)
        .and_then(|d| datetime_range(&d.parts()))
        .map_or(i64::MIN, |(low, _)| low);
    let end = period
        .end
        .as_ref()
        .and_then(Primitive::value)
        .and_then(|d| datetime_range(&d.parts()))
        .map_or(i64::MAX, |(_, high)| high);
    out.date(start, end);
}

fn facility(resource: &Resource, out: &mut Values<'_>) {
    if let Resource::DocumentReference(d) = resource
        && let Some(c) = d.context.as_deref()
        && let Some(concept) = &c.facility_type
    {
        out.codings(&concept.coding);
    }
}

fn setting(resource: &Resource, out: &mut Values<'_>) {
    if let Resource::DocumentReference(d) = resource
        && let Some(c) = d.context.as_deref()
        && let Some(concept) = &c.practice_setting
    {
        out.codings(&concept.coding);
    }
}

fn list_status(resource: &Resource, out: &mut Values<'_>) {
    if let Resource::List(l) = resource
        && let Some(status) = l.status.as_ref().and_then(Primitive::as_str)
    {
        out.token(None, status);
    }
}

fn list_identifiers(resource: &Resource, out: &mut Values<'_>) {
    if let Resource::List(l) = resource {
        for identifier in &l.identifier {
            if let Some(value) = identifier.value_str() {
                out.token(identifier.system_str(), value);
            }
        }
    }
}

fn list_code(resource: &Resource, out: &mut Values<'_>) {
    if let Resource::List(l) = resource
        && let Some(code) = l.code.as_deref()
    {
        out.codings(&code.coding);
    }
}

fn list_date(resource: &Resource, out: &mut Values<'_>) {
    if let Resource::List(l) = resource
        && let Some((low, high)) = l
            .date
            .as_ref()
            .and_then(Primitive::value)
            .and_then(|d| datetime_range(&d.parts()))
    {
        out.date(low, high);
    }
}

/// MHD's SubmissionSet extensions searched by ITI-66.
pub const DESIGNATION_TYPE: &str =
    "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-designationType";
/// The submitting system of a SubmissionSet (MHD).
pub const SOURCE_ID: &str = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId";

fn designation_type(resource: &Resource, out: &mut Values<'_>) {
    if let Resource::List(l) = resource {
        for extension in l
            .extension
            .iter()
            .filter(|e| e.url.as_deref() == Some(DESIGNATION_TYPE))
        {
            if let Some(ExtensionValue::CodeableConcept(c)) = &extension.value {
                out.codings(&c.coding);
            }
        }
    }
}

fn source_id(resource: &Resource, out: &mut Values<'_>) {
    if let Resource::List(l) = resource {
        for extension in l
            .extension
            .iter()
            .filter(|e| e.url.as_deref() == Some(SOURCE_ID))
        {
            if let Some(ExtensionValue::Identifier(i)) = &extension.value
                && let Some(value) = i.value_str()
            {
                out.token(i.system_str(), value);
            }
        }
    }
}

fn consent_patient(resource: &Resource, out: &mut Values<'_>) {
    if let Resource::Consent(c) = resource
        && let Some(id) = c
            .patient
            .as_deref()
            .and_then(|r| r.reference_str())
            .and_then(|r| r.strip_prefix("Patient/"))
            .filter(|id| !id.is_empty())
    {
        out.reference(Patient, id);
    }
}

/// The system of `Consent.status`.
pub const CONSENT_STATE: &str = "http://hl7.org/fhir/consent-state-codes";

fn consent_status(resource: &Resource, out: &mut Values<'_>) {
    if let Resource::Consent(c) = resource
        && let Some(status) = c.status.as_ref().and_then(Primitive::as_str)
    {
        out.token(Some(CONSENT_STATE), status);
    }
}

/// The documentation table of every parameter clients search (`docs/search-parameters.md`).
#[must_use]
pub fn markdown() -> String {
    let mut out =
        String::from("| type | parameter | kind | what it finds |\n| --- | --- | --- | --- |\n");
    let mut types = searchable();
    types.sort();
    for t in types {
        for p in of(t).filter(|p| p.offered()) {
            // Writing to a String cannot fail.
            let _ = writeln!(
                out,
                "| {t} | `{}` | {} | {} |",
                p.name,
                p.kind.code(),
                p.description.replace('|', "\\|")
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patient(family: &str) -> Resource {
        let json = serde_json::json!({
            "resourceType": "Patient",
            "text": {"status": "generated", "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">{}</div>", "x".repeat(3000))},
            "name": [{"given": ["Rosa"]}, {"family": family}],
        });
        Resource::from_json(json.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn an_index_value_too_long_or_with_a_nul_is_refused_naming_its_element() {
        assert!(indexed(&patient("Mamani"), "Patient").is_ok());
        let long = "Q".repeat(MAX_INDEX_VALUE_BYTES + 1);
        let Err(RuleError::Unprocessable { path, message }) = indexed(&patient(&long), "Patient")
        else {
            panic!("a {}-byte family name was indexed", long.len());
        };
        // The long narrative comes first but is not indexed: the path is the name's.
        assert_eq!(path, "Patient.name[1].family");
        assert!(message.contains("at most 1024 bytes"), "{message}");
        let Err(RuleError::Unprocessable { path, message }) =
            indexed(&patient("Ma\u{0}mani"), "Bundle.entry[1].resource")
        else {
            panic!("a NUL was indexed");
        };
        assert_eq!(path, "Bundle.entry[1].resource.name[1].family");
        assert!(message.contains("U+0000"), "{message}");
        // Exactly the limit is taken.
        assert!(indexed(&patient(&"Q".repeat(MAX_INDEX_VALUE_BYTES)), "Patient").is_ok());
    }

    #[test]
    fn index_upgrades_are_consecutive_and_name_indexed_parameters() {
        for (i, upgrade) in INDEX_UPGRADES.iter().enumerate() {
            assert_eq!(upgrade.version, i64::try_from(i).unwrap() + 2);
            let p = find(upgrade.resource, upgrade.param).unwrap_or_else(|| {
                panic!("{}.{} is not a parameter", upgrade.resource, upgrade.param)
            });
            assert!(
                matches!(p.source, Source::Resource(_)),
                "{}.{} is not read from the resource",
                upgrade.resource,
                upgrade.param
            );
        }
    }

    #[test]
    fn each_parameter_is_declared_once_and_aliases_resolve() {
        for (i, p) in PARAMS.iter().enumerate() {
            assert!(
                PARAMS[..i]
                    .iter()
                    .all(|q| (q.resource, q.name) != (p.resource, p.name)),
                "{}.{} is declared twice",
                p.resource,
                p.name
            );
            if let Source::Alias(target) = p.source {
                let target = find(p.resource, target).expect("an alias names a parameter");
                assert_eq!(target.kind, p.kind, "{}.{}", p.resource, p.name);
            }
            assert!(!p.description.is_empty());
        }
    }

    #[test]
    fn searchable_types_are_the_registrys() {
        assert_eq!(
            searchable(),
            [
                ResourceType::AuditEvent,
                Consent,
                DocumentReference,
                List,
                Organization,
                Patient
            ]
        );
        assert!(offered(Patient, IDENTITY_KEY).is_none());
        assert!(find(Patient, IDENTITY_KEY).is_some());
        assert_eq!(
            offered(List, "subject").map(SearchParam::index_name),
            Some("patient")
        );
    }

    /// The documentation's table is the table.
    #[test]
    fn the_documentation_lists_every_parameter() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/search-parameters.md"
        );
        let doc = std::fs::read_to_string(path).expect("docs/search-parameters.md");
        assert!(
            doc.contains(&markdown()),
            "docs/search-parameters.md is out of date; its table must read:\n{}",
            markdown()
        );
    }
}
