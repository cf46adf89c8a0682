//! `application/pkcs7-signature`: a detached CMS `SignedData` (RFC 5652), parsed with the
//! `RustCrypto` `cms` crate.
//!
//! One `SignerInfo` with signed attributes: `contentType` (equal to the encapsulated
//! content type), `messageDigest` (of the canonical JSON of the one target), and
//! `signingTime`. The signature covers the DER of the signed attributes (as a `SET OF`);
//! the content itself is absent (detached) and is checked through `messageDigest`.
//! Signatures without signed attributes are refused: they have no signed signing time.
//! The signer certificate is found in `certificates` by issuer and serial number or by
//! subject key identifier. `Signature.data` is the base64 of the DER `ContentInfo`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cms::cert::x509::attr::Attribute;
use cms::cert::x509::der::asn1::{ObjectIdentifier, OctetString, SetOfVec, UtcTime};
use cms::cert::x509::der::{Any, Decode, Encode};
use cms::cert::x509::spki::AlgorithmIdentifierOwned;
use cms::cert::x509::time::Time;
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use time::OffsetDateTime;

use crate::cert::{Certificate, CertificateError};
use crate::crypto::{self, Hash, PublicKey, Scheme};
use crate::envelope::{Binding, Envelope};
use crate::error::CryptoError;
use crate::sign::SignError;

pub(crate) const ID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
const ID_DATA: &str = "1.2.840.113549.1.7.1";
pub(crate) const ID_CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
pub(crate) const ID_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
const ID_SIGNING_TIME: &str = "1.2.840.113549.1.9.5";
/// `id-aa-signatureTimeStampToken` (RFC 3161 Appendix A).
pub(crate) const ID_SIGNATURE_TIME_STAMP: &str = "1.2.840.113549.1.9.16.2.14";

/// Why a CMS signature cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CmsError {
    /// `Signature.data` is not base64.
    #[error("Signature.data is not base64: {detail}")]
    NotBase64 {
        /// What the decoder says.
        detail: String,
    },
    /// Not a DER `ContentInfo`.
    #[error("Signature.data is not a CMS ContentInfo: {detail}")]
    NotContentInfo {
        /// What the DER decoder says.
        detail: String,
    },
    /// A content type other than `SignedData`.
    #[error("the CMS content type is {content_type}, not SignedData ({ID_SIGNED_DATA})")]
    NotSignedData {
        /// The content type's object identifier.
        content_type: String,
    },
    /// The `SignedData` cannot be decoded.
    #[error("the CMS SignedData cannot be read: {detail}")]
    UnreadableSignedData {
        /// What the DER decoder says.
        detail: String,
    },
    /// The signature encapsulates its content.
    #[error(
        "the CMS signature encapsulates its content; a signature on a FHIR resource must be detached"
    )]
    AttachedContent,
    /// A certificate of the signature cannot be re-encoded.
    #[error("a CMS certificate cannot be encoded: {detail}")]
    CertificateEncoding {
        /// What the DER encoder says.
        detail: String,
    },
    /// A certificate of the signature is not one this verifier reads.
    #[error("a certificate of the CMS signature: {source}")]
    Certificate {
        /// Why it cannot be read.
        source: CertificateError,
    },
    /// Not exactly one `SignerInfo`.
    #[error(
        "the CMS signature has {count} signer infos; one signature per FHIR Signature is expected"
    )]
    SignerInfoCount {
        /// How many there are.
        count: usize,
    },
    /// The signer certificate is not in `certificates`.
    #[error("the signer certificate is not among the certificates of the CMS signature")]
    SignerNotFound,
    /// A digest algorithm other than SHA-2.
    #[error("digest algorithm {oid} is not supported (SHA-256/384/512 are)")]
    UnsupportedDigest {
        /// The algorithm's object identifier.
        oid: String,
    },
    /// A signature algorithm this verifier does not verify.
    #[error(transparent)]
    Algorithm(#[from] CryptoError),
    /// No signed attributes.
    #[error("the CMS signature has no signed attributes, so no signed signing time")]
    NoSignedAttributes,
    /// The `contentType` attribute is not the encapsulated content type.
    #[error("the contentType attribute differs from the encapsulated content type")]
    ContentTypeMismatch,
    /// The signed attributes cannot be re-encoded (to check the signature over them).
    #[error("the signed attributes cannot be re-encoded: {detail}")]
    AttributeEncoding {
        /// What the DER encoder says.
        detail: String,
    },
    /// A signed attribute cannot be decoded.
    #[error("{attribute} attribute: {detail}")]
    BadAttribute {
        /// The attribute (`contentType`, `messageDigest`, `signingTime`).
        attribute: &'static str,
        /// What the DER decoder says.
        detail: String,
    },
    /// The `signingTime` cannot be represented.
    #[error("signingTime out of range: {detail}")]
    SigningTimeOutOfRange {
        /// What the time library says.
        detail: String,
    },
    /// A signed attribute this verifier needs is absent.
    #[error("the signed attributes have no {attribute}")]
    MissingAttribute {
        /// The attribute (`contentType`, `messageDigest`, `signingTime`).
        attribute: &'static str,
    },
    /// The ESS signing-certificate attribute names another certificate than the signer's.
    #[error(
        "the signed signingCertificate attribute names another certificate than the signer's, \"{subject}\""
    )]
    SigningCertificateMismatch {
        /// The signer certificate's subject.
        subject: String,
    },
    /// A signed attribute with more or fewer than one value.
    #[error("signed attribute {oid} must have exactly one value, it has {count}")]
    AttributeValues {
        /// The attribute's object identifier.
        oid: String,
        /// How many values it has.
        count: usize,
    },
}

/// A CMS `SignedData` with one `SignerInfo`, its signer certificate found and its
/// algorithms known: what a detached signature and a time-stamp token have in common.
pub(crate) struct SignedParts {
    /// The `SignedData`.
    pub(crate) signed: SignedData,
    /// The signer certificate.
    pub(crate) signer: Certificate,
    /// The other certificates the structure carries.
    pub(crate) extra: Vec<Certificate>,
    /// The digest algorithm of the `SignerInfo` (of `messageDigest`).
    pub(crate) digest: Hash,
    /// The signature scheme and its hash.
    pub(crate) scheme: Scheme,
    pub(crate) signature_hash: Hash,
}

impl SignedParts {
    /// The one `SignerInfo`.
    pub(crate) fn info(&self) -> &SignerInfo {
        // `read_signed` only returns structures with exactly one.
        &self.signed.signer_infos.0.as_slice()[0]
    }

    /// The JOSE name of the signature algorithm, for reports.
    pub(crate) fn algorithm(&self) -> String {
        jose_name(
            self.scheme,
            self.signature_hash,
            self.signer.public_key().ok(),
        )
    }
}

/// Reads a DER `ContentInfo` holding a `SignedData` with one `SignerInfo` whose
/// certificate it carries.
pub(crate) fn read_signed(
    der: &[u8],
    trust: &crate::path::TrustStore,
) -> Result<SignedParts, CmsError> {
    let info = ContentInfo::from_der(der).map_err(|error| CmsError::NotContentInfo {
        detail: error.to_string(),
    })?;
    if info.content_type.to_string() != ID_SIGNED_DATA {
        return Err(CmsError::NotSignedData {
            content_type: info.content_type.to_string(),
        });
    }
    let signed: SignedData =
        info.content
            .decode_as()
            .map_err(|error| CmsError::UnreadableSignedData {
                detail: error.to_string(),
            })?;
    let mut certificates = Vec::new();
    for choice in signed.certificates.iter().flat_map(|set| set.0.iter()) {
        if let CertificateChoices::Certificate(cert) = choice {
            let der = cert
                .to_der()
                .map_err(|error| CmsError::CertificateEncoding {
                    detail: error.to_string(),
                })?;
            certificates.push(trust.certificate(
                &der,
                || Ok(der.clone()),
                |source| CmsError::Certificate { source },
            )?);
        }
    }
    let infos = signed.signer_infos.0.as_slice();
    let [info] = infos else {
        return Err(CmsError::SignerInfoCount { count: infos.len() });
    };
    let position = certificates
        .iter()
        .position(|cert| identifies(&info.sid, cert))
        .ok_or(CmsError::SignerNotFound)?;
    let signer_cert = certificates.remove(position);

    let digest_oid = info.digest_alg.oid.to_string();
    let digest =
        Hash::from_oid(&digest_oid).ok_or(CmsError::UnsupportedDigest { oid: digest_oid })?;
    let signature_oid = info.signature_algorithm.oid.to_string();
    let parameters = info
        .signature_algorithm
        .parameters
        .as_ref()
        .map(|any| any.value().to_vec());
    let (scheme, signature_hash) =
        crypto::scheme_of_oid(&signature_oid, parameters.as_deref(), Some(digest))?;
    Ok(SignedParts {
        signed,
        signer: signer_cert,
        extra: certificates,
        digest,
        scheme,
        signature_hash,
    })
}

/// Reads a detached CMS signature from `Signature.data`.
pub(crate) fn parse(data: &str, trust: &crate::path::TrustStore) -> Result<Envelope, CmsError> {
    let der = STANDARD
        .decode(data.trim().replace(['\n', '\r'], ""))
        .map_err(|error| CmsError::NotBase64 {
            detail: error.to_string(),
        })?;
    let (envelope, _) = from_der(&der, trust, None, false)?;
    Ok(envelope)
}

/// Reads a detached CMS signature from its DER. The signing time is the `signingTime`
/// attribute, else `claimed` (a PDF's `/M`, which `PAdES` puts in place of the attribute);
/// also gives the attribute when present. An ESS `signingCertificate(V2)` attribute, when
/// present or when `ess_required` (`CAdES`, `PAdES`), must name the signer certificate.
pub(crate) fn from_der(
    der: &[u8],
    trust: &crate::path::TrustStore,
    claimed: Option<OffsetDateTime>,
    ess_required: bool,
) -> Result<(Envelope, Option<OffsetDateTime>), CmsError> {
    let parts = read_signed(der, trust)?;
    if parts.signed.encap_content_info.econtent.is_some() {
        return Err(CmsError::AttachedContent);
    }
    let info = parts.info();
    let attributes = info
        .signed_attrs
        .as_ref()
        .ok_or(CmsError::NoSignedAttributes)?;
    let (content_type, message_digest, signing_attribute, ess) = read_attributes(attributes)?;
    let signing_time = signing_attribute
        .or(claimed)
        .ok_or(CmsError::MissingAttribute {
            attribute: "signingTime",
        })?;
    // Every ESS attribute present (v1 and v2 may both be) must name the signer.
    for (v2, value) in &ess {
        let names =
            crate::timestamp::names_certificate(value, *v2, &parts.signer).map_err(|error| {
                CmsError::BadAttribute {
                    attribute: "signingCertificate",
                    detail: error.to_string(),
                }
            })?;
        if !names {
            return Err(CmsError::SigningCertificateMismatch {
                subject: parts.signer.subject().to_owned(),
            });
        }
    }
    if ess_required && !ess.iter().any(|(v2, _)| *v2) {
        return Err(CmsError::MissingAttribute {
            attribute: "signingCertificateV2",
        });
    }
    if content_type != parts.signed.encap_content_info.econtent_type {
        return Err(CmsError::ContentTypeMismatch);
    }
    let signed_bytes = attributes
        .to_der()
        .map_err(|error| CmsError::AttributeEncoding {
            detail: error.to_string(),
        })?;
    let signature = info.signature.as_bytes().to_vec();
    // CAdES signature time-stamps (ETSI EN 319 122-1 §5.3), unsigned: each value is a
    // time-stamp token over the signature value.
    let mut timestamps = Vec::new();
    for attribute in info.unsigned_attrs.iter().flat_map(|set| set.iter()) {
        if attribute.oid.to_string() == ID_SIGNATURE_TIME_STAMP {
            for value in attribute.values.iter() {
                timestamps.push(
                    value
                        .to_der()
                        .map_err(|error| CmsError::AttributeEncoding {
                            detail: error.to_string(),
                        })?,
                );
            }
        }
    }
    let carried = crate::carried::from_cms(&parts.signed);
    let envelope = Envelope {
        algorithm: parts.algorithm(),
        scheme: parts.scheme,
        hash: parts.signature_hash,
        signer: parts.signer,
        extra: parts.extra,
        signing_time,
        commitment: Vec::new(),
        timestamped: signature.clone(),
        carried,
        timestamps,
        signature,
        binding: Binding::Digests {
            signed: signed_bytes,
            hash: parts.digest,
            digests: vec![(None, message_digest)],
        },
    };
    Ok((envelope, signing_attribute))
}

/// What the signed attributes say: the content type and message digest, the signing time
/// and the ESS signing-certificate attribute (whether V2, its value) when present.
type Attributes = (
    ObjectIdentifier,
    Vec<u8>,
    Option<OffsetDateTime>,
    Vec<(bool, Any)>,
);

/// Reads the signed attributes this verifier needs.
fn read_attributes(attributes: &SetOfVec<Attribute>) -> Result<Attributes, CmsError> {
    let bad = |attribute: &'static str| {
        move |error: cms::cert::x509::der::Error| CmsError::BadAttribute {
            attribute,
            detail: error.to_string(),
        }
    };
    let mut content_type = None;
    let mut message_digest = None;
    let mut signing_time = None;
    let mut ess = Vec::new();
    for attribute in attributes.iter() {
        let value = single_value(attribute)?;
        match attribute.oid.to_string().as_str() {
            ID_CONTENT_TYPE => {
                content_type = Some(
                    value
                        .decode_as::<ObjectIdentifier>()
                        .map_err(bad("contentType"))?,
                );
            }
            ID_MESSAGE_DIGEST => {
                message_digest = Some(
                    value
                        .decode_as::<OctetString>()
                        .map_err(bad("messageDigest"))?
                        .as_bytes()
                        .to_vec(),
                );
            }
            ID_SIGNING_TIME => {
                // `Time` is a CHOICE, decoded from the whole TLV rather than as a value.
                let time = value
                    .to_der()
                    .and_then(|der| Time::from_der(&der))
                    .map_err(bad("signingTime"))?;
                let seconds = time.to_unix_duration().as_secs();
                signing_time = Some(
                    OffsetDateTime::from_unix_timestamp(i64::try_from(seconds).unwrap_or(i64::MAX))
                        .map_err(|error| CmsError::SigningTimeOutOfRange {
                            detail: error.to_string(),
                        })?,
                );
            }
            crate::timestamp::ID_AA_SIGNING_CERTIFICATE => ess.push((false, value.clone())),
            crate::timestamp::ID_AA_SIGNING_CERTIFICATE_V2 => ess.push((true, value.clone())),
            _ => {}
        }
    }
    Ok((
        content_type.ok_or(CmsError::MissingAttribute {
            attribute: "contentType",
        })?,
        message_digest.ok_or(CmsError::MissingAttribute {
            attribute: "messageDigest",
        })?,
        signing_time,
        ess,
    ))
}

/// The JOSE name of a CMS algorithm, for reports.
fn jose_name(scheme: Scheme, hash: Hash, key: Option<&PublicKey>) -> String {
    let bits = match hash {
        Hash::Sha256 => "256",
        Hash::Sha384 => "384",
        Hash::Sha512 => "512",
    };
    let family = match (scheme, key) {
        (Scheme::Ecdsa { .. }, _) => "ES",
        (Scheme::RsaPkcs1, _) => "RS",
        (Scheme::RsaPss, _) => "PS",
    };
    format!("{family}{bits}")
}

pub(crate) fn single_value(attribute: &Attribute) -> Result<&Any, CmsError> {
    let values = attribute.values.as_slice();
    match values {
        [value] => Ok(value),
        _ => Err(CmsError::AttributeValues {
            oid: attribute.oid.to_string(),
            count: values.len(),
        }),
    }
}

/// Whether `sid` names `cert`.
fn identifies(sid: &SignerIdentifier, cert: &Certificate) -> bool {
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(isn) => {
            let issuer = isn.issuer.to_der().unwrap_or_default();
            issuer == cert.issuer_raw()
                && trim_zeros(isn.serial_number.as_bytes()) == trim_zeros(cert.serial())
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            cert.subject_key_id() == Some(ski.0.as_bytes())
        }
    }
}

/// An INTEGER's content octets without leading zeros (DER adds one before a high bit).
pub(crate) fn trim_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// The signed attributes of a new signature over content with `digest`, and their DER
/// (the bytes to sign).
pub(crate) fn signed_attributes(
    digest: &[u8],
    signing_time: OffsetDateTime,
) -> Result<(SetOfVec<Attribute>, Vec<u8>), SignError> {
    let error = |error: cms::cert::x509::der::Error| SignError::Encoding {
        detail: error.to_string(),
    };
    let oid = |text: &str| {
        ObjectIdentifier::new(text).map_err(|error| SignError::Encoding {
            detail: error.to_string(),
        })
    };
    let attribute = |id: &str, value: Any| -> Result<Attribute, SignError> {
        let mut values = SetOfVec::new();
        values.insert(value).map_err(error)?;
        Ok(Attribute {
            oid: oid(id)?,
            values,
        })
    };
    let seconds =
        u64::try_from(signing_time.unix_timestamp()).map_err(|error| SignError::SigningTime {
            detail: error.to_string(),
        })?;
    let time = UtcTime::from_unix_duration(std::time::Duration::from_secs(seconds))
        .map(Time::UtcTime)
        .map_err(error)?;
    let mut attributes = SetOfVec::new();
    attributes
        .insert(attribute(
            ID_CONTENT_TYPE,
            Any::encode_from(&oid(ID_DATA)?).map_err(error)?,
        )?)
        .map_err(error)?;
    attributes
        .insert(attribute(
            ID_SIGNING_TIME,
            Any::encode_from(&time).map_err(error)?,
        )?)
        .map_err(error)?;
    attributes
        .insert(attribute(
            ID_MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(digest).map_err(error)?).map_err(error)?,
        )?)
        .map_err(error)?;
    let der = attributes.to_der().map_err(error)?;
    Ok((attributes, der))
}

/// A detached CMS `ContentInfo` (DER) from its parts.
pub(crate) fn assemble(
    chain: &[Certificate],
    hash: Hash,
    signature_algorithm: &str,
    attributes: SetOfVec<Attribute>,
    signature: &[u8],
) -> Result<Vec<u8>, SignError> {
    let error = |error: cms::cert::x509::der::Error| SignError::Encoding {
        detail: error.to_string(),
    };
    let oid = |text: &str| {
        ObjectIdentifier::new(text).map_err(|error| SignError::Encoding {
            detail: error.to_string(),
        })
    };
    let signer = chain.first().ok_or(SignError::EmptyChain)?;
    let parsed = cms::cert::x509::Certificate::from_der(signer.der()).map_err(error)?;
    let digest_alg = AlgorithmIdentifierOwned {
        oid: oid(hash.oid())?,
        parameters: None,
    };
    let info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: parsed.tbs_certificate.issuer.clone(),
            serial_number: parsed.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: digest_alg.clone(),
        signed_attrs: Some(attributes),
        signature_algorithm: AlgorithmIdentifierOwned {
            oid: oid(signature_algorithm)?,
            parameters: None,
        },
        signature: OctetString::new(signature).map_err(error)?,
        unsigned_attrs: None,
    };
    let mut certificates = SetOfVec::new();
    for cert in chain {
        let cert = cms::cert::x509::Certificate::from_der(cert.der()).map_err(error)?;
        certificates
            .insert(CertificateChoices::Certificate(cert))
            .map_err(error)?;
    }
    let mut digest_algorithms = SetOfVec::new();
    digest_algorithms.insert(digest_alg).map_err(error)?;
    let mut infos = SetOfVec::new();
    infos.insert(info).map_err(error)?;
    let signed_data = SignedData {
        version: CmsVersion::V1,
        digest_algorithms,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: oid(ID_DATA)?,
            econtent: None,
        },
        certificates: Some(CertificateSet(certificates)),
        crls: None,
        signer_infos: SignerInfos(infos),
    };
    let info = ContentInfo {
        content_type: oid(ID_SIGNED_DATA)?,
        content: Any::encode_from(&signed_data).map_err(error)?,
    };
    info.to_der().map_err(error)
}

/// The signature value of the one `SignerInfo` of a CMS `ContentInfo` (what a `CAdES`
/// signature time-stamp is over).
pub(crate) fn signature_value(der: &[u8]) -> Result<Vec<u8>, SignError> {
    let signed = signed_data(der)?;
    let [info] = signed.signer_infos.0.as_slice() else {
        return Err(SignError::Unreadable {
            detail: "not exactly one SignerInfo".into(),
        });
    };
    Ok(info.signature.as_bytes().to_vec())
}

/// The CMS `ContentInfo` with a `signature-time-stamp` unsigned attribute holding
/// `token` added to its one `SignerInfo`.
pub(crate) fn with_timestamp(der: &[u8], token: &[u8]) -> Result<Vec<u8>, SignError> {
    let error = |error: cms::cert::x509::der::Error| SignError::Encoding {
        detail: error.to_string(),
    };
    let mut signed = signed_data(der)?;
    let [info] = signed.signer_infos.0.as_slice() else {
        return Err(SignError::Unreadable {
            detail: "not exactly one SignerInfo".into(),
        });
    };
    let mut info = info.clone();
    let mut values = SetOfVec::new();
    values
        .insert(Any::from_der(token).map_err(error)?)
        .map_err(error)?;
    let attribute = Attribute {
        oid: ObjectIdentifier::new(ID_SIGNATURE_TIME_STAMP).map_err(|error| {
            SignError::Encoding {
                detail: error.to_string(),
            }
        })?,
        values,
    };
    let mut unsigned = info.unsigned_attrs.take().unwrap_or_default();
    unsigned.insert(attribute).map_err(error)?;
    info.unsigned_attrs = Some(unsigned);
    let mut infos = SetOfVec::new();
    infos.insert(info).map_err(error)?;
    signed.signer_infos = SignerInfos(infos);
    let content_info = ContentInfo {
        content_type: ObjectIdentifier::new(ID_SIGNED_DATA).map_err(|error| {
            SignError::Encoding {
                detail: error.to_string(),
            }
        })?,
        content: Any::encode_from(&signed).map_err(error)?,
    };
    content_info.to_der().map_err(error)
}

fn signed_data(der: &[u8]) -> Result<SignedData, SignError> {
    let unreadable = |error: cms::cert::x509::der::Error| SignError::Unreadable {
        detail: error.to_string(),
    };
    let info = ContentInfo::from_der(der).map_err(unreadable)?;
    if info.content_type.to_string() != ID_SIGNED_DATA {
        return Err(SignError::Unreadable {
            detail: format!("content type {} is not SignedData", info.content_type),
        });
    }
    info.content.decode_as().map_err(unreadable)
}
