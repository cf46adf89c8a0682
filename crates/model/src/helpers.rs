//! Constructors for the data types tests and services build by hand most often.
//!
//! Every generated struct implements `Default`, so any resource reads naturally with
//! struct-update syntax; these cover the small types that would otherwise need three
//! levels of `Some(Box::new(…))`:
//!
//! ```
//! use renhice_model::peru::{PersonId, Renipress};
//! use renhice_model::resources::Patient;
//! use renhice_model::types::{HumanName, Reference};
//!
//! let patient = Patient {
//!     identifier: vec![PersonId::dni("45678912")?.to_identifier()],
//!     name: vec![HumanName::peruvian(&["Rosa", "Elena"], "Quispe", Some("Mamani"))],
//!     gender: Some("female".into()),
//!     birth_date: Some("1985-03-14".parse()?),
//!     managing_organization: Some(Box::new(
//!         Reference::by_identifier(Renipress::parse("00012345")?.to_identifier()),
//!     )),
//!     ..Patient::default()
//! };
//! assert_eq!(patient.name[0].family.as_ref().and_then(|f| f.as_str()), Some("Quispe Mamani"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::Primitive;
use crate::peru::url;
use crate::types::{
    CodeableConcept, Coding, Extension, ExtensionValue, HumanName, Identifier, Reference,
};

impl Coding {
    /// A coding of `code` in `system`.
    #[must_use]
    pub fn new(system: &str, code: &str) -> Self {
        Self {
            system: Some(system.into()),
            code: Some(code.into()),
            ..Self::default()
        }
    }

    /// The same coding with a display text.
    #[must_use]
    pub fn with_display(mut self, display: &str) -> Self {
        self.display = Some(display.into());
        self
    }

    /// Whether this coding is `code` in `system`.
    #[must_use]
    pub fn is(&self, system: &str, code: &str) -> bool {
        self.system.as_ref().and_then(Primitive::as_str) == Some(system)
            && self.code.as_ref().and_then(Primitive::as_str) == Some(code)
    }
}

impl From<Coding> for CodeableConcept {
    fn from(coding: Coding) -> Self {
        Self {
            coding: vec![coding],
            ..Self::default()
        }
    }
}

impl CodeableConcept {
    /// A concept given only as text.
    #[must_use]
    pub fn text(text: &str) -> Self {
        Self {
            text: Some(text.into()),
            ..Self::default()
        }
    }

    /// The same concept with a text.
    #[must_use]
    pub fn with_text(mut self, text: &str) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Whether any coding is `code` in `system`.
    #[must_use]
    pub fn has_coding(&self, system: &str, code: &str) -> bool {
        self.coding.iter().any(|c| c.is(system, code))
    }
}

impl Identifier {
    /// An identifier `value` in `system`.
    #[must_use]
    pub fn new(system: &str, value: &str) -> Self {
        Self {
            system: Some(system.into()),
            value: Some(value.into()),
            ..Self::default()
        }
    }

    /// The identifier's system, if any.
    #[must_use]
    pub fn system_str(&self) -> Option<&str> {
        self.system.as_ref().and_then(Primitive::as_str)
    }

    /// The identifier's value, if any.
    #[must_use]
    pub fn value_str(&self) -> Option<&str> {
        self.value.as_ref().and_then(Primitive::as_str)
    }
}

impl Reference {
    /// A relative reference to a resource on the same server: `Patient/123`.
    #[must_use]
    pub fn to(resource_type: &str, id: &str) -> Self {
        Self::url(&format!("{resource_type}/{id}"))
    }

    /// A reference by URL: absolute, relative or `urn:uuid:` (inside a Bundle).
    #[must_use]
    pub fn url(url: &str) -> Self {
        Self {
            reference: Some(url.into()),
            ..Self::default()
        }
    }

    /// A reference to a contained resource: `#id`.
    #[must_use]
    pub fn contained(id: &str) -> Self {
        Self::url(&format!("#{id}"))
    }

    /// A logical reference by business identifier (no URL).
    #[must_use]
    pub fn by_identifier(identifier: Identifier) -> Self {
        Self {
            identifier: Some(Box::new(identifier)),
            ..Self::default()
        }
    }

    /// The same reference with a display text.
    #[must_use]
    pub fn with_display(mut self, display: &str) -> Self {
        self.display = Some(display.into());
        self
    }

    /// The reference URL, if any.
    #[must_use]
    pub fn reference_str(&self) -> Option<&str> {
        self.reference.as_ref().and_then(Primitive::as_str)
    }
}

impl Extension {
    /// An extension `url` with a value.
    #[must_use]
    pub fn new(url: &str, value: ExtensionValue) -> Self {
        Self {
            url: Some(url.to_owned()),
            value: Some(value),
            ..Self::default()
        }
    }
}

impl HumanName {
    /// An official Spanish name: `given` names, the father's and (if any) the mother's
    /// surname. `family` holds both surnames, each also in its HL7 extension on
    /// `_family`, as PacientePe asks.
    #[must_use]
    pub fn peruvian(given: &[&str], paternal: &str, maternal: Option<&str>) -> Self {
        let mut parts = vec![Extension::new(
            url::EXT_FATHERS_FAMILY,
            ExtensionValue::String(paternal.into()),
        )];
        let family = match maternal {
            Some(m) => {
                parts.push(Extension::new(
                    url::EXT_MOTHERS_FAMILY,
                    ExtensionValue::String(m.into()),
                ));
                format!("{paternal} {m}")
            }
            None => paternal.to_owned(),
        };
        let mut family = Primitive::from(family);
        family.extension_mut().extend(parts);
        Self {
            r#use: Some("official".into()),
            family: Some(family),
            given: given.iter().map(|g| (*g).into()).collect(),
            ..Self::default()
        }
    }
}
