//! X.509 certificates as the verifier needs them: parsed once (with `x509-parser`) into
//! an owned value, so that paths and reports hold them without borrowing the DER.

use std::fmt;
use std::sync::Arc;

use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_OCSP;
use x509_parser::prelude::FromDer;

use crate::constraints::{GeneralName as ConstrainedName, NameConstraints};
use crate::crypto::{self, PublicKey};
use crate::error::{CryptoError, KeyError};
use crate::names::Name;
use crate::policy::{ANY_POLICY, Policies};
use crate::profile::ProfileRule;

/// Extensions a certificate may mark critical that this verifier processes (RFC 5280
/// §4.2: a certificate with any other critical extension must be rejected).
const UNDERSTOOD_CRITICAL: [&str; 13] = [
    "2.5.29.15",         // keyUsage
    "2.5.29.17",         // subjectAltName
    "2.5.29.19",         // basicConstraints
    "2.5.29.32",         // certificatePolicies (crate::policy)
    "2.5.29.33",         // policyMappings (crate::policy)
    "2.5.29.54",         // inhibitAnyPolicy (crate::policy)
    "2.5.29.37",         // extKeyUsage
    "2.5.29.14",         // subjectKeyIdentifier (never critical, but harmless)
    "2.5.29.35",         // authorityKeyIdentifier (idem)
    "2.5.29.31",         // cRLDistributionPoints
    "2.5.29.36",         // policyConstraints (crate::policy)
    "2.5.29.30",         // nameConstraints (crate::constraints)
    "1.3.6.1.5.5.7.1.1", // authorityInfoAccess (where to ask; never critical by RFC 5280)
];

/// `serialNumber` (2.5.4.5): the subject's identity number (DNI, passport…).
const OID_SERIAL_NUMBER: &str = "2.5.4.5";
/// `organizationIdentifier` (2.5.4.97): an organization's number (RUC).
const OID_ORGANIZATION_IDENTIFIER: &str = "2.5.4.97";

/// Key usage bits (RFC 5280 §4.2.1.3), as `x509-parser` numbers them.
pub(crate) mod key_usage {
    pub(crate) const DIGITAL_SIGNATURE: u16 = 1;
    pub(crate) const NON_REPUDIATION: u16 = 1 << 1;
    pub(crate) const KEY_CERT_SIGN: u16 = 1 << 5;
    pub(crate) const CRL_SIGN: u16 = 1 << 6;
}

/// Why a certificate could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// The bytes are not a DER X.509 certificate.
    #[error("not an X.509 certificate: {detail}")]
    NotX509 {
        /// What the parser says.
        detail: String,
    },
    /// Bytes follow the certificate.
    #[error("trailing bytes after the certificate")]
    TrailingBytes,
    /// The text is not PEM.
    #[error("not PEM: {detail}")]
    NotPem {
        /// What the PEM reader says.
        detail: String,
    },
    /// The PEM text holds no certificate.
    #[error("no CERTIFICATE block")]
    NoCertificate,
    /// A validity time cannot be represented.
    #[error("certificate time out of range: {detail}")]
    TimeOutOfRange {
        /// What the time library says.
        detail: String,
    },
}

/// A parsed X.509 certificate. Cheap to clone (the parsed data is shared).
#[derive(Clone)]
pub struct Certificate(Arc<Inner>);

struct Inner {
    der: Vec<u8>,
    tbs: std::ops::Range<usize>,
    signature_algorithm: String,
    signature_parameters: Option<Vec<u8>>,
    signature: Vec<u8>,
    version: u32,
    subject_raw: Vec<u8>,
    issuer_raw: Vec<u8>,
    subject: String,
    issuer: String,
    serial: Vec<u8>,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    public_key: Result<PublicKey, KeyError>,
    basic_constraints: Option<(bool, Option<u32>)>,
    key_usage: Option<u16>,
    extended_key_usage: Option<Vec<String>>,
    subject_key_id: Option<Vec<u8>>,
    authority_key_id: Option<Vec<u8>>,
    crl_distribution_points: Vec<String>,
    ocsp_responders: Vec<String>,
    /// The OCSP request for this certificate, made once (with its issuer's fingerprint).
    ocsp_request: std::sync::OnceLock<([u8; 32], Vec<u8>)>,
    public_key_bits: Vec<u8>,
    unknown_critical: Vec<String>,
    identifiers: Vec<String>,
    fingerprint: [u8; 32],
    /// The profile rules the certificate breaks by itself (RFC 5280 §4).
    profile: Vec<ProfileRule>,
    basic_constraints_critical: bool,
    san_critical: bool,
    /// Whether the extended key usage is critical (RFC 3161 §2.3 requires it of a
    /// time-stamping certificate).
    eku_critical: bool,
    /// How many names the subject alternative name holds.
    san_names: usize,
    /// Subject and issuer prepared for comparison (RFC 5280 §7.1).
    subject_name: Name,
    issuer_name: Name,
    /// The names name constraints apply to: the subject, its e-mail addresses and the
    /// subject alternative names.
    names: Vec<ConstrainedName>,
    name_constraints: Option<NameConstraints>,
    /// What the certificate says about policies.
    policies: Policies,
    /// Its CRL distribution points, as revocation checking reads them.
    distribution_points: Vec<crate::scope::DistributionPoint>,
}

impl Certificate {
    /// Parses a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, CertificateError> {
        let (rest, cert) =
            X509Certificate::from_der(der).map_err(|error| CertificateError::NotX509 {
                detail: error.to_string(),
            })?;
        if !rest.is_empty() {
            return Err(CertificateError::TrailingBytes);
        }
        Self::from_parsed(der, &cert)
    }

    /// Every certificate in PEM text (`-----BEGIN CERTIFICATE-----` blocks; other blocks
    /// are ignored).
    pub fn all_from_pem(text: &[u8]) -> Result<Vec<Self>, CertificateError> {
        let blocks = pem::parse_many(text).map_err(|error| CertificateError::NotPem {
            detail: error.to_string(),
        })?;
        blocks
            .iter()
            .filter(|block| block.tag() == "CERTIFICATE")
            .map(|block| Self::from_der(block.contents()))
            .collect()
    }

    fn from_parsed(der: &[u8], cert: &X509Certificate<'_>) -> Result<Self, CertificateError> {
        let tbs_raw = cert.tbs_certificate.as_ref();
        let tbs_start = tbs_raw.as_ptr() as usize - der.as_ptr() as usize;
        let tbs = cert.tbs_certificate.clone();
        let mut inner = Inner {
            der: der.to_vec(),
            tbs: tbs_start..tbs_start + tbs_raw.len(),
            signature_algorithm: cert.signature_algorithm.algorithm.to_id_string(),
            signature_parameters: cert
                .signature_algorithm
                .parameters
                .as_ref()
                .map(|any| any.data.to_vec()),
            signature: cert.signature_value.data.to_vec(),
            version: tbs.version().0,
            subject_raw: tbs.subject().as_raw().to_vec(),
            issuer_raw: tbs.issuer().as_raw().to_vec(),
            subject: tbs.subject().to_string(),
            issuer: tbs.issuer().to_string(),
            serial: tbs.raw_serial().to_vec(),
            not_before: time_of(tbs.validity().not_before)?,
            not_after: time_of(tbs.validity().not_after)?,
            public_key: PublicKey::from_spki(tbs.public_key()),
            basic_constraints: None,
            key_usage: None,
            extended_key_usage: None,
            subject_key_id: None,
            authority_key_id: None,
            crl_distribution_points: Vec::new(),
            ocsp_responders: Vec::new(),
            ocsp_request: std::sync::OnceLock::new(),
            public_key_bits: tbs.public_key().subject_public_key.data.to_vec(),
            unknown_critical: Vec::new(),
            identifiers: Vec::new(),
            fingerprint: crypto::sha256(der),
            profile: Vec::new(),
            basic_constraints_critical: false,
            san_critical: false,
            eku_critical: false,
            san_names: 0,
            subject_name: Name::from_parsed(tbs.subject()),
            issuer_name: Name::from_parsed(tbs.issuer()),
            names: Vec::new(),
            name_constraints: None,
            policies: Policies::default(),
            distribution_points: Vec::new(),
        };
        if !inner.subject_name.is_empty() {
            inner
                .names
                .push(ConstrainedName::Directory(inner.subject_name.clone()));
        }
        inner.names.extend(
            Name::email_addresses(tbs.subject())
                .into_iter()
                .map(ConstrainedName::Rfc822),
        );
        inner.identifiers = identifiers(tbs.subject());
        inner.profile.extend(certificate_rules(cert));
        let mut seen = std::collections::HashSet::new();
        for extension in tbs.extensions() {
            let oid = extension.oid.to_id_string();
            if !seen.insert(oid.clone()) {
                // The first occurrence is what the fields below hold; the certificate
                // fails the profile whatever a second one says.
                inner
                    .profile
                    .push(ProfileRule::DuplicateExtension { oid: oid.clone() });
                continue;
            }
            if extension.critical && !UNDERSTOOD_CRITICAL.contains(&oid.as_str()) {
                inner.unknown_critical.push(oid.clone());
            }
            criticality(&mut inner, &oid, extension.critical);
            if let Err(detail) = strict_extension(&mut inner, &oid, extension.value) {
                if oid == "2.5.29.30" {
                    inner.name_constraints = Some(NameConstraints {
                        unreadable: true,
                        ..NameConstraints::default()
                    });
                }
                inner
                    .profile
                    .push(ProfileRule::MalformedExtension { oid, detail });
                continue;
            }
            read_parsed(&mut inner, extension.parsed_extension(), oid);
        }
        inner
            .profile
            .extend(consistency_rules(&inner, tbs.extensions().is_empty()));
        Ok(Self(Arc::new(inner)))
    }

    /// The DER encoding.
    #[must_use]
    pub fn der(&self) -> &[u8] {
        &self.0.der
    }

    /// The subject distinguished name, as text.
    #[must_use]
    pub fn subject(&self) -> &str {
        &self.0.subject
    }

    /// The issuer distinguished name, as text.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.0.issuer
    }

    /// The serial number in hexadecimal.
    #[must_use]
    pub fn serial_hex(&self) -> String {
        hex(&self.0.serial)
    }

    /// The SHA-256 fingerprint of the DER encoding.
    #[must_use]
    pub fn fingerprint(&self) -> [u8; 32] {
        self.0.fingerprint
    }

    /// Start of the validity period.
    #[must_use]
    pub fn not_before(&self) -> OffsetDateTime {
        self.0.not_before
    }

    /// End of the validity period.
    #[must_use]
    pub fn not_after(&self) -> OffsetDateTime {
        self.0.not_after
    }

    /// The identity numbers of the subject (`serialNumber`, `organizationIdentifier`).
    #[must_use]
    pub fn identifiers(&self) -> &[String] {
        &self.0.identifiers
    }

    /// The CRL distribution point URIs.
    #[must_use]
    pub fn crl_distribution_points(&self) -> &[String] {
        &self.0.crl_distribution_points
    }

    /// The OCSP responders named in the authority information access extension.
    #[must_use]
    pub fn ocsp_responders(&self) -> &[String] {
        &self.0.ocsp_responders
    }

    /// The OCSP request for this certificate under `issuer`, made by `make` the first
    /// time (a registry verifies many acts by the same signer).
    pub(crate) fn ocsp_request<E>(
        &self,
        issuer: &Self,
        make: impl FnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<Vec<u8>, E> {
        match self.0.ocsp_request.get() {
            Some((fingerprint, request)) if *fingerprint == issuer.fingerprint() => {
                Ok(request.clone())
            }
            _ => {
                let request = make()?;
                let _ = self
                    .0
                    .ocsp_request
                    .set((issuer.fingerprint(), request.clone()));
                Ok(request)
            }
        }
    }

    /// The subject public key's bits (what an OCSP issuer key hash is taken over).
    pub(crate) fn public_key_bits(&self) -> &[u8] {
        &self.0.public_key_bits
    }

    pub(crate) fn tbs(&self) -> &[u8] {
        &self.0.der[self.0.tbs.clone()]
    }

    pub(crate) fn signature_algorithm(&self) -> (&str, Option<&[u8]>) {
        (
            &self.0.signature_algorithm,
            self.0.signature_parameters.as_deref(),
        )
    }

    pub(crate) fn signature(&self) -> &[u8] {
        &self.0.signature
    }

    pub(crate) fn version(&self) -> u32 {
        self.0.version
    }

    pub(crate) fn subject_raw(&self) -> &[u8] {
        &self.0.subject_raw
    }

    pub(crate) fn issuer_raw(&self) -> &[u8] {
        &self.0.issuer_raw
    }

    pub(crate) fn serial(&self) -> &[u8] {
        &self.0.serial
    }

    /// The subject public key, when it is one this verifier supports.
    ///
    /// # Errors
    /// Why this verifier cannot use the key (its algorithm or curve).
    pub fn public_key(&self) -> Result<&PublicKey, &KeyError> {
        self.0.public_key.as_ref()
    }

    /// `(cA, pathLenConstraint)` when the certificate has basic constraints.
    pub(crate) fn basic_constraints(&self) -> Option<(bool, Option<u32>)> {
        self.0.basic_constraints
    }

    pub(crate) fn is_ca(&self) -> bool {
        matches!(self.0.basic_constraints, Some((true, _)))
    }

    pub(crate) fn key_usage(&self) -> Option<u16> {
        self.0.key_usage
    }

    /// The extended key usages as dotted OIDs, when the extension is present.
    pub(crate) fn extended_key_usage(&self) -> Option<&[String]> {
        self.0.extended_key_usage.as_deref()
    }

    /// Whether the extended key usage extension is marked critical.
    pub(crate) fn extended_key_usage_critical(&self) -> bool {
        self.0.eku_critical
    }

    pub(crate) fn subject_key_id(&self) -> Option<&[u8]> {
        self.0.subject_key_id.as_deref()
    }

    pub(crate) fn authority_key_id(&self) -> Option<&[u8]> {
        self.0.authority_key_id.as_deref()
    }

    pub(crate) fn unknown_critical(&self) -> &[String] {
        &self.0.unknown_critical
    }

    /// The profile rules the certificate breaks by itself.
    pub(crate) fn profile_rules(&self) -> &[ProfileRule] {
        &self.0.profile
    }

    /// Whether its `basicConstraints` extension is marked critical.
    pub(crate) fn basic_constraints_critical(&self) -> bool {
        self.0.basic_constraints_critical
    }

    /// The subject prepared for comparison.
    pub(crate) fn subject_name(&self) -> &Name {
        &self.0.subject_name
    }

    /// The issuer prepared for comparison.
    pub(crate) fn issuer_name(&self) -> &Name {
        &self.0.issuer_name
    }

    /// The names name constraints apply to.
    pub(crate) fn constrained_names(&self) -> &[ConstrainedName] {
        &self.0.names
    }

    /// Its CRL distribution points (RFC 5280 §4.2.1.13).
    pub(crate) fn distribution_points(&self) -> &[crate::scope::DistributionPoint] {
        &self.0.distribution_points
    }

    /// What the certificate says about policies.
    pub(crate) fn policies(&self) -> &Policies {
        &self.0.policies
    }

    /// The name constraints the certificate imposes, if it has them.
    pub(crate) fn name_constraints(&self) -> Option<&NameConstraints> {
        self.0.name_constraints.as_ref()
    }

    /// Whether subject and issuer are the same name (a root, or a self-issued CA).
    pub(crate) fn is_self_issued(&self) -> bool {
        self.0.subject_raw == self.0.issuer_raw || self.0.subject_name == self.0.issuer_name
    }

    /// Whether the certificate is the same as another (same DER).
    pub(crate) fn same_as(&self, other: &Self) -> bool {
        self.0.fingerprint == other.0.fingerprint
    }

    /// Whether `issuer` could have issued this certificate: its subject is this one's
    /// issuer name and, when both say, its key identifier is this one's authority key
    /// identifier.
    pub(crate) fn could_be_issued_by(&self, issuer: &Self) -> bool {
        if self.issuer_raw() != issuer.subject_raw() && self.issuer_name() != issuer.subject_name()
        {
            return false;
        }
        match (self.authority_key_id(), issuer.subject_key_id()) {
            (Some(aki), Some(ski)) => aki == ski,
            _ => true,
        }
    }

    /// Whether this certificate's signature verifies with `issuer`'s public key.
    pub(crate) fn verify_issued_by(&self, issuer: &Self) -> Result<(), CryptoError> {
        let key = issuer
            .public_key()
            .map_err(|error| CryptoError::UnusableKey {
                subject: issuer.subject().to_owned(),
                source: error.clone(),
            })?;
        let (algorithm, parameters) = self.signature_algorithm();
        crypto::verify_x509_signature(key, algorithm, parameters, self.tbs(), self.signature())
    }

    /// A one-line description for reports: subject, serial and validity.
    #[must_use]
    pub fn describe(&self) -> String {
        format!(
            "\"{}\" (serial {}, valid {} to {})",
            self.subject(),
            self.serial_hex(),
            crate::datetime::rfc3339(self.not_before()),
            crate::datetime::rfc3339(self.not_after())
        )
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject())
            .field("issuer", &self.issuer())
            .field("serial", &self.serial_hex())
            .finish_non_exhaustive()
    }
}

/// The identity numbers in a subject (`serialNumber`, `organizationIdentifier`).
fn identifiers(subject: &x509_parser::x509::X509Name<'_>) -> Vec<String> {
    subject
        .iter_attributes()
        .filter(|attribute| {
            let oid = attribute.attr_type().to_id_string();
            oid == OID_SERIAL_NUMBER || oid == OID_ORGANIZATION_IDENTIFIER
        })
        .filter_map(|attribute| attribute.as_str().ok().map(str::to_owned))
        .collect()
}

/// The criticality rules of RFC 5280 §4.2, and the flags later rules read.
fn criticality(inner: &mut Inner, oid: &str, critical: bool) {
    match oid {
        "2.5.29.14" | "2.5.29.35" | "1.3.6.1.5.5.7.1.1" if critical => {
            inner.profile.push(ProfileRule::MustNotBeCritical {
                oid: oid.to_owned(),
            });
        }
        "2.5.29.36" | "2.5.29.54" if !critical => {
            inner.profile.push(ProfileRule::MustBeCritical {
                oid: oid.to_owned(),
            });
        }
        "2.5.29.19" => inner.basic_constraints_critical = critical,
        "2.5.29.17" => inner.san_critical = critical,
        "2.5.29.37" => inner.eku_critical = critical,
        _ => {}
    }
}

/// Keeps what the verifier reads of an extension `x509-parser` decoded.
fn read_parsed(inner: &mut Inner, parsed: &ParsedExtension<'_>, oid: String) {
    match parsed {
        ParsedExtension::BasicConstraints(bc) => {
            inner.basic_constraints = Some((bc.ca, bc.path_len_constraint));
        }
        ParsedExtension::KeyUsage(ku) => inner.key_usage = Some(ku.flags),
        ParsedExtension::ExtendedKeyUsage(eku) => {
            inner.extended_key_usage = Some(extended_key_usages(eku));
        }
        ParsedExtension::SubjectKeyIdentifier(id) => {
            inner.subject_key_id = Some(id.0.to_vec());
        }
        ParsedExtension::AuthorityKeyIdentifier(aki) => {
            inner.authority_key_id = aki.key_identifier.as_ref().map(|id| id.0.to_vec());
        }
        ParsedExtension::CRLDistributionPoints(points) => {
            for point in points.iter() {
                if let Some(DistributionPointName::FullName(names)) = &point.distribution_point {
                    for name in names {
                        if let GeneralName::URI(uri) = name {
                            inner.crl_distribution_points.push((*uri).to_owned());
                        }
                    }
                }
            }
        }
        ParsedExtension::AuthorityInfoAccess(access) => {
            for description in &access.accessdescs {
                if description.access_method == OID_PKIX_ACCESS_DESCRIPTOR_OCSP
                    && let GeneralName::URI(uri) = &description.access_location
                {
                    inner.ocsp_responders.push((*uri).to_owned());
                }
            }
        }
        ParsedExtension::ParseError { error } => {
            inner.profile.push(ProfileRule::MalformedExtension {
                oid,
                detail: error.to_string(),
            });
        }
        _ => {}
    }
}

/// The profile rules about the certificate's fields (not its extensions).
fn certificate_rules(cert: &X509Certificate<'_>) -> Vec<ProfileRule> {
    let tbs = &cert.tbs_certificate;
    let mut rules = Vec::new();
    let version = tbs.version().0;
    if version != 2 && !tbs.extensions().is_empty() {
        rules.push(ProfileRule::ExtensionsBeforeVersion3 { version });
    }
    let serial = tbs.raw_serial();
    if serial.first().is_none_or(|byte| byte & 0x80 != 0) || serial.iter().all(|byte| *byte == 0) {
        rules.push(ProfileRule::SerialNotPositive);
    }
    // RFC 5280 limits the value to 20 octets; a leading zero octet is there for the sign.
    let value = match serial {
        [0, rest @ ..] if rest.first().is_some_and(|byte| byte & 0x80 != 0) => rest,
        _ => serial,
    };
    if value.len() > 20 {
        rules.push(ProfileRule::SerialTooLong {
            octets: value.len(),
        });
    }
    let parameters = |algorithm: &x509_parser::x509::AlgorithmIdentifier<'_>| {
        algorithm
            .parameters
            .as_ref()
            .map(|any| (any.header.tag(), any.data.to_vec()))
    };
    if cert.signature_algorithm.algorithm != tbs.signature.algorithm
        || parameters(&cert.signature_algorithm) != parameters(&tbs.signature)
    {
        rules.push(ProfileRule::SignatureAlgorithmMismatch);
    }
    if tbs.issuer().iter_rdn().next().is_none() {
        rules.push(ProfileRule::EmptyIssuer);
    }
    rules
}

/// Decodes a known extension's value strictly (DER, with `x509-cert`), keeping what the
/// verifier needs from those `x509-parser` does not read fully; `Err` says why the value
/// breaks its definition.
fn strict_extension(inner: &mut Inner, oid: &str, value: &[u8]) -> Result<(), String> {
    use der::Decode as _;
    use x509_cert::ext::pkix::{
        AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage,
        KeyUsage, NameConstraints as Asn1Constraints, SubjectAltName, SubjectKeyIdentifier,
    };
    let text = |error: der::Error| error.to_string();
    match oid {
        "2.5.29.19" => {
            let bc = BasicConstraints::from_der(value).map_err(text)?;
            if bc.path_len_constraint.is_some() && !bc.ca {
                inner.profile.push(ProfileRule::PathLenWithoutCa);
            }
        }
        "2.5.29.15" => {
            let usages = KeyUsage::from_der(value).map_err(text)?;
            if usages.0.is_empty() {
                inner.profile.push(ProfileRule::EmptyKeyUsage);
            }
        }
        "2.5.29.37" => non_empty(
            ExtendedKeyUsage::from_der(value).map_err(text)?.0.len(),
            "no key purpose in it",
        )?,
        "2.5.29.14" => {
            SubjectKeyIdentifier::from_der(value).map_err(text)?;
        }
        "2.5.29.35" => {
            AuthorityKeyIdentifier::from_der(value).map_err(text)?;
        }
        "2.5.29.17" => {
            let names = SubjectAltName::from_der(value).map_err(text)?.0;
            if names.is_empty() {
                return Err("no name in it".into());
            }
            inner.san_names = names.len();
            for name in &names {
                inner.names.push(ConstrainedName::from_asn1(name, false)?);
            }
        }
        "2.5.29.30" => {
            inner.name_constraints = Some(name_constraints(
                &Asn1Constraints::from_der(value).map_err(text)?,
            )?);
        }
        "2.5.29.32" | "2.5.29.33" | "2.5.29.36" | "2.5.29.54" => {
            policy_extension(&mut inner.policies, oid, value)?;
        }
        "2.5.29.31" => inner.distribution_points = crate::scope::distribution_points(value)?,
        "1.3.6.1.5.5.7.1.1" => non_empty(
            AuthorityInfoAccessSyntax::from_der(value)
                .map_err(text)?
                .0
                .len(),
            "no access description in it",
        )?,
        _ => {}
    }
    Ok(())
}

/// Decodes the policy extensions strictly into what the policy processing reads.
fn policy_extension(policies: &mut Policies, oid: &str, value: &[u8]) -> Result<(), String> {
    use der::Decode as _;
    use x509_cert::ext::pkix::{
        CertificatePolicies, InhibitAnyPolicy, PolicyConstraints, PolicyMappings,
    };
    let text = |error: der::Error| error.to_string();
    match oid {
        "2.5.29.32" => {
            let list = CertificatePolicies::from_der(value).map_err(text)?.0;
            let mut oids: Vec<String> = list
                .iter()
                .map(|policy| policy.policy_identifier.to_string())
                .collect();
            let mut sorted = oids.clone();
            sorted.sort_unstable();
            sorted.dedup();
            if oids.is_empty() || sorted.len() != oids.len() {
                return Err("no policy, or a policy twice".into());
            }
            oids.shrink_to_fit();
            policies.asserted = Some(oids);
        }
        "2.5.29.33" => {
            let mappings = PolicyMappings::from_der(value).map_err(text)?.0;
            non_empty(mappings.len(), "no mapping in it")?;
            for mapping in mappings {
                let pair = (
                    mapping.issuer_domain_policy.to_string(),
                    mapping.subject_domain_policy.to_string(),
                );
                if pair.0 == ANY_POLICY || pair.1 == ANY_POLICY {
                    return Err("a mapping to or from anyPolicy".into());
                }
                policies.mappings.push(pair);
            }
        }
        "2.5.29.36" => {
            let constraints = PolicyConstraints::from_der(value).map_err(text)?;
            if constraints.require_explicit_policy.is_none()
                && constraints.inhibit_policy_mapping.is_none()
            {
                return Err("neither requireExplicitPolicy nor inhibitPolicyMapping".into());
            }
            policies.require_explicit = constraints.require_explicit_policy;
            policies.inhibit_mapping = constraints.inhibit_policy_mapping;
        }
        "2.5.29.54" => {
            policies.inhibit_any = Some(InhibitAnyPolicy::from_der(value).map_err(text)?.0);
        }
        _ => {}
    }
    Ok(())
}

/// `Ok` when a list the ASN.1 definition requires to have at least one element has one.
fn non_empty(count: usize, empty: &str) -> Result<(), String> {
    if count == 0 {
        Err(empty.to_owned())
    } else {
        Ok(())
    }
}

/// Name constraints as the verifier applies them; `Err` says why they break RFC 5280
/// §4.2.1.10 (nothing in them, an empty list, a minimum or maximum, an unusable base).
fn name_constraints(
    constraints: &x509_cert::ext::pkix::NameConstraints,
) -> Result<NameConstraints, String> {
    let mut out = NameConstraints::default();
    let lists = [
        (&constraints.permitted_subtrees, &mut out.permitted),
        (&constraints.excluded_subtrees, &mut out.excluded),
    ];
    if lists.iter().all(|(list, _)| list.is_none()) {
        return Err("neither permitted nor excluded subtrees".into());
    }
    for (list, bases) in lists {
        let Some(list) = list else { continue };
        if list.is_empty() {
            return Err("an empty list of subtrees".into());
        }
        for subtree in list {
            if subtree.minimum != 0 || subtree.maximum.is_some() {
                return Err("a subtree with a minimum or maximum".into());
            }
            bases.push(ConstrainedName::from_asn1(&subtree.base, true)?);
        }
    }
    Ok(out)
}

/// The profile rules that tie extensions together.
fn consistency_rules(inner: &Inner, no_extensions: bool) -> Vec<ProfileRule> {
    let mut rules = Vec::new();
    let ca = matches!(inner.basic_constraints, Some((true, _)));
    if inner
        .key_usage
        .is_some_and(|usage| usage & key_usage::KEY_CERT_SIGN != 0)
        && !ca
    {
        rules.push(ProfileRule::KeyCertSignWithoutCa);
    }
    if inner.name_constraints.is_some() && !ca {
        rules.push(ProfileRule::NameConstraintsWithoutCa);
    }
    let has_san = inner.san_names > 0;
    if inner.subject_name.is_empty() && (no_extensions || !has_san || !inner.san_critical) {
        rules.push(ProfileRule::EmptySubjectWithoutCriticalSan);
    }
    rules
}

fn time_of(time: x509_parser::time::ASN1Time) -> Result<OffsetDateTime, CertificateError> {
    OffsetDateTime::from_unix_timestamp(time.timestamp()).map_err(|error| {
        CertificateError::TimeOutOfRange {
            detail: error.to_string(),
        }
    })
}

fn extended_key_usages(eku: &x509_parser::extensions::ExtendedKeyUsage<'_>) -> Vec<String> {
    let mut oids = Vec::new();
    let named = [
        (eku.any, "2.5.29.37.0"),
        (eku.server_auth, "1.3.6.1.5.5.7.3.1"),
        (eku.client_auth, "1.3.6.1.5.5.7.3.2"),
        (eku.code_signing, "1.3.6.1.5.5.7.3.3"),
        (eku.email_protection, "1.3.6.1.5.5.7.3.4"),
        (eku.time_stamping, "1.3.6.1.5.5.7.3.8"),
        (eku.ocsp_signing, "1.3.6.1.5.5.7.3.9"),
    ];
    for (present, oid) in named {
        if present {
            oids.push(oid.to_owned());
        }
    }
    oids.extend(
        eku.other
            .iter()
            .map(x509_parser::der_parser::Oid::to_id_string),
    );
    oids
}

/// Lower-case hexadecimal.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}
