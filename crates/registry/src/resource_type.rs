//! The resource types the registry serves.

use std::fmt;
use std::str::FromStr;

use renhice_model::peru::url;

/// The registry's profile of a patient's Consent (`profiles/renhice/`).
pub const CONSENT_PROFILE: &str = "http://renhice.org/fhir/StructureDefinition/renhice-consent";

/// The registry's profile of a push: an ITI-65 transaction Bundle with its SubmissionSet,
/// index entries and signatures (`profiles/renhice/`).
pub const PUSH_PROFILE: &str = "http://renhice.org/fhir/StructureDefinition/renhice-provide-bundle";

/// A resource type the registry serves, as a value rather than a string, so a
/// misspelt type is a compile error and a `match` names every type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceType {
    /// The audit trail (read only).
    AuditEvent,
    /// A patient's basic clinical information (a document Bundle, BundlePe).
    Bundle,
    /// A patient's consent (IHE PCF).
    Consent,
    /// An index entry: where a document is (IHE MHD).
    DocumentReference,
    /// A SubmissionSet (IHE MHD).
    List,
    /// An IPRESS (OrganizacionPe).
    Organization,
    /// A patient (PacientePe).
    Patient,
    /// Who signed a push (firma digital).
    Provenance,
}

/// A type name the registry does not serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not a resource type this registry serves")]
pub struct UnknownResourceType(pub String);

impl ResourceType {
    /// Every type, in name order.
    pub const ALL: [Self; 8] = [
        Self::AuditEvent,
        Self::Bundle,
        Self::Consent,
        Self::DocumentReference,
        Self::List,
        Self::Organization,
        Self::Patient,
        Self::Provenance,
    ];

    /// The types whose resources are read by id, by version and by history (the audit
    /// trail is read by its own interactions).
    pub const SERVED: [Self; 7] = [
        Self::Bundle,
        Self::Consent,
        Self::DocumentReference,
        Self::List,
        Self::Organization,
        Self::Patient,
        Self::Provenance,
    ];

    /// The types clients create and update directly: the identity feed (patients,
    /// IPRESS) and patients' consents. Index entries (`DocumentReference`, `List`,
    /// `Provenance`) are written only by a push, summaries (`Bundle`) by their own.
    pub const FED: [Self; 3] = [Self::Consent, Self::Organization, Self::Patient];

    /// The FHIR name of the type.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AuditEvent => "AuditEvent",
            Self::Bundle => "Bundle",
            Self::Consent => "Consent",
            Self::DocumentReference => "DocumentReference",
            Self::List => "List",
            Self::Organization => "Organization",
            Self::Patient => "Patient",
            Self::Provenance => "Provenance",
        }
    }

    /// The profile every write of this type is held to before anything is stored: the
    /// Peruvian guide's for identities (PacientePe, OrganizacionPe) and summaries
    /// (BundlePe), the registry's own for consents and pushes. `None` for the types no
    /// client writes (the audit trail) and the index entries, which a push carries and
    /// [`PUSH_PROFILE`] holds together with it.
    #[must_use]
    pub const fn write_profile(self) -> Option<&'static str> {
        match self {
            Self::Patient => Some(url::PACIENTE_PE),
            Self::Organization => Some(url::ORGANIZACION_PE),
            Self::Bundle => Some(url::BUNDLE_PE),
            Self::Consent => Some(CONSENT_PROFILE),
            Self::AuditEvent | Self::DocumentReference | Self::List | Self::Provenance => None,
        }
    }

    /// The type of a resource of the model, if served.
    #[must_use]
    pub fn of(resource: &renhice_model::resources::Resource) -> Option<Self> {
        resource.resource_type().parse().ok()
    }
}

impl FromStr for ResourceType {
    type Err = UnknownResourceType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownResourceType(s.to_owned()))
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_sorted() {
        for t in ResourceType::ALL {
            assert_eq!(t.as_str().parse::<ResourceType>(), Ok(t));
        }
        assert!(
            ResourceType::ALL
                .windows(2)
                .all(|w| w[0].as_str() < w[1].as_str())
        );
        assert_eq!(
            "Observation".parse::<ResourceType>(),
            Err(UnknownResourceType("Observation".to_owned()))
        );
    }
}
