//! Trust anchors from a trusted list (ETSI TS 119 612): the XML list a supervisory body
//! publishes of the trust service providers it supervises or accredits — in Peru,
//! INDECOPI's list of the IOFE's accredited certification authorities — each service
//! with its type, its status and its certificates.
//!
//! A list counts only with its XML signature (XML-DSig, enveloped, over the whole
//! document) verified with the key of a certificate the operator pinned: the list names
//! the anchors, so whoever could change it unsigned would choose them. The signature is
//! verified here with the pinned keys only (a certificate the list carries in its
//! `KeyInfo` is not believed for being carried): the canonical forms come from
//! `bergshamra-c14n` (W3C canonical XML, pure Rust, over the `uppsala` parser), the
//! digests and the signature value from `ring`. The list is read from the same parsed
//! document whose signature is verified (one parser, so what is read is what was
//! signed), after refusing a DOCTYPE (no entities, no external references), a signature
//! that is not the root's child, and a second signature.
//!
//! The anchors are the certificates of the services that issue certificates
//! (`Svctype/CA/QC`, `Svctype/CA/PKC`) with a status that allows relying on them now
//! (`granted`, `recognisedatnationallevel`, and TS 119 612 v1's `accredited` and
//! `undersupervision`). A service's history is not read: a service withdrawn since a
//! signature was made no longer anchors it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use bergshamra_c14n::C14nMode;
use bergshamra_xml::NodeSet;

use crate::cert::{Certificate, CertificateError};

/// The namespace of TS 119 612 trusted lists.
const TSL: &str = "http://uri.etsi.org/02231/v2#";
/// The namespace of XML-DSig.
const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";

/// Service types whose certificates anchor certification paths.
const CA_TYPES: [&str; 2] = [
    "http://uri.etsi.org/TrstSvc/Svctype/CA/QC",
    "http://uri.etsi.org/TrstSvc/Svctype/CA/PKC",
];

/// Service types whose certificates may sign time-stamps (TS 119 612 §5.5.1.1).
const TSA_TYPES: [&str; 4] = [
    "http://uri.etsi.org/TrstSvc/Svctype/TSA",
    "http://uri.etsi.org/TrstSvc/Svctype/TSA/QTST",
    "http://uri.etsi.org/TrstSvc/Svctype/TSA/TSS-QC",
    "http://uri.etsi.org/TrstSvc/Svctype/TSA/TSS-AdESQCandQES",
];

/// Statuses under which a service is relied on (TS 119 612 v2 and v1).
const TRUSTED_STATUSES: [&str; 4] = [
    "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/granted",
    "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/recognisedatnationallevel",
    "http://uri.etsi.org/TrstSvc/Svcstatus/accredited",
    "http://uri.etsi.org/TrstSvc/Svcstatus/undersupervision",
];

/// Why a trusted list cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustedListError {
    /// No certificate is pinned to verify the list with.
    #[error("no certificate of the list's operator is configured to verify its signature")]
    NoSigner,
    /// The bytes are not UTF-8 XML, or the XML is not well formed.
    #[error("the trusted list is not well-formed XML: {detail}")]
    Xml {
        /// What the parser says.
        detail: String,
    },
    /// The document declares a DOCTYPE.
    #[error("the trusted list declares a DOCTYPE, which a trusted list never needs")]
    Doctype,
    /// The root is not a `TrustServiceStatusList`.
    #[error("the document is not a trusted list (ETSI TS 119 612 TrustServiceStatusList)")]
    NotTrustedList,
    /// The list has no signature, more than one, or one that is not a child of its root.
    #[error(
        "the trusted list must carry exactly one XML signature, a child of its root; it has {count}"
    )]
    SignatureCount {
        /// How many `ds:Signature` elements it has (anywhere).
        count: usize,
    },
    /// The XML signature does not verify with a pinned key.
    #[error(
        "the trusted list's signature does not verify with the pinned certificate(s): {detail}"
    )]
    Signature {
        /// Why.
        detail: String,
    },
    /// The signature does not cover the whole document.
    #[error(
        "the trusted list's signature does not cover the whole document (a reference to URI \"\")"
    )]
    NotWholeDocument,
    /// A service's certificate cannot be read.
    #[error("the certificate of service \"{service}\" cannot be read: {source}")]
    Certificate {
        /// The service's name.
        service: String,
        /// Why.
        source: CertificateError,
    },
    /// A date in the list cannot be read.
    #[error("the trusted list's {field} is not a date-time: {value}")]
    Date {
        /// Which field.
        field: &'static str,
        /// The text.
        value: String,
    },
}

/// A trust service of the list.
#[derive(Debug, Clone)]
pub struct TrustedService {
    /// The provider's name (its first `TSPName`).
    pub provider: String,
    /// The service's name (its first `ServiceName`).
    pub name: String,
    /// `ServiceTypeIdentifier`.
    pub kind: String,
    /// `ServiceStatus`.
    pub status: String,
    /// The certificates of `ServiceDigitalIdentity`.
    pub certificates: Vec<Certificate>,
}

impl TrustedService {
    /// Whether the service anchors certification paths: a CA service under a status that
    /// allows relying on it.
    #[must_use]
    pub fn is_anchor(&self) -> bool {
        CA_TYPES.contains(&self.kind.as_str()) && TRUSTED_STATUSES.contains(&self.status.as_str())
    }

    /// Whether the service is a time-stamping authority under a status that allows
    /// relying on it.
    #[must_use]
    pub fn is_timestamp_authority(&self) -> bool {
        TSA_TYPES.contains(&self.kind.as_str()) && TRUSTED_STATUSES.contains(&self.status.as_str())
    }
}

/// A trusted list whose signature verified.
#[derive(Debug, Clone)]
pub struct TrustedList {
    /// `SchemeTerritory` (`PE`).
    pub territory: String,
    /// `TSLSequenceNumber`.
    pub sequence_number: Option<u64>,
    /// `ListIssueDateTime`.
    pub issued: Option<OffsetDateTime>,
    /// `NextUpdate`: after it, the list is stale and a newer one must be fetched.
    pub next_update: Option<OffsetDateTime>,
    /// Every service of every provider.
    pub services: Vec<TrustedService>,
}

impl TrustedList {
    /// Reads a trusted list and verifies its signature with the keys of `signers` (the
    /// certificates of the list's operator, pinned by configuration).
    pub fn from_xml(xml: &[u8], signers: &[Certificate]) -> Result<Self, TrustedListError> {
        if signers.is_empty() {
            return Err(TrustedListError::NoSigner);
        }
        let text = std::str::from_utf8(xml).map_err(|error| TrustedListError::Xml {
            detail: error.to_string(),
        })?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        // A trusted list has no use for a DTD; refusing it leaves no entity to expand.
        if text.contains("<!DOCTYPE") {
            return Err(TrustedListError::Doctype);
        }
        let doc = uppsala::parse(text).map_err(|error| TrustedListError::Xml {
            detail: error.to_string(),
        })?;
        let reading = read(&doc)?;
        verify(&doc, signers)?;
        finish(reading)
    }

    /// The certificates that anchor certification paths.
    pub fn anchors(&self) -> impl Iterator<Item = &Certificate> {
        self.services
            .iter()
            .filter(|service| service.is_anchor())
            .flat_map(|service| &service.certificates)
    }

    /// The certificates of the time-stamping authorities it lists.
    pub fn timestamp_authorities(&self) -> impl Iterator<Item = &Certificate> {
        self.services
            .iter()
            .filter(|service| service.is_timestamp_authority())
            .flat_map(|service| &service.certificates)
    }

    /// Whether the list is current at `at` (not past its `NextUpdate`).
    #[must_use]
    pub fn is_current(&self, at: OffsetDateTime) -> bool {
        self.next_update.is_none_or(|next| at <= next)
    }
}

/// Algorithm identifiers of XML-DSig (RFC 3275, RFC 6931) this verifier accepts.
mod algorithm {
    pub(super) const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
    pub(super) const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
    pub(super) const SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#sha384";
    pub(super) const SHA512: &str = "http://www.w3.org/2001/04/xmlenc#sha512";
    pub(super) const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
    pub(super) const RSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384";
    pub(super) const RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
    pub(super) const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
    pub(super) const ECDSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384";
}

const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N_NS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

fn invalid(detail: impl Into<String>) -> TrustedListError {
    TrustedListError::Signature {
        detail: detail.into(),
    }
}

/// Verifies the list's enveloped XML signature (W3C XML-DSig) with the pinned keys only:
/// every reference's digest over its canonical form (`bergshamra-c14n`), the whole
/// document among them, then the signature value over the canonical `SignedInfo`
/// (`ring`). Only what trusted lists use is accepted: same-document references (the
/// whole document with the enveloped-signature transform, or an element by its `Id`, as
/// `XAdES` signed properties), canonical XML 1.0, 1.1 or exclusive, SHA-2 digests, and
/// RSA PKCS #1 v1.5 or ECDSA P-256/P-384 signatures.
fn verify(doc: &uppsala::Document<'_>, signers: &[Certificate]) -> Result<(), TrustedListError> {
    let root = doc
        .document_element()
        .ok_or(TrustedListError::NotTrustedList)?;
    let signature = doc
        .first_child_element_by_name_ns(root, DSIG_NS, "Signature")
        .ok_or(TrustedListError::SignatureCount { count: 0 })?;
    let child = |parent, name| {
        doc.first_child_element_by_name_ns(parent, DSIG_NS, name)
            .ok_or_else(|| invalid(format!("no ds:{name}")))
    };
    let signed_info = child(signature, "SignedInfo")?;
    let method = child(signed_info, "CanonicalizationMethod")?;
    let c14n = canonicalization(doc, method)?;
    let signature_method = doc
        .get_attribute(child(signed_info, "SignatureMethod")?, "Algorithm")
        .unwrap_or_default()
        .to_owned();
    let mut whole = false;
    let references = doc.child_elements_by_name_ns(signed_info, DSIG_NS, "Reference");
    if references.is_empty() {
        return Err(invalid("no ds:Reference"));
    }
    for reference in references {
        whole |= check_reference(doc, signature, reference)?;
    }
    if !whole {
        return Err(TrustedListError::NotWholeDocument);
    }
    let signed = canonical(doc, &c14n, &subtree(doc, signed_info, c14n.0))?;
    let value = STANDARD
        .decode(
            doc.text_content_deep(child(signature, "SignatureValue")?)
                .split_whitespace()
                .collect::<String>(),
        )
        .map_err(|error| invalid(format!("SignatureValue is not base64: {error}")))?;
    let verified = signers.iter().any(|signer| {
        signer
            .public_key()
            .is_ok_and(|key| check_value(key, &signature_method, &signed, &value))
    });
    if verified {
        Ok(())
    } else {
        Err(invalid(format!(
            "its SignatureValue ({signature_method}) does not verify with the key of any pinned certificate"
        )))
    }
}

/// A canonicalization method: the mode, and for exclusive canonicalization the
/// `InclusiveNamespaces` prefix list.
type C14n = (C14nMode, Vec<String>);

fn canonicalization(
    doc: &uppsala::Document<'_>,
    method: uppsala::NodeId,
) -> Result<C14n, TrustedListError> {
    let uri = doc.get_attribute(method, "Algorithm").unwrap_or_default();
    let mode = bergshamra_c14n::C14nMode::from_uri(uri)
        .ok_or_else(|| invalid(format!("canonicalization {uri} is not supported")))?;
    let prefixes = doc
        .first_child_element_by_name_ns(method, EXC_C14N_NS, "InclusiveNamespaces")
        .and_then(|node| doc.get_attribute(node, "PrefixList"))
        .map(|list| list.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    Ok((mode, prefixes))
}
/// What the list says, as read from its elements.
#[derive(Default)]
struct Reading {
    territory: String,
    sequence: Option<String>,
    issued: Option<String>,
    next_update: Option<String>,
    services: Vec<Service>,
}

/// (provider, name, type, status, base64 certificates)
type Service = (String, String, String, String, Vec<String>);

/// Reads the list's scheme information and services from the parsed document (the one
/// whose signature is verified: one parser, so what is read is what was signed).
fn read(doc: &uppsala::Document<'_>) -> Result<Reading, TrustedListError> {
    let root = doc
        .document_element()
        .ok_or(TrustedListError::NotTrustedList)?;
    if !doc
        .element(root)
        .is_some_and(|element| element.matches_name_ns(TSL, "TrustServiceStatusList"))
    {
        return Err(TrustedListError::NotTrustedList);
    }
    let signatures = doc.get_elements_by_tag_name_ns(DSIG, "Signature");
    let at_root = doc.child_elements_by_name_ns(root, DSIG, "Signature");
    if signatures.len() != 1 || at_root.len() != 1 {
        return Err(TrustedListError::SignatureCount {
            count: signatures.len(),
        });
    }
    let child = |parent: Option<uppsala::NodeId>, name: &str| {
        parent.and_then(|parent| doc.first_child_element_by_name_ns(parent, TSL, name))
    };
    let children = |parent: Option<uppsala::NodeId>, name: &str| {
        parent
            .map(|parent| doc.child_elements_by_name_ns(parent, TSL, name))
            .unwrap_or_default()
    };
    let text = |node: Option<uppsala::NodeId>| {
        node.map(|node| doc.text_content_deep(node).trim().to_owned())
    };
    let scheme = child(Some(root), "SchemeInformation");
    let mut reading = Reading {
        territory: text(child(scheme, "SchemeTerritory")).unwrap_or_default(),
        sequence: text(child(scheme, "TSLSequenceNumber")),
        issued: text(child(scheme, "ListIssueDateTime")),
        next_update: text(child(child(scheme, "NextUpdate"), "dateTime")),
        services: Vec::new(),
    };
    let providers = child(Some(root), "TrustServiceProviderList");
    for provider in children(providers, "TrustServiceProvider") {
        let provider_name = text(child(
            child(child(Some(provider), "TSPInformation"), "TSPName"),
            "Name",
        ))
        .unwrap_or_default();
        for service in children(child(Some(provider), "TSPServices"), "TSPService") {
            let information = child(Some(service), "ServiceInformation");
            let certificates = children(child(information, "ServiceDigitalIdentity"), "DigitalId")
                .into_iter()
                .filter_map(|id| text(child(Some(id), "X509Certificate")))
                .map(|base64| base64.split_whitespace().collect())
                .collect();
            reading.services.push((
                provider_name.clone(),
                text(child(child(information, "ServiceName"), "Name")).unwrap_or_default(),
                text(child(information, "ServiceTypeIdentifier")).unwrap_or_default(),
                text(child(information, "ServiceStatus")).unwrap_or_default(),
                certificates,
            ));
        }
    }
    Ok(reading)
}

fn finish(reading: Reading) -> Result<TrustedList, TrustedListError> {
    let date = |field: &'static str, value: Option<String>| {
        value
            .filter(|value| !value.is_empty())
            .map(|value| {
                OffsetDateTime::parse(&value, &Rfc3339)
                    .map_err(|_| TrustedListError::Date { field, value })
            })
            .transpose()
    };
    let mut services = Vec::new();
    for (provider, name, kind, status, certificates) in reading.services {
        let certificates = certificates
            .iter()
            .map(|text| {
                STANDARD
                    .decode(text)
                    .map_err(|error| CertificateError::NotX509 {
                        detail: error.to_string(),
                    })
                    .and_then(|der| Certificate::from_der(&der))
                    .map_err(|source| TrustedListError::Certificate {
                        service: name.clone(),
                        source,
                    })
            })
            .collect::<Result<_, _>>()?;
        services.push(TrustedService {
            provider,
            name,
            kind,
            status,
            certificates,
        });
    }
    Ok(TrustedList {
        territory: reading.territory,
        sequence_number: reading.sequence.and_then(|text| text.parse().ok()),
        issued: date("ListIssueDateTime", reading.issued)?,
        next_update: date("NextUpdate", reading.next_update)?,
        services,
    })
}

/// The subtree of `node`, with or without comments as `mode` says.
fn subtree(doc: &uppsala::Document<'_>, node: uppsala::NodeId, mode: C14nMode) -> NodeSet {
    if mode.with_comments() {
        NodeSet::tree_with_comments(node, doc)
    } else {
        NodeSet::tree_without_comments(node, doc)
    }
}

fn canonical(
    doc: &uppsala::Document<'_>,
    (mode, prefixes): &C14n,
    set: &NodeSet,
) -> Result<Vec<u8>, TrustedListError> {
    bergshamra_c14n::canonicalize_doc(doc, *mode, Some(set), prefixes)
        .map_err(|error| invalid(format!("canonicalization: {error}")))
}

/// Checks one reference's digest; whether it covers the whole document.
fn check_reference(
    doc: &uppsala::Document<'_>,
    signature: uppsala::NodeId,
    reference: uppsala::NodeId,
) -> Result<bool, TrustedListError> {
    let uri = doc
        .get_attribute(reference, "URI")
        .ok_or_else(|| invalid("a ds:Reference without URI"))?;
    let mut enveloped = false;
    let mut c14n: C14n = (C14nMode::Inclusive, Vec::new());
    if let Some(transforms) = doc.first_child_element_by_name_ns(reference, DSIG_NS, "Transforms") {
        for transform in doc.child_elements_by_name_ns(transforms, DSIG_NS, "Transform") {
            let algorithm = doc
                .get_attribute(transform, "Algorithm")
                .unwrap_or_default();
            if algorithm == algorithm::ENVELOPED {
                enveloped = true;
            } else if C14nMode::from_uri(algorithm).is_some() {
                c14n = canonicalization(doc, transform)?;
            } else {
                return Err(invalid(format!("transform {algorithm} is not supported")));
            }
        }
    }
    let signature_tree = NodeSet::tree_with_comments(signature, doc);
    let (set, whole) = if uri.is_empty() {
        if !enveloped {
            return Err(invalid(
                "the reference to the whole document has no enveloped-signature transform",
            ));
        }
        // A same-document reference's node set has no comments (XML-DSig §4.4.3.2).
        (
            NodeSet::all_without_comments(doc).subtract(&signature_tree),
            true,
        )
    } else if let Some(id) = uri.strip_prefix('#') {
        let target = element_by_id(doc, id)?;
        let mut set = NodeSet::tree_without_comments(target, doc);
        if enveloped {
            set = set.subtract(&signature_tree);
        }
        (set, false)
    } else {
        return Err(invalid(format!(
            "the reference \"{uri}\" is not to this document"
        )));
    };
    let bytes = canonical(doc, &c14n, &set)?;
    let method = doc
        .first_child_element_by_name_ns(reference, DSIG_NS, "DigestMethod")
        .and_then(|node| doc.get_attribute(node, "Algorithm"))
        .unwrap_or_default();
    let digest = match method {
        algorithm::SHA256 => &ring::digest::SHA256,
        algorithm::SHA384 => &ring::digest::SHA384,
        algorithm::SHA512 => &ring::digest::SHA512,
        other => return Err(invalid(format!("digest {other} is not supported"))),
    };
    let expected = doc
        .first_child_element_by_name_ns(reference, DSIG_NS, "DigestValue")
        .map(|node| {
            doc.text_content_deep(node)
                .split_whitespace()
                .collect::<String>()
        })
        .ok_or_else(|| invalid("a ds:Reference without DigestValue"))?;
    let expected = STANDARD
        .decode(expected)
        .map_err(|error| invalid(format!("DigestValue is not base64: {error}")))?;
    if ring::digest::digest(digest, &bytes).as_ref() != expected.as_slice() {
        return Err(invalid(format!(
            "the digest of the reference \"{uri}\" does not match: the list was changed after it was signed"
        )));
    }
    Ok(whole)
}

/// The one element whose `Id` (or `ID`, `id`) is `id`; two are an error (a signature
/// wrapping attempt).
fn element_by_id(
    doc: &uppsala::Document<'_>,
    id: &str,
) -> Result<uppsala::NodeId, TrustedListError> {
    let mut found = Vec::new();
    let mut stack = vec![doc.root()];
    while let Some(node) = stack.pop() {
        if let Some(element) = doc.element(node)
            && element.attributes.iter().any(|attribute| {
                matches!(attribute.name.local_name.as_ref(), "Id" | "ID" | "id")
                    && attribute.value == id
            })
        {
            found.push(node);
        }
        stack.extend(doc.children(node));
    }
    match found.as_slice() {
        [node] => Ok(*node),
        [] => Err(invalid(format!("no element has the Id \"{id}\""))),
        _ => Err(invalid(format!("several elements have the Id \"{id}\""))),
    }
}

/// Whether `value` verifies over `signed` with `key` under the XML-DSig `method`.
fn check_value(key: &crate::crypto::PublicKey, method: &str, signed: &[u8], value: &[u8]) -> bool {
    let jose = match method {
        algorithm::RSA_SHA256 => "RS256",
        algorithm::RSA_SHA384 => "RS384",
        algorithm::RSA_SHA512 => "RS512",
        // XML-DSig ECDSA values are r || s, as JOSE's (RFC 4050, RFC 6931 §2.3.6).
        algorithm::ECDSA_SHA256 => "ES256",
        algorithm::ECDSA_SHA384 => "ES384",
        _ => return false,
    };
    crate::crypto::scheme_of_jose(jose).is_some_and(|(scheme, hash)| {
        crate::crypto::verify(key, scheme, hash, signed, value).is_ok()
    })
}
