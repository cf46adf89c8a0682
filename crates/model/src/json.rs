//! Reading and writing FHIR JSON.
//!
//! Reading is fast first: the bytes are parsed straight into the typed model. Only when
//! that fails are they parsed again with path tracking, to say exactly which element is
//! wrong (`Bundle.entry[2].resource.birthDate`) and where (line and column), so a valid
//! document pays nothing for good error messages.

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
        write!(f, "{}: {} (line {}, column {})", self.path, self.message, self.line, self.column)
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

/// Strips serde_json's " at line L column C" suffix (reported separately).
fn bare_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// Reads FHIR JSON into a model type (a resource struct, [`crate::resources::Resource`]
/// or a data type).
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8], mode: Mode) -> Result<T, ParseError> {
    match crate::de::from_slice_with_mode::<T>(bytes, mode) {
        Ok(v) => Ok(v),
        Err(first) => Err(describe::<T>(bytes, mode, &first)),
    }
}

/// [`from_slice`] for text.
pub fn from_str<T: DeserializeOwned>(text: &str, mode: Mode) -> Result<T, ParseError> {
    from_slice(text.as_bytes(), mode)
}

/// Parses again with path tracking to describe an error.
#[cold]
fn describe<T: DeserializeOwned>(bytes: &[u8], mode: Mode, first: &serde_json::Error) -> ParseError {
    let kind = match first.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Io => ParseErrorKind::Syntax,
        serde_json::error::Category::Eof => ParseErrorKind::Eof,
        serde_json::error::Category::Data => ParseErrorKind::Data,
    };
    let type_name = std::any::type_name::<T>().rsplit("::").next().unwrap_or("Resource");
    let root = root_name(bytes, type_name);
    let tracked = crate::de::with_mode(mode, || {
        let mut d = serde_json::Deserializer::from_slice(bytes);
        serde_path_to_error::deserialize::<_, T>(&mut d).map(drop)
    });
    let (path, error) = match &tracked {
        Err(e) => (e.path().to_string(), e.inner()),
        Ok(()) => (String::from("."), first),
    };
    let path = if path == "." || path.is_empty() {
        root
    } else if path.starts_with('[') {
        format!("{root}{path}")
    } else {
        format!("{root}.{path}")
    };
    ParseError { path, line: error.line(), column: error.column(), message: bare_message(error), kind }
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
