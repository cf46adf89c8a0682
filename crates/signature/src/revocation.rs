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

/// CRL extensions this verifier processes (cRLNumber and authorityKeyIdentifier, which
/// RFC 5280 requires non-critical, are read for the profile only).
const UNDERSTOOD_CRITICAL: [&str; 0] = [];

/// CRL entry extensions this verifier reads (reasonCode) or may ignore (invalidityDate,
/// which only informs). Any other marked critical (certificateIssuer, in an indirect CRL)
/// sets the CRL aside: RFC 5280 §5.3 forbids using it.
const UNDERSTOOD_ENTRY: [&str; 2] = ["2.5.29.21", "2.5.29.24"];

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
    /// A critical extension this verifier does not process: a delta CRL, an issuing
    /// distribution point (partitioned or indirect CRLs).
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
    /// Serial (DER content octets) → (revocation date, reason).
    revoked: HashMap<Vec<u8>, (OffsetDateTime, Option<String>)>,
    tbs: Vec<u8>,
    signature_algorithm: String,
    signature_parameters: Option<Vec<u8>>,
    signature: Vec<u8>,
    /// Why the CRL cannot be used, if it cannot.
    defect: Option<CrlDefect>,
    fingerprint: [u8; 32],
}

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
        let mut revoked = HashMap::new();
        for entry in crl.iter_revoked_certificates() {
            let reason = entry.reason_code().map(|(_, code)| code.to_string());
            revoked.insert(
                entry.raw_serial().to_vec(),
                (time(entry.revocation_date)?, reason),
            );
        }
        let defect = defect(&crl);
        Ok(Self(Arc::new(CrlInner {
            issuer_name: Name::from_parsed(crl.issuer()),
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
}

impl Evidence {
    fn nothing(causes: Vec<RevocationError>) -> Self {
        Self {
            weight: 0,
            status: Status::Indeterminate,
            good: None,
            causes,
        }
    }

    fn good(reason: String) -> Self {
        Self {
            weight: 1,
            status: Status::Passed,
            good: Some(reason),
            causes: Vec::new(),
        }
    }

    fn revoked(
        cert: &Certificate,
        date: OffsetDateTime,
        reason: Option<&str>,
        signing_time: OffsetDateTime,
        source: RevocationSource,
    ) -> Self {
        let subject = cert.subject().to_owned();
        let reason = reason.map(str::to_owned);
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
    /// `crl_signers` are the certificates whose keys may sign the CA's CRLs: the issuer
    /// itself first, then others of the same name with a valid path of their own (a CA
    /// that signs CRLs with a separate key, or with its key before a rollover).
    pub(crate) fn status(
        &self,
        cert: &Certificate,
        issuer: &Certificate,
        crl_signers: &[Certificate],
        signing_time: OffsetDateTime,
        verified_at: OffsetDateTime,
    ) -> (Status, String, Vec<RevocationError>) {
        let ocsp = self.ocsp_evidence(cert, issuer, signing_time, verified_at);
        let crl = self.crl_evidence(cert, issuer, crl_signers, signing_time, verified_at);
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
            return (Status::Indeterminate, evidence.reason(), evidence.causes);
        }
        let decisive = if ocsp.weight >= crl.weight { ocsp } else { crl };
        (decisive.status, decisive.reason(), decisive.causes)
    }

    /// What the newest usable CRL says.
    fn crl_evidence(
        &self,
        cert: &Certificate,
        issuer: &Certificate,
        crl_signers: &[Certificate],
        signing_time: OffsetDateTime,
        verified_at: OffsetDateTime,
    ) -> Evidence {
        let signers: Vec<&Certificate> = std::iter::once(issuer)
            .chain(crl_signers)
            .filter(|signer| {
                signer
                    .key_usage()
                    .is_none_or(|usage| usage & key_usage::CRL_SIGN != 0)
            })
            .collect();
        let mut set_aside = Vec::new();
        let newest = self
            .crls
            .iter()
            .filter(|crl| {
                crl.0.issuer_name == *cert.issuer_name()
                    && crl.0.this_update <= verified_at
                    && signers.iter().any(|signer| self.signed_by(crl, signer))
            })
            .filter(|crl| match &crl.0.defect {
                Some(defect) => {
                    set_aside.push(RevocationError::CrlSetAside {
                        issuer: crl.0.issuer.clone(),
                        this_update: crl.0.this_update,
                        why: defect.clone(),
                    });
                    false
                }
                None => true,
            })
            .max_by_key(|crl| crl.0.this_update);
        let subject = cert.subject();
        let Some(crl) = newest else {
            let mut causes = vec![RevocationError::NoCrl {
                issuer: issuer.subject().to_owned(),
                subject: subject.to_owned(),
                distribution_points: cert.crl_distribution_points().to_vec(),
            }];
            causes.extend(set_aside);
            return Evidence::nothing(causes);
        };
        if let Some((date, reason)) = crl.0.revoked.get(cert.serial()) {
            let source = RevocationSource::Crl {
                issued: crl.0.this_update,
            };
            return Evidence::revoked(cert, *date, reason.as_deref(), signing_time, source);
        }
        let current = crl.0.this_update >= signing_time
            || crl.0.next_update.is_none_or(|next| next >= signing_time);
        if current {
            Evidence::good(format!(
                "\"{subject}\" is not listed in the CRL of \"{}\" issued {}",
                crl.0.issuer,
                rfc3339(crl.0.this_update)
            ))
        } else {
            Evidence::nothing(vec![RevocationError::CrlExpired {
                issuer: crl.0.issuer.clone(),
                this_update: crl.0.this_update,
                next_update: crl.0.next_update,
                signing_time,
            }])
        }
    }

    /// What the newest usable OCSP response says (an empty reason when the certificate
    /// names no responder and no response was given for it).
    fn ocsp_evidence(
        &self,
        cert: &Certificate,
        issuer: &Certificate,
        signing_time: OffsetDateTime,
        verified_at: OffsetDateTime,
    ) -> Evidence {
        let responses = self
            .ocsp
            .read()
            .ok()
            .and_then(|index| index.get(crate::ocsp::strip_zeros(cert.serial())).cloned())
            .unwrap_or_default();
        let mut rejected = Vec::new();
        let mut unknown = None;
        let mut newest: Option<(OffsetDateTime, Option<OffsetDateTime>, Answer, String)> = None;
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
                newest = Some((this_update, next_update, answer.clone(), signer));
            }
        }
        let subject = cert.subject();
        let Some((this_update, next_update, answer, signer)) = newest else {
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
            return Evidence::revoked(cert, *date, reason.as_deref(), signing_time, source);
        }
        if this_update >= signing_time || next_update.is_some_and(|next| next >= signing_time) {
            Evidence::good(format!("\"{subject}\" is good per the {source}"))
        } else {
            Evidence::nothing(vec![RevocationError::OcspOutdated {
                source,
                next_update,
                signing_time,
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
