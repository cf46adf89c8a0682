//! Primitive elements: a value plus the `id` and extensions FHIR allows on any primitive.
//!
//! In JSON a primitive `birthDate` is split in two properties, `"birthDate": "1970-01-01"`
//! and `"_birthDate": {"id": …, "extension": […]}`; both land in one [`Primitive`], so
//! nothing is lost on a round trip. Extensions on primitives are rare, so they live behind
//! a `Box` and a plain value costs one pointer more than the value itself.

use crate::types::Extension;

/// A primitive element: its value (absent when only extensions are given) and its
/// element data.
#[derive(Clone, Debug, PartialEq)]
pub struct Primitive<T> {
    /// The value, if the element has one.
    pub value: Option<T>,
    /// `id` and extensions of the element, if any.
    pub element: Option<Box<ElementData>>,
}

/// The `id` and `extension` of an element (the `_field` object in JSON).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ElementData {
    /// Element id, unique within the resource.
    pub id: Option<String>,
    /// Extensions.
    pub extension: Vec<Extension>,
}

// Not derived: an empty primitive needs no default value of `T`.
impl<T> Default for Primitive<T> {
    fn default() -> Self {
        Self {
            value: None,
            element: None,
        }
    }
}

impl<T> Primitive<T> {
    /// A primitive with a value and nothing else.
    #[must_use]
    pub const fn new(value: T) -> Self {
        Self {
            value: Some(value),
            element: None,
        }
    }

    /// The value, if any.
    #[must_use]
    pub const fn value(&self) -> Option<&T> {
        self.value.as_ref()
    }

    /// The extensions on this element.
    #[must_use]
    pub fn extensions(&self) -> &[Extension] {
        self.element
            .as_deref()
            .map_or(&[], |e| e.extension.as_slice())
    }

    /// The extensions on this element, for adding to (creates the element data).
    pub fn extension_mut(&mut self) -> &mut Vec<Extension> {
        &mut self.element.get_or_insert_with(Box::default).extension
    }

    /// The same primitive with an extension added.
    #[must_use]
    pub fn with_extension(mut self, extension: Extension) -> Self {
        self.extension_mut().push(extension);
        self
    }

    /// The element id, if any.
    #[must_use]
    pub fn id(&self) -> Option<&str> {
        self.element.as_deref().and_then(|e| e.id.as_deref())
    }

    /// Whether the element carries neither a value nor element data (which FHIR JSON
    /// cannot represent).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.value.is_none() && self.element.is_none()
    }
}

impl<T> From<T> for Primitive<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T: std::str::FromStr> std::str::FromStr for Primitive<T> {
    type Err = T::Err;

    /// Parses the value (`"1985-03-14".parse::<Primitive<Date>>()`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.parse().map(Self::new)
    }
}

impl From<&str> for Primitive<String> {
    fn from(value: &str) -> Self {
        Self::new(value.to_owned())
    }
}

impl Primitive<String> {
    /// The string value, if any.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        self.value.as_deref()
    }
}
