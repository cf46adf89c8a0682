//! Revocation status from certificate revocation lists (RFC 5280 §5) and OCSP responses
//! ([`crate::ocsp`]), at the signing time.
//!
//! A CRL counts for a certificate when its issuer name is the certificate's issuer, its
//! signature verifies with the issuing CA's key (which, if it has a key usage, must allow
//! `cRLSign`), it has no critical extension this verifier does not process (so delta and
//! partitioned CRLs are ignored rather than misread), and it was issued no later than the
//! verification time. Of those, the newest decides:
//!
//! - listed with a revocation date at or before the signing time: **failed**;
//! - listed with a later revocation date: **indeterminate**. The signing time is the
//!   signer's own claim, and nothing (no time-stamp) proves the signature existed before
//!   the revocation; ETSI EN 319 102-1 calls this `REVOKED_NO_POE`;
//! - not listed, and the CRL was issued after the signing time or was still current then
//!   (its `nextUpdate` is not before the signing time): **passed**;
//! - otherwise (no CRL, or only one that expired before the signing time): **indeterminate**.
//!
//! An OCSP response is read the same way (its `thisUpdate` for the CRL's issue date). When
//! both sources speak, the graver answer wins: a revocation before the signing time in
//! either fails the check, whatever the other says.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use time::OffsetDateTime;
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use crate::cert::{Certificate, hex, key_usage};
use crate::crypto;
use crate::datetime::rfc3339;
use crate::error::{ResponderError, RevocationError, RevocationSource};
use crate::names::Name;
use crate::ocsp::{Answer, OcspResponse};
use crate::report::Status;
use crate::scope::{ALL_REASONS, DistributionPoint, Scope};

/// CRL extensions this verifier processes when critical (cRLNumber and
/// authorityKeyIdentifier, which RFC 5280 requires non-critical, are read for the profile
/// and the delta CRLs).
const UNDERSTOOD_CRITICAL: [&str; 2] = [
    "2.5.29.27", // deltaCRLIndicator (a delta CRL, applied over its base)
    "2.5.29.28", // issuingDistributionPoint (crate::scope)
];

/// CRL entry extensions this verifier reads (reasonCode, certificateIssuer in an indirect
/// CRL) or may ignore (invalidityDate, which only informs). Any other marked critical sets
/// the CRL aside: RFC 5280 §5.3 forbids using it.
const UNDERSTOOD_ENTRY: [&str; 3] = ["2.5.29.21", "2.5.29.24", "2.5.29.29"];

/// Why a CRL cannot be used (RFC 5280 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CrlDefect {
    /// No cRLNumber (§5.2.3: conforming CRL issuers MUST include it).
    NoCrlNumber,
    /// A critical cRLNumber (§5.2.3: it MUST be non-critical).
    CriticalCrlNumber,
    /// No authority key identifier with a key identifier (§5.2.1).
    NoAuthorityKeyId,
    /// An extension twice (§5.2).
    DuplicateExtension {
        /// The extension's object identifier.
        oid: String,
    },
    /// Extensions in a version 1 CRL (§5.1.2.1).
    ExtensionsInVersion1,
    /// An extension the verifier relies on that does not decode (DER) as its ASN.1
    /// definition says: the issuing distribution point, the CRL number, the delta CRL's
    /// base number, an entry's certificate issuer.
    MalformedExtension {
        /// The extension's object identifier.
        oid: String,
        /// What is wrong.
        detail: String,
    },
    /// A critical extension this verifier does not process.
    UnsupportedCritical {
        /// The extension's object identifier.
        oid: String,
    },
    /// A critical entry extension this verifier does not process (§5.3).
    UnsupportedCriticalEntry {
        /// The extension's object identifier.
        oid: String,
    },
}

impl std::fmt::Display for CrlDefect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::profile::extension_name;
        match self {
            Self::NoCrlNumber => f.write_str("has no cRLNumber (RFC 5280 §5.2.3)"),
            Self::CriticalCrlNumber => {
                f.write_str("marks its cRLNumber critical, which must not be (RFC 5280 §5.2.3)")
            }
            Self::NoAuthorityKeyId => f.write_str(
                "has no authority key identifier with a keyIdentifier (RFC 5280 §5.2.1)",
            ),
            Self::DuplicateExtension { oid } => write!(
                f,
                "has the {} extension twice (RFC 5280 §5.2)",
                extension_name(oid)
            ),
            Self::MalformedExtension { oid, detail } => write!(
                f,
                "has a {} extension that cannot be read: {detail}",
                extension_name(oid)
            ),
            Self::ExtensionsInVersion1 => {
                f.write_str("is a version 1 CRL with extensions (RFC 5280 §5.1.2.1)")
            }
            Self::UnsupportedCritical { oid } => write!(
                f,
                "has a critical {} extension, which this verifier does not process",
                extension_name(oid)
            ),
            Self::UnsupportedCriticalEntry { oid } => write!(
                f,
                "has an entry with a critical {} extension, which this verifier does not process (RFC 5280 §5.3)",
                extension_name(oid)
            ),
        }
    }
}

/// Why a CRL could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CrlError {
    /// The bytes are not a DER CRL.
    #[error("not an X.509 CRL: {detail}")]
    NotCrl {
        /// What the parser says.
        detail: String,
    },
    /// A time that cannot be represented.
    #[error("CRL time out of range: {detail}")]
    TimeOutOfRange {
        /// What the time library says.
        detail: String,
    },
    /// The text is not PEM.
    #[error("not PEM: {detail}")]
    NotPem {
        /// What the PEM reader says.
        detail: String,
    },
    /// The PEM text holds no CRL.
    #[error("no X509 CRL block")]
    NoCrl,
}

/// A parsed certificate revocation list.
#[derive(Debug, Clone)]
pub struct Crl(Arc<CrlInner>);

#[derive(Debug)]
struct CrlInner {
    issuer_name: Name,
    issuer: String,
    this_update: OffsetDateTime,
    next_update: Option<OffsetDateTime>,
    /// Serial (DER content octets) → its entries (several in an indirect CRL, one per
    /// certificate issuer).
    revoked: HashMap<Vec<u8>, Vec<Entry>>,
    /// The issuing distribution point, if any.
    scope: Option<Scope>,
    /// `cRLNumber` (big-endian octets).
    number: Option<Vec<u8>>,
    /// `deltaCRLIndicator`: the number of the complete CRL it updates, for a delta CRL.
    delta_base: Option<Vec<u8>>,
    tbs: Vec<u8>,
    signature_algorithm: String,
    signature_parameters: Option<Vec<u8>>,
    signature: Vec<u8>,
    /// Why the CRL cannot be used, if it cannot.
    defect: Option<CrlDefect>,
    fingerprint: [u8; 32],
}

/// One entry of a CRL.
#[derive(Debug)]
struct Entry {
    /// The certificate's issuer, by each of its names (the CRL's, unless an indirect CRL
    /// says otherwise).
    /// Shared by the entries that follow one `certificateIssuer` (most CRLs: all).
    issuer: Arc<[Name]>,
    date: OffsetDateTime,
    reason: Option<String>,
    /// `removeFromCRL`: a delta CRL says the certificate is no longer on hold.
    remove: bool,
}

/// `removeFromCRL` (RFC 5280 §5.3.1).
const REMOVE_FROM_CRL: u8 = 8;

impl Crl {
    /// Parses a DER CRL.
    pub fn from_der(der: &[u8]) -> Result<Self, CrlError> {
        let (_, crl) =
            CertificateRevocationList::from_der(der).map_err(|error| CrlError::NotCrl {
                detail: error.to_string(),
            })?;
        let time = |t: x509_parser::time::ASN1Time| {
            OffsetDateTime::from_unix_timestamp(t.timestamp()).map_err(|error| {
                CrlError::TimeOutOfRange {
                    detail: error.to_string(),
                }
            })
        };
        let issuer_name = Name::from_parsed(crl.issuer());
        let mut defect = defect(&crl);
        let mut scope = None;
        let mut number = None;
        let mut delta_base = None;
        for extension in crl.extensions() {
            let oid = extension.oid.to_id_string();
            let read = match oid.as_str() {
                "2.5.29.28" => crate::scope::scope(extension.value).map(|read| scope = Some(read)),
                "2.5.29.20" => uint(extension.value).map(|read| number = Some(read)),
                "2.5.29.27" => uint(extension.value).map(|read| delta_base = Some(read)),
                _ => Ok(()),
            };
            if let Err(detail) = read {
                defect.get_or_insert(CrlDefect::MalformedExtension { oid, detail });
            }
        }
        // certificateIssuer means something in an indirect CRL only (RFC 5280 §5.3.3):
        // elsewhere every entry is the CRL issuer's.
        let indirect = scope.as_ref().is_some_and(|scope: &Scope| scope.indirect);
        let mut revoked: HashMap<Vec<u8>, Vec<Entry>> = HashMap::new();
        let mut current: Arc<[Name]> = Arc::from(vec![issuer_name.clone()]);
        for entry in crl.iter_revoked_certificates() {
            if let Some(extension) = entry
                .extensions()
                .iter()
                .find(|extension| indirect && extension.oid.to_id_string() == "2.5.29.29")
            {
                match certificate_issuer(extension.value) {
                    Ok(names) => current = Arc::from(names),
                    Err(detail) => {
                        defect.get_or_insert(CrlDefect::MalformedExtension {
                            oid: "2.5.29.29".into(),
                            detail,
                        });
                    }
                }
            }
            let code = entry.reason_code().map(|(_, code)| code);
            revoked
                .entry(entry.raw_serial().to_vec())
                .or_default()
                .push(Entry {
                    issuer: Arc::clone(&current),
                    date: time(entry.revocation_date)?,
                    reason: code.map(|code| code.to_string()),
                    remove: code.is_some_and(|code| code.0 == REMOVE_FROM_CRL),
                });
        }
        Ok(Self(Arc::new(CrlInner {
            issuer_name,
            scope,
            number,
            delta_base,
            issuer: crl.issuer().to_string(),
            this_update: time(crl.last_update())?,
            next_update: crl.next_update().map(time).transpose()?,
            revoked,
            tbs: crl.tbs_cert_list.as_ref().to_vec(),
            signature_algorithm: crl.signature_algorithm.algorithm.to_id_string(),
            signature_parameters: crl
                .signature_algorithm
                .parameters
                .as_ref()
                .map(|any| any.data.to_vec()),
            signature: crl.signature_value.data.to_vec(),
            defect,
            fingerprint: crypto::sha256(der),
        })))
    }

    /// Every CRL in PEM text (`X509 CRL` blocks) or a single DER CRL.
    pub fn all_from_bytes(bytes: &[u8]) -> Result<Vec<Self>, CrlError> {
        if bytes.starts_with(b"-----") {
            let blocks = pem::parse_many(bytes).map_err(|error| CrlError::NotPem {
                detail: error.to_string(),
            })?;
            let crls: Vec<_> = blocks
                .iter()
                .filter(|block| block.tag() == "X509 CRL")
                .map(|block| Self::from_der(block.contents()))
                .collect::<Result<_, _>>()?;
            if crls.is_empty() {
                return Err(CrlError::NoCrl);
            }
            Ok(crls)
        } else {
            Ok(vec![Self::from_der(bytes)?])
        }
    }

    /// The issuer distinguished name.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.0.issuer
    }

    /// When the CRL was issued.
    #[must_use]
    pub fn this_update(&self) -> OffsetDateTime {
        self.0.this_update
    }

    /// When the next CRL is due.
    #[must_use]
    pub fn next_update(&self) -> Option<OffsetDateTime> {
        self.0.next_update
    }
}

/// The times a certificate's status is judged by (ETSI EN 319 102-1 §5.6).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Signing {
    /// The signing time the signature claims: a revocation at or before it fails (the
    /// signer's own claim places the signature after it).
    pub(crate) claimed: OffsetDateTime,
    /// The time a valid time-stamp proves the signature existed at: a revocation after
    /// it does not reach the signature. Without one, a revocation after the claimed
    /// time leaves the signature indeterminate (`REVOKED_NO_POE`).
    pub(crate) proof: Option<OffsetDateTime>,
    /// The time revocation information must be current at: the proof's, else the
    /// verification time. Never the claimed time, which the signer chooses: a signer
    /// could otherwise pick a time when an old CRL was current, before the revocation
    /// a newer one lists.
    pub(crate) fresh: OffsetDateTime,
}

impl Signing {
    /// A time nothing proves, with revocation information current at `fresh`.
    pub(crate) const fn claimed(claimed: OffsetDateTime, fresh: OffsetDateTime) -> Self {
        Self {
            claimed,
            proof: None,
            fresh,
        }
    }
}

/// The CRLs through each distribution point, newest first, until every reason is
/// covered: `Err` with the evidence when one lists the certificate, else the reasons
/// covered and the CRLs relied on.
fn walk<'a>(
    cert: &Certificate,
    points: &[DistributionPoint],
    usable: &[&'a Crl],
    signed: &dyn Fn(&Crl) -> bool,
    signing: Signing,
) -> Result<(u16, Vec<&'a Crl>), Box<Evidence>> {
    let is_ca = cert.is_ca();
    let mut mask = 0;
    let mut used: Vec<&Crl> = Vec::new();
    for point in points {
        let mut complete: Vec<&Crl> = usable
            .iter()
            .copied()
            .filter(|crl| {
                crl.0.delta_base.is_none()
                    && crate::scope::covers(
                        &crl.0.issuer_name,
                        crl.0.scope.as_ref(),
                        point,
                        cert.issuer_name(),
                        is_ca,
                    )
                    && signed(crl)
            })
            .collect();
        complete.sort_by_key(|crl| std::cmp::Reverse(crl.0.this_update));
        for crl in complete {
            let interim = crate::scope::reasons(crl.0.scope.as_ref(), point);
            if interim & !mask == 0 {
                continue;
            }
            let delta = usable
                .iter()
                .copied()
                .filter(|delta| {
                    delta.0.issuer_name == crl.0.issuer_name
                        && delta.0.scope == crl.0.scope
                        // RFC 5280 §5.2.4: the complete CRL's number is at least the
                        // delta's base, and below the delta's own number.
                        && delta.0.delta_base.as_ref().is_some_and(|base| {
                            crl.0.number.as_ref().is_some_and(|number| {
                                compare(base, number) != std::cmp::Ordering::Greater
                                    && delta.0.number.as_ref().is_some_and(|own| {
                                        compare(number, own) == std::cmp::Ordering::Less
                                    })
                            })
                        })
                        && signed(delta)
                })
                .max_by_key(|delta| delta.0.this_update);
            let listed = match delta.and_then(|delta| delta.entry(cert).map(|e| (e, delta))) {
                Some(found) => Some(found),
                None => crl.entry(cert).map(|entry| (entry, crl)),
            };
            if let Some((entry, source)) = listed
                && !entry.remove
            {
                let source = RevocationSource::Crl {
                    issued: source.0.this_update,
                };
                return Err(Box::new(Evidence::revoked(
                    cert,
                    entry.date,
                    entry.reason.as_deref(),
                    signing,
                    source,
                )));
            }
            mask |= interim;
            used.push(crl);
            used.extend(delta);
            if mask == ALL_REASONS {
                break;
            }
        }
        if mask == ALL_REASONS {
            break;
        }
    }
    Ok((mask, used))
}

/// The directory names a `certificateIssuer` entry extension gives.
fn certificate_issuer(value: &[u8]) -> Result<Vec<Name>, String> {
    use der::Decode as _;
    let names = Vec::<x509_cert::ext::pkix::name::GeneralName>::from_der(value)
        .map_err(|error| error.to_string())?;
    let directory: Vec<Name> = names
        .iter()
        .filter_map(
            |name| match crate::constraints::GeneralName::from_asn1(name, false) {
                Ok(crate::constraints::GeneralName::Directory(name)) => Some(name),
                _ => None,
            },
        )
        .collect();
    if directory.is_empty() {
        return Err("no directory name in it".to_owned());
    }
    Ok(directory)
}

/// A non-negative INTEGER's octets, leading zeros removed (`cRLNumber`, `BaseCRLNumber`).
fn uint(value: &[u8]) -> Result<Vec<u8>, String> {
    use der::Decode as _;
    let number = der::asn1::Uint::from_der(value).map_err(|error| error.to_string())?;
    Ok(number
        .as_bytes()
        .iter()
        .copied()
        .skip_while(|byte| *byte == 0)
        .collect())
}

/// Orders two numbers `uint` read.
fn compare(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

impl Crl {
    /// The entry for `cert`, issued by its issuer, if the CRL lists it.
    fn entry(&self, cert: &Certificate) -> Option<&Entry> {
        self.0
            .revoked
            .get(cert.serial())?
            .iter()
            .find(|entry| entry.issuer.contains(cert.issuer_name()))
    }
}

/// Why a CRL cannot be used, from its extensions and its entries' (RFC 5280 §5).
fn defect(crl: &CertificateRevocationList<'_>) -> Option<CrlDefect> {
    let extensions = crl.extensions();
    if !extensions.is_empty() && crl.version().is_none_or(|version| version.0 == 0) {
        return Some(CrlDefect::ExtensionsInVersion1);
    }
    let mut seen = HashSet::new();
    for extension in extensions {
        let oid = extension.oid.to_id_string();
        if !seen.insert(oid.clone()) {
            return Some(CrlDefect::DuplicateExtension { oid });
        }
        if oid == "2.5.29.20" && extension.critical {
            return Some(CrlDefect::CriticalCrlNumber);
        }
        if extension.critical && oid != "2.5.29.20" && !UNDERSTOOD_CRITICAL.contains(&oid.as_str())
        {
            return Some(CrlDefect::UnsupportedCritical { oid });
        }
    }
    if !seen.contains("2.5.29.20") {
        return Some(CrlDefect::NoCrlNumber);
    }
    let key_id = extensions.iter().any(|extension| {
        matches!(
            extension.parsed_extension(),
            x509_parser::extensions::ParsedExtension::AuthorityKeyIdentifier(aki)
                if aki.key_identifier.is_some()
        )
    });
    if !key_id {
        return Some(CrlDefect::NoAuthorityKeyId);
    }
    for entry in crl.iter_revoked_certificates() {
        for extension in entry.extensions() {
            let oid = extension.oid.to_id_string();
            if extension.critical && !UNDERSTOOD_ENTRY.contains(&oid.as_str()) {
                return Some(CrlDefect::UnsupportedCriticalEntry { oid });
            }
        }
    }
    None
}

/// Revocation information a signature carries with it (`PAdES` DSS, `JAdES` `rVals`, `CAdES`
/// `revocation-values`, CMS `crls`, Adobe's `revocationInfoArchival`): used beside the
/// store's for that signature alone, and held to the same rules (each CRL and response
/// verified against its issuer; carrying one proves nothing by itself).
#[derive(Debug, Default, Clone)]
pub(crate) struct Carried {
    /// Certificates that may complete a path (never trusted for being carried).
    pub(crate) certificates: Vec<Certificate>,
    pub(crate) crls: Vec<Crl>,
    pub(crate) ocsp: Vec<OcspResponse>,
}

impl Carried {
    /// Nothing carried.
    pub(crate) const NONE: &'static Self = &Self {
        certificates: Vec::new(),
        crls: Vec::new(),
        ocsp: Vec::new(),
    };

    /// Adds what `other` carries, once each.
    pub(crate) fn extend(&mut self, other: Self) {
        for cert in other.certificates {
            if !self.certificates.iter().any(|held| held.same_as(&cert)) {
                self.certificates.push(cert);
            }
        }
        for crl in other.crls {
            if !self
                .crls
                .iter()
                .any(|held| held.0.fingerprint == crl.0.fingerprint)
            {
                self.crls.push(crl);
            }
        }
        for response in other.ocsp {
            if !self
                .ocsp
                .iter()
                .any(|held| held.fingerprint() == response.fingerprint())
            {
                self.ocsp.push(response);
            }
        }
    }

    /// `extra` and the carried certificates, each once: the candidates for a path.
    pub(crate) fn with_certificates(&self, extra: &[Certificate]) -> Vec<Certificate> {
        let mut all = extra.to_vec();
        for cert in &self.certificates {
            if !all.iter().any(|held| held.same_as(cert)) {
                all.push(cert.clone());
            }
        }
        all
    }

    fn holds_crl(&self, crl: &Crl) -> bool {
        self.crls
            .iter()
            .any(|held| held.0.fingerprint == crl.0.fingerprint)
    }
}

/// The revocation information at hand: CRLs from files or fetched from distribution
/// points by the caller (this crate does no I/O).
#[derive(Default)]
pub struct RevocationStore {
    crls: Vec<Crl>,
    verified: Mutex<HashSet<Pair>>,
    /// OCSP responses by the serial numbers they answer for (a registry holds one per
    /// signer it met: finding a certificate's must not mean reading them all).
    ocsp: RwLock<HashMap<Vec<u8>, Vec<OcspResponse>>>,
    /// (response, issuer) → the responder that signed it, or why none did.
    ocsp_signers: Mutex<HashMap<Pair, Result<String, ResponderError>>>,
}

/// The newest OCSP answer: `thisUpdate`, `nextUpdate`, the answer, who signed it, and the
/// response's fingerprint.
type Newest = (
    OffsetDateTime,
    Option<OffsetDateTime>,
    Answer,
    String,
    [u8; 32],
);

/// How many (response, issuer) → signer results are remembered.
const OCSP_SIGNERS_CACHE: usize = 10_000;

/// (SHA-256 of a CRL or OCSP response, SHA-256 of the CA certificate).
type Pair = ([u8; 32], [u8; 32]);

/// What one source of revocation information says of a certificate.
struct Evidence {
    /// 3: revoked before the signing time; 2: revoked after it; 1: not revoked; 0: says
    /// nothing usable.
    weight: u8,
    status: Status,
    /// Why, when not revoked (the causes say why otherwise).
    good: Option<String>,
    /// Why the status is not passed.
    causes: Vec<RevocationError>,
    /// Whether what it rests on was carried by the signature.
    carried: bool,
}

impl Evidence {
    fn nothing(causes: Vec<RevocationError>) -> Self {
        Self {
            weight: 0,
            status: Status::Indeterminate,
            good: None,
            causes,
            carried: false,
        }
    }

    fn good(reason: String) -> Self {
        Self {
            weight: 1,
            status: Status::Passed,
            good: Some(reason),
            causes: Vec::new(),
            carried: false,
        }
    }

    fn revoked(
        cert: &Certificate,
        date: OffsetDateTime,
        reason: Option<&str>,
        signing: Signing,
        source: RevocationSource,
    ) -> Self {
        let signing_time = signing.claimed;
        let subject = cert.subject().to_owned();
        let reason = reason.map(str::to_owned);
        if let Some(proof) = signing.proof
            && date > proof
        {
            // A time-stamp proves the signature existed before the revocation (ETSI
            // EN 319 102-1, past signature validation): the revocation does not reach it.
            return Self {
                weight: 2,
                status: Status::Passed,
                good: Some(format!(
                    "\"{subject}\" was revoked on {}{}, after the time-stamp of {} that proves the signature existed before ({source})",
                    crate::datetime::rfc3339(date),
                    reason
                        .map(|reason| format!(" ({reason})"))
                        .unwrap_or_default(),
                    crate::datetime::rfc3339(proof),
                )),
                causes: Vec::new(),
                carried: false,
            };
        }
        if date <= signing_time {
            Self {
                weight: 3,
                status: Status::Failed,
                good: None,
                causes: vec![RevocationError::Revoked {
                    subject,
                    serial: hex(cert.serial()),
                    revoked_at: date,
                    reason,
                    signing_time,
                    source,
                }],
                carried: false,
            }
        } else {
            Self {
                weight: 2,
                status: Status::Indeterminate,
                good: None,
                causes: vec![RevocationError::RevokedAfterSigning {
                    subject,
                    revoked_at: date,
                    reason,
                    signing_time,
                    source,
                }],
                carried: false,
            }
        }
    }

    /// The sentence for the report.
    fn reason(&self) -> String {
        self.good.clone().unwrap_or_else(|| {
            self.causes
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

impl std::fmt::Debug for RevocationStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevocationStore")
            .field("crls", &self.crls.len())
            .field("ocsp", &self.ocsp_responses().len())
            .finish_non_exhaustive()
    }
}

impl RevocationStore {
    /// No revocation information: every revocation check is indeterminate.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a CRL.
    pub fn add(&mut self, crl: Crl) {
        self.crls.push(crl);
    }

    /// The CRLs held.
    #[must_use]
    pub fn crls(&self) -> &[Crl] {
        &self.crls
    }

    /// Adds an OCSP response; it replaces an older one about the same certificates.
    /// Unlike CRLs, responses arrive while the store is in use (one per certificate,
    /// asked when a signature needs it), hence `&self`.
    pub fn add_ocsp(&self, response: &OcspResponse) {
        let Ok(mut index) = self.ocsp.write() else {
            return;
        };
        for serial in response.serials() {
            let responses = index.entry(serial.to_vec()).or_default();
            match responses
                .iter_mut()
                .find(|held| held.same_certificates(response))
            {
                Some(held) if held.produced_at() < response.produced_at() => {
                    *held = response.clone();
                }
                Some(_) => {}
                None => responses.push(response.clone()),
            }
        }
    }

    /// The OCSP responses held.
    #[must_use]
    pub fn ocsp_responses(&self) -> Vec<OcspResponse> {
        let Ok(index) = self.ocsp.read() else {
            return Vec::new();
        };
        let mut seen = HashSet::new();
        index
            .values()
            .flatten()
            .filter(|response| seen.insert(response.fingerprint()))
            .cloned()
            .collect()
    }

    /// The status of `cert`, issued by `issuer`, at `signing_time`, from the CRLs and
    /// OCSP responses issued no later than `verified_at`: a revocation before the
    /// signing time in either fails; one after it, in either, is indeterminate; else a
    /// current "not revoked" from either passes. The sentence, and why the status is
    /// not passed.
    ///
    /// `signers_for` gives the certificates whose keys may sign CRLs issued under a name:
    /// for the CA's, the issuer itself first, then others of the same name with a valid
    /// path of their own (a CA that signs CRLs with a separate key, or with its key before
    /// a rollover); for an indirect CRL's issuer, its certificates with a valid path.
    ///
    /// `carried` is what the signature carries, used beside the store's; the last value
    /// says whether the decisive evidence came from it.
    pub(crate) fn status(
        &self,
        cert: &Certificate,
        issuer: &Certificate,
        signers_for: &dyn Fn(&Name) -> Vec<Certificate>,
        signing: Signing,
        verified_at: OffsetDateTime,
        carried: &Carried,
    ) -> (Status, String, Vec<RevocationError>, bool) {
        let ocsp = self.ocsp_evidence(cert, issuer, signing, verified_at, carried);
        let crl = self.crl_evidence(cert, issuer, signers_for, signing, verified_at, carried);
        if ocsp.weight == 0 && crl.weight == 0 {
            let responders = cert.ocsp_responders();
            let mut causes = crl.causes;
            if !ocsp.causes.is_empty() {
                causes.extend(ocsp.causes);
            } else if !responders.is_empty() {
                causes.push(RevocationError::NoOcspResponse {
                    subject: cert.subject().to_owned(),
                    responders: responders.to_vec(),
                });
            }
            let evidence = Evidence::nothing(causes);
            return (
                Status::Indeterminate,
                evidence.reason(),
                evidence.causes,
                false,
            );
        }
        let decisive = if ocsp.weight >= crl.weight { ocsp } else { crl };
        (
            decisive.status,
            decisive.reason(),
            decisive.causes,
            decisive.carried,
        )
    }

    /// What the CRLs say (RFC 5280 §6.3.3): through each of the certificate's
    /// distribution points (or, without any, the CA's own CRLs), the newest complete CRLs
    /// in scope, each with its newest delta CRL, until every revocation reason is
    /// covered. Listed (and not `removeFromCRL` in the delta) is revoked; covered and not
    /// listed is good, if every CRL relied on was current at the signing time.
    fn crl_evidence(
        &self,
        cert: &Certificate,
        issuer: &Certificate,
        signers_for: &dyn Fn(&Name) -> Vec<Certificate>,
        signing: Signing,
        verified_at: OffsetDateTime,
        carried: &Carried,
    ) -> Evidence {
        let fresh = signing.fresh;
        let pseudo = [DistributionPoint::default()];
        let points = match cert.distribution_points() {
            [] => &pseudo[..],
            points => points,
        };
        let signers: std::cell::RefCell<Vec<(Name, Vec<Certificate>)>> =
            std::cell::RefCell::default();
        let signed = |crl: &Crl| {
            let mut cache = signers.borrow_mut();
            let known = cache
                .iter()
                .position(|(name, _)| *name == crl.0.issuer_name);
            let index = known.unwrap_or_else(|| {
                let found = signers_for(&crl.0.issuer_name);
                cache.push((crl.0.issuer_name.clone(), found));
                cache.len() - 1
            });
            cache[index].1.iter().any(|signer| {
                signer
                    .key_usage()
                    .is_none_or(|usage| usage & key_usage::CRL_SIGN != 0)
                    && self.signed_by(crl, signer)
            })
        };
        let relevant = |crl: &Crl| {
            crl.0.issuer_name == *cert.issuer_name()
                || points.iter().any(|point| {
                    point.crl_issuer.as_ref().is_some_and(|names| {
                        names.iter().any(|name| {
                            matches!(name, crate::constraints::GeneralName::Directory(n) if *n == crl.0.issuer_name)
                        })
                    })
                })
        };
        let mut set_aside = Vec::new();
        let usable: Vec<&Crl> = self
            .crls
            .iter()
            .chain(&carried.crls)
            .filter(|crl| crl.0.this_update <= verified_at && relevant(crl))
            .filter(|crl| match &crl.0.defect {
                Some(defect) => {
                    if signed(crl) {
                        set_aside.push(RevocationError::CrlSetAside {
                            issuer: crl.0.issuer.clone(),
                            this_update: crl.0.this_update,
                            why: defect.clone(),
                        });
                    }
                    false
                }
                None => true,
            })
            .collect();
        let (mask, used) = match walk(cert, points, &usable, &signed, signing) {
            Ok(found) => found,
            Err(revoked) => return *revoked,
        };
        let subject = cert.subject();
        if mask != ALL_REASONS {
            let mut causes = vec![RevocationError::NoCrl {
                issuer: issuer.subject().to_owned(),
                subject: subject.to_owned(),
                distribution_points: cert.crl_distribution_points().to_vec(),
            }];
            causes.extend(set_aside);
            return Evidence::nothing(causes);
        }
        if let Some(stale) = used.iter().find(|crl| {
            crl.0.this_update < fresh && crl.0.next_update.is_some_and(|next| next < fresh)
        }) {
            return Evidence::nothing(vec![RevocationError::CrlExpired {
                issuer: stale.0.issuer.clone(),
                this_update: stale.0.this_update,
                next_update: stale.0.next_update,
                signing_time: fresh,
            }]);
        }
        let crls: Vec<String> = used
            .iter()
            .map(|crl| {
                let kind = if crl.0.delta_base.is_some() {
                    "delta CRL"
                } else {
                    "CRL"
                };
                format!(
                    "the {kind} of \"{}\" issued {}",
                    crl.0.issuer,
                    rfc3339(crl.0.this_update)
                )
            })
            .collect();
        let mut evidence = Evidence::good(format!(
            "\"{subject}\" is not listed in {}",
            crls.join(", nor in ")
        ));
        evidence.carried = used.iter().all(|crl| carried.holds_crl(crl));
        evidence
    }

    /// What the newest usable OCSP response says (an empty reason when the certificate
    /// names no responder and no response was given for it).
    fn ocsp_evidence(
        &self,
        cert: &Certificate,
        issuer: &Certificate,
        signing: Signing,
        verified_at: OffsetDateTime,
        carried: &Carried,
    ) -> Evidence {
        let fresh = signing.fresh;
        let serial = crate::ocsp::strip_zeros(cert.serial());
        let mut responses = self
            .ocsp
            .read()
            .ok()
            .and_then(|index| index.get(serial).cloned())
            .unwrap_or_default();
        responses.extend(
            carried
                .ocsp
                .iter()
                .filter(|response| response.serials().any(|held| held == serial))
                .cloned(),
        );
        let mut rejected = Vec::new();
        let mut unknown = None;
        let mut newest: Option<Newest> = None;
        for response in &responses {
            let Some((this_update, next_update, answer)) = response.answer_for(cert, issuer) else {
                continue;
            };
            if this_update > verified_at {
                continue;
            }
            let signer = match self.ocsp_signer(response, issuer) {
                Ok(signer) => signer,
                Err(why) => {
                    rejected.push(RevocationError::OcspSetAside {
                        produced_at: response.produced_at(),
                        source: why,
                    });
                    continue;
                }
            };
            if *answer == Answer::Unknown {
                unknown.get_or_insert(signer);
            } else if newest.as_ref().is_none_or(|held| held.0 < this_update) {
                newest = Some((
                    this_update,
                    next_update,
                    answer.clone(),
                    signer,
                    response.fingerprint(),
                ));
            }
        }
        let subject = cert.subject();
        let Some((this_update, next_update, answer, signer, fingerprint)) = newest else {
            let mut causes = rejected;
            if let Some(signer) = unknown {
                causes.insert(
                    0,
                    RevocationError::OcspUnknown {
                        responder: signer,
                        subject: subject.to_owned(),
                    },
                );
            }
            // Without any response, `status` says so only if the CRLs say nothing either.
            return Evidence::nothing(causes);
        };
        let source = RevocationSource::Ocsp {
            responder: signer,
            this_update,
        };
        if let Answer::Revoked(date, reason) = &answer {
            return Evidence::revoked(cert, *date, reason.as_deref(), signing, source);
        }
        if this_update >= fresh || next_update.is_some_and(|next| next >= fresh) {
            let mut evidence = Evidence::good(format!("\"{subject}\" is good per the {source}"));
            evidence.carried = carried
                .ocsp
                .iter()
                .any(|held| held.fingerprint() == fingerprint);
            evidence
        } else {
            Evidence::nothing(vec![RevocationError::OcspOutdated {
                source,
                next_update,
                signing_time: fresh,
            }])
        }
    }

    /// The subject of the certificate that signed `response` for `issuer` (remembered).
    fn ocsp_signer(
        &self,
        response: &OcspResponse,
        issuer: &Certificate,
    ) -> Result<String, ResponderError> {
        let key = (response.fingerprint(), issuer.fingerprint());
        if let Some(known) = self
            .ocsp_signers
            .lock()
            .ok()
            .and_then(|map| map.get(&key).cloned())
        {
            return known;
        }
        let signer = response
            .signer(issuer)
            .map(|cert| cert.subject().to_owned());
        if let Ok(mut map) = self.ocsp_signers.lock() {
            // Responses a signature carries reach this cache too: bounded, as anyone can
            // send new ones.
            if map.len() >= OCSP_SIGNERS_CACHE {
                map.clear();
            }
            map.insert(key, signer.clone());
        }
        signer
    }

    /// Whether `crl` is signed by `issuer`'s key (remembered once verified).
    fn signed_by(&self, crl: &Crl, issuer: &Certificate) -> bool {
        let key = (crl.0.fingerprint, issuer.fingerprint());
        if self.verified.lock().is_ok_and(|set| set.contains(&key)) {
            return true;
        }
        let Ok(public_key) = issuer.public_key() else {
            return false;
        };
        let ok = crypto::verify_x509_signature(
            public_key,
            &crl.0.signature_algorithm,
            crl.0.signature_parameters.as_deref(),
            &crl.0.tbs,
            &crl.0.signature,
        )
        .is_ok();
        if ok && let Ok(mut set) = self.verified.lock() {
            set.insert(key);
        }
        ok
    }
}
