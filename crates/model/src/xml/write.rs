//! The FHIR XML writer: the generated `write_children` of each struct call it in
//! definition order.

use quick_xml::events::Event;

use super::{FHIR_NS, ToXml, WriteError, XHTML_NS, XmlValue};
use crate::primitive::Primitive;
use crate::resources::Resource;

/// Writes FHIR XML into a string.
#[doc(hidden)]
#[derive(Debug)]
pub struct Writer {
    out: String,
    /// A start tag is written up to its attributes: `>` or `/>` is still to come.
    open: bool,
    depth: usize,
    /// The first value that cannot be written.
    error: Option<WriteError>,
}

impl Writer {
    pub(super) fn new() -> Self {
        let mut out = String::with_capacity(4096);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
        Self {
            out,
            open: false,
            depth: 0,
            error: None,
        }
    }

    pub(super) fn finish(self) -> Result<String, WriteError> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.out),
        }
    }

    fn close_start(&mut self) {
        if self.open {
            self.out.push('>');
            self.open = false;
        }
    }

    fn start(&mut self, name: &str) {
        self.close_start();
        self.out.push('<');
        self.out.push_str(name);
        self.open = true;
        self.depth += 1;
    }

    fn end(&mut self, name: &str) {
        self.depth -= 1;
        if self.open {
            self.out.push_str("/>");
            self.open = false;
        } else {
            self.out.push_str("</");
            self.out.push_str(name);
            self.out.push('>');
        }
    }

    /// Writes an attribute of the start tag being written.
    pub fn attribute(&mut self, name: &str, value: &str) {
        self.out.push(' ');
        self.out.push_str(name);
        self.out.push_str("=\"");
        let mut plain = 0;
        for (i, c) in value.char_indices() {
            let escaped = match c {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                // Written as references: a parser turns literal ones into spaces.
                '\n' => "&#10;",
                '\r' => "&#13;",
                '\t' => "&#9;",
                c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => {
                    self.error
                        .get_or_insert(WriteError::Character(u32::from(c)));
                    ""
                }
                _ => continue,
            };
            self.out.push_str(&value[plain..i]);
            self.out.push_str(escaped);
            plain = i + c.len_utf8();
        }
        self.out.push_str(&value[plain..]);
        self.out.push('"');
    }

    /// Writes a complex element.
    pub fn object<T: ToXml + ?Sized>(&mut self, name: &str, value: &T) {
        self.start(name);
        value.write_attributes(self);
        value.write_children(self);
        self.end(name);
    }

    /// Writes each element of a repeating complex element.
    pub fn list<T: ToXml>(&mut self, name: &str, items: &[T]) {
        for item in items {
            self.object(name, item);
        }
    }

    /// Writes a primitive element: `id` and `value` attributes, extensions inside.
    pub fn primitive<T: XmlValue>(&mut self, name: &str, p: &Primitive<T>) {
        // Nothing to say (a lenient reader dropped all of it): no element (ele-1).
        if p.is_empty() {
            return;
        }
        self.start(name);
        if let Some(id) = p.id() {
            self.attribute("id", id);
        }
        if let Some(value) = &p.value {
            self.attribute("value", &value.to_xml());
        }
        self.list("extension", p.extensions());
        self.end(name);
    }

    /// Writes each element of a repeating primitive element.
    pub fn primitive_list<T: XmlValue>(&mut self, name: &str, items: &[Primitive<T>]) {
        for item in items {
            self.primitive(name, item);
        }
    }

    /// Writes a resource-typed element: the resource's own element inside it.
    pub fn resource(&mut self, name: &str, resource: &Resource) {
        self.start(name);
        resource.write_xml(self);
        self.end(name);
    }

    /// Writes each element of a repeating resource-typed element.
    pub fn resource_list(&mut self, name: &str, resources: &[Resource]) {
        for resource in resources {
            self.resource(name, resource);
        }
    }

    /// Writes a resource as the element named by its type; the document's root carries
    /// the FHIR namespace, which the resources inside it inherit.
    pub fn resource_element<T: ToXml + ?Sized>(&mut self, name: &str, resource: &T) {
        let root = self.depth == 0;
        self.start(name);
        if root {
            self.attribute("xmlns", FHIR_NS);
        }
        resource.write_attributes(self);
        resource.write_children(self);
        self.end(name);
    }

    /// Writes the narrative's XHTML as it is held, once it is known to be one
    /// well-formed `div` element: a narrative is text from outside, and anything else
    /// would change the document around it.
    pub fn xhtml(&mut self, div: &str) {
        match check_div(div) {
            Ok(declared) => {
                self.close_start();
                if declared {
                    self.out.push_str(div);
                } else {
                    self.out.push_str("<div xmlns=\"");
                    self.out.push_str(XHTML_NS);
                    self.out.push('"');
                    // `check_div` saw it start with `<div`.
                    self.out.push_str(div.get(4..).unwrap_or_default());
                }
            }
            Err(e) => {
                self.error.get_or_insert(WriteError::Narrative(e));
            }
        }
    }
}

/// Whether `div` is exactly one well-formed element `<div …>…</div>`, and whether it
/// declares XHTML's namespace itself. Well-formed as an XML parser reads it: attributes
/// and references checked (only XML's own entities and character references), no
/// comment holding `--`, no character XML cannot carry.
fn check_div(div: &str) -> Result<bool, String> {
    let opens = div
        .strip_prefix("<div")
        .and_then(|rest| rest.chars().next())
        .is_some_and(|c| matches!(c, ' ' | '\t' | '\r' | '\n' | '>' | '/'));
    if !opens {
        return Err("it does not start with <div".to_owned());
    }
    let text = |t: &str| -> Result<(), String> {
        match t.chars().find(|c| {
            (*c < ' ' && !matches!(c, '\t' | '\r' | '\n')) || matches!(c, '\u{fffe}' | '\u{ffff}')
        }) {
            Some(c) => Err(format!("it holds the character U+{:04X}", u32::from(c))),
            None => Ok(()),
        }
    };
    // The attributes of an element, checked; whether it declares XHTML's namespace
    // (`Some(false)`: another one).
    let attributes = |start: &quick_xml::events::BytesStart<'_>| -> Result<Option<bool>, String> {
        let mut declared = None;
        for attribute in start.attributes().with_checks(true) {
            let attribute = attribute.map_err(|e| e.to_string())?;
            let value = attribute
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| e.to_string())?;
            text(&value)?;
            if attribute.key.as_ref() == "xmlns" {
                declared = Some(value == XHTML_NS);
            }
        }
        Ok(declared)
    };
    let root = |declared: Option<bool>| match declared {
        Some(false) => Err("the div declares a namespace other than XHTML's".to_owned()),
        Some(true) => Ok(true),
        None => Ok(false),
    };
    let mut reader = quick_xml::Reader::from_str(div);
    reader.config_mut().check_comments = true;
    let mut depth = 0usize;
    let mut declared = None;
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(start) => {
                let own = attributes(&start)?;
                if declared.is_none() {
                    declared = Some(root(own)?);
                }
                depth += 1;
            }
            Event::Empty(start) => {
                let own = attributes(&start)?;
                if declared.is_none() {
                    declared = Some(root(own)?);
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Text(t) => text(&t)?,
            Event::CData(t) => text(&t.xml_content(quick_xml::XmlVersion::Implicit1_0))?,
            Event::GeneralRef(r) => {
                let name: &str = &r;
                let known = matches!(name, "amp" | "lt" | "gt" | "quot" | "apos")
                    || r.resolve_char_ref().ok().flatten().is_some();
                if !known {
                    return Err(format!(
                        "it refers to the entity &{name};, which XML does not define (write the character itself)"
                    ));
                }
            }
            Event::DocType(_) | Event::Decl(_) => {
                return Err("a declaration stands inside the narrative".to_owned());
            }
            Event::Eof => return Err("the div is not closed".to_owned()),
            Event::Comment(_) | Event::PI(_) => {}
        }
        if depth == 0
            && let Some(declared) = declared
        {
            return match reader.read_event().map_err(|e| e.to_string())? {
                Event::Eof => Ok(declared),
                _ => Err("something follows the div element".to_owned()),
            };
        }
    }
}
