//! RFC 3161 time-stamp tokens (with RFC 5816's `ESSCertIDv2`): reading a token, checking
//! it against the bytes it is said to time-stamp, and asking a time-stamp authority for
//! one.
//!
//! A signature time-stamp is the only proof of existence a signature carries: the
//! signer's own `sigT` or `signingTime` is a claim, and a signer whose certificate has
//! expired or been revoked can write any time there. ETSI EN 319 102-1 §5.6 therefore
//! judges the signer's certificate at the verification time unless a time-stamp proves
//! the signature existed earlier; [`crate::Verifier`] does so, and reports each token as
//! its own check.
//!
//! What a token must be to prove anything (RFC 3161 §2.4.2, ETSI EN 319 102-1 §5.4):
//! - a CMS `SignedData` encapsulating a `TSTInfo` (version 1), one `SignerInfo`, whose
//!   signed attributes carry `contentType` `id-ct-TSTInfo`, the `messageDigest` of the
//!   `TSTInfo`, and an ESS `signingCertificate` or `signingCertificateV2` naming the
//!   certificate that signed;
//! - a signature value that verifies with that certificate;
//! - a message imprint equal to the digest of the time-stamped bytes;
//! - a time-stamping certificate whose only extended key usage is `id-kp-timeStamping`,
//!   marked critical (RFC 3161 §2.3), with a valid path to a trust anchor at the
//!   verification time, valid at the time-stamp's `genTime`, and not revoked.

use der::asn1::{ObjectIdentifier, OctetString};
use der::{Any, Decode, Encode, Tag, Tagged as _};
use ring::rand::SecureRandom as _;
use spki::AlgorithmIdentifierOwned;
use time::OffsetDateTime;
use x509_tsp::{MessageImprint, TimeStampReq, TimeStampResp, TspVersion};

use crate::cert::Certificate;
use crate::crypto::{self, Hash};
use crate::error::CryptoError;
use crate::pkcs7::{self, CmsError, SignedParts};

/// How many signature time-stamps a signature may carry: real signatures carry one (two
/// where a second authority is asked); each costs a path evaluation.
pub const MAX_TIMESTAMPS: usize = 4;

/// `id-ct-TSTInfo`, the content type of a time-stamp token.
pub const ID_CT_TST_INFO: &str = "1.2.840.113549.1.9.16.1.4";
/// `id-kp-timeStamping`, the one extended key usage of a time-stamping certificate.
pub const ID_KP_TIME_STAMPING: &str = "1.3.6.1.5.5.7.3.8";
pub(crate) const ID_AA_SIGNING_CERTIFICATE: &str = "1.2.840.113549.1.9.16.2.12";
pub(crate) const ID_AA_SIGNING_CERTIFICATE_V2: &str = "1.2.840.113549.1.9.16.2.47";

/// Why a time-stamp token does not prove the time it states, or why a time-stamp
/// authority's answer cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// The token is not base64 (`JAdES` `tstTokens[].val`).
    #[error("the time-stamp token is not base64: {detail}")]
    NotBase64 {
        /// What the decoder says.
        detail: String,
    },
    /// The token's CMS structure cannot be read.
    #[error("the time-stamp token: {source}")]
    Cms {
        /// Why.
        source: CmsError,
    },
    /// The `SignedData` encapsulates something other than a `TSTInfo`.
    #[error("the time-stamp token encapsulates {content_type}, not a TSTInfo ({ID_CT_TST_INFO})")]
    NotTstInfo {
        /// The encapsulated content type.
        content_type: String,
    },
    /// The `TSTInfo` cannot be decoded.
    #[error("the TSTInfo of the time-stamp token cannot be read: {detail}")]
    UnreadableTstInfo {
        /// What is wrong.
        detail: String,
    },
    /// The token's signed attributes are missing or wrong.
    #[error("the time-stamp token's signed attributes: {detail}")]
    Attributes {
        /// What is wrong.
        detail: String,
    },
    /// The signed `messageDigest` is not the digest of the `TSTInfo`.
    #[error("the time-stamp token's TSTInfo was changed after the authority signed it")]
    TstInfoChanged,
    /// No ESS `signingCertificate(V2)` attribute (RFC 3161 §2.4.1, RFC 5816).
    #[error("the time-stamp token does not name its signing certificate (ESS signingCertificate)")]
    NoSigningCertificate,
    /// The ESS attribute names another certificate than the one that signed.
    #[error(
        "the time-stamp token names another signing certificate than \"{subject}\", whose key signed it"
    )]
    SigningCertificateMismatch {
        /// The subject of the certificate that signed.
        subject: String,
    },
    /// The token's signature does not verify.
    #[error(
        "the time-stamp token's signature does not verify with the key of \"{subject}\": {source}"
    )]
    SignatureValue {
        /// The time-stamping certificate's subject.
        subject: String,
        /// Why.
        source: CryptoError,
    },
    /// The imprint's digest algorithm is not SHA-2.
    #[error("the time-stamp's message imprint uses {oid}, not SHA-256/384/512")]
    ImprintAlgorithm {
        /// The algorithm's object identifier.
        oid: String,
    },
    /// The imprint is not the digest of the time-stamped bytes.
    #[error(
        "the time-stamp is not over this signature: its message imprint is the digest of other bytes"
    )]
    ImprintMismatch,
    /// `genTime` is after the verification time.
    #[error(
        "the time-stamp states {}, after the verification time {}",
        crate::datetime::rfc3339(*.gen_time),
        crate::datetime::rfc3339(*.verified_at)
    )]
    AfterVerification {
        /// The time-stamp's time.
        gen_time: OffsetDateTime,
        /// The verification time.
        verified_at: OffsetDateTime,
    },
    /// The signing certificate is not a time-stamping certificate.
    #[error(
        "\"{subject}\" is not a time-stamping certificate: RFC 3161 requires a critical extended key usage with id-kp-timeStamping alone"
    )]
    NotTimeStamping {
        /// Its subject.
        subject: String,
    },
    /// The time-stamping certificate was not valid when it time-stamped.
    #[error(
        "\"{subject}\" was not valid at the time-stamp's time {} (valid {} to {})",
        crate::datetime::rfc3339(*.gen_time),
        crate::datetime::rfc3339(*.not_before),
        crate::datetime::rfc3339(*.not_after)
    )]
    OutsideValidity {
        /// Its subject.
        subject: String,
        /// The time-stamp's time.
        gen_time: OffsetDateTime,
        /// Start of its validity.
        not_before: OffsetDateTime,
        /// End of its validity.
        not_after: OffsetDateTime,
    },
    /// A check of the time-stamping certificate did not pass.
    #[error("the time-stamping certificate \"{subject}\": {reason}")]
    Authority {
        /// Its subject.
        subject: String,
        /// The check that did not pass (`certificate-path`, `revocation`…).
        check: &'static str,
        /// Why, as that check says.
        reason: String,
    },
    /// The signing certificate is not one of the trusted time-stamping authorities.
    #[error(
        "\"{subject}\" is not a trusted time-stamp authority (neither in the trust directory's tsa/ nor a time-stamping service of a trusted list)"
    )]
    NotTrustedAuthority {
        /// Its subject.
        subject: String,
    },
    /// More signature time-stamps than are read.
    #[error(
        "the signature carries {count} signature time-stamps; at most {MAX_TIMESTAMPS} are read"
    )]
    TooMany {
        /// How many.
        count: usize,
    },
    /// `JAdES` `sigTst` with something this verifier does not read.
    #[error("\"sigTst\": {detail}")]
    SigTst {
        /// What is wrong.
        detail: String,
    },
    /// The request could not be encoded.
    #[error("the time-stamp request cannot be encoded: {detail}")]
    Request {
        /// What the encoder says.
        detail: String,
    },
    /// The authority's answer is not a `TimeStampResp`.
    #[error("the time-stamp authority's answer is not an RFC 3161 TimeStampResp: {detail}")]
    UnreadableResponse {
        /// What the decoder says.
        detail: String,
    },
    /// The authority refused.
    #[error("the time-stamp authority refused the request (PKIStatus {status}){}", .text.as_deref().map(|text| format!(": {text}")).unwrap_or_default())]
    Refused {
        /// The `PKIStatus`.
        status: u8,
        /// The `statusString`, if any.
        text: Option<String>,
    },
    /// A granted answer without a token.
    #[error("the time-stamp authority granted the request but sent no token")]
    NoToken,
    /// The token answers another request.
    #[error("the time-stamp authority's token answers another request: {what} differs")]
    WrongAnswer {
        /// `nonce` or `messageImprint`.
        what: &'static str,
    },
}

impl From<CmsError> for TimestampError {
    fn from(source: CmsError) -> Self {
        Self::Cms { source }
    }
}

/// A time-stamp token, read but not yet judged.
pub(crate) struct Token {
    pub(crate) parts: SignedParts,
    /// The DER of the signed attributes (what the signature value covers).
    pub(crate) signed: Vec<u8>,
    pub(crate) gen_time: OffsetDateTime,
    pub(crate) policy: String,
    pub(crate) serial: String,
    pub(crate) imprint_algorithm: String,
    pub(crate) imprint: Vec<u8>,
    pub(crate) nonce: Option<Vec<u8>>,
}

impl Token {
    /// Reads a DER time-stamp token (`ContentInfo`). Structural defects, a `TSTInfo`
    /// changed after signing and an ESS attribute naming another certificate are errors
    /// here; the signature value, the imprint and the authority are judged by the
    /// verifier.
    pub(crate) fn read(
        der: &[u8],
        trust: &crate::path::TrustStore,
    ) -> Result<Self, TimestampError> {
        let parts = pkcs7::read_signed(der, trust)?;
        let encapsulated = &parts.signed.encap_content_info;
        if encapsulated.econtent_type.to_string() != ID_CT_TST_INFO {
            return Err(TimestampError::NotTstInfo {
                content_type: encapsulated.econtent_type.to_string(),
            });
        }
        let unreadable = |detail: String| TimestampError::UnreadableTstInfo { detail };
        let content = encapsulated
            .econtent
            .as_ref()
            .ok_or_else(|| unreadable("the token encapsulates no content".into()))?
            .decode_as::<OctetString>()
            .map_err(|error| unreadable(error.to_string()))?;
        let tst_info = content.as_bytes();

        let attributes =
            parts
                .info()
                .signed_attrs
                .as_ref()
                .ok_or_else(|| TimestampError::Attributes {
                    detail: "there are none".into(),
                })?;
        let bad = |detail: String| TimestampError::Attributes { detail };
        let mut content_type = None;
        let mut digest = None;
        let mut ess = None;
        for attribute in attributes.iter() {
            let value = pkcs7::single_value(attribute)?;
            match attribute.oid.to_string().as_str() {
                pkcs7::ID_CONTENT_TYPE => {
                    content_type = Some(
                        value
                            .decode_as::<ObjectIdentifier>()
                            .map_err(|error| bad(format!("contentType: {error}")))?,
                    );
                }
                pkcs7::ID_MESSAGE_DIGEST => {
                    digest = Some(
                        value
                            .decode_as::<OctetString>()
                            .map_err(|error| bad(format!("messageDigest: {error}")))?
                            .as_bytes()
                            .to_vec(),
                    );
                }
                ID_AA_SIGNING_CERTIFICATE => ess = Some((false, value.clone())),
                ID_AA_SIGNING_CERTIFICATE_V2 => ess = Some((true, value.clone())),
                _ => {}
            }
        }
        if content_type.map(|oid| oid.to_string()).as_deref() != Some(ID_CT_TST_INFO) {
            return Err(bad("contentType is not id-ct-TSTInfo".into()));
        }
        let digest = digest.ok_or_else(|| bad("messageDigest is missing".into()))?;
        // What the authority signed comes first: a changed TSTInfo is that, whether or
        // not it still reads.
        if parts.digest.digest(tst_info) != digest {
            return Err(TimestampError::TstInfoChanged);
        }
        let info = read_tst_info(tst_info)?;
        let (v2, ess) = ess.ok_or(TimestampError::NoSigningCertificate)?;
        if !names_certificate(&ess, v2, &parts.signer)? {
            return Err(TimestampError::SigningCertificateMismatch {
                subject: parts.signer.subject().to_owned(),
            });
        }
        let signed = attributes
            .to_der()
            .map_err(|error| bad(error.to_string()))?;
        Ok(Self {
            parts,
            signed,
            gen_time: info.gen_time,
            policy: info.policy,
            serial: info.serial,
            imprint_algorithm: info.imprint_algorithm,
            imprint: info.imprint,
            nonce: info.nonce,
        })
    }

    /// Checks the signature value and that the imprint is the digest of `data`.
    pub(crate) fn check_binding(&self, data: &[u8]) -> Result<(), TimestampError> {
        let signer = &self.parts.signer;
        let key = signer
            .public_key()
            .map_err(|error| TimestampError::SignatureValue {
                subject: signer.subject().to_owned(),
                source: CryptoError::UnusableKey {
                    subject: signer.subject().to_owned(),
                    source: error.clone(),
                },
            })?;
        crypto::verify(
            key,
            self.parts.scheme,
            self.parts.signature_hash,
            &self.signed,
            self.parts.info().signature.as_bytes(),
        )
        .map_err(|source| TimestampError::SignatureValue {
            subject: signer.subject().to_owned(),
            source,
        })?;
        let hash = Hash::from_oid(&self.imprint_algorithm).ok_or_else(|| {
            TimestampError::ImprintAlgorithm {
                oid: self.imprint_algorithm.clone(),
            }
        })?;
        if hash.digest(data) != self.imprint {
            return Err(TimestampError::ImprintMismatch);
        }
        Ok(())
    }

    /// Whether the signing certificate is a time-stamping certificate (RFC 3161 §2.3).
    pub(crate) fn check_usage(&self) -> Result<(), TimestampError> {
        let signer = &self.parts.signer;
        let only_time_stamping = signer
            .extended_key_usage()
            .is_some_and(|usages| usages == [ID_KP_TIME_STAMPING]);
        let usage_fits = signer.key_usage().is_none_or(|usage| {
            usage
                & (crate::cert::key_usage::DIGITAL_SIGNATURE
                    | crate::cert::key_usage::NON_REPUDIATION)
                != 0
        });
        if only_time_stamping
            && signer.extended_key_usage_critical()
            && usage_fits
            && !signer.is_ca()
        {
            Ok(())
        } else {
            Err(TimestampError::NotTimeStamping {
                subject: signer.subject().to_owned(),
            })
        }
    }
}

struct TstInfo {
    policy: String,
    imprint_algorithm: String,
    imprint: Vec<u8>,
    serial: String,
    gen_time: OffsetDateTime,
    nonce: Option<Vec<u8>>,
}

/// Reads a `TSTInfo` field by field. `der` 0.7's `GeneralizedTime` refuses fractions of
/// a second, which RFC 3161 allows and authorities write, so `genTime` is read here.
fn read_tst_info(der: &[u8]) -> Result<TstInfo, TimestampError> {
    let unreadable = |detail: String| TimestampError::UnreadableTstInfo { detail };
    let fields = Vec::<Any>::from_der(der).map_err(|error| unreadable(error.to_string()))?;
    let [version, policy, imprint, serial, gen_time, rest @ ..] = fields.as_slice() else {
        return Err(unreadable("fewer than five fields".into()));
    };
    if version.tag() != Tag::Integer || version.value() != [1] {
        return Err(unreadable("the version is not 1".into()));
    }
    let policy = policy
        .decode_as::<ObjectIdentifier>()
        .map_err(|error| unreadable(format!("policy: {error}")))?
        .to_string();
    let imprint = imprint
        .decode_as::<MessageImprint>()
        .map_err(|error| unreadable(format!("messageImprint: {error}")))?;
    if serial.tag() != Tag::Integer {
        return Err(unreadable("serialNumber is not an INTEGER".into()));
    }
    if gen_time.tag() != Tag::GeneralizedTime {
        return Err(unreadable("genTime is not a GeneralizedTime".into()));
    }
    let gen_time = generalized_time(gen_time.value())
        .ok_or_else(|| unreadable("genTime is not YYYYMMDDhhmmss[.f]Z".into()))?;
    let nonce = rest
        .iter()
        .find(|field| field.tag() == Tag::Integer)
        .map(|field| field.value().to_vec());
    Ok(TstInfo {
        policy,
        imprint_algorithm: imprint.hash_algorithm.oid.to_string(),
        imprint: imprint.hashed_message.as_bytes().to_vec(),
        serial: crate::cert::hex(serial.value()),
        gen_time,
        nonce,
    })
}

/// `YYYYMMDDhhmmss[.f…]Z` (RFC 3161 §2.4.2: UTC, no trailing zeros in the fraction).
fn generalized_time(text: &[u8]) -> Option<OffsetDateTime> {
    let text = std::str::from_utf8(text).ok()?;
    let body = text.strip_suffix('Z')?;
    let (whole, fraction) = match body.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (body, None),
    };
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| whole[range].parse::<u32>().ok();
    let month = time::Month::try_from(u8::try_from(number(4..6)?).ok()?).ok()?;
    let date = time::Date::from_calendar_date(
        i32::try_from(number(0..4)?).ok()?,
        month,
        u8::try_from(number(6..8)?).ok()?,
    )
    .ok()?;
    let mut nanos = 0;
    if let Some(fraction) = fraction {
        if fraction.is_empty()
            || fraction.len() > 9
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        nanos = format!("{fraction:0<9}").parse().ok()?;
    }
    let clock = time::Time::from_hms_nano(
        u8::try_from(number(8..10)?).ok()?,
        u8::try_from(number(10..12)?).ok()?,
        u8::try_from(number(12..14)?).ok()?,
        nanos,
    )
    .ok()?;
    Some(date.with_time(clock).assume_utc())
}

/// Whether an ESS `SigningCertificate` (SHA-1 `ESSCertID`) or `SigningCertificateV2`
/// (`ESSCertIDv2`, SHA-256 unless it names another hash) names `cert` first.
pub(crate) fn names_certificate(
    value: &Any,
    v2: bool,
    cert: &Certificate,
) -> Result<bool, TimestampError> {
    let bad = |detail: String| TimestampError::Attributes {
        detail: format!("ESS signing certificate: {detail}"),
    };
    let outer = value
        .decode_as::<Vec<Any>>()
        .map_err(|error| bad(error.to_string()))?;
    let ids = outer
        .first()
        .ok_or_else(|| bad("no certificate identifiers".into()))?
        .decode_as::<Vec<Any>>()
        .map_err(|error| bad(error.to_string()))?;
    let first = ids
        .first()
        .ok_or_else(|| bad("no certificate identifier".into()))?
        .decode_as::<Vec<Any>>()
        .map_err(|error| bad(error.to_string()))?;
    let (digest, hash) = match first.as_slice() {
        [algorithm, hash, ..] if v2 && algorithm.tag() == Tag::Sequence => {
            let algorithm = algorithm
                .decode_as::<AlgorithmIdentifierOwned>()
                .map_err(|error| bad(error.to_string()))?;
            let oid = algorithm.oid.to_string();
            let digest = Hash::from_oid(&oid)
                .ok_or_else(|| bad(format!("hash algorithm {oid} is not SHA-2")))?
                .digest(cert.der());
            (digest, hash)
        }
        [hash, ..] if v2 => (Hash::Sha256.digest(cert.der()), hash),
        [hash, ..] => (crypto::sha1(cert.der()).to_vec(), hash),
        [] => return Err(bad("an empty certificate identifier".into())),
    };
    let hash = hash
        .decode_as::<OctetString>()
        .map_err(|error| bad(error.to_string()))?;
    Ok(hash.as_bytes() == digest)
}

/// A time-stamp authority: sends an RFC 3161 request and gives the answer. The transport
/// (HTTP with `application/timestamp-query`, RFC 3161 §3.4) is the caller's, so this crate
/// stays free of I/O.
pub trait TimeStampAuthority {
    /// Sends a DER `TimeStampReq`; gives the DER `TimeStampResp`, or why there is none.
    ///
    /// # Errors
    /// Why the authority could not be asked (connection, HTTP status), in words.
    fn request(&self, request: &[u8]) -> Result<Vec<u8>, String>;
}

/// Asks `authority` for a token over `data` (SHA-256 imprint, a fresh nonce, the
/// certificate requested), checks that the answer is a granted token for this request,
/// and gives the token (DER `ContentInfo`).
///
/// # Errors
/// The request cannot be made, the authority cannot be reached or refuses, or its
/// token answers another request.
pub fn request_token(
    authority: &dyn TimeStampAuthority,
    data: &[u8],
) -> Result<Vec<u8>, crate::sign::SignError> {
    use crate::sign::SignError;
    let tsa = |source: TimestampError| SignError::Timestamp { source };
    let encoding = |error: der::Error| {
        tsa(TimestampError::Request {
            detail: error.to_string(),
        })
    };
    let mut nonce = [0_u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| SignError::SigningFailed)?;
    // A positive INTEGER: the top bit clear.
    nonce[0] &= 0x7f;
    nonce[0] |= 0x01;
    let imprint = Hash::Sha256.digest(data);
    let request = TimeStampReq {
        version: TspVersion::V1,
        message_imprint: MessageImprint {
            hash_algorithm: AlgorithmIdentifierOwned {
                oid: ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1"),
                parameters: Some(Any::null()),
            },
            hashed_message: OctetString::new(imprint.clone()).map_err(encoding)?,
        },
        req_policy: None,
        nonce: Some(der::asn1::Int::new(&nonce).map_err(encoding)?),
        cert_req: true,
        extensions: None,
    };
    let der = request.to_der().map_err(encoding)?;
    let answer = authority
        .request(&der)
        .map_err(|detail| SignError::TimestampAuthority { detail })?;
    let response = TimeStampResp::from_der(&answer).map_err(|error| {
        tsa(TimestampError::UnreadableResponse {
            detail: error.to_string(),
        })
    })?;
    let status = response.status.status as u8;
    let token = match (status, response.time_stamp_token) {
        (0 | 1, Some(token)) => token,
        (0 | 1, None) => return Err(tsa(TimestampError::NoToken)),
        (status, _) => {
            let text = response.status.status_string.as_ref().map(|strings| {
                strings
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            });
            return Err(tsa(TimestampError::Refused { status, text }));
        }
    };
    let token = token.to_der().map_err(encoding)?;
    // The answer must be to this request: its nonce and imprint (RFC 3161 §2.4.2).
    let read = Token::read(&token, &crate::path::TrustStore::default()).map_err(tsa)?;
    if read.nonce.as_deref().map(pkcs7::trim_zeros) != Some(pkcs7::trim_zeros(&nonce)) {
        return Err(tsa(TimestampError::WrongAnswer { what: "nonce" }));
    }
    if read.imprint != imprint || read.imprint_algorithm != Hash::Sha256.oid() {
        return Err(tsa(TimestampError::WrongAnswer {
            what: "messageImprint",
        }));
    }
    // A token that will not verify later is refused now: its signature over this
    // request, and a time-stamping certificate.
    read.check_binding(data).map_err(tsa)?;
    read.check_usage().map_err(tsa)?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::generalized_time;

    #[test]
    fn generalized_time_with_and_without_fractions() {
        let whole = generalized_time(b"20261207153000Z").unwrap();
        assert_eq!(whole.unix_timestamp(), 1_796_657_400);
        let fraction = generalized_time(b"20261207153000.25Z").unwrap();
        assert_eq!(fraction.nanosecond(), 250_000_000);
        for bad in [
            &b"20261207153000"[..],
            b"20261207153000.Z",
            b"2026120715300Z",
            b"20261307153000Z",
            b"20261207153000+0100",
            b"20261207153000.1234567890Z",
        ] {
            assert!(generalized_time(bad).is_none(), "{bad:?}");
        }
    }
}
