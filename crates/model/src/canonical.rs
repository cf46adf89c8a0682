//! FHIR canonical JSON (FHIR R4 §2.6.2.6), the bytes a digital signature covers.
//!
//! R4 defines one canonical JSON form and four variants that leave parts of the resource
//! out, each named by a URI that a `Signature.targetFormat` may carry as a
//! `canonicalization` media-type parameter:
//!
//! | [`Canonicalization`] | URI `http://hl7.org/fhir/canonicalization/…` | left out |
//! | --- | --- | --- |
//! | `Json` | `json` | nothing |
//! | `Data` | `json#data` | the root resource's `text` |
//! | `Static` | `json#static` | the root resource's `text` and `meta` |
//! | `Narrative` | `json#narrative` | everything but the root's `resourceType`, `id` and `text` |
//! | `Document` | `json#document` | the root Bundle's `id`, `meta` and `signature` |
//!
//! The canonical form has no whitespace between tokens and the properties of every
//! object in ascending order of their names (FHIR property names are ASCII, so byte,
//! code-point and UTF-16 order agree). Values are written as the model writes them:
//! strings escaped as `serde_json` does (which is the RFC 8785 escaping: `"`, `\` and
//! control characters only), and **numbers with their exact text** (`1.50` stays `1.50`).
//!
//! # Choices the specification leaves open
//!
//! - R4 does not adopt RFC 8785 (JCS). JCS would rewrite `1.50` as `1.5`, changing the
//!   precision a FHIR decimal carries, so the JCS crates (`serde_json_canonicalizer`,
//!   `canon-json`) are not used; see `docs/dependencies.md`.
//! - "Leaves out" applies to the root resource only, as the variants are defined on
//!   `Resource.text`/`Resource.meta` of the signed resource; contained resources and
//!   Bundle entries keep theirs.
//! - `#narrative` keeps `resourceType` (without it the bytes are not a resource).
//! - `#document` also leaves out the root `Bundle.signature`: the method exists to sign
//!   a document Bundle, whose enveloped signature cannot cover itself.

use std::fmt;

use crate::resources::Resource;

/// The base of the canonicalization URIs.
const BASE: &str = "http://hl7.org/fhir/canonicalization/json";

/// A FHIR R4 JSON canonicalization method (see the [module documentation](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Canonicalization {
    /// `http://hl7.org/fhir/canonicalization/json`: the whole resource.
    Json,
    /// `…/json#data`: without the narrative (`text`).
    Data,
    /// `…/json#static`: without `text` and `meta`, so the signature survives moving the
    /// resource between servers.
    Static,
    /// `…/json#narrative`: only `id` and `text`.
    Narrative,
    /// `…/json#document`: a Bundle without its `id`, `meta` and `signature`.
    Document,
}

impl Canonicalization {
    /// Every method, for iteration.
    pub const ALL: [Self; 5] = [
        Self::Json,
        Self::Data,
        Self::Static,
        Self::Narrative,
        Self::Document,
    ];

    /// The URI naming the method.
    #[must_use]
    pub const fn uri(self) -> &'static str {
        match self {
            Self::Json => "http://hl7.org/fhir/canonicalization/json",
            Self::Data => "http://hl7.org/fhir/canonicalization/json#data",
            Self::Static => "http://hl7.org/fhir/canonicalization/json#static",
            Self::Narrative => "http://hl7.org/fhir/canonicalization/json#narrative",
            Self::Document => "http://hl7.org/fhir/canonicalization/json#document",
        }
    }

    /// The method a URI names, if it is one of the R4 JSON methods.
    #[must_use]
    pub fn from_uri(uri: &str) -> Option<Self> {
        let fragment = uri.strip_prefix(BASE)?;
        match fragment {
            "" => Some(Self::Json),
            "#data" => Some(Self::Data),
            "#static" => Some(Self::Static),
            "#narrative" => Some(Self::Narrative),
            "#document" => Some(Self::Document),
            _ => None,
        }
    }

    /// The method named by the `canonicalization` parameter of a media type such as a
    /// `Signature.targetFormat` (`application/fhir+json;canonicalization=…#static`).
    ///
    /// `Ok(None)` when the media type has no such parameter; an error when it names a
    /// method this crate does not know, or when the media type is not FHIR JSON.
    pub fn from_media_type(media_type: &str) -> Result<Option<Self>, CanonicalError> {
        let mut parts = media_type.split(';');
        let essence = parts.next().unwrap_or_default().trim();
        if !essence.eq_ignore_ascii_case(crate::FHIR_JSON_MIME)
            && !essence.eq_ignore_ascii_case("application/json")
        {
            return Err(CanonicalError::NotFhirJson(essence.to_owned()));
        }
        for parameter in parts {
            let Some((name, value)) = parameter.split_once('=') else {
                continue;
            };
            if name.trim().eq_ignore_ascii_case("canonicalization") {
                let value = value.trim().trim_matches('"');
                return Self::from_uri(value)
                    .map(Some)
                    .ok_or_else(|| CanonicalError::UnknownMethod(value.to_owned()));
            }
        }
        Ok(None)
    }

    /// Whether the root member `name` is part of the canonical form of a `resource_type`.
    fn keeps(self, resource_type: &str, name: &[u8]) -> bool {
        match self {
            Self::Json => true,
            Self::Data => name != b"text",
            Self::Static => name != b"text" && name != b"meta",
            Self::Narrative => matches!(name, b"resourceType" | b"id" | b"text"),
            Self::Document => {
                resource_type != "Bundle" || !matches!(name, b"id" | b"meta" | b"signature")
            }
        }
    }
}

impl fmt::Display for Canonicalization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.uri())
    }
}

/// Why a canonical form could not be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// `#document` applies to Bundles only.
    #[error("the canonicalization {uri} applies to a Bundle, not to a {resource_type}", uri = Canonicalization::Document.uri())]
    NotABundle {
        /// The type of the resource given.
        resource_type: String,
    },
    /// The media type names a canonicalization that is not an R4 JSON method.
    #[error(
        "unknown canonicalization method {0:?}; R4 defines {BASE} with no fragment or #data, #static, #narrative or #document"
    )]
    UnknownMethod(String),
    /// The media type is not FHIR JSON.
    #[error("the target format {0:?} is not FHIR JSON (application/fhir+json)")]
    NotFhirJson(String),
}

impl Resource {
    /// The canonical JSON of the resource under `method`: the bytes a signature with that
    /// canonicalization covers.
    pub fn to_canonical_json(&self, method: Canonicalization) -> Result<Vec<u8>, CanonicalError> {
        if method == Canonicalization::Document && !matches!(self, Self::Bundle(_)) {
            return Err(CanonicalError::NotABundle {
                resource_type: self.resource_type().to_owned(),
            });
        }
        let compact = self.to_json();
        Ok(canonicalize(&compact, |name| {
            method.keeps(self.resource_type(), name)
        }))
    }
}

/// A JSON value as slices of compact JSON text.
enum Node<'a> {
    /// A string (with its quotes and escapes), number, `true`, `false` or `null`.
    Scalar(&'a [u8]),
    Array(Vec<Node<'a>>),
    /// Members by their name's text (without quotes).
    Object(Vec<(&'a [u8], Node<'a>)>),
}

/// Reorders compact JSON written by `serde_json` into canonical form, keeping the root
/// members for which `keep` is true.
///
/// The input is the model's own output: no whitespace, strings already escaped
/// canonically, property names plain ASCII. It is therefore read with a small parser
/// that slices the text rather than decoding it, so every scalar, and in particular
/// every number, is copied byte for byte.
fn canonicalize(compact: &[u8], keep: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let mut reader = Reader {
        text: compact,
        at: 0,
    };
    let mut root = reader.value();
    debug_assert_eq!(
        reader.at,
        compact.len(),
        "trailing text after the root value"
    );
    if let Node::Object(members) = &mut root {
        members.retain(|(name, _)| keep(name));
    }
    let mut out = Vec::with_capacity(compact.len());
    write(&mut root, &mut out);
    out
}

struct Reader<'a> {
    text: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> u8 {
        self.text.get(self.at).copied().unwrap_or(b'\0')
    }

    fn value(&mut self) -> Node<'a> {
        match self.peek() {
            b'{' => {
                self.at += 1;
                let mut members = Vec::new();
                while self.peek() != b'}' && self.at < self.text.len() {
                    let name = self.string();
                    // Skip the `:`.
                    self.at += 1;
                    let value = self.value();
                    members.push((&name[1..name.len() - 1], value));
                    if self.peek() == b',' {
                        self.at += 1;
                    }
                }
                self.at += 1;
                Node::Object(members)
            }
            b'[' => {
                self.at += 1;
                let mut items = Vec::new();
                while self.peek() != b']' && self.at < self.text.len() {
                    items.push(self.value());
                    if self.peek() == b',' {
                        self.at += 1;
                    }
                }
                self.at += 1;
                Node::Array(items)
            }
            b'"' => Node::Scalar(self.string()),
            _ => {
                let start = self.at;
                while !matches!(self.peek(), b',' | b']' | b'}' | b'\0') {
                    self.at += 1;
                }
                Node::Scalar(&self.text[start..self.at])
            }
        }
    }

    /// A string token, quotes included.
    fn string(&mut self) -> &'a [u8] {
        let start = self.at;
        self.at += 1;
        while self.at < self.text.len() {
            match self.text[self.at] {
                b'\\' => self.at += 2,
                b'"' => {
                    self.at += 1;
                    break;
                }
                _ => self.at += 1,
            }
        }
        &self.text[start..self.at.min(self.text.len())]
    }
}

fn write(node: &mut Node<'_>, out: &mut Vec<u8>) {
    match node {
        Node::Scalar(text) => out.extend_from_slice(text),
        Node::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter_mut().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out);
            }
            out.push(b']');
        }
        Node::Object(members) => {
            // Names are unique (the model writes each property once), so a stable sort
            // is not needed for determinism, but costs nothing.
            members.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (name, value)) in members.iter_mut().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.push(b'"');
                out.extend_from_slice(name);
                out.extend_from_slice(b"\":");
                write(value, out);
            }
            out.push(b'}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(text: &str) -> String {
        let compact =
            serde_json::to_vec(&serde_json::from_str::<serde_json::Value>(text).unwrap()).unwrap();
        String::from_utf8(canonicalize(&compact, |_| true)).unwrap()
    }

    #[test]
    fn sorts_every_object_and_keeps_scalars_as_written() {
        assert_eq!(
            canon(r#"{"b": [{"z": 1, "a": "x\"y"}, 2], "a": {"d": null, "c": true}, "_a": "é"}"#),
            r#"{"_a":"é","a":{"c":true,"d":null},"b":[{"a":"x\"y","z":1},2]}"#
        );
    }

    #[test]
    fn method_uris_round_trip_and_media_types_are_read() {
        for method in Canonicalization::ALL {
            assert_eq!(Canonicalization::from_uri(method.uri()), Some(method));
        }
        assert_eq!(Canonicalization::from_uri("http://example.org/json"), None);
        assert_eq!(
            Canonicalization::from_media_type(
                "application/fhir+json; canonicalization=\"http://hl7.org/fhir/canonicalization/json#static\""
            ),
            Ok(Some(Canonicalization::Static))
        );
        assert_eq!(
            Canonicalization::from_media_type("application/fhir+json"),
            Ok(None)
        );
        assert!(matches!(
            Canonicalization::from_media_type(
                "application/fhir+json;canonicalization=http://hl7.org/fhir/canonicalization/xml"
            ),
            Err(CanonicalError::UnknownMethod(_))
        ));
        assert!(matches!(
            Canonicalization::from_media_type("application/fhir+xml"),
            Err(CanonicalError::NotFhirJson(_))
        ));
    }
}
