//! Revocation status from certificate revocation lists (RFC 5280 §5), at the signing time.
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

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use crate::cert::{Certificate, hex, key_usage};
use crate::crypto;
use crate::datetime::rfc3339;
use crate::report::Status;

/// CRL extensions this verifier can ignore or process when marked critical.
const UNDERSTOOD_CRITICAL: [&str; 2] = [
    "2.5.29.20", // cRLNumber
    "2.5.29.35", // authorityKeyIdentifier
];

/// Why a CRL could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CrlError(pub String);

/// A parsed certificate revocation list.
#[derive(Debug, Clone)]
pub struct Crl(Arc<CrlInner>);

#[derive(Debug)]
struct CrlInner {
    issuer_raw: Vec<u8>,
    issuer: String,
    this_update: OffsetDateTime,
    next_update: Option<OffsetDateTime>,
    /// Serial (DER content octets) → (revocation date, reason).
    revoked: HashMap<Vec<u8>, (OffsetDateTime, Option<String>)>,
    tbs: Vec<u8>,
    signature_algorithm: String,
    signature_parameters: Option<Vec<u8>>,
    signature: Vec<u8>,
    unknown_critical: Option<String>,
    fingerprint: [u8; 32],
}

impl Crl {
    /// Parses a DER CRL.
    pub fn from_der(der: &[u8]) -> Result<Self, CrlError> {
        let (_, crl) = CertificateRevocationList::from_der(der)
            .map_err(|error| CrlError(format!("not an X.509 CRL: {error}")))?;
        let time = |t: x509_parser::time::ASN1Time| {
            OffsetDateTime::from_unix_timestamp(t.timestamp())
                .map_err(|error| CrlError(format!("CRL time out of range: {error}")))
        };
        let mut revoked = HashMap::new();
        for entry in crl.iter_revoked_certificates() {
            let reason = entry.reason_code().map(|(_, code)| code.to_string());
            revoked.insert(
                entry.raw_serial().to_vec(),
                (time(entry.revocation_date)?, reason),
            );
        }
        let unknown_critical = crl
            .extensions()
            .iter()
            .map(|ext| ext.oid.to_id_string())
            .zip(crl.extensions().iter().map(|ext| ext.critical))
            .find(|(oid, critical)| *critical && !UNDERSTOOD_CRITICAL.contains(&oid.as_str()))
            .map(|(oid, _)| oid);
        Ok(Self(Arc::new(CrlInner {
            issuer_raw: crl.issuer().as_raw().to_vec(),
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
            unknown_critical,
            fingerprint: crypto::sha256(der),
        })))
    }

    /// Every CRL in PEM text (`X509 CRL` blocks) or a single DER CRL.
    pub fn all_from_bytes(bytes: &[u8]) -> Result<Vec<Self>, CrlError> {
        if bytes.starts_with(b"-----") {
            let blocks =
                pem::parse_many(bytes).map_err(|error| CrlError(format!("not PEM: {error}")))?;
            let crls: Vec<_> = blocks
                .iter()
                .filter(|block| block.tag() == "X509 CRL")
                .map(|block| Self::from_der(block.contents()))
                .collect::<Result<_, _>>()?;
            if crls.is_empty() {
                return Err(CrlError("no X509 CRL block".to_owned()));
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

/// The revocation information at hand: CRLs from files or fetched from distribution
/// points by the caller (this crate does no I/O).
#[derive(Default)]
pub struct RevocationStore {
    crls: Vec<Crl>,
    verified: Mutex<HashSet<([u8; 32], [u8; 32])>>,
}

impl std::fmt::Debug for RevocationStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevocationStore")
            .field("crls", &self.crls.len())
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

    /// The status of `cert`, issued by `issuer`, at `signing_time`, using CRLs issued no
    /// later than `verified_at`.
    pub(crate) fn status(
        &self,
        cert: &Certificate,
        issuer: &Certificate,
        signing_time: OffsetDateTime,
        verified_at: OffsetDateTime,
    ) -> (Status, String) {
        let may_sign_crls = issuer
            .key_usage()
            .is_none_or(|usage| usage & key_usage::CRL_SIGN != 0);
        let newest = self
            .crls
            .iter()
            .filter(|crl| {
                crl.0.issuer_raw == cert.issuer_raw()
                    && crl.0.unknown_critical.is_none()
                    && crl.0.this_update <= verified_at
                    && may_sign_crls
                    && self.signed_by(crl, issuer)
            })
            .max_by_key(|crl| crl.0.this_update);
        let subject = cert.subject();
        let Some(crl) = newest else {
            let points = cert.crl_distribution_points();
            let from = if points.is_empty() {
                String::new()
            } else {
                format!(" (distribution points: {})", points.join(", "))
            };
            return (
                Status::Indeterminate,
                format!(
                    "no CRL signed by \"{}\" is available for \"{subject}\"{from}",
                    issuer.subject()
                ),
            );
        };
        let crl_issued = rfc3339(crl.0.this_update);
        if let Some((date, reason)) = crl.0.revoked.get(cert.serial()) {
            let reason = reason
                .as_ref()
                .map(|reason| format!(", reason {reason}"))
                .unwrap_or_default();
            return if *date <= signing_time {
                (
                    Status::Failed,
                    format!(
                        "\"{subject}\" (serial {}) was revoked on {}{reason}, before the signing time {} (CRL issued {crl_issued})",
                        hex(cert.serial()),
                        rfc3339(*date),
                        rfc3339(signing_time)
                    ),
                )
            } else {
                (
                    Status::Indeterminate,
                    format!(
                        "\"{subject}\" was revoked on {}{reason}, after the claimed signing time {}; without a time-stamp nothing proves the signature was made before the revocation",
                        rfc3339(*date),
                        rfc3339(signing_time)
                    ),
                )
            };
        }
        let current = crl.0.this_update >= signing_time
            || crl.0.next_update.is_none_or(|next| next >= signing_time);
        if current {
            (
                Status::Passed,
                format!(
                    "\"{subject}\" is not listed in the CRL of \"{}\" issued {crl_issued}",
                    crl.0.issuer
                ),
            )
        } else {
            (
                Status::Indeterminate,
                format!(
                    "the newest CRL of \"{}\" (issued {crl_issued}, next update {}) expired before the signing time {}",
                    crl.0.issuer,
                    crl.0.next_update.map(rfc3339).unwrap_or_default(),
                    rfc3339(signing_time)
                ),
            )
        }
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
