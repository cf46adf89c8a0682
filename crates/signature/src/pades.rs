//! PDF signatures (ISO 32000-1 §12.8, ETSI EN 319 142-1 `PAdES`): the signature
//! dictionaries of a PDF, what each `/ByteRange` covers, and what the file's later
//! revisions changed.
//!
//! The PDF's object structure is read with `lopdf` (docs/dependencies.md says why); the
//! byte ranges, the CMS and the certificate checks are this crate's own. A signature counts
//! only if:
//!
//! - its `/ByteRange` is `[0 a b c]` with `a < b` and `b + c` the end of a revision (a
//!   `%%EOF`), so it covers a whole revision of the file but one gap;
//! - the gap is exactly the hexadecimal string of the dictionary's own `/Contents`, and the
//!   dictionary starts inside the signed bytes (no signature wrapping: the `/ByteRange`
//!   and every other entry are signed);
//! - every object a later revision changed is one a later signer may change: validation
//!   material (`/DSS`), document time-stamps, new signatures, form filling, annotations,
//!   as the certification signature's `DocMDP` level (`/P`) allows. Anything else (a page's
//!   content, a signed signature dictionary, a new catalog) means the file no longer shows
//!   what was signed.
//!
//! A file whose cross-reference data had to be repaired to be read, or that is encrypted,
//! is refused as a whole: what it shows depends on the reader's guesses.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::{self, Write as _};
use std::sync::Arc;

use lopdf::{Dictionary, Document, Object, ObjectId, xref::XrefEntry};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// The media type of a PDF.
pub const PDF: &str = "application/pdf";

/// The most signatures and document time-stamps one file may carry: each costs a
/// verification, and the revisions they end are loaded once each.
pub const MAX_SIGNATURES: usize = 32;

/// How many form-field nodes are walked at most (a bound against cyclic or huge trees).
const MAX_FIELD_NODES: usize = 10_000;

/// The longest field name reported, in bytes.
const MAX_NAME: usize = 512;

/// Why a PDF cannot be examined at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PdfError {
    /// The bytes do not start with a PDF header.
    #[error("the file is not a PDF (it does not start with %PDF-)")]
    NotPdf,
    /// The PDF structure cannot be read.
    #[error("the PDF cannot be read: {detail}")]
    Unreadable {
        /// What the PDF reader says.
        detail: String,
    },
    /// The cross-reference data had to be rebuilt to read the file.
    #[error(
        "the PDF's cross-reference table is damaged and had to be rebuilt to read it: a signed PDF must be read as written"
    )]
    Repaired,
    /// The file is encrypted.
    #[error("the PDF is encrypted: its signatures cannot be checked without decrypting it")]
    Encrypted,
    /// A cross-reference entry points at another object than the one it numbers.
    #[error(
        "the PDF's cross-reference table and its objects disagree about object {number}: what a viewer shows could differ from what is checked"
    )]
    Inconsistent {
        /// The object (or object stream) number.
        number: u32,
    },
    /// A form with more fields than are examined.
    #[error("the PDF's form has more than {max} fields: it is not examined")]
    TooManyFields {
        /// The limit.
        max: usize,
    },
    /// More signatures than are examined.
    #[error(
        "the PDF carries {count} signatures and document time-stamps; at most {max} are examined"
    )]
    TooManySignatures {
        /// How many there are.
        count: usize,
        /// The limit, [`MAX_SIGNATURES`].
        max: usize,
    },
}

/// Why one signature dictionary of a PDF cannot be verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PdfSignatureError {
    /// The signature field's value is not an indirect signature dictionary.
    #[error("the signature field's /V is not an indirect signature dictionary")]
    NotIndirect,
    /// A required entry is missing or of the wrong type.
    #[error("the signature dictionary has no usable {entry}")]
    Missing {
        /// The entry (`/ByteRange`, `/Contents`, `/SubFilter`).
        entry: &'static str,
    },
    /// A `/SubFilter` this verifier does not verify.
    #[error(
        "/SubFilter {sub_filter} is not supported (ETSI.CAdES.detached and adbe.pkcs7.detached are, and ETSI.RFC3161 for document time-stamps)"
    )]
    UnsupportedSubFilter {
        /// The sub-filter.
        sub_filter: String,
    },
    /// The `/ByteRange` is not four numbers `[0 a b c]` inside the file with `a < b`.
    #[error(
        "the /ByteRange {byte_range} is not [0 a b c] with a < b inside the file of {length} bytes"
    )]
    ByteRange {
        /// The `/ByteRange` as written.
        byte_range: String,
        /// The file's length.
        length: usize,
    },
    /// The signed bytes end elsewhere than at the end of a revision.
    #[error(
        "the /ByteRange ends at byte {end}, which is not the end of a revision (%%EOF): part of what it signs is not part of the document"
    )]
    NotRevisionEnd {
        /// Where the signed bytes end.
        end: usize,
    },
    /// The gap is not the signature dictionary's own `/Contents`.
    #[error(
        "the gap the /ByteRange leaves (bytes {start} to {end}) is not this signature's /Contents: the signed bytes are not those the dictionary says"
    )]
    GapNotContents {
        /// Where the gap starts.
        start: usize,
        /// Where it ends.
        end: usize,
    },
    /// The revision the signature signs cannot be read on its own.
    #[error(
        "the revision that ends at byte {end}, which the /ByteRange signs, cannot be read on its own: {detail}"
    )]
    Revision {
        /// Where it ends.
        end: usize,
        /// Why it cannot be read.
        detail: String,
    },
    /// A later revision changed the signature dictionary.
    #[error(
        "a later revision changed the signature dictionary: what it says now is not what was signed"
    )]
    DictionaryChanged,
    /// The signature dictionary is not inside the bytes it signs.
    #[error(
        "the signature dictionary is not inside the bytes its /ByteRange signs, so its own entries are not signed"
    )]
    DictionaryNotSigned,
    /// The `/M` entry is not a PDF date.
    #[error("/M {value:?} is not a PDF date (D:YYYYMMDDHHmmSSOHH'mm')")]
    BadDate {
        /// The entry as written.
        value: String,
    },
}

/// A signature dictionary's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A signature (`/Type /Sig`).
    Signature,
    /// A document time-stamp (`/Type /DocTimeStamp`, `ETSI.RFC3161`).
    DocumentTimestamp,
}

/// What a later revision changed, by the class of change `DocMDP` and `PAdES` judge.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Change {
    /// Validation material: the `/DSS` and what it holds.
    Validation,
    /// A document time-stamp and its field.
    DocumentTimestamp,
    /// A new signature, its field and widget.
    Signature,
    /// Form fields filled in.
    FormFill,
    /// Annotations added, changed or removed.
    Annotation,
    /// The document's metadata (the XMP stream, the information dictionary), which
    /// signing software updates and no reader shows as the document.
    Metadata,
    /// Anything else, described.
    Other(String),
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Validation => f.write_str("validation material (DSS)"),
            Self::DocumentTimestamp => f.write_str("a document time-stamp"),
            Self::Signature => f.write_str("a signature"),
            Self::FormFill => f.write_str("form filling"),
            Self::Annotation => f.write_str("annotations"),
            Self::Metadata => f.write_str("metadata"),
            Self::Other(what) => f.write_str(what),
        }
    }
}

/// The signed part of a signature dictionary, once its `/ByteRange` holds.
#[derive(Debug, Clone)]
pub(crate) struct Signed {
    /// The `/ByteRange`.
    pub(crate) byte_range: [usize; 4],
    /// Where the signed bytes end: the end of the revision the signature signs.
    pub(crate) end: usize,
    /// Which revision that is (1 is the first).
    pub(crate) revision: usize,
    /// The DER in `/Contents`, trailing padding removed.
    pub(crate) contents: Vec<u8>,
    /// Whether the signed revision holds validation material (a `/DSS`): a document
    /// time-stamp over it is an archive time-stamp.
    pub(crate) dss: bool,
}

/// One signature dictionary of the file.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The field's fully qualified name (`Firma1`, `Formulario.Firma`).
    pub(crate) field: String,
    pub(crate) kind: Kind,
    /// `/SubFilter`.
    pub(crate) sub_filter: String,
    /// `/M`, the signer's claimed signing time (signed, as part of the dictionary).
    pub(crate) claimed: Option<OffsetDateTime>,
    /// `/Name`, `/Reason`, `/Location`, as written (informative).
    pub(crate) name: Option<String>,
    pub(crate) reason: Option<String>,
    /// The `DocMDP` level of a certification signature (1, 2 or 3).
    pub(crate) docmdp: Option<u8>,
    /// The signed bytes, or why they cannot be trusted.
    pub(crate) signed: Result<Signed, PdfSignatureError>,
}

/// A PDF's signatures, its revisions, and what changed after each.
pub(crate) struct PdfFile<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) entries: Vec<Entry>,
    /// The end of each revision, in order.
    pub(crate) revisions: Vec<usize>,
    /// What changed after each signed revision end (none for the last).
    changes: HashMap<usize, Result<BTreeSet<Change>, PdfError>>,
    /// The validation material of the document security store, as the file has it now.
    pub(crate) dss: crate::revocation::Carried,
}

impl<'a> PdfFile<'a> {
    /// Reads the signature dictionaries of `bytes` and analyses every revision a signature
    /// ends.
    pub(crate) fn read(bytes: &'a [u8]) -> Result<Self, PdfError> {
        if !bytes.starts_with(b"%PDF-") {
            return Err(PdfError::NotPdf);
        }
        let document = load(bytes)?;
        let revisions = revision_ends(bytes);
        let fields = signature_fields(&document)?;
        if fields.len() > MAX_SIGNATURES {
            return Err(PdfError::TooManySignatures {
                count: fields.len(),
                max: MAX_SIGNATURES,
            });
        }
        // What changed after each signed revision, computed when the revision is read
        // (each revision's document is dropped once compared).
        let mut changes: HashMap<usize, Result<BTreeSet<Change>, PdfError>> = HashMap::new();
        let mut entries = Vec::with_capacity(fields.len());
        for (field, value) in fields {
            entries.push(entry(
                bytes,
                &document,
                &revisions,
                &mut changes,
                field,
                &value,
            ));
        }
        let dss = dss_material(&document);
        Ok(Self {
            bytes,
            entries,
            revisions,
            changes,
            dss,
        })
    }

    /// The bytes `signed` covers, in order (the two ranges).
    pub(crate) fn ranges(&self, signed: &Signed) -> [&'a [u8]; 2] {
        let [start, length, second, second_length] = signed.byte_range;
        [
            &self.bytes[start..start + length],
            &self.bytes[second..second + second_length],
        ]
    }

    /// The bytes `signed` covers, joined (what a document time-stamp's imprint is over).
    pub(crate) fn joined(&self, signed: &Signed) -> Arc<[u8]> {
        let [first, second] = self.ranges(signed);
        let mut joined = Vec::with_capacity(first.len() + second.len());
        joined.extend_from_slice(first);
        joined.extend_from_slice(second);
        joined.into()
    }

    /// What changed after the revision that ends at `end` (empty when it is the last).
    pub(crate) fn changes_after(&self, end: usize) -> Result<BTreeSet<Change>, PdfError> {
        self.changes
            .get(&end)
            .cloned()
            .unwrap_or_else(|| Ok(BTreeSet::new()))
    }

    /// The `DocMDP` level that holds for changes after the revision ending at `end`: that
    /// of a certification signature in or before that revision.
    pub(crate) fn docmdp_at(&self, end: usize) -> Option<(u8, &str)> {
        // A certification whose own byte range does not hold still speaks for the
        // document: the strictest level counts.
        self.entries
            .iter()
            .filter_map(|entry| {
                let before = entry
                    .signed
                    .as_ref()
                    .map_or(true, |signed| signed.end <= end);
                before.then_some((entry.docmdp?, entry.field.as_str()))
            })
            .min_by_key(|(level, _)| *level)
    }
}

/// Which changes a `DocMDP` level allows after a signature (ISO 32000-1 §12.8.2.2; `PAdES`
/// adds validation material and document time-stamps at every level, ETSI EN 319 142-1
/// §5.4). Without a certification signature nothing but "other" changes is refused.
pub(crate) fn allowed(level: Option<u8>, change: &Change) -> bool {
    match change {
        Change::Validation | Change::DocumentTimestamp | Change::Metadata => true,
        Change::Signature | Change::FormFill => level.is_none_or(|level| level >= 2),
        Change::Annotation => level.is_none_or(|level| level >= 3),
        Change::Other(_) => false,
    }
}

fn load(bytes: &[u8]) -> Result<Document, PdfError> {
    // lopdf is a general-purpose reader; a panic on a hostile file must not take the
    // verifier (or the registry) down with it. Strict: an object that does not parse is
    // an error, not an object silently left out.
    let options = lopdf::LoadOptions {
        strict: true,
        ..lopdf::LoadOptions::default()
    };
    let mut document = std::panic::catch_unwind(|| Document::load_mem_with_options(bytes, options))
        .map_err(|_| PdfError::Unreadable {
            detail: "the PDF reader gave up on its structure".into(),
        })?
        .map_err(|error| PdfError::Unreadable {
            detail: error.to_string(),
        })?;
    if document.xref_recovery.is_some() {
        return Err(PdfError::Repaired);
    }
    if document.is_encrypted() || document.was_encrypted() || document.trailer.has(b"Encrypt") {
        return Err(PdfError::Encrypted);
    }
    consistent(bytes, &mut document)?;
    Ok(document)
}

/// Holds the objects to what the cross-reference table says: a reader files an object
/// under the number in its own header, a viewer finds it through the table, so each
/// in-use entry must point at an object with its own number and generation (a later
/// revision could otherwise point entry 10 at new content and another entry at the old
/// object 10, which the reader would keep). Objects the table does not list are dropped:
/// a viewer cannot reach them.
fn consistent(bytes: &[u8], document: &mut Document) -> Result<(), PdfError> {
    let mismatch = |number: u32| PdfError::Inconsistent { number };
    let mut containers: HashMap<u32, Vec<(u32, u16)>> = HashMap::new();
    for (&number, entry) in &document.reference_table.entries {
        match *entry {
            XrefEntry::Normal { offset, generation } => {
                let offset = usize::try_from(offset).map_err(|_| mismatch(number))?;
                if object_header(bytes.get(offset..).unwrap_or_default())
                    != Some((number, generation))
                {
                    return Err(mismatch(number));
                }
            }
            XrefEntry::Compressed { container, index } => {
                containers
                    .entry(container)
                    .or_default()
                    .push((number, index));
            }
            XrefEntry::Free | XrefEntry::UnusableFree => {}
        }
    }
    for (container, members) in containers {
        let numbers = document
            .objects
            .get(&(container, 0))
            .and_then(|object| object.as_stream().ok())
            .and_then(|stream| {
                let count = stream.dict.get(b"N").and_then(Object::as_i64).ok()?;
                let first = stream.dict.get(b"First").and_then(Object::as_i64).ok()?;
                let content = stream.decompressed_content().ok()?;
                let header = content.get(..usize::try_from(first).ok()?)?;
                stream_numbers(header, usize::try_from(count).ok()?)
            })
            .ok_or(mismatch(container))?;
        let unique: HashSet<&u32> = numbers.iter().collect();
        if unique.len() != numbers.len() {
            return Err(mismatch(container));
        }
        for (number, index) in members {
            if numbers.get(usize::from(index)) != Some(&number) {
                return Err(mismatch(number));
            }
        }
    }
    let table = &document.reference_table;
    document.objects.retain(|id, _| match table.get(id.0) {
        Some(XrefEntry::Normal { generation, .. }) => *generation == id.1,
        Some(XrefEntry::Compressed { .. }) => id.1 == 0,
        _ => false,
    });
    Ok(())
}

/// The `N G obj` header at the start of `bytes`.
fn object_header(bytes: &[u8]) -> Option<(u32, u16)> {
    let text = std::str::from_utf8(bytes.get(..bytes.len().min(40))?)
        .or_else(|error| std::str::from_utf8(&bytes[..error.valid_up_to()]))
        .ok()?;
    let mut words = text.split_ascii_whitespace();
    let number = words.next()?.parse().ok()?;
    let generation = words.next()?.parse().ok()?;
    words
        .next()?
        .starts_with("obj")
        .then_some((number, generation))
}

/// The `count` object numbers an object stream's header (the bytes before `/First`)
/// lists, in order.
fn stream_numbers(header: &[u8], count: usize) -> Option<Vec<u32>> {
    let text = std::str::from_utf8(header).ok()?;
    let mut words = text.split_ascii_whitespace();
    let mut numbers = Vec::with_capacity(count.min(1 << 16));
    for _ in 0..count {
        numbers.push(words.next()?.parse().ok()?);
        words.next()?.parse::<u64>().ok()?;
    }
    Some(numbers)
}

/// Where each revision ends: after each `%%EOF` and the end-of-line that follows it.
fn revision_ends(bytes: &[u8]) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut from = 0;
    while let Some(found) = find(&bytes[from..], b"%%EOF") {
        let mut end = from + found + 5;
        if bytes.get(end) == Some(&b'\r') {
            end += 1;
        }
        if bytes.get(end) == Some(&b'\n') {
            end += 1;
        }
        ends.push(end);
        from = end;
    }
    ends
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// The signature fields with a value: fully qualified name and `/V`.
fn signature_fields(document: &Document) -> Result<Vec<(String, Object)>, PdfError> {
    let mut found = Vec::new();
    let Ok(catalog) = document.catalog() else {
        return Ok(found);
    };
    let Some(fields) = catalog
        .get(b"AcroForm")
        .ok()
        .and_then(|form| deref(document, form).as_dict().ok())
        .and_then(|form| form.get(b"Fields").ok())
        .and_then(|fields| deref(document, fields).as_array().ok())
    else {
        return Ok(found);
    };
    let too_many = PdfError::TooManyFields {
        max: MAX_FIELD_NODES,
    };
    if fields.len() > MAX_FIELD_NODES {
        return Err(too_many);
    }
    // Each node is taken once (a reference seen before is not pushed again), and the
    // nodes taken are bounded: a cyclic or huge field tree is refused, not walked.
    let mut seen = HashSet::new();
    let mut stack: Vec<(Object, String, Option<Vec<u8>>)> = Vec::new();
    for field in fields.iter().rev() {
        if let Object::Reference(id) = field
            && !seen.insert(*id)
        {
            continue;
        }
        stack.push((field.clone(), String::new(), None));
    }
    let mut taken = stack.len();
    while let Some((node, parent, inherited)) = stack.pop() {
        let Ok(dict) = deref(document, &node).as_dict() else {
            continue;
        };
        let mut name = match dict.get(b"T").and_then(Object::as_str) {
            Ok(partial) if parent.is_empty() => text(partial),
            Ok(partial) => format!("{parent}.{}", text(partial)),
            Err(_) => parent.clone(),
        };
        // A name is for people: a few hundred characters say which field it is.
        if name.len() > MAX_NAME {
            let mut end = MAX_NAME;
            while !name.is_char_boundary(end) {
                end -= 1;
            }
            name.truncate(end);
        }
        let kind = dict
            .get(b"FT")
            .and_then(Object::as_name)
            .ok()
            .map(<[u8]>::to_vec)
            .or(inherited);
        if let Ok(kids) = dict
            .get(b"Kids")
            .and_then(|kids| deref(document, kids).as_array())
        {
            for kid in kids.iter().rev() {
                if let Object::Reference(id) = kid
                    && !seen.insert(*id)
                {
                    continue;
                }
                taken += 1;
                if taken > MAX_FIELD_NODES {
                    return Err(too_many);
                }
                stack.push((kid.clone(), name.clone(), kind.clone()));
            }
        }
        if kind.as_deref() == Some(b"Sig")
            && let Ok(value) = dict.get(b"V")
            && !matches!(deref(document, value), Object::Null)
        {
            found.push((name, value.clone()));
        }
    }
    Ok(found)
}

fn deref<'d>(document: &'d Document, object: &'d Object) -> &'d Object {
    document
        .dereference(object)
        .map_or(&Object::Null, |(_, object)| object)
}

/// A PDF text string as text (UTF-16BE with a byte order mark, else `PDFDocEncoding`,
/// read as Latin-1, which it equals for letters).
fn text(bytes: &[u8]) -> String {
    if let Some(utf16) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        let units: Vec<u16> = utf16
            .chunks_exact(2)
            .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    bytes.iter().map(|&byte| char::from(byte)).collect()
}

fn entry(
    bytes: &[u8],
    document: &Document,
    revisions: &[usize],
    changes: &mut HashMap<usize, Result<BTreeSet<Change>, PdfError>>,
    field: String,
    value: &Object,
) -> Entry {
    let mut entry = Entry {
        field,
        kind: Kind::Signature,
        sub_filter: String::new(),
        claimed: None,
        name: None,
        reason: None,
        docmdp: None,
        signed: Err(PdfSignatureError::NotIndirect),
    };
    let Object::Reference(id) = value else {
        return entry;
    };
    let Ok(dict) = document.get_dictionary(*id) else {
        return entry;
    };
    entry.sub_filter = dict
        .get(b"SubFilter")
        .and_then(Object::as_name)
        .map(text)
        .unwrap_or_default();
    let is_timestamp = dict.get(b"Type").and_then(Object::as_name).ok() == Some(b"DocTimeStamp")
        || entry.sub_filter == "ETSI.RFC3161";
    if is_timestamp {
        entry.kind = Kind::DocumentTimestamp;
    }
    entry.name = dict.get(b"Name").and_then(Object::as_str).ok().map(text);
    entry.reason = dict.get(b"Reason").and_then(Object::as_str).ok().map(text);
    entry.docmdp = docmdp(document, dict);
    entry.signed = (|| {
        match (entry.kind, entry.sub_filter.as_str()) {
            (Kind::Signature, "ETSI.CAdES.detached" | "adbe.pkcs7.detached")
            | (Kind::DocumentTimestamp, "ETSI.RFC3161") => {}
            _ => {
                return Err(PdfSignatureError::UnsupportedSubFilter {
                    sub_filter: entry.sub_filter.clone(),
                });
            }
        }
        if let Ok(date) = dict.get(b"M").and_then(Object::as_str) {
            entry.claimed = Some(
                pdf_date(date).ok_or_else(|| PdfSignatureError::BadDate { value: text(date) })?,
            );
        }
        signed(bytes, document, revisions, changes, *id, dict)
    })();
    entry
}

/// The `DocMDP` level of a certification signature: `/Reference` names the `DocMDP`
/// transform, whose `/P` defaults to 2.
fn docmdp(document: &Document, dict: &Dictionary) -> Option<u8> {
    let references = dict
        .get(b"Reference")
        .ok()
        .and_then(|references| deref(document, references).as_array().ok())?;
    references.iter().find_map(|reference| {
        let reference = deref(document, reference).as_dict().ok()?;
        if reference
            .get(b"TransformMethod")
            .and_then(Object::as_name)
            .ok()
            != Some(b"DocMDP")
        {
            return None;
        }
        let level = reference
            .get(b"TransformParams")
            .ok()
            .and_then(|params| deref(document, params).as_dict().ok())
            .and_then(|params| params.get(b"P").and_then(Object::as_i64).ok())
            .unwrap_or(2);
        // A level outside 1..=3 is not one the signer could have meant as a permission:
        // the strictest is assumed.
        Some(
            u8::try_from(level)
                .ok()
                .filter(|level| (1..=3).contains(level))
                .unwrap_or(1),
        )
    })
}

/// Checks the `/ByteRange` of the signature dictionary `id` and gives what it signs.
fn signed(
    bytes: &[u8],
    document: &Document,
    revisions: &[usize],
    changes: &mut HashMap<usize, Result<BTreeSet<Change>, PdfError>>,
    id: ObjectId,
    dict: &Dictionary,
) -> Result<Signed, PdfSignatureError> {
    let range = dict
        .get(b"ByteRange")
        .and_then(|range| deref(document, range).as_array())
        .map_err(|_| PdfSignatureError::Missing {
            entry: "/ByteRange",
        })?;
    let written = || {
        let numbers: Vec<String> = range
            .iter()
            .map(|number| {
                number
                    .as_i64()
                    .map_or_else(|_| "?".to_owned(), |n| n.to_string())
            })
            .collect();
        format!("[{}]", numbers.join(" "))
    };
    let refuse = || PdfSignatureError::ByteRange {
        byte_range: written(),
        length: bytes.len(),
    };
    let numbers: Vec<usize> = range
        .iter()
        .map(|number| number.as_i64().ok().and_then(|n| usize::try_from(n).ok()))
        .collect::<Option<_>>()
        .ok_or_else(refuse)?;
    let [0, length, second, second_length] = numbers[..] else {
        return Err(refuse());
    };
    let end = second.checked_add(second_length).ok_or_else(refuse)?;
    if length == 0 || second <= length + 1 || end > bytes.len() {
        return Err(refuse());
    }
    let Some(revision) = revisions.iter().position(|&ends| ends == end) else {
        return Err(PdfSignatureError::NotRevisionEnd { end });
    };
    // The gap must be exactly `<hex>` of this dictionary's /Contents.
    let gap = &bytes[length..second];
    let not_contents = PdfSignatureError::GapNotContents {
        start: length,
        end: second,
    };
    let hex = gap
        .strip_prefix(b"<")
        .and_then(|gap| gap.strip_suffix(b">"))
        .ok_or_else(|| not_contents.clone())?;
    let decoded = decode_hex(hex).ok_or_else(|| not_contents.clone())?;
    // What was signed is the revision that ends at `end`: its own copy of the dictionary
    // is the one that counts.
    let before = if end == bytes.len() {
        None
    } else {
        match load(&bytes[..end]) {
            Ok(before) => Some(before),
            Err(error) => {
                changes.insert(end, Err(error.clone()));
                return Err(PdfSignatureError::Revision {
                    end,
                    detail: error.to_string(),
                });
            }
        }
    };
    let before_or_now = before.as_ref().unwrap_or(document);
    let signed_dict = before_or_now
        .get_dictionary(id)
        .map_err(|_| PdfSignatureError::DictionaryNotSigned)?;
    // The dictionary as the file has it now must be the one signed: every entry read from
    // it (/M, /Reference, /SubFilter) is then a signed one.
    if signed_dict != dict {
        return Err(PdfSignatureError::DictionaryChanged);
    }
    let contents = signed_dict
        .get(b"Contents")
        .and_then(Object::as_str)
        .map_err(|_| PdfSignatureError::Missing { entry: "/Contents" })?;
    if contents != decoded.as_slice()
        || signed_dict.get(b"ByteRange").ok() != dict.get(b"ByteRange").ok()
    {
        return Err(not_contents);
    }
    // The dictionary must start inside the first range and the gap must be inside it: no
    // `endobj` between its start and the gap.
    match before_or_now.reference_table.get(id.0) {
        Some(XrefEntry::Normal { offset, .. })
            if usize::try_from(*offset).is_ok_and(|offset| {
                offset < length && find(&bytes[offset..length], b"endobj").is_none()
            }) => {}
        _ => return Err(PdfSignatureError::DictionaryNotSigned),
    }
    if let Some(before) = &before {
        changes
            .entry(end)
            .or_insert_with(|| Ok(changes_between(before, document)));
    }
    let dss = before_or_now
        .catalog()
        .is_ok_and(|catalog| catalog.has(b"DSS"));
    Ok(Signed {
        byte_range: [0, length, second, second_length],
        end,
        revision: revision + 1,
        contents: der_prefix(&decoded).to_vec(),
        dss,
    })
}

/// The DER element at the start of `bytes` (`/Contents` is padded with zeros after it;
/// trimming zeros instead would cut a value that ends in one).
fn der_prefix(bytes: &[u8]) -> &[u8] {
    let length = match bytes {
        [_, short, ..] if *short < 0x80 => Some(2 + usize::from(*short)),
        [_, long, rest @ ..] if (0x81..=0x84).contains(long) => {
            let count = usize::from(long - 0x80);
            rest.get(..count).map(|digits| {
                2 + count
                    + digits
                        .iter()
                        .fold(0, |total, digit| (total << 8) | usize::from(*digit))
            })
        }
        _ => None,
    };
    length
        .and_then(|length| bytes.get(..length))
        .unwrap_or(bytes)
}

fn decode_hex(hex: &[u8]) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    hex.chunks_exact(2)
        .map(|pair| {
            let digit = |byte: u8| char::from(byte).to_digit(16);
            Some(u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).unwrap_or_default())
        })
        .collect()
}

/// A PDF date (ISO 32000-1 §7.9.4): `D:YYYYMMDDHHmmSSOHH'mm'`, every part after the year
/// optional.
pub(crate) fn pdf_date(bytes: &[u8]) -> Option<OffsetDateTime> {
    let text = std::str::from_utf8(bytes).ok()?;
    let text = text.strip_prefix("D:").unwrap_or(text);
    let digits = |from: usize, len: usize, default: u32| -> Option<u32> {
        match text.get(from..from + len) {
            Some(part) if part.bytes().all(|b| b.is_ascii_digit()) => part.parse().ok(),
            None if text.len() <= from => Some(default),
            Some(_) | None => None,
        }
    };
    let year = i32::try_from(digits(0, 4, 0)?).ok()?;
    if text.len() < 4 {
        return None;
    }
    let month = Month::try_from(u8::try_from(digits(4, 2, 1)?).ok()?).ok()?;
    let day = u8::try_from(digits(6, 2, 1)?).ok()?;
    let hour = u8::try_from(digits(8, 2, 0)?).ok()?;
    let minute = u8::try_from(digits(10, 2, 0)?).ok()?;
    let second = u8::try_from(digits(12, 2, 0)?).ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms(hour, minute, second).ok()?;
    let local = PrimitiveDateTime::new(date, time);
    let rest = text.get(14..).unwrap_or_default();
    let offset = match rest.as_bytes().first() {
        None | Some(b'Z') => UtcOffset::UTC,
        Some(sign @ (b'+' | b'-')) => {
            let rest = rest[1..].replace('\'', "");
            let hours: i8 = rest.get(0..2)?.parse().ok()?;
            let minutes: i8 = rest.get(2..4).map_or(Some(0), |m| m.parse().ok())?;
            let (hours, minutes) = if *sign == b'-' {
                (-hours, -minutes)
            } else {
                (hours, minutes)
            };
            UtcOffset::from_hms(hours, minutes, 0).ok()?
        }
        Some(_) => return None,
    };
    local
        .assume_offset(offset)
        .checked_to_offset(UtcOffset::UTC)
}

/// The roles objects play in the signed revision, by what refers to them: a change to
/// an object is judged by the role it had when it was signed, never by what it says of
/// itself (a content stream that calls itself metadata is still page content).
struct Roles {
    /// How many times each object is referred to (from objects and the trailer).
    references: HashMap<ObjectId, usize>,
    /// The XMP metadata stream, referred to by the catalog alone.
    metadata: Option<ObjectId>,
    /// The document information dictionary, referred to by the trailer alone.
    info: Option<ObjectId>,
    /// The `/DSS` and what it holds, referred to from nowhere else.
    dss: HashSet<ObjectId>,
    /// The interactive form dictionary.
    form: Option<ObjectId>,
    /// Indirect arrays that are a page's `/Annots` or the form's `/Fields`.
    lists: HashSet<ObjectId>,
}

impl Roles {
    fn of(document: &Document) -> Self {
        let mut references: HashMap<ObjectId, usize> = HashMap::new();
        let mut count = |object: &Object| {
            visit_references(object, &mut |id| *references.entry(id).or_default() += 1);
        };
        for object in document.objects.values() {
            count(object);
        }
        count(&Object::Dictionary(document.trailer.clone()));
        let only_once = |id: ObjectId| references.get(&id) == Some(&1);
        let catalog = document.catalog().ok();
        let reference = |dict: Option<&Dictionary>, key: &[u8]| {
            dict.and_then(|dict| dict.get(key).and_then(Object::as_reference).ok())
        };
        let metadata = reference(catalog, b"Metadata").filter(|id| only_once(*id));
        let info = reference(Some(&document.trailer), b"Info").filter(|id| only_once(*id));
        let form = reference(catalog, b"AcroForm").filter(|id| only_once(*id));
        // DSS material is what only the DSS refers to.
        let held = dss_objects(document);
        let mut inside: HashMap<ObjectId, usize> = HashMap::new();
        for id in &held {
            if let Some(object) = document.objects.get(id) {
                visit_references(object, &mut |id| *inside.entry(id).or_default() += 1);
            }
        }
        let dss_root = reference(catalog, b"DSS");
        let dss = held
            .iter()
            .copied()
            .filter(|id| {
                let from_catalog = usize::from(Some(*id) == dss_root);
                inside.get(id).copied().unwrap_or_default() + from_catalog
                    == references.get(id).copied().unwrap_or_default()
            })
            .collect();
        let mut lists = HashSet::new();
        for object in document.objects.values() {
            let Ok(dict) = as_dict(object) else { continue };
            let page = dict.get(b"Type").and_then(Object::as_name).ok() == Some(b"Page");
            if page && let Ok(Object::Reference(id)) = dict.get(b"Annots") {
                lists.insert(*id);
            }
        }
        if let Some(Object::Reference(id)) = form
            .and_then(|form| document.get_dictionary(form).ok())
            .and_then(|form| form.get(b"Fields").ok())
        {
            lists.insert(*id);
        }
        Self {
            references,
            metadata,
            info,
            dss,
            form,
            lists,
        }
    }
}

/// Calls `found` with every object reference inside `object`.
fn visit_references(object: &Object, found: &mut impl FnMut(ObjectId)) {
    match object {
        Object::Reference(id) => found(*id),
        Object::Array(items) => {
            for item in items {
                visit_references(item, found);
            }
        }
        Object::Dictionary(dict) => {
            for (_, value) in dict {
                visit_references(value, found);
            }
        }
        Object::Stream(stream) => {
            for (_, value) in &stream.dict {
                visit_references(value, found);
            }
        }
        _ => {}
    }
}

/// Every change from `before` (a revision) to `after` (the whole file), classified.
fn changes_between(before: &Document, after: &Document) -> BTreeSet<Change> {
    let mut changes = BTreeSet::new();
    let root = |document: &Document| {
        document
            .trailer
            .get(b"Root")
            .and_then(Object::as_reference)
            .ok()
    };
    let catalog = root(after);
    if root(before) != catalog {
        changes.insert(Change::Other("a new document catalog".into()));
        return changes;
    }
    let roles = Roles::of(before);
    if before.trailer.get(b"Info").ok() != after.trailer.get(b"Info").ok() {
        changes.insert(Change::Other(
            "the document information dictionary was replaced".into(),
        ));
    }
    for (id, old) in &before.objects {
        let structure =
            |object: &Object| is_structure(object) && !roles.references.contains_key(id);
        let Some(new) = after.objects.get(id) else {
            if !structure(old) {
                changes.insert(Change::Other(format!(
                    "object {} {} was removed",
                    id.0, id.1
                )));
            }
            continue;
        };
        if old == new || structure(old) && is_structure(new) {
            continue;
        }
        let change = if Some(*id) == catalog {
            catalog_change(after, old, new)
        } else if Some(*id) == roles.metadata && is_metadata(old) && is_metadata(new)
            || Some(*id) == roles.info && is_info(old) && is_info(new)
        {
            Change::Metadata
        } else if roles.dss.contains(id) {
            Change::Validation
        } else {
            object_change(before, after, &roles, *id, old, new)
        };
        changes.insert(change);
    }
    for (id, new) in &after.objects {
        if before.objects.contains_key(id) {
            continue;
        }
        // An object the signed revision referred to but did not hold (a reference to
        // nothing, which reads as null) must not be filled in later.
        if roles.references.contains_key(id) {
            changes.insert(Change::Other(format!(
                "object {} {}, which the signed revision referred to, was added",
                id.0, id.1
            )));
            continue;
        }
        // Any other new object shows only through a changed one, which is judged above;
        // the new ones are named for the report.
        if let Ok(dict) = as_dict(new) {
            match dict.get(b"Type").and_then(Object::as_name).ok() {
                Some(b"DocTimeStamp") => {
                    changes.insert(Change::DocumentTimestamp);
                }
                Some(b"DSS") => {
                    changes.insert(Change::Validation);
                }
                _ => {}
            }
        }
    }
    changes
}

fn as_dict(object: &Object) -> lopdf::Result<&Dictionary> {
    match object {
        Object::Stream(stream) => Ok(&stream.dict),
        other => other.as_dict(),
    }
}

/// An XMP metadata stream.
fn is_metadata(object: &Object) -> bool {
    matches!(object, Object::Stream(stream)
        if stream.dict.get(b"Type").and_then(Object::as_name).ok() == Some(b"Metadata")
            && stream.dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"XML"))
}

/// A document information dictionary: a dictionary of its standard entries only.
fn is_info(object: &Object) -> bool {
    const KEYS: [&[u8]; 9] = [
        b"Title",
        b"Author",
        b"Subject",
        b"Keywords",
        b"Creator",
        b"Producer",
        b"CreationDate",
        b"ModDate",
        b"Trapped",
    ];
    matches!(object, Object::Dictionary(dict) if dict.iter().all(|(key, value)| {
        KEYS.contains(&key.as_slice()) && !matches!(value, Object::Reference(_))
    }))
}

/// Cross-reference and object streams: containers, whose members are compared one by one.
fn is_structure(object: &Object) -> bool {
    matches!(object, Object::Stream(stream)
        if matches!(stream.dict.get(b"Type").and_then(Object::as_name).ok(), Some(b"XRef" | b"ObjStm")))
}

/// The objects the `/DSS` holds: the dictionary, its arrays, the `/VRI` and its entries.
fn dss_objects(document: &Document) -> HashSet<ObjectId> {
    let mut ids = HashSet::new();
    let Some(dss) = document
        .catalog()
        .ok()
        .and_then(|catalog| catalog.get(b"DSS").ok())
    else {
        return ids;
    };
    let mut stack = vec![(dss.clone(), 0)];
    while let Some((object, depth)) = stack.pop() {
        if depth > 4 {
            continue;
        }
        if let Object::Reference(id) = object
            && !ids.insert(id)
        {
            continue;
        }
        match deref(document, &object) {
            Object::Dictionary(dict) => {
                for (_, value) in dict {
                    stack.push((value.clone(), depth + 1));
                }
            }
            Object::Array(items) => {
                for item in items {
                    stack.push((item.clone(), depth + 1));
                }
            }
            _ => {}
        }
    }
    ids
}

/// The largest DSS stream read (a CRL of a large CA runs to megabytes; more is not one).
const MAX_DSS_STREAM: usize = 16 * 1024 * 1024;
/// The most DSS bytes read in all, decompressed (each CRL entry parsed costs some ten
/// times its size in memory).
const MAX_DSS_TOTAL: usize = 16 * 1024 * 1024;
/// The most DSS array items looked at, whatever they are.
const MAX_DSS_ITEMS: usize = 4 * crate::carried::MAX_CARRIED;

/// The validation material of the document security store (ETSI EN 319 142-1 §5.4.2):
/// the `/Certs`, `/CRLs` and `/OCSPs` streams of the `/DSS`, and those its `/VRI`
/// entries list, each read once.
pub(crate) fn dss_material(document: &Document) -> crate::revocation::Carried {
    let mut carried = crate::revocation::Carried::default();
    let Some(dss) = document
        .catalog()
        .ok()
        .and_then(|catalog| catalog.get(b"DSS").ok())
        .and_then(|dss| deref(document, dss).as_dict().ok())
    else {
        return carried;
    };
    let mut seen = HashSet::new();
    // Arrays shared between /VRI entries are read once; every item looked at counts.
    let mut arrays_read = HashSet::new();
    let mut looked_at = 0_usize;
    let mut total = 0_usize;
    let mut read = |dict: &Dictionary, carried: &mut crate::revocation::Carried| {
        for (key, kind) in [
            (&b"Certs"[..], 0),
            (b"Cert", 0),
            (b"CRLs", 1),
            (b"CRL", 1),
            (b"OCSPs", 2),
            (b"OCSP", 2),
        ] {
            let Ok(value) = dict.get(key) else {
                continue;
            };
            if let Object::Reference(id) = value
                && !arrays_read.insert(*id)
            {
                continue;
            }
            let Ok(items) = deref(document, value).as_array() else {
                continue;
            };
            for item in items {
                looked_at += 1;
                if looked_at > MAX_DSS_ITEMS || seen.len() >= crate::carried::MAX_CARRIED {
                    return;
                }
                let Object::Reference(id) = item else {
                    continue;
                };
                if !seen.insert(*id) {
                    continue;
                }
                let Ok(stream) = document.get_object(*id).and_then(Object::as_stream) else {
                    continue;
                };
                let Ok(der) =
                    stream.get_plain_content_with_limit(MAX_DSS_STREAM.min(MAX_DSS_TOTAL - total))
                else {
                    continue;
                };
                total += der.len();
                match kind {
                    0 => carried.add_certificate_der(&der),
                    1 => carried.add_crl_der(&der),
                    _ => carried.add_ocsp_der(&der),
                };
            }
        }
    };
    read(dss, &mut carried);
    if let Some(vri) = dss
        .get(b"VRI")
        .ok()
        .and_then(|vri| deref(document, vri).as_dict().ok())
    {
        for (_, entry) in vri.iter().take(crate::carried::MAX_CARRIED) {
            if let Ok(entry) = deref(document, entry).as_dict() {
                read(entry, &mut carried);
            }
        }
    }
    carried
}

/// Keys whose values differ between two dictionaries.
fn changed_keys(old: &Dictionary, new: &Dictionary) -> BTreeSet<Vec<u8>> {
    let mut keys = BTreeSet::new();
    for (key, value) in old {
        if new.get(key).ok() != Some(value) {
            keys.insert(key.clone());
        }
    }
    for (key, _) in new {
        if !old.has(key) {
            keys.insert(key.clone());
        }
    }
    keys
}

fn catalog_change(after: &Document, old: &Object, new: &Object) -> Change {
    let (Ok(old), Ok(new)) = (as_dict(old), as_dict(new)) else {
        return Change::Other("the document catalog".into());
    };
    let keys = changed_keys(old, new);
    // What may be added to the catalog: validation material, and a form or metadata it
    // did not have. Replacing either is not a change a later signer makes.
    let other: Vec<String> = keys
        .iter()
        .filter(|key| match key.as_slice() {
            b"DSS" | b"Extensions" => false,
            b"AcroForm" | b"Metadata" => old.has(key),
            _ => true,
        })
        .map(|key| format!("/{}", text(key)))
        .collect();
    if !other.is_empty() {
        return Change::Other(format!("the document catalog's {}", other.join(", ")));
    }
    if keys.contains(b"AcroForm".as_slice()) {
        // A form added to hold signature fields, and nothing else.
        let signatures_only = new
            .get(b"AcroForm")
            .ok()
            .and_then(|form| deref(after, form).as_dict().ok())
            .and_then(|form| form.get(b"Fields").ok())
            .and_then(|fields| deref(after, fields).as_array().ok())
            .is_some_and(|fields| {
                fields.iter().all(|field| {
                    deref(after, field)
                        .as_dict()
                        .is_ok_and(|field| field_type(after, field).as_deref() == Some(b"Sig"))
                })
            });
        if !signatures_only {
            return Change::Other("a form with fields other than signatures".into());
        }
        Change::Signature
    } else if keys.contains(b"DSS".as_slice()) || keys.contains(b"Extensions".as_slice()) {
        Change::Validation
    } else {
        Change::Metadata
    }
}

/// The class of a change to an existing object that is not the catalog, metadata or DSS
/// material.
fn object_change(
    before: &Document,
    after: &Document,
    roles: &Roles,
    id: ObjectId,
    old: &Object,
    new: &Object,
) -> Change {
    let describe = |what: &str| Change::Other(format!("{what} (object {} {})", id.0, id.1));
    match (old, new) {
        (Object::Array(old_items), Object::Array(new_items)) if roles.lists.contains(&id) => {
            // An indirect /Annots or /Fields array: judged by what was added or removed.
            return members_change(before, after, old_items, new_items)
                .unwrap_or_else(|| describe("a list of annotations or fields"));
        }
        (Object::Array(_), _) => return describe("an array"),
        (Object::Stream(_), _) | (_, Object::Stream(_)) => return describe("a stream"),
        _ => {}
    }
    let (Ok(old_dict), Ok(new_dict)) = (as_dict(old), as_dict(new)) else {
        return describe("an object");
    };
    let keys = changed_keys(old_dict, new_dict);
    let only = |allowed: &[&[u8]]| keys.iter().all(|key| allowed.contains(&key.as_slice()));
    let kind = old_dict.get(b"Type").and_then(Object::as_name).ok();
    if kind == Some(b"Page") {
        if only(&[b"Annots"]) {
            return members_change(
                before,
                after,
                &list(before, old_dict, b"Annots"),
                &list(after, new_dict, b"Annots"),
            )
            .unwrap_or_else(|| describe("a page's annotations"));
        }
        return describe("a page");
    }
    if Some(id) == roles.form {
        if only(&[b"SigFlags"]) {
            return Change::Signature;
        }
        if only(&[b"Fields", b"SigFlags"]) {
            return members_change(
                before,
                after,
                &list(before, old_dict, b"Fields"),
                &list(after, new_dict, b"Fields"),
            )
            .unwrap_or_else(|| describe("the form's fields"));
        }
        return describe("the interactive form");
    }
    match field_type(before, old_dict).as_deref() {
        Some(b"Sig") => {
            // A signature field is signed once: once it (or its parent field) has a
            // value, neither it nor its widget may change.
            if inherited_value(before, old_dict).is_none()
                && only(&[b"V", b"AP", b"AS", b"F", b"MK"])
            {
                return if is_timestamp_value(after, new_dict) {
                    Change::DocumentTimestamp
                } else {
                    Change::Signature
                };
            }
            return describe("a signature field that was already signed");
        }
        Some(_) if only(&[b"V", b"AS", b"AP"]) => return Change::FormFill,
        Some(_) => return describe("a form field's definition"),
        None => {}
    }
    if is_annotation(old_dict) && is_annotation(new_dict) {
        return Change::Annotation;
    }
    let kind = kind.map_or_else(
        || "an object".to_owned(),
        |kind| format!("a /{} object", text(kind)),
    );
    describe(&kind)
}

/// The array `dict` holds under `key` (directly or by reference), or none.
fn list(document: &Document, dict: &Dictionary, key: &[u8]) -> Vec<Object> {
    dict.get(key)
        .ok()
        .and_then(|items| deref(document, items).as_array().ok())
        .cloned()
        .unwrap_or_default()
}

/// The field type of a field dictionary, inherited from its parents.
fn field_type(document: &Document, dict: &Dictionary) -> Option<Vec<u8>> {
    inherited(document, dict, b"FT").and_then(|kind| kind.as_name().ok().map(<[u8]>::to_vec))
}

/// A field's value, inherited from its parents (a widget's field holds it).
fn inherited_value<'d>(document: &'d Document, dict: &'d Dictionary) -> Option<&'d Object> {
    inherited(document, dict, b"V").filter(|value| !matches!(value, Object::Null))
}

fn inherited<'d>(document: &'d Document, dict: &'d Dictionary, key: &[u8]) -> Option<&'d Object> {
    let mut current = dict;
    for _ in 0..32 {
        if let Ok(value) = current.get(key) {
            return Some(deref(document, value));
        }
        current = current
            .get(b"Parent")
            .ok()
            .and_then(|parent| deref(document, parent).as_dict().ok())?;
    }
    None
}

/// Whether a widget's field has as its value a signature dictionary the signed revision
/// did not hold (a new signature, not a second widget for an old one).
fn new_signature_value(before: &Document, document: &Document, dict: &Dictionary) -> bool {
    let mut current = dict;
    for _ in 0..32 {
        if let Ok(value) = current.get(b"V") {
            return match value {
                Object::Reference(id) => {
                    !before.objects.contains_key(id)
                        && document
                            .get_dictionary(*id)
                            .is_ok_and(|value| value.has(b"ByteRange"))
                }
                _ => false,
            };
        }
        let Some(parent) = current
            .get(b"Parent")
            .ok()
            .and_then(|parent| deref(document, parent).as_dict().ok())
        else {
            return false;
        };
        current = parent;
    }
    false
}

/// Whether a signature field's value is a document time-stamp.
fn is_timestamp_value(document: &Document, field: &Dictionary) -> bool {
    inherited_value(document, field)
        .and_then(|value| value.as_dict().ok())
        .and_then(|value| value.get(b"Type").and_then(Object::as_name).ok())
        == Some(b"DocTimeStamp")
}

/// An annotation dictionary (ISO 32000-1 §12.5.6: the annotation types).
fn is_annotation(dict: &Dictionary) -> bool {
    const SUBTYPES: [&[u8]; 26] = [
        b"Text",
        b"Link",
        b"FreeText",
        b"Line",
        b"Square",
        b"Circle",
        b"Polygon",
        b"PolyLine",
        b"Highlight",
        b"Underline",
        b"Squiggly",
        b"StrikeOut",
        b"Stamp",
        b"Caret",
        b"Ink",
        b"Popup",
        b"FileAttachment",
        b"Sound",
        b"Movie",
        b"Widget",
        b"Screen",
        b"PrinterMark",
        b"TrapNet",
        b"Watermark",
        b"3D",
        b"Redact",
    ];
    let kind = dict.get(b"Type").and_then(Object::as_name).ok();
    kind.is_none_or(|kind| kind == b"Annot")
        && dict.has(b"Rect")
        && dict
            .get(b"Subtype")
            .and_then(Object::as_name)
            .is_ok_and(|subtype| SUBTYPES.contains(&subtype))
}

/// Whether an annotation shows nothing: a zero-area rectangle, or the hidden flag.
fn is_invisible(dict: &Dictionary) -> bool {
    let hidden = dict
        .get(b"F")
        .and_then(Object::as_i64)
        .is_ok_and(|flags| flags & 2 != 0);
    let empty = dict
        .get(b"Rect")
        .and_then(Object::as_array)
        .is_ok_and(|rect| {
            let number = |object: &Object| {
                object.as_float().ok().map(f64::from).or_else(|| {
                    object
                        .as_i64()
                        .ok()
                        .and_then(|n| i32::try_from(n).ok())
                        .map(f64::from)
                })
            };
            match rect.as_slice() {
                [x1, y1, x2, y2] => match (number(x1), number(y1), number(x2), number(y2)) {
                    (Some(x1), Some(y1), Some(x2), Some(y2)) => {
                        (x2 - x1).abs() < f64::EPSILON || (y2 - y1).abs() < f64::EPSILON
                    }
                    _ => false,
                },
                _ => false,
            }
        });
    hidden || empty
}

/// The most entries of a list of annotations or fields compared.
const MAX_LIST: usize = 100_000;

/// The class of a change to a list of annotations or fields: what was added or removed.
fn members_change(
    before: &Document,
    after: &Document,
    old: &[Object],
    new: &[Object],
) -> Option<Change> {
    if old.len() > MAX_LIST || new.len() > MAX_LIST {
        return None;
    }
    let ids = |items: &[Object]| -> HashSet<ObjectId> {
        items
            .iter()
            .filter_map(|item| item.as_reference().ok())
            .collect()
    };
    let (old_ids, new_ids) = (ids(old), ids(new));
    let contains = |items: &[Object], set: &HashSet<ObjectId>, item: &Object| match item {
        Object::Reference(id) => set.contains(id),
        // Direct entries are rare: compared one by one, within the bound above.
        direct => items.contains(direct),
    };
    let mut classes = BTreeSet::new();
    let added = new
        .iter()
        .filter(|item| !contains(old, &old_ids, item))
        .map(|item| (after, item, true));
    let removed = old
        .iter()
        .filter(|item| !contains(new, &new_ids, item))
        .map(|item| (before, item, false));
    for (document, item, is_added) in added.chain(removed) {
        let dict = deref(document, item).as_dict().ok()?;
        let class = match field_type(document, dict).as_deref() {
            // A signature taken out of the document hides it: never allowed.
            Some(b"Sig") if !is_added => {
                return Some(Change::Other("a signature field was removed".into()));
            }
            // A new signature's widget, with a signature dictionary as its value; a
            // document time-stamp's must show nothing. Anything else dressed as a
            // signature is an annotation over the page.
            Some(b"Sig") if new_signature_value(before, document, dict) => {
                if is_timestamp_value(document, dict) && is_invisible(dict) {
                    Change::DocumentTimestamp
                } else {
                    Change::Signature
                }
            }
            Some(b"Sig") => Change::Annotation,
            Some(_) => return Some(Change::Other("a form field was added or removed".into())),
            None if is_annotation(dict) => Change::Annotation,
            None => return None,
        };
        classes.insert(class);
    }
    // The strictest class decides.
    classes
        .into_iter()
        .max_by_key(|class| match class {
            Change::Annotation => 3,
            Change::Signature | Change::FormFill => 2,
            _ => 1,
        })
        // Only the order changed.
        .or(Some(Change::Annotation))
}

impl crate::Verifier {
    /// Every signature of a PDF, verified as of `at`: per signature field, the checks of
    /// a CMS signature over the bytes its `/ByteRange` covers, what later revisions
    /// changed (held to the certification level), and the document time-stamps of later
    /// revisions as proofs of existence.
    ///
    /// # Errors
    /// The file is not a PDF, cannot be read as written, is encrypted, or carries more
    /// than [`MAX_SIGNATURES`] signatures.
    pub fn verify_pdf(
        &self,
        pdf: &[u8],
        at: OffsetDateTime,
    ) -> Result<Vec<crate::SignatureReport>, PdfError> {
        use crate::error::{FormatError, SignatureError};
        use crate::report::{Check, Status};
        use crate::verify::{Stated, blank_report, content_and_value, not_run};

        let file = PdfFile::read(pdf)?;
        let stamps = self.document_timestamps(&file, at);
        let mut reports = Vec::new();
        for entry in file
            .entries
            .iter()
            .filter(|entry| entry.kind == Kind::Signature)
        {
            let format = if entry.sub_filter.is_empty() {
                PDF.to_owned()
            } else {
                format!("{PDF}; {}", entry.sub_filter)
            };
            let mut report = blank_report(&entry.field, format, at);
            let refuse = |report: &mut crate::SignatureReport, error: FormatError| {
                report.checks =
                    not_run(Check::Format, Status::Failed, SignatureError::Format(error));
            };
            let signed = match &entry.signed {
                Ok(signed) => signed,
                Err(error) => {
                    refuse(&mut report, FormatError::Pdf(error.clone()));
                    reports.push(report);
                    continue;
                }
            };
            let ess_required = entry.sub_filter == "ETSI.CAdES.detached";
            let (mut envelope, attribute) = match crate::pkcs7::from_der(
                &signed.contents,
                self.trust(),
                entry.claimed,
                ess_required,
            ) {
                Ok(decoded) => decoded,
                Err(error) => {
                    refuse(&mut report, FormatError::Cms(error));
                    reports.push(report);
                    continue;
                }
            };
            envelope.carried.extend(file.dss.clone());
            let integrity = integrity(&file, signed, &envelope);
            let (_, value) = content_and_value(&envelope, &[]);
            // Later document time-stamps cover this signature's revision, so its value.
            let documents: Vec<crate::TimestampReport> = stamps
                .iter()
                .filter(|(end, _)| *end > signed.end)
                .map(|(_, stamp)| stamp.clone())
                .collect();
            self.verify_envelope(
                &mut report,
                &envelope,
                [integrity, value],
                Stated::Pdf {
                    attribute,
                    m: entry.claimed,
                },
                &documents,
                |signer| identity(entry, signer),
                at,
            );
            reports.push(report);
        }
        Ok(reports)
    }

    /// The document time-stamps whose byte ranges hold, each judged, in file order, with
    /// the end of the revision each covers. They form a chain (ETSI EN 319 102-1 §5.6.2.4,
    /// archive time-stamps): one that no longer holds as of `at` (its authority's
    /// certificate expired since, say) is judged as of the time a later one that holds
    /// proves it existed, since that one covers it and the validation material before it.
    fn document_timestamps(
        &self,
        file: &PdfFile<'_>,
        at: OffsetDateTime,
    ) -> Vec<(usize, crate::TimestampReport)> {
        let mut signed: Vec<&Signed> = file
            .entries
            .iter()
            .filter(|entry| entry.kind == Kind::DocumentTimestamp)
            .filter_map(|entry| entry.signed.as_ref().ok())
            .collect();
        signed.sort_by_key(|signed| std::cmp::Reverse(signed.end));
        let mut judged: Vec<(usize, crate::TimestampReport)> = Vec::with_capacity(signed.len());
        for stamp in signed {
            let later = judged
                .iter()
                .filter(|(_, report)| report.status == crate::Status::Passed)
                .filter_map(|(_, report)| report.gen_time)
                .min();
            let data = file.joined(stamp);
            let mut report = self.timestamp_then(&stamp.contents, &data, &file.dss, at, later);
            report.document = true;
            // Over a revision that holds a DSS. Signing software adds the last stamp's own
            // validation material after it (for the next renewal), so the DSS as the file
            // has it now may hold more than the stamp covers (docs/signatures.md).
            report.archive = stamp.dss;
            judged.push((stamp.end, report));
        }
        judged.reverse();
        judged
    }
}

/// The content-integrity check of a PDF signature: the digest of the covered bytes, and
/// what the revisions after it changed.
fn integrity(
    file: &PdfFile<'_>,
    signed: &Signed,
    envelope: &crate::envelope::Envelope,
) -> crate::CheckResult {
    use crate::error::ContentError;
    use crate::report::{Check, CheckResult, Status};
    let crate::envelope::Binding::Digests { hash, digests, .. } = &envelope.binding else {
        return CheckResult::failed(
            Check::ContentIntegrity,
            ContentError::ByteRangeDigest {
                revision: signed.revision,
            },
        );
    };
    let digest = hash.digest_parts(&file.ranges(signed));
    if !digests
        .iter()
        .any(|(_, signed_digest)| *signed_digest == digest)
    {
        return CheckResult::failed(
            Check::ContentIntegrity,
            ContentError::ByteRangeDigest {
                revision: signed.revision,
            },
        );
    }
    let revisions = file.revisions.len();
    if signed.end == file.bytes.len() {
        return crate::verify::result(
            Check::ContentIntegrity,
            Status::Passed,
            format!(
                "the /ByteRange covers the whole file (revision {} of {revisions}) but this signature's value, and its digest is the signed one",
                signed.revision
            ),
        );
    }
    let level = file.docmdp_at(signed.end);
    let what_may = match level {
        Some((1, field)) => format!(
            "certified by {field}: no changes but validation material and document time-stamps"
        ),
        Some((2, field)) => format!("certified by {field}: form filling and signing"),
        Some((_, field)) => format!("certified by {field}: form filling, signing and annotations"),
        None => "no certification: anything but changes to what was signed".to_owned(),
    };
    let changes = match file.changes_after(signed.end) {
        Ok(changes) => changes,
        Err(error) => {
            return CheckResult::failed(
                Check::ContentIntegrity,
                ContentError::ModifiedAfterSigning {
                    revision: signed.revision,
                    allowed: what_may,
                    changes: vec![format!(
                        "the revision it signs cannot be read alone: {error}"
                    )],
                },
            );
        }
    };
    let refused: Vec<String> = changes
        .iter()
        .filter(|change| !allowed(level.map(|(level, _)| level), change))
        .map(ToString::to_string)
        .collect();
    if !refused.is_empty() {
        let mut check = CheckResult::failed(
            Check::ContentIntegrity,
            ContentError::ModifiedAfterSigning {
                revision: signed.revision,
                allowed: what_may,
                changes: refused,
            },
        );
        check.status = Status::Failed;
        return check;
    }
    let added: Vec<String> = changes.iter().map(ToString::to_string).collect();
    crate::verify::result(
        Check::ContentIntegrity,
        Status::Passed,
        format!(
            "the /ByteRange covers revision {} of {revisions} (bytes 0 to {} of {}), and its digest is the signed one; added since: {} ({what_may})",
            signed.revision,
            signed.end,
            file.bytes.len(),
            if added.is_empty() {
                "nothing that changes the document".to_owned()
            } else {
                added.join(", ")
            }
        ),
    )
}

/// A PDF names its signer by the certificate alone; `/Name` is informative.
fn identity(entry: &Entry, signer: &crate::Certificate) -> crate::CheckResult {
    use crate::report::{Check, Status};
    let mut reason = format!(
        "a PDF signature names its signer by its certificate alone: \"{}\"",
        signer.subject()
    );
    if let Some(name) = &entry.name {
        let _ = write!(reason, " (/Name \"{name}\" is informative)");
    }
    if let Some(why) = &entry.reason {
        let _ = write!(reason, "; /Reason \"{why}\"");
    }
    crate::verify::result(Check::SignerIdentity, Status::Passed, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdf_dates_read_with_and_without_offsets() {
        let utc = |text: &str| pdf_date(text.as_bytes()).map(crate::datetime::rfc3339);
        assert_eq!(
            utc("D:20261207153000Z").as_deref(),
            Some("2026-12-07T15:30:00Z")
        );
        assert_eq!(
            utc("D:20261207103000-05'00'").as_deref(),
            Some("2026-12-07T15:30:00Z")
        );
        assert_eq!(
            utc("D:20261207103000-05'00").as_deref(),
            Some("2026-12-07T15:30:00Z")
        );
        assert_eq!(utc("D:2026").as_deref(), Some("2026-01-01T00:00:00Z"));
        assert_eq!(utc("D:20261307"), None);
        assert_eq!(utc("D:2026120715300"), None);
        assert_eq!(utc("yesterday"), None);
    }

    #[test]
    fn revisions_end_after_each_eof_and_its_line_end() {
        assert_eq!(revision_ends(b"%PDF-1.7\n%%EOF\nmore\n%%EOF"), vec![15, 25]);
        assert_eq!(revision_ends(b"%PDF-1.7\r\n%%EOF\r\n"), vec![17]);
    }

    #[test]
    fn docmdp_levels_allow_what_iso_32000_and_pades_allow() {
        for level in [None, Some(1), Some(2), Some(3)] {
            assert!(allowed(level, &Change::Validation));
            assert!(allowed(level, &Change::DocumentTimestamp));
            assert!(!allowed(level, &Change::Other("a page".into())));
        }
        assert!(!allowed(Some(1), &Change::Signature));
        assert!(allowed(Some(2), &Change::FormFill));
        assert!(!allowed(Some(2), &Change::Annotation));
        assert!(allowed(Some(3), &Change::Annotation));
        assert!(allowed(None, &Change::Annotation));
    }
}
