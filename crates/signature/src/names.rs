//! Distinguished names compared as RFC 5280 §7.1 requires: attribute by attribute, with
//! the string values prepared (LDAP `StringPrep`, RFC 4518: case folded and insignificant
//! spaces removed), so that the same name written by two CAs in different string types,
//! capitalisation or spacing chains — and names that differ in anything else do not.
//!
//! What is prepared is RFC 4518's string preparation for names: characters mapped to
//! nothing removed (soft hyphens, zero-width and other format and control characters),
//! case folded (Unicode lower case), normalised (NFKC, with `unicode-normalization`), and
//! insignificant space removed (leading, trailing and repeated white space). A value
//! whose string type cannot be read is compared by its encoding only; where that decides
//! whether a name lies in a subtree, the answer is "cannot tell", which name constraints
//! treat as outside what is permitted and inside what is excluded.

use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Name;

/// `emailAddress` (PKCS #9): a mailbox in a distinguished name, which RFC 5280 §4.2.1.10
/// puts under rfc822Name constraints.
const OID_EMAIL_ADDRESS: &str = "1.2.840.113549.1.9.1";

/// A distinguished name ready for comparison.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Name {
    /// The relative distinguished names, in order; each a set of attributes, sorted.
    rdns: Vec<Vec<Attribute>>,
}

/// One attribute type and its prepared value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Attribute {
    oid: String,
    value: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Value {
    /// A directory string, prepared.
    Text(String),
    /// Anything else: its tag and content octets, compared exactly.
    Other(u32, Vec<u8>),
}

impl Name {
    /// The name encoded in `der` (a `Name`, as certificates and CRLs carry it); `None`
    /// when it cannot be read.
    pub(crate) fn from_der(der: &[u8]) -> Option<Self> {
        let (rest, name) = X509Name::from_der(der).ok()?;
        if !rest.is_empty() {
            return None;
        }
        Some(Self::from_parsed(&name))
    }

    /// The name `x509-parser` read.
    pub(crate) fn from_parsed(name: &X509Name<'_>) -> Self {
        let mut rdns = Vec::new();
        for rdn in name.iter_rdn() {
            let mut attributes = Vec::new();
            for attribute in rdn.iter() {
                let value = attribute.attr_value();
                let tag = value.header.tag();
                let value = match text(tag, value.data) {
                    Some(text) => Value::Text(prepare(&text)),
                    None => Value::Other(tag.0, value.data.to_vec()),
                };
                attributes.push(Attribute {
                    oid: attribute.attr_type().to_id_string(),
                    value,
                });
            }
            attributes.sort();
            rdns.push(attributes);
        }
        Self { rdns }
    }

    /// This name with one more relative name (its DER, a SET) at the end: a
    /// distribution point named relative to its CRL issuer (RFC 5280 §4.2.1.13).
    pub(crate) fn with_relative(&self, rdn: &[u8]) -> Option<Self> {
        let mut der = vec![0x30];
        let length = rdn.len();
        if length < 0x80 {
            der.push(u8::try_from(length).ok()?);
        } else {
            let bytes: Vec<u8> = length
                .to_be_bytes()
                .into_iter()
                .skip_while(|byte| *byte == 0)
                .collect();
            der.push(0x80 | u8::try_from(bytes.len()).ok()?);
            der.extend(bytes);
        }
        der.extend_from_slice(rdn);
        let relative = Self::from_der(&der)?;
        let mut name = self.clone();
        name.rdns.extend(relative.rdns);
        Some(name)
    }

    /// Whether the name has no attribute (an empty subject).
    pub(crate) fn is_empty(&self) -> bool {
        self.rdns.is_empty()
    }

    /// Whether `self` lies in the subtree rooted at `base`: `base`'s relative names are
    /// the first of `self`'s (RFC 5280 §4.2.1.10, directoryName constraints). `None` when
    /// it cannot be told: a relative name that differs holds a value whose string type
    /// could not be read.
    pub(crate) fn within(&self, base: &Self) -> Option<bool> {
        if base.rdns.len() > self.rdns.len() {
            return Some(false);
        }
        for (ours, theirs) in self.rdns.iter().zip(&base.rdns) {
            if ours != theirs {
                let unreadable = ours
                    .iter()
                    .chain(theirs)
                    .any(|attribute| matches!(attribute.value, Value::Other(..)));
                return if unreadable { None } else { Some(false) };
            }
        }
        Some(true)
    }

    /// The `emailAddress` values of the name, as written (not case folded); one that
    /// cannot be read is an empty text, which no e-mail constraint can be shown to hold.
    pub(crate) fn email_addresses(name: &X509Name<'_>) -> Vec<String> {
        name.iter_attributes()
            .filter(|attribute| attribute.attr_type().to_id_string() == OID_EMAIL_ADDRESS)
            .map(|attribute| {
                let value = attribute.attr_value();
                text(value.header.tag(), value.data).unwrap_or_default()
            })
            .collect()
    }
}

/// The characters of a directory string, by its ASN.1 type; `None` for other types.
fn text(tag: Tag, data: &[u8]) -> Option<String> {
    match tag {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::NumericString
        | Tag::VisibleString => String::from_utf8(data.to_vec()).ok(),
        // T.61 strings are, in practice, Latin-1.
        Tag::T61String => Some(data.iter().map(|&byte| char::from(byte)).collect()),
        Tag::BmpString => {
            if !data.len().is_multiple_of(2) {
                return None;
            }
            let units: Vec<u16> = data
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        Tag::UniversalString => {
            if !data.len().is_multiple_of(4) {
                return None;
            }
            data.chunks_exact(4)
                .map(|quad| {
                    char::from_u32(u32::from_be_bytes([quad[0], quad[1], quad[2], quad[3]]))
                })
                .collect()
        }
        _ => None,
    }
}

/// RFC 4518 string preparation: map (characters mapped to nothing removed, other
/// controls and separators to a space, case folded), normalise (NFKC), and remove
/// insignificant space (§2.2, §2.3, §2.6.1).
fn prepare(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    let mapped: String = text
        .chars()
        .filter(|c| !mapped_to_nothing(*c))
        .map(|c| {
            if c.is_whitespace() || c.is_control() {
                ' '
            } else {
                c
            }
        })
        .flat_map(char::to_lowercase)
        .collect();
    let normalised: String = mapped.nfkc().collect();
    let mut out = String::with_capacity(normalised.len());
    for word in normalised
        .split(char::is_whitespace)
        .filter(|word| !word.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The characters RFC 4518 §2.2 maps to nothing: soft hyphen, joiners, zero-width and
/// other format characters, variation selectors, the object replacement character, and
/// the controls that are not white space.
fn mapped_to_nothing(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{1806}'
            | '\u{180B}'..='\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFC}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    ) || (c.is_control() && !c.is_whitespace())
}

#[cfg(test)]
#[allow(
    clippy::cast_possible_truncation,
    clippy::expect_used,
    reason = "short test names built by hand"
)]
mod tests {
    use super::*;

    fn attribute(tag: u8, value: &str) -> Vec<u8> {
        let value = value.as_bytes();
        let mut atv = vec![0x06, 0x03, 0x55, 0x04, 0x03, tag, value.len() as u8];
        atv.extend_from_slice(value);
        let mut set = vec![0x30, atv.len() as u8];
        set.extend(atv);
        let mut rdn = vec![0x31, set.len() as u8];
        rdn.extend(set);
        rdn
    }

    fn name(rdns: &[Vec<u8>]) -> Name {
        let body: Vec<u8> = rdns.concat();
        let mut der = vec![0x30, body.len() as u8];
        der.extend(body);
        Name::from_der(&der).expect("a name")
    }

    #[test]
    fn case_spaces_and_string_types_do_not_matter() {
        let printable = name(&[attribute(0x13, "Good  CA")]);
        let utf8 = name(&[attribute(0x0c, " good ca ")]);
        assert_eq!(printable, utf8);
        assert_ne!(printable, name(&[attribute(0x0c, "goodca")]));
    }

    #[test]
    fn order_of_relative_names_matters() {
        let ab = name(&[attribute(0x13, "A"), attribute(0x13, "B")]);
        let ba = name(&[attribute(0x13, "B"), attribute(0x13, "A")]);
        assert_ne!(ab, ba);
        assert_eq!(ab.within(&name(&[attribute(0x13, "a")])), Some(true));
        assert_eq!(ab.within(&name(&[attribute(0x13, "b")])), Some(false));
        assert_eq!(ab.within(&Name::default()), Some(true));
        // A GeneralString (tag 27) cannot be read: whether it differs cannot be told.
        assert_eq!(
            name(&[attribute(27, "A")]).within(&name(&[attribute(0x13, "a")])),
            None
        );
    }

    #[test]
    fn prepare_handles_unicode_case_composition_and_invisible_characters() {
        assert_eq!(prepare("  CLÍNICA\tSAN  JOSÉ "), "clínica san josé");
        // Decomposed accents, a zero-width space, a soft hyphen, fullwidth letters.
        assert_eq!(
            prepare("Cli\u{301}nica\u{200B} Nor\u{AD}te"),
            "clínica norte"
        );
        assert_eq!(prepare("ＭＩＮＳＡ"), "minsa");
    }
}
