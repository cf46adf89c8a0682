//! Revocation status from OCSP responses (RFC 6960), at the signing time.
//!
//! The caller asks the responders (this crate does no I/O): every report lists, in
//! [`SignatureReport::ocsp`](crate::SignatureReport::ocsp), the request to send for each
//! certificate of the path whose authority information access names a responder; the
//! answers go back into the [`RevocationStore`](crate::RevocationStore) with
//! [`add_ocsp`](crate::RevocationStore::add_ocsp).
//!
//! A response counts for a certificate when it is a successful basic response, one of its
//! single responses names the certificate (issuer name hash, issuer key hash and serial
//! number, with SHA-1 or SHA-2), it is signed by the issuing CA itself or by a responder
//! the CA delegated (a certificate issued by the CA, with the `id-kp-OCSPSigning` extended
//! key usage, valid when the response was produced, named by the response's responder
//! id), and its `thisUpdate` is no later than the verification time. Of those, the newest
//! decides, with the same signing-time semantics as a CRL; an `unknown` answer decides
//! nothing. A delegated responder's own revocation status is not checked (RFC 6960
//! §4.2.2.2.1 leaves it to the CA, which usually marks it `id-pkix-ocsp-nocheck`).

use std::sync::Arc;

use der::asn1::{Null, OctetString};
use der::{Decode, Encode, Reader, SliceReader};
use spki::AlgorithmIdentifierOwned;
use time::OffsetDateTime;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspRequest, OcspResponseStatus, Request, ResponderId,
    TbsRequest,
};

use crate::cert::{Certificate, CertificateError};
use crate::crypto::{self, Hash};
use crate::error::ResponderError;

/// `id-pkix-ocsp-basic` (1.3.6.1.5.5.7.48.1.1).
const BASIC: &str = "1.3.6.1.5.5.7.48.1.1";
/// `id-sha1`: the hash of the certificate identifiers this verifier asks with (RFC 5019
/// §2.1.1: the one every responder understands).
const SHA1: &str = "1.3.14.3.2.26";
/// `id-kp-OCSPSigning`.
const OCSP_SIGNING: &str = "1.3.6.1.5.5.7.3.9";

/// Why an OCSP response could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OcspError {
    /// The bytes are not a DER `OCSPResponse`.
    #[error("not an OCSP response: {detail}")]
    NotOcsp {
        /// What the DER decoder says.
        detail: String,
    },
    /// The responder answered with an error status rather than a status.
    #[error("the responder answered {status} rather than a status")]
    Refused {
        /// The `responseStatus` (`TryLater`, `Unauthorized`…).
        status: String,
    },
    /// A successful response without `responseBytes`.
    #[error("a successful OCSP response without a body")]
    NoBody,
    /// A response type other than the basic response.
    #[error("OCSP response type {response_type} is not the basic response ({BASIC})")]
    NotBasic {
        /// The response type's object identifier.
        response_type: String,
    },
    /// A time that cannot be represented.
    #[error("OCSP time out of range{}", .detail.as_ref().map(|detail| format!(": {detail}")).unwrap_or_default())]
    TimeOutOfRange {
        /// What the time library says, when it says something.
        detail: Option<String>,
    },
    /// A certificate the response carries cannot be read.
    #[error("a certificate in the response: {source}")]
    Certificate {
        /// Why.
        source: CertificateError,
    },
}

/// The request to send to a certificate's OCSP responder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspQuery {
    /// The responder (from the certificate's authority information access).
    pub url: String,
    /// The DER `OCSPRequest` for the certificate (no nonce, so that the response may be
    /// cached and shared, as RFC 5019 has it).
    pub request: Vec<u8>,
    /// The certificate's subject, for messages.
    pub subject: String,
}

impl OcspQuery {
    /// The queries for `cert` issued by `issuer`: one per responder it names.
    pub(crate) fn for_certificate(cert: &Certificate, issuer: &Certificate) -> Vec<Self> {
        if cert.ocsp_responders().is_empty() {
            return Vec::new();
        }
        let Ok(request) = cert.ocsp_request(issuer, || request(cert, issuer)) else {
            return Vec::new();
        };
        cert.ocsp_responders()
            .iter()
            .map(|url| Self {
                url: url.clone(),
                request: request.clone(),
                subject: cert.subject().to_owned(),
            })
            .collect()
    }
}

/// The DER `OCSPRequest` for one certificate, identified with SHA-1.
fn request(cert: &Certificate, issuer: &Certificate) -> Result<Vec<u8>, der::Error> {
    let cert_id = CertId {
        hash_algorithm: AlgorithmIdentifierOwned {
            oid: der::asn1::ObjectIdentifier::new_unwrap(SHA1),
            parameters: Some(Null.into()),
        },
        issuer_name_hash: OctetString::new(crypto::sha1(issuer.subject_raw()))?,
        issuer_key_hash: OctetString::new(crypto::sha1(issuer.public_key_bits()))?,
        serial_number: x509_cert::serial_number::SerialNumber::new(cert.serial())?,
    };
    OcspRequest {
        tbs_request: TbsRequest {
            request_list: vec![Request {
                req_cert: cert_id,
                single_request_extensions: None,
            }],
            ..TbsRequest::default()
        },
        optional_signature: None,
    }
    .to_der()
}

/// What a responder said of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Not revoked as of `this_update`.
    Good,
    /// Revoked at this time, for this reason.
    Revoked(OffsetDateTime, Option<String>),
    /// The responder does not know the certificate.
    Unknown,
}

#[derive(Debug)]
struct Single {
    hash: String,
    name_hash: Vec<u8>,
    key_hash: Vec<u8>,
    serial: Vec<u8>,
    answer: Answer,
    this_update: OffsetDateTime,
    next_update: Option<OffsetDateTime>,
}

#[derive(Debug)]
enum Responder {
    ByName(Vec<u8>),
    ByKey(Vec<u8>),
}

/// A parsed OCSP response. Cheap to clone.
#[derive(Debug, Clone)]
pub struct OcspResponse(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    tbs: Vec<u8>,
    signature_algorithm: String,
    signature_parameters: Option<Vec<u8>>,
    signature: Vec<u8>,
    responder: Responder,
    produced_at: OffsetDateTime,
    certs: Vec<Certificate>,
    singles: Vec<Single>,
    fingerprint: [u8; 32],
}

impl OcspResponse {
    /// Parses a DER `OCSPResponse` (what a responder answers over HTTP). A response whose
    /// status is not `successful` is an error naming the status.
    pub fn from_der(der: &[u8]) -> Result<Self, OcspError> {
        Self::read(der)
    }

    /// Reads a DER `BasicOCSPResponse` (what `CAdES` `revocation-values` carry), as the
    /// successful `OCSPResponse` that would hold it.
    pub(crate) fn from_basic_der(der: &[u8]) -> Result<Self, OcspError> {
        let bad = |error: der::Error| OcspError::NotOcsp {
            detail: error.to_string(),
        };
        BasicOcspResponse::from_der(der).map_err(bad)?;
        let response = x509_ocsp::OcspResponse {
            response_status: OcspResponseStatus::Successful,
            response_bytes: Some(x509_ocsp::ResponseBytes {
                response_type: der::asn1::ObjectIdentifier::new_unwrap(BASIC),
                response: OctetString::new(der).map_err(bad)?,
            }),
        };
        Self::read(&response.to_der().map_err(bad)?)
    }

    fn read(der: &[u8]) -> Result<Self, OcspError> {
        let bad = |error: der::Error| OcspError::NotOcsp {
            detail: error.to_string(),
        };
        let response = x509_ocsp::OcspResponse::from_der(der).map_err(bad)?;
        if response.response_status != OcspResponseStatus::Successful {
            return Err(OcspError::Refused {
                status: format!("{:?}", response.response_status),
            });
        }
        let bytes = response.response_bytes.ok_or(OcspError::NoBody)?;
        if bytes.response_type.to_string() != BASIC {
            return Err(OcspError::NotBasic {
                response_type: bytes.response_type.to_string(),
            });
        }
        let body = bytes.response.as_bytes();
        let basic = BasicOcspResponse::from_der(body).map_err(bad)?;
        // The signature is over the bytes as received: take them rather than re-encode.
        let tbs = {
            let mut reader = SliceReader::new(body).map_err(bad)?;
            der::Header::decode(&mut reader).map_err(bad)?;
            reader.tlv_bytes().map_err(bad)?.to_vec()
        };
        let data = &basic.tbs_response_data;
        let responder = match &data.responder_id {
            ResponderId::ByName(name) => Responder::ByName(name.to_der().map_err(bad)?),
            ResponderId::ByKey(hash) => Responder::ByKey(hash.as_bytes().to_vec()),
        };
        let singles = data
            .responses
            .iter()
            .map(|single| {
                let answer = match &single.cert_status {
                    CertStatus::Good(_) => Answer::Good,
                    CertStatus::Revoked(info) => Answer::Revoked(
                        time(info.revocation_time.0)?,
                        info.revocation_reason.map(|reason| format!("{reason:?}")),
                    ),
                    CertStatus::Unknown(_) => Answer::Unknown,
                };
                Ok(Single {
                    hash: single.cert_id.hash_algorithm.oid.to_string(),
                    name_hash: single.cert_id.issuer_name_hash.as_bytes().to_vec(),
                    key_hash: single.cert_id.issuer_key_hash.as_bytes().to_vec(),
                    serial: strip_zeros(single.cert_id.serial_number.as_bytes()).to_vec(),
                    answer,
                    this_update: time(single.this_update.0)?,
                    next_update: single.next_update.map(|next| time(next.0)).transpose()?,
                })
            })
            .collect::<Result<Vec<_>, OcspError>>()?;
        let certs = basic
            .certs
            .iter()
            .flatten()
            .map(|cert| {
                let der = cert.to_der().map_err(bad)?;
                Certificate::from_der(&der).map_err(|source| OcspError::Certificate { source })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self(Arc::new(Inner {
            tbs,
            signature_algorithm: basic.signature_algorithm.oid.to_string(),
            signature_parameters: basic
                .signature_algorithm
                .parameters
                .as_ref()
                .map(|any| any.value().to_vec()),
            signature: basic.signature.raw_bytes().to_vec(),
            responder,
            produced_at: time(data.produced_at.0)?,
            certs,
            singles,
            fingerprint: crypto::sha256(der),
        })))
    }

    /// When the response was signed.
    #[must_use]
    pub fn produced_at(&self) -> OffsetDateTime {
        self.0.produced_at
    }

    /// The latest `nextUpdate` of its single responses (when a cached copy is stale).
    #[must_use]
    pub fn next_update(&self) -> Option<OffsetDateTime> {
        self.0
            .singles
            .iter()
            .filter_map(|single| single.next_update)
            .max()
    }

    pub(crate) fn fingerprint(&self) -> [u8; 32] {
        self.0.fingerprint
    }

    /// The serial numbers it answers for (without leading zeros).
    pub(crate) fn serials(&self) -> impl Iterator<Item = &[u8]> {
        self.0.singles.iter().map(|single| single.serial.as_slice())
    }

    /// Whether both responses speak of the same certificates (so the newer replaces the
    /// older in a store).
    pub(crate) fn same_certificates(&self, other: &Self) -> bool {
        /// A `CertID`: hash algorithm, issuer name hash, issuer key hash, serial.
        type Id<'a> = (&'a str, &'a [u8], &'a [u8], &'a [u8]);
        fn ids(response: &OcspResponse) -> Vec<Id<'_>> {
            let mut ids: Vec<_> = response
                .0
                .singles
                .iter()
                .map(|single| {
                    (
                        single.hash.as_str(),
                        single.name_hash.as_slice(),
                        single.key_hash.as_slice(),
                        single.serial.as_slice(),
                    )
                })
                .collect();
            ids.sort_unstable();
            ids
        }
        ids(self) == ids(other)
    }

    /// The single response for `cert` (issued by `issuer`), if this response has one.
    pub(crate) fn answer_for(
        &self,
        cert: &Certificate,
        issuer: &Certificate,
    ) -> Option<(OffsetDateTime, Option<OffsetDateTime>, &Answer)> {
        let serial = strip_zeros(cert.serial());
        self.0
            .singles
            .iter()
            .find(|single| {
                let hash = |data: &[u8]| match single.hash.as_str() {
                    SHA1 => Some(crypto::sha1(data).to_vec()),
                    oid => Hash::from_oid(oid).map(|hash| hash.digest(data)),
                };
                single.serial == serial
                    && hash(issuer.subject_raw()).is_some_and(|h| h == single.name_hash)
                    && hash(issuer.public_key_bits()).is_some_and(|h| h == single.key_hash)
            })
            .map(|single| (single.this_update, single.next_update, &single.answer))
    }

    /// The certificate that signed this response on behalf of `issuer`: the CA itself or
    /// a delegated responder. `Err` says why none did.
    pub(crate) fn signer(&self, issuer: &Certificate) -> Result<Certificate, ResponderError> {
        let named = |cert: &Certificate| match &self.0.responder {
            Responder::ByName(name) => cert.subject_raw() == name.as_slice(),
            Responder::ByKey(hash) => crypto::sha1(cert.public_key_bits()).as_slice() == hash,
        };
        let verifies = |cert: &Certificate| {
            cert.public_key().is_ok_and(|key| {
                crypto::verify_x509_signature(
                    key,
                    &self.0.signature_algorithm,
                    self.0.signature_parameters.as_deref(),
                    &self.0.tbs,
                    &self.0.signature,
                )
                .is_ok()
            })
        };
        if named(issuer) {
            return if verifies(issuer) {
                Ok(issuer.clone())
            } else {
                Err(ResponderError::IssuerSignature {
                    issuer: issuer.subject().to_owned(),
                })
            };
        }
        let Some(delegate) = self.0.certs.iter().find(|cert| named(cert)) else {
            return Err(ResponderError::UnknownResponder {
                issuer: issuer.subject().to_owned(),
            });
        };
        let produced = self.0.produced_at;
        let problem = if delegate.issuer_raw() != issuer.subject_raw()
            || delegate.verify_issued_by(issuer).is_err()
        {
            Some(ResponderError::NotIssuedByCa {
                responder: delegate.subject().to_owned(),
                issuer: issuer.subject().to_owned(),
            })
        } else if !delegate
            .extended_key_usage()
            .is_some_and(|usages| usages.iter().any(|usage| usage == OCSP_SIGNING))
        {
            Some(ResponderError::NotAuthorised {
                responder: delegate.subject().to_owned(),
            })
        } else if produced < delegate.not_before() || produced > delegate.not_after() {
            Some(ResponderError::ResponderNotValid {
                responder: delegate.subject().to_owned(),
                produced_at: produced,
            })
        } else if !verifies(delegate) {
            Some(ResponderError::ResponderSignature {
                responder: delegate.subject().to_owned(),
            })
        } else {
            None
        };
        problem.map_or_else(|| Ok(delegate.clone()), Err)
    }
}

/// A serial number's content octets without the leading zero DER may add.
pub(crate) fn strip_zeros(serial: &[u8]) -> &[u8] {
    let first = serial
        .iter()
        .position(|byte| *byte != 0)
        .unwrap_or(serial.len().saturating_sub(1));
    &serial[first..]
}

fn time(time: der::asn1::GeneralizedTime) -> Result<OffsetDateTime, OcspError> {
    let seconds = i64::try_from(time.to_unix_duration().as_secs())
        .map_err(|_| OcspError::TimeOutOfRange { detail: None })?;
    OffsetDateTime::from_unix_timestamp(seconds).map_err(|error| OcspError::TimeOutOfRange {
        detail: Some(error.to_string()),
    })
}
