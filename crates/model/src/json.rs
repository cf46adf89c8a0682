//! Reading and writing FHIR JSON.
//!
//! The bytes are parsed in one pass straight into the typed model. When that fails, the
//! error names exactly which element is wrong (`Bundle.entry[2].resource.birthDate`) and
//! where (line and column): the path is assembled only while a failure travels up, so a
//! valid document pays nothing for good error messages.

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::de::Mode;

/// Why FHIR JSON could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct ParseError {
    /// The element path where reading failed, starting with the resource type, e.g.
    /// `Bundle.entry[2].resource.birthDate`; just the type for errors at the top.
    pub path: String,
    /// Line of the error in the input, counting from 1 (0 if unknown).
    pub line: usize,
    /// Column of the error in the input, counting from 1 (0 if unknown).
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// What kind of error it is.
    pub kind: ParseErrorKind,
}

/// Kinds of [`ParseError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The input is not JSON.
    Syntax,
    /// The input is JSON but not valid FHIR (wrong type, unknown element, bad value).
    Data,
    /// The input ended too early.
    Eof,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} (line {}, column {})",
            self.path, self.message, self.line, self.column
        )
    }
}

/// The root name used in paths: the `resourceType` of the input if it has one.
fn root_name(bytes: &[u8], fallback: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "resourceType")]
        resource_type: Option<String>,
    }
    serde_json::from_slice::<Probe>(bytes)
        .ok()
        .and_then(|p| p.resource_type)
        .unwrap_or_else(|| fallback.to_owned())
}

/// Reads FHIR JSON into a model type (a resource struct, [`Resource`] or a data type).
///
/// Prefer [`Resource::from_json`] for resources: this function is generic, so each crate
/// calling it compiles the model's deserialisers again.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8], mode: Mode) -> Result<T, ParseError> {
    match crate::de::from_slice_with_mode::<T>(bytes, mode) {
        Ok(v) => Ok(v),
        Err(e) => Err(describe(bytes, std::any::type_name::<T>(), &e)),
    }
}

/// [`from_slice`] for text.
pub fn from_str<T: DeserializeOwned>(text: &str, mode: Mode) -> Result<T, ParseError> {
    from_slice(text.as_bytes(), mode)
}

/// Turns a parse failure into a [`ParseError`]: the element path recorded while the
/// error travelled up, and `serde_json`'s position.
#[cold]
fn describe(bytes: &[u8], type_name: &str, error: &serde_json::Error) -> ParseError {
    // Path prefixes re-create errors, which hides serde_json's own classification; a
    // plain syntax check (cheap, and only on failure) restores it.
    let kind = match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        Err(e) if e.is_eof() => ParseErrorKind::Eof,
        Err(_) => ParseErrorKind::Syntax,
        Ok(_) => ParseErrorKind::Data,
    };
    let text = error.to_string();
    let (path, message) = crate::de::split_path(&text);
    let root = root_name(bytes, type_name.rsplit("::").next().unwrap_or("Resource"));
    ParseError {
        path: format!("{root}{path}"),
        line: error.line(),
        column: error.column(),
        message: crate::de::strip_position(message).to_owned(),
        kind,
    }
}

/// Writes compact FHIR JSON.
pub fn to_vec<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising the model cannot fail: every map key is a string and no value refuses.
    serde_json::to_vec(value).unwrap_or_default()
}

/// Writes compact FHIR JSON as a string.
pub fn to_string<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Writes indented FHIR JSON.
pub fn to_string_pretty<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

use crate::resources::Resource;

/// Reading and writing resources through functions compiled once, in this crate.
///
/// The generic [`from_slice`] and [`to_vec`] are instantiated in every crate that calls
/// them, which for [`Resource`] means compiling the whole model's (de)serialisers again;
/// these are not generic, so callers link the copy compiled here.
impl Resource {
    /// Reads a resource of any type from FHIR JSON, strictly (unknown elements and
    /// `null`s are errors).
    pub fn from_json(bytes: &[u8]) -> Result<Self, ParseError> {
        Self::from_json_with(bytes, Mode::Strict)
    }

    /// Reads a resource of any type from FHIR JSON with the given [`Mode`].
    pub fn from_json_with(bytes: &[u8], mode: Mode) -> Result<Self, ParseError> {
        from_slice(bytes, mode)
    }

    /// Writes the resource as compact FHIR JSON.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        to_vec(self)
    }

    /// Writes the resource as compact FHIR JSON text.
    #[must_use]
    pub fn to_json_string(&self) -> String {
        to_string(self)
    }
}
