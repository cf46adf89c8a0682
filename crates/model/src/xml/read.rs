//! The FHIR XML reader: a pull parser (`quick-xml`) walked by the generated
//! `read_child` of each struct.

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};

use super::{Error, FHIR_NS, FromXml, MAX_DEPTH, ParseError, ParseErrorKind, XHTML_NS, XmlValue};
use crate::json::Mode;
use crate::primitive::{ElementData, Primitive};
use crate::resources::Resource;
use crate::types::Extension;

/// The namespace an element is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ns {
    Fhir,
    Xhtml,
    Other,
}

/// A start tag just read, with where it began.
#[doc(hidden)]
#[derive(Debug)]
pub struct Tag<'i> {
    start: BytesStart<'i>,
    /// `<name/>`: no children follow.
    empty: bool,
    /// Byte offset of the `<`.
    offset: u64,
    ns: Ns,
}

impl Tag<'_> {
    fn local_name(&self) -> &str {
        self.start.local_name().into_inner()
    }
}

/// What follows inside an element.
enum Next<'i> {
    Child(Tag<'i>),
    End,
}

/// Reads FHIR XML from text checked to be UTF-8.
#[doc(hidden)]
pub struct Reader<'i> {
    inner: NsReader<&'i [u8]>,
    input: &'i str,
    mode: Mode,
    depth: usize,
}

fn namespace(ns: &ResolveResult<'_>) -> Ns {
    match ns {
        ResolveResult::Bound(Namespace(n)) if *n == FHIR_NS => Ns::Fhir,
        ResolveResult::Bound(Namespace(n)) if *n == XHTML_NS => Ns::Xhtml,
        _ => Ns::Other,
    }
}

/// Reads a resource from a whole document.
pub(super) fn resource(bytes: &[u8], mode: Mode) -> Result<Resource, ParseError> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        let valid = std::str::from_utf8(bytes)
            .map_err(|e| e.valid_up_to())
            .err();
        let text = String::from_utf8_lossy(bytes);
        let offset = valid.unwrap_or(0) as u64;
        return Err(Error::syntax(
            "the document is not UTF-8 text; FHIR XML is always UTF-8",
            offset,
            ParseErrorKind::Syntax,
        )
        .report("Resource", &text));
    };
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    if body.starts_with('\u{feff}') {
        // quick-xml would skip a second mark without counting it in its offsets.
        return Err(Error::syntax(
            "the document starts with two byte-order marks",
            0,
            ParseErrorKind::Syntax,
        )
        .report("Resource", body));
    }
    let mut reader = Reader {
        inner: NsReader::from_str(body),
        input: body,
        mode,
        depth: 0,
    };
    let mut root = String::from("Resource");
    reader
        .document(&mut root)
        .map_err(|e| e.report(&root, body))
}

impl<'i> Reader<'i> {
    /// The prolog, the root element and what may follow it.
    fn document(&mut self, root: &mut String) -> Result<Resource, Error> {
        let tag = loop {
            let offset = self.inner.buffer_position();
            let (ns, event) = self.event(offset)?;
            match event {
                Event::Decl(decl) => {
                    if let Some(encoding) = decl.encoding() {
                        let encoding = encoding.map_err(|e| {
                            Error::syntax(e.to_string(), offset, ParseErrorKind::Syntax)
                        })?;
                        if !encoding.eq_ignore_ascii_case("utf-8") {
                            return Err(Error::syntax(
                                format!(
                                    "the document declares the encoding {encoding:?}; FHIR XML \
                                     is always UTF-8"
                                ),
                                offset,
                                ParseErrorKind::Data,
                            ));
                        }
                    }
                }
                Event::Start(start) => break self.tag(start, false, offset, ns),
                Event::Empty(start) => break self.tag(start, true, offset, ns),
                Event::Eof => {
                    return Err(Error::syntax(
                        "the document holds no element",
                        offset,
                        ParseErrorKind::Eof,
                    ));
                }
                other => Self::between(&other, offset)?,
            }
        };
        let name = tag.local_name().to_owned();
        root.clone_from(&name);
        if tag.ns != Ns::Fhir {
            return Err(Error::data(format!(
                "the root element <{name}> is not in the FHIR namespace; write it as \
                 <{name} xmlns=\"{FHIR_NS}\">"
            ))
            .located(tag.offset));
        }
        let resource = Resource::read_xml(&name, self, &tag)
            .map_err(|e| e.located(tag.offset))?
            .ok_or_else(|| {
                Error::data(format!("<{name}> is not an R4 resource type")).located(tag.offset)
            })?;
        loop {
            let offset = self.inner.buffer_position();
            let (_, event) = self.event(offset)?;
            match event {
                Event::Eof => return Ok(resource),
                Event::Start(_) | Event::Empty(_) => {
                    return Err(Error::syntax(
                        "a second element follows the resource; a document holds one",
                        offset,
                        ParseErrorKind::Syntax,
                    ));
                }
                other => Self::between(&other, offset)?,
            }
        }
    }

    fn event(&mut self, offset: u64) -> Result<(Ns, Event<'i>), Error> {
        match self.inner.read_resolved_event() {
            Ok((ns, event)) => Ok((namespace(&ns), event)),
            Err(e) => {
                let eof = matches!(
                    e,
                    quick_xml::Error::Syntax(
                        quick_xml::errors::SyntaxError::UnclosedTag
                            | quick_xml::errors::SyntaxError::UnclosedComment
                            | quick_xml::errors::SyntaxError::UnclosedCData
                            | quick_xml::errors::SyntaxError::UnclosedDoctype
                            | quick_xml::errors::SyntaxError::UnclosedPI
                            | quick_xml::errors::SyntaxError::UnclosedXmlDecl
                    )
                );
                let at = self.inner.error_position().max(offset);
                Err(Error::syntax(
                    format!("the document is not well-formed XML: {e}"),
                    at,
                    if eof {
                        ParseErrorKind::Eof
                    } else {
                        ParseErrorKind::Syntax
                    },
                ))
            }
        }
    }

    /// What may stand between elements: white space, comments, processing instructions.
    fn between(event: &Event<'i>, offset: u64) -> Result<(), Error> {
        match event {
            Event::Text(text) if text.chars().all(|c| matches!(c, ' ' | '\t' | '\r' | '\n')) => {
                Ok(())
            }
            // Elements are handled by the callers; comments and instructions are skipped.
            Event::Comment(_)
            | Event::PI(_)
            | Event::Start(_)
            | Event::Empty(_)
            | Event::End(_)
            | Event::Eof => Ok(()),
            Event::DocType(_) => Err(Error::syntax(
                "the document has a DOCTYPE; FHIR XML has none (and no entity is expanded)",
                offset,
                ParseErrorKind::Data,
            )),
            Event::Decl(_) => Err(Error::syntax(
                "an XML declaration stands after the start of the document",
                offset,
                ParseErrorKind::Syntax,
            )),
            Event::Text(_) | Event::GeneralRef(_) | Event::CData(_) => Err(Error::syntax(
                "text stands between elements; FHIR XML holds values in `value` attributes",
                offset,
                ParseErrorKind::Data,
            )),
        }
    }

    fn tag(&self, start: BytesStart<'i>, empty: bool, offset: u64, ns: Ns) -> Tag<'i> {
        let _ = self;
        Tag {
            start,
            empty,
            offset,
            ns,
        }
    }

    /// The next child element, or the end of the current one.
    fn next(&mut self) -> Result<Next<'i>, Error> {
        loop {
            let offset = self.inner.buffer_position();
            let (ns, event) = self.event(offset)?;
            match event {
                Event::Start(start) => return Ok(Next::Child(self.tag(start, false, offset, ns))),
                Event::Empty(start) => return Ok(Next::Child(self.tag(start, true, offset, ns))),
                Event::End(_) => return Ok(Next::End),
                Event::Eof => {
                    return Err(Error::syntax(
                        "the document ends inside an element",
                        offset,
                        ParseErrorKind::Eof,
                    ));
                }
                other => Self::between(&other, offset)?,
            }
        }
    }

    /// Skips an element the lenient reader does not know.
    fn skip(&mut self, tag: &Tag<'i>) -> Result<(), Error> {
        if !tag.empty {
            let end = tag.start.to_end().into_owned();
            self.inner.read_to_end(end.name()).map_err(|e| {
                Error::syntax(
                    format!("the document is not well-formed XML: {e}"),
                    self.inner.error_position(),
                    ParseErrorKind::Syntax,
                )
            })?;
        }
        Ok(())
    }

    fn deeper(&mut self, tag: &Tag<'i>) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Error::data(format!(
                "elements nest more than {MAX_DEPTH} deep; no FHIR resource does"
            ))
            .located(tag.offset));
        }
        Ok(())
    }

    /// The attributes of a tag, without namespace declarations and attributes of other
    /// namespaces (`xsi:schemaLocation`), unescaped and normalised as XML 1.0 says.
    fn attributes(
        &self,
        tag: &Tag<'i>,
        mut take: impl FnMut(&str, String) -> Result<bool, Error>,
    ) -> Result<bool, Error> {
        let mut any = false;
        for attribute in tag.start.attributes().with_checks(true) {
            let attribute = attribute.map_err(|e| {
                Error::syntax(
                    format!("an attribute is not well-formed: {e}"),
                    tag.offset,
                    ParseErrorKind::Syntax,
                )
            })?;
            let key = attribute.key;
            if key.as_namespace_binding().is_some() || key.prefix().is_some() {
                continue;
            }
            let name: &str = key.as_ref();
            let value = attribute
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| {
                    Error::syntax(
                        format!("attribute {name:?} is not well-formed: {e}"),
                        tag.offset,
                        ParseErrorKind::Syntax,
                    )
                })?
                .into_owned();
            let taken = take(name, value).map_err(|e| e.located(tag.offset))?;
            if !taken && self.mode == Mode::Strict {
                return Err(Error::data(format!(
                    "<{}> has no attribute {name:?}",
                    tag.local_name()
                ))
                .located(tag.offset));
            }
            any |= taken;
        }
        Ok(any)
    }

    /// Reads a struct whose start tag has just been read, and tells whether it took any
    /// attribute or child (what ele-1 asks of an element; exact when reading strictly).
    fn read_object<T: FromXml>(&mut self, tag: &Tag<'i>) -> Result<(T, bool), Error> {
        let mut value = T::default();
        let any = self.read_into(&mut value, tag)?;
        Ok((value, any))
    }

    /// [`Reader::read_object`] into a value that already has its place.
    fn read_into<T: FromXml>(&mut self, value: &mut T, tag: &Tag<'i>) -> Result<bool, Error> {
        let mut any = self.attributes(tag, |name, text| value.read_attribute(name, text))?;
        if !tag.empty {
            any |= self.children(value, tag)?;
        }
        Ok(any)
    }

    /// Reads a data type or backbone element whose start tag has just been read: one with
    /// nothing in it is refused (ele-1), or, read leniently, comes back empty for its
    /// parent to drop.
    ///
    /// # Errors
    /// The element is not valid FHIR XML, or empty.
    pub fn object<T: FromXml + PartialEq>(&mut self, tag: &Tag<'i>) -> Result<T, Error> {
        let (value, any) = self.read_object::<T>(tag)?;
        if self.mode == Mode::Strict && !any {
            return Err(Error::data(format!(
                "<{}> has nothing in it (ele-1); FHIR XML leaves out empty elements",
                tag.local_name()
            )));
        }
        Ok(value)
    }

    /// Reads a resource whose element (`<Patient>`) has just been read; an empty one is
    /// a resource all the same.
    ///
    /// # Errors
    /// The element is not valid FHIR XML.
    pub fn resource_object<T: FromXml>(&mut self, tag: &Tag<'i>) -> Result<Box<T>, Error> {
        // Built in its heap place: resources nest (Bundle entries, contained), and a
        // large struct on the stack at each level would run a thread out of stack long
        // before `MAX_DEPTH`.
        let mut value = Box::<T>::default();
        self.read_into(value.as_mut(), tag)?;
        Ok(value)
    }

    /// [`Reader::object`], and, read leniently, `None` for an element that kept nothing
    /// (what it held was unknown and skipped): its parent drops it.
    ///
    /// # Errors
    /// As [`Reader::object`].
    pub fn kept<T: FromXml + PartialEq>(&mut self, tag: &Tag<'i>) -> Result<Option<T>, Error> {
        let value: T = self.object(tag)?;
        // Strictly read, an element kept what it held (or was refused as empty).
        if self.mode == Mode::Strict {
            return Ok(Some(value));
        }
        Ok((value != T::default()).then_some(value))
    }

    /// Reads the children of an element into `value`; whether there was any.
    fn children<T: FromXml>(&mut self, value: &mut T, parent: &Tag<'i>) -> Result<bool, Error> {
        self.deeper(parent)?;
        let mut any = false;
        let mut last = 0u16;
        loop {
            let tag = match self.next()? {
                Next::End => break,
                Next::Child(tag) => tag,
            };
            let name = tag.local_name();
            let fhir = tag.ns == Ns::Fhir || (tag.ns == Ns::Xhtml && name == "div");
            if !fhir {
                return Err(Error::data(format!(
                    "element <{name}> is not in the FHIR namespace ({FHIR_NS})"
                ))
                .located(tag.offset)
                .at(&format!(".{name}")));
            }
            match value.read_child(name, self, &tag) {
                Ok(Some(position)) => {
                    if position < last {
                        return Err(Error::data(format!(
                            "element <{name}> is out of order: FHIR XML keeps the elements \
                             in the order of their definitions"
                        ))
                        .located(tag.offset)
                        .at(&format!(".{name}")));
                    }
                    last = position;
                    any = true;
                }
                Ok(None) if self.mode == Mode::Lenient => self.skip(&tag)?,
                Ok(None) => {
                    return Err(Error::data(format!(
                        "unknown element <{name}> in <{}>",
                        parent.local_name()
                    ))
                    .located(tag.offset)
                    .at(&format!(".{name}")));
                }
                Err(e) => return Err(e.located(tag.offset).at(&format!(".{name}"))),
            }
        }
        self.depth -= 1;
        Ok(any)
    }

    /// An optional complex element.
    ///
    /// # Errors
    /// A second one, or an invalid one.
    pub fn plain<T: FromXml + PartialEq>(
        &mut self,
        slot: &mut Option<T>,
        tag: &Tag<'i>,
    ) -> Result<(), Error> {
        if slot.is_some() {
            return Err(duplicate(tag));
        }
        *slot = self.kept(tag)?;
        Ok(())
    }

    /// An optional complex element kept behind a `Box`.
    ///
    /// # Errors
    /// A second one, or an invalid one.
    pub fn boxed<T: FromXml + PartialEq>(
        &mut self,
        slot: &mut Option<Box<T>>,
        tag: &Tag<'i>,
    ) -> Result<(), Error> {
        if slot.is_some() {
            return Err(duplicate(tag));
        }
        *slot = self.kept(tag)?.map(Box::new);
        Ok(())
    }

    /// One more element of a repeating complex element.
    ///
    /// # Errors
    /// An invalid one.
    pub fn list<T: FromXml + PartialEq>(
        &mut self,
        slot: &mut Vec<T>,
        tag: &Tag<'i>,
    ) -> Result<(), Error> {
        let index = slot.len();
        let item = self.kept(tag).map_err(|e| e.at(&format!("[{index}]")))?;
        slot.extend(item);
        Ok(())
    }

    /// A primitive element: `value` and `id` attributes, extensions as children.
    ///
    /// # Errors
    /// A value its type does not allow, or an element with neither value nor extension.
    pub fn primitive_value<T: XmlValue>(&mut self, tag: &Tag<'i>) -> Result<Primitive<T>, Error> {
        let (read, _) = self.read_object::<PrimitiveXml<T>>(tag)?;
        let element = (read.id.is_some() || !read.extension.is_empty()).then(|| {
            Box::new(ElementData {
                id: read.id,
                extension: read.extension,
            })
        });
        if read.value.is_none() && element.is_none() {
            return Err(Error::data(format!(
                "<{}> has neither a value nor extensions (ele-1); FHIR XML leaves such \
                 elements out",
                tag.local_name()
            )));
        }
        Ok(Primitive {
            value: read.value,
            element,
        })
    }

    /// An optional primitive element.
    ///
    /// # Errors
    /// A second one, or an invalid one.
    pub fn primitive<T: XmlValue>(
        &mut self,
        slot: &mut Option<Primitive<T>>,
        tag: &Tag<'i>,
    ) -> Result<(), Error> {
        if slot.is_some() {
            return Err(duplicate(tag));
        }
        *slot = Some(self.primitive_value(tag)?);
        Ok(())
    }

    /// One more element of a repeating primitive element.
    ///
    /// # Errors
    /// An invalid one.
    pub fn primitive_list<T: XmlValue>(
        &mut self,
        slot: &mut Vec<Primitive<T>>,
        tag: &Tag<'i>,
    ) -> Result<(), Error> {
        let index = slot.len();
        let item = self
            .primitive_value(tag)
            .map_err(|e| e.at(&format!("[{index}]")))?;
        slot.push(item);
        Ok(())
    }

    /// The resource inside a resource-typed element (`<contained><Patient>…`).
    fn inner_resource(&mut self, tag: &Tag<'i>) -> Result<Resource, Error> {
        self.attributes(tag, |_, _| Ok(false))?;
        if tag.empty {
            return Err(Error::data(format!(
                "<{}> holds no resource",
                tag.local_name()
            )));
        }
        self.deeper(tag)?;
        let Next::Child(inner) = self.next()? else {
            return Err(Error::data(format!(
                "<{}> holds no resource",
                tag.local_name()
            )));
        };
        let name = inner.local_name();
        if inner.ns != Ns::Fhir {
            return Err(Error::data(format!(
                "element <{name}> is not in the FHIR namespace ({FHIR_NS})"
            ))
            .located(inner.offset));
        }
        let resource = Resource::read_xml(name, self, &inner)
            .map_err(|e| e.located(inner.offset))?
            .ok_or_else(|| {
                Error::data(format!("<{name}> is not an R4 resource type")).located(inner.offset)
            })?;
        match self.next()? {
            Next::End => {}
            Next::Child(extra) => {
                return Err(Error::data(format!(
                    "<{}> holds more than one resource",
                    tag.local_name()
                ))
                .located(extra.offset));
            }
        }
        self.depth -= 1;
        Ok(resource)
    }

    /// An optional resource-typed element.
    ///
    /// # Errors
    /// A second one, or an invalid one.
    pub fn resource(&mut self, slot: &mut Option<Resource>, tag: &Tag<'i>) -> Result<(), Error> {
        if slot.is_some() {
            return Err(duplicate(tag));
        }
        *slot = Some(self.inner_resource(tag)?);
        Ok(())
    }

    /// One more element of a repeating resource-typed element (`contained`).
    ///
    /// # Errors
    /// An invalid one.
    pub fn resource_list(&mut self, slot: &mut Vec<Resource>, tag: &Tag<'i>) -> Result<(), Error> {
        let index = slot.len();
        let item = self
            .inner_resource(tag)
            .map_err(|e| e.at(&format!("[{index}]")))?;
        slot.push(item);
        Ok(())
    }

    /// The narrative: the XHTML `div` as the text it was sent as (what FHIR JSON holds),
    /// with its namespace declared on it.
    ///
    /// # Errors
    /// A second one, one outside XHTML's namespace, or one that is not well-formed.
    pub fn xhtml(&mut self, slot: &mut Option<String>, tag: &Tag<'i>) -> Result<(), Error> {
        if slot.is_some() {
            return Err(duplicate(tag));
        }
        if tag.ns != Ns::Xhtml || tag.start.name().prefix().is_some() {
            return Err(Error::data(format!(
                "the narrative must be <div xmlns=\"{XHTML_NS}\">"
            )));
        }
        if !tag.empty {
            let end = tag.start.to_end().into_owned();
            self.inner.read_to_end(end.name()).map_err(|e| {
                Error::syntax(
                    format!("the narrative is not well-formed XML: {e}"),
                    self.inner.error_position(),
                    ParseErrorKind::Syntax,
                )
            })?;
        }
        let start = usize::try_from(tag.offset).unwrap_or(usize::MAX);
        let end = usize::try_from(self.inner.buffer_position()).unwrap_or(usize::MAX);
        let Some(raw) = self.input.get(start..end).filter(|r| r.starts_with("<div")) else {
            return Err(Error::data(
                "the narrative could not be located in the document",
            ));
        };
        let declared = tag
            .start
            .attributes()
            .flatten()
            .any(|a| a.key.as_ref() == "xmlns" && a.value.as_ref() == XHTML_NS);
        *slot = Some(if declared {
            raw.to_owned()
        } else {
            // Declared on an ancestor: FHIR JSON wants it on the div itself.
            format!(
                "<div xmlns=\"{XHTML_NS}\"{}",
                raw.get(4..).unwrap_or_default()
            )
        });
        Ok(())
    }
}

fn duplicate(tag: &Tag<'_>) -> Error {
    Error::data(format!(
        "element <{}> appears more than once but does not repeat",
        tag.local_name()
    ))
}

/// A primitive element as XML spells it.
struct PrimitiveXml<T> {
    value: Option<T>,
    id: Option<String>,
    extension: Vec<Extension>,
}

impl<T> Default for PrimitiveXml<T> {
    fn default() -> Self {
        Self {
            value: None,
            id: None,
            extension: Vec::new(),
        }
    }
}

impl<T: XmlValue> FromXml for PrimitiveXml<T> {
    fn read_attribute(&mut self, name: &str, value: String) -> Result<bool, Error> {
        match name {
            "value" => {
                if value.is_empty() {
                    return Err(Error::data(
                        "the value attribute is empty; FHIR XML leaves out a value that is \
                         not there",
                    ));
                }
                self.value = Some(T::from_xml(&value).map_err(Error::data)?);
                Ok(true)
            }
            "id" => super::attribute(&mut self.id, name, value),
            _ => Ok(false),
        }
    }

    fn read_child<'i>(
        &mut self,
        name: &str,
        r: &mut Reader<'i>,
        tag: &Tag<'i>,
    ) -> Result<Option<u16>, Error> {
        if name == "extension" {
            r.list(&mut self.extension, tag)?;
            Ok(Some(0))
        } else {
            Ok(None)
        }
    }
}
