//! Reading and writing FHIR XML (FHIR R4 §2.6.2).
//!
//! Every generated struct reads and writes itself in XML as it does in JSON, from the
//! same definitions: one `match` arm per element name to read (returning the element's
//! position in definition order, so a document out of FHIR's order is refused) and the
//! elements in definition order to write. FHIR's XML rules are kept here, once:
//!
//! - everything is in the namespace `http://hl7.org/fhir`, the narrative's `div` in
//!   XHTML's;
//! - a primitive is an element with `value` and `id` attributes and its extensions as
//!   children (`<birthDate value="1970-03-14"><extension url="…">…</extension></birthDate>`);
//!   `Element.id` and `Extension.url` are attributes;
//! - a resource inside another (`contained`, `Bundle.entry.resource`) is an element named
//!   by its type inside the element of the property;
//! - the narrative's `div` is kept as the XHTML text it was sent as, like JSON keeps it.
//!
//! Reading refuses what FHIR XML does not allow, with the element path and the line and
//! column where it was found: elements in another namespace or out of order, text outside
//! `value` attributes, empty values, a `DOCTYPE` (no entity is ever expanded), an
//! encoding other than UTF-8, and nesting deeper than [`MAX_DEPTH`] elements.

mod read;
mod write;

use std::borrow::Cow;

use crate::json::Mode;
pub use crate::json::{ParseError, ParseErrorKind};
use crate::resources::Resource;
use crate::values::{Date, DateTime, Decimal, Instant, Time};
#[doc(hidden)]
pub use read::{Reader, Tag};
#[doc(hidden)]
pub use write::Writer;

/// The namespace of FHIR's elements.
pub const FHIR_NS: &str = "http://hl7.org/fhir";
/// The namespace of the narrative (`Narrative.div`).
pub const XHTML_NS: &str = "http://www.w3.org/1999/xhtml";
/// How deeply elements may nest (a resource of the specification's examples nests
/// fewer than 20); deeper documents are refused before the reader's stack runs out.
pub const MAX_DEPTH: usize = 128;

/// Why a resource could not be written as XML.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// A string holds a character XML 1.0 cannot carry (a control character other than
    /// tab, CR and LF); FHIR strings cannot hold them either.
    #[error("a value holds the character U+{0:04X}, which XML cannot carry")]
    Character(u32),
    /// A narrative is not one well-formed XHTML `div` element.
    #[error("a narrative is not one well-formed XHTML div element: {0}")]
    Narrative(String),
}

/// A failure while reading, located by byte offset until it is reported.
#[doc(hidden)]
#[derive(Debug)]
pub struct Error {
    /// The element path below the point where the error is caught (`.name[0].given`).
    path: String,
    /// Byte offset of the element or event that failed, once known.
    offset: Option<u64>,
    message: String,
    kind: ParseErrorKind,
}

impl Error {
    #[cold]
    pub(crate) fn data(message: impl Into<String>) -> Self {
        Self {
            path: String::new(),
            offset: None,
            message: message.into(),
            kind: ParseErrorKind::Data,
        }
    }

    #[cold]
    fn syntax(message: impl Into<String>, offset: u64, kind: ParseErrorKind) -> Self {
        Self {
            path: String::new(),
            offset: Some(offset),
            message: message.into(),
            kind,
        }
    }

    /// Prefixes the path with a segment (`.name`, `[2]`) as the error travels up.
    #[cold]
    fn at(mut self, segment: &str) -> Self {
        self.path.insert_str(0, segment);
        self
    }

    /// Places an error that has no position yet at `offset`.
    #[cold]
    fn located(mut self, offset: u64) -> Self {
        self.offset.get_or_insert(offset);
        self
    }

    #[cold]
    fn report(self, root: &str, text: &str) -> ParseError {
        let offset = usize::try_from(self.offset.unwrap_or(0))
            .unwrap_or(usize::MAX)
            .min(text.len());
        let before = &text.as_bytes()[..offset];
        let line = before.split(|b| *b == b'\n').count();
        let line_start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&before[line_start..])
            .chars()
            .count()
            + 1;
        ParseError {
            path: format!("{root}{}", self.path),
            line,
            column,
            message: self.message,
            kind: self.kind,
        }
    }
}

/// A generated struct read from FHIR XML.
#[doc(hidden)]
pub trait FromXml: Default {
    /// Takes attribute `name` (`id`, `url`); `Ok(false)` if the type has none such.
    ///
    /// # Errors
    /// A value the attribute cannot take.
    fn read_attribute(&mut self, name: &str, value: String) -> Result<bool, Error> {
        let _ = (name, value);
        Ok(false)
    }

    /// Reads child element `name`, whose start `tag` has just been read; returns its
    /// position in definition order, or `None` if the type has no such element.
    ///
    /// # Errors
    /// The child is not valid FHIR XML.
    fn read_child<'i>(
        &mut self,
        name: &str,
        r: &mut Reader<'i>,
        tag: &Tag<'i>,
    ) -> Result<Option<u16>, Error>;
}

/// A generated struct written as FHIR XML.
#[doc(hidden)]
pub trait ToXml {
    /// Writes the attributes (`id`, `url`).
    fn write_attributes(&self, w: &mut Writer) {
        let _ = w;
    }

    /// Writes the child elements in definition order.
    fn write_children(&self, w: &mut Writer);
}

/// A primitive's value as the text of a `value` attribute.
#[doc(hidden)]
pub trait XmlValue: Sized {
    /// Reads the value from its (unescaped) text.
    ///
    /// # Errors
    /// What is wrong with the text, in words.
    fn from_xml(text: &str) -> Result<Self, String>;
    /// The value's text.
    fn to_xml(&self) -> Cow<'_, str>;
}

impl XmlValue for String {
    fn from_xml(text: &str) -> Result<Self, String> {
        Ok(text.to_owned())
    }
    fn to_xml(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl XmlValue for bool {
    fn from_xml(text: &str) -> Result<Self, String> {
        match text {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!("{text:?} is not a boolean: write true or false")),
        }
    }
    fn to_xml(&self) -> Cow<'_, str> {
        Cow::Borrowed(if *self { "true" } else { "false" })
    }
}

/// FHIR's integer lexical form: no `+`, no leading zeros (R4 `integer` regex).
fn integer_text(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && text != "-0"
}

impl XmlValue for i32 {
    fn from_xml(text: &str) -> Result<Self, String> {
        if !integer_text(text) {
            return Err(format!("{text:?} is not an integer"));
        }
        text.parse()
            .map_err(|_| format!("{text:?} is outside the range of a FHIR integer (32 bits)"))
    }
    fn to_xml(&self) -> Cow<'_, str> {
        Cow::Owned(self.to_string())
    }
}

impl XmlValue for u32 {
    fn from_xml(text: &str) -> Result<Self, String> {
        if !integer_text(text) || text.starts_with('-') {
            return Err(format!("{text:?} is not an unsigned integer"));
        }
        let value: u32 = text
            .parse()
            .map_err(|_| format!("{text:?} is outside the range of a FHIR integer (32 bits)"))?;
        if i32::try_from(value).is_err() {
            return Err(format!(
                "{text:?} is outside the range of a FHIR integer (32 bits)"
            ));
        }
        Ok(value)
    }
    fn to_xml(&self) -> Cow<'_, str> {
        Cow::Owned(self.to_string())
    }
}

macro_rules! text_value {
    ($($t:ty),*) => {$(
        impl XmlValue for $t {
            fn from_xml(text: &str) -> Result<Self, String> {
                <$t>::parse(text).map_err(|e| e.to_string())
            }
            fn to_xml(&self) -> Cow<'_, str> {
                Cow::Borrowed(self.as_str())
            }
        }
    )*};
}
text_value!(Decimal, Date, DateTime, Instant, Time);

/// Sets an attribute (`id`, `url`) of a struct.
#[doc(hidden)]
pub fn attribute(slot: &mut Option<String>, name: &str, value: String) -> Result<bool, Error> {
    if value.is_empty() {
        return Err(Error::data(format!(
            "attribute {name:?} is empty; FHIR XML leaves out attributes without a value"
        )));
    }
    *slot = Some(value);
    Ok(true)
}

/// Refuses a second value of a choice element (`value[x]`).
#[doc(hidden)]
pub fn choice<T>(slot: &Option<T>, base: &str, name: &str) -> Result<(), Error> {
    if slot.is_some() {
        return Err(Error::data(format!(
            "element {name:?} is a second value of {base}[x], which takes one"
        )));
    }
    Ok(())
}

impl Resource {
    /// Reads a resource of any type from FHIR XML, strictly (unknown elements and
    /// attributes are errors).
    ///
    /// # Errors
    /// Where and why the input is not a FHIR R4 resource in XML.
    pub fn from_xml(bytes: &[u8]) -> Result<Self, ParseError> {
        Self::from_xml_with(bytes, Mode::Strict)
    }

    /// Reads a resource of any type from FHIR XML with the given [`Mode`] (lenient
    /// reading skips unknown elements and attributes).
    ///
    /// # Errors
    /// Where and why the input is not a FHIR R4 resource in XML.
    pub fn from_xml_with(bytes: &[u8], mode: Mode) -> Result<Self, ParseError> {
        read::resource(bytes, mode)
    }

    /// Writes the resource as FHIR XML, with an XML declaration.
    ///
    /// # Errors
    /// A string holds a character XML cannot carry, or a narrative is not well-formed
    /// XHTML: neither is valid FHIR, but a resource read leniently may hold them.
    pub fn to_xml(&self) -> Result<Vec<u8>, WriteError> {
        self.to_xml_string().map(String::into_bytes)
    }

    /// [`Resource::to_xml`] as text.
    ///
    /// # Errors
    /// As [`Resource::to_xml`].
    pub fn to_xml_string(&self) -> Result<String, WriteError> {
        let mut w = Writer::new();
        self.write_xml(&mut w);
        w.finish()
    }
}
