//! The registry's rules, beneath HTTP: what the registry requires of what it stores, and
//! what it extracts from it to find it again.
//!
//! Everything here is a pure function over the FHIR model and the store's value types:
//! no database connection, no HTTP, no clock but the times passed in. The server maps
//! requests to these functions and their [`RuleError`]s to `OperationOutcome`s; the store
//! writes what they produce. So each rule is tested here, alone, in a unit test.
//!
//! | module | rules |
//! | --- | --- |
//! | [`params`] | the one table of search parameters: name, type, how values are extracted, documentation |
//! | [`identity`] | PacientePe identity documents and IPRESS RENIPRESS codes, unique keys |
//! | [`access`] | who sees which of a patient's records: own IPRESS, consent, emergency |
//! | [`consent`] | which Consents the registry accepts and what they grant |
//! | [`locations`] | `$record-locations`: one location per IPRESS, newest first |
//! | [`push`] | an ITI-65 push's entries: one patient and custodian, keys, supersession |
//! | [`conditional`] | conditional-update criteria and `If-Match` versions |
//! | [`references`] | references inside a push rewritten to the ids the registry assigns |
//! | [`query`] | a search's parameters read into the store's criteria |
//! | [`text`], [`dates`] | how strings and dates are compared; what a query value may hold |

mod error;
mod resource_type;

pub mod access;
pub mod conditional;
pub mod consent;
pub mod dates;
pub mod history;
pub mod identity;
pub mod locations;
pub mod params;
pub mod push;
pub mod query;
pub mod references;
pub mod text;

pub use error::RuleError;
pub use resource_type::{CONSENT_PROFILE, PUSH_PROFILE, ResourceType, UnknownResourceType};

/// What a checked resource contributes to the database besides its JSON.
#[derive(Debug, Default)]
pub struct Extracted {
    /// Search values.
    pub index: renhice_store::resources::SearchIndex,
    /// Unique business keys.
    pub unique_keys: Vec<String>,
    /// What an active Consent grants.
    pub grants: Vec<renhice_store::consents::ConsentGrant>,
}

/// Whether `id` is a FHIR logical id: 1 to 64 letters, digits, `-` or `.` (FHIR R4
/// §2.24.0.1, `id`). A client that chooses an id (an update that creates) must choose
/// one of these: anything else could not be written back into the resource, nor into a
/// reference, and `../x` in a URL means something else to every proxy on the way.
#[must_use]
pub fn is_fhir_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// Checks a resource a client writes directly (an identity, a Consent) against the
/// registry's rules and extracts its index and keys. Other types contribute nothing.
pub fn check(resource: &renhice_model::resources::Resource) -> Result<Extracted, RuleError> {
    use renhice_model::resources::Resource;
    let unique_keys = match resource {
        Resource::Patient(p) => identity::patient(p)?,
        Resource::Organization(o) => identity::organization(o)?,
        Resource::Consent(c) => return consent::check(resource, c),
        _ => return Ok(Extracted::default()),
    };
    Ok(Extracted {
        index: params::indexed(resource, resource.resource_type())?,
        unique_keys,
        grants: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::is_fhir_id;

    #[test]
    fn fhir_ids_are_letters_digits_dashes_and_dots_up_to_64() {
        for good in ["a", "123", "juan-perez.2", &"x".repeat(64)] {
            assert!(is_fhir_id(good), "{good}");
        }
        for bad in [
            "",
            "../juan",
            "a/b",
            "juan perez",
            "ñandú",
            "a_b",
            &"x".repeat(65),
        ] {
            assert!(!is_fhir_id(bad), "{bad}");
        }
    }
}
