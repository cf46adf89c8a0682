//! Making signatures, for tests, demonstrations and SIHCE developers: the same formats
//! the verifier reads, with a PKCS #8 key and its certificate chain.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use renhice_model::Primitive;
use renhice_model::canonical::Canonicalization;
use renhice_model::resources::{Bundle, Provenance, Resource};
use renhice_model::types::{Coding, Reference, Signature};
use renhice_model::values::Instant;
use ring::rand::SystemRandom;
use ring::signature::{self as ring_signature, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use time::OffsetDateTime;

use crate::cert::{Certificate, CertificateError};
use crate::crypto::Hash;
use crate::datetime::rfc3339;
use crate::error::TargetError;
use crate::jws::{self, HeaderInput};
use crate::pkcs7;
use crate::verify::{JOSE, PKCS7, Target};

/// ASTM E1762 / ISO 17090 "Author's Signature": the default commitment of a clinician
/// signing an act.
pub const AUTHOR_SIGNATURE: &str = "1.2.840.10065.1.12.1.1";
/// The code system of signature types.
pub const SIGNATURE_TYPE_SYSTEM: &str = "urn:iso-astm:E1762-95:2013";

/// Why a signature could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The key file is not PEM.
    #[error("the key is not PEM: {detail}")]
    KeyNotPem {
        /// What the PEM reader says.
        detail: String,
    },
    /// The key file has no PKCS #8 block.
    #[error("no PKCS #8 \"PRIVATE KEY\" block (convert with `openssl pkcs8 -topk8 -nocrypt`)")]
    NoPrivateKey,
    /// The chain cannot be read.
    #[error(transparent)]
    Chain(#[from] CertificateError),
    /// The key is not a P-256, P-384 or RSA key.
    #[error("the key is not a P-256, P-384 or RSA PKCS #8 key: {detail}")]
    UnsupportedKey {
        /// What the key reader says.
        detail: String,
    },
    /// The chain has no certificate.
    #[error("the certificate chain is empty")]
    EmptyChain,
    /// The key is not the first certificate's key.
    #[error("the key is not the key of the first certificate of the chain (\"{subject}\")")]
    KeyNotOfSigner {
        /// The first certificate's subject.
        subject: String,
    },
    /// The key cannot be loaded for the algorithm.
    #[error("the key cannot be loaded")]
    KeyUnloadable,
    /// The signing operation failed.
    #[error("the signing operation failed")]
    SigningFailed,
    /// The algorithm does not fit the key.
    #[error("algorithm {algorithm} does not fit the key (which signs with {key_algorithm})")]
    AlgorithmNotForKey {
        /// The JOSE algorithm asked for.
        algorithm: String,
        /// The key's default JOSE algorithm.
        key_algorithm: &'static str,
    },
    /// A target has no canonical form.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// A CMS signature over more or fewer than one target.
    #[error(
        "a CMS signature signs one target; there are {count} (use the JOSE format for several)"
    )]
    CmsTargets {
        /// The number of targets.
        count: usize,
    },
    /// An algorithm not offered for CMS signatures.
    #[error("{algorithm} is not offered for CMS signatures (ES256, ES384 and RS256/384/512 are)")]
    CmsAlgorithm {
        /// The JOSE algorithm asked for.
        algorithm: String,
    },
    /// The CMS structure cannot be encoded.
    #[error("the CMS signature cannot be encoded: {detail}")]
    Encoding {
        /// What the DER encoder says.
        detail: String,
    },
    /// The signing time cannot be written.
    #[error("signing time: {detail}")]
    SigningTime {
        /// Why.
        detail: String,
    },
    /// A `Provenance.target` is not among the targets given.
    #[error("Provenance.target {reference:?} was not given to sign")]
    TargetNotGiven {
        /// The target's reference.
        reference: String,
    },
    /// The Provenance has no target.
    #[error("the Provenance has no target to sign")]
    NoTarget,
    /// The time-stamp authority's answer cannot be used.
    #[error("time-stamp: {source}")]
    Timestamp {
        /// Why.
        source: crate::timestamp::TimestampError,
    },
    /// The time-stamp authority could not be asked.
    #[error("the time-stamp authority could not be asked: {detail}")]
    TimestampAuthority {
        /// Why (connection, HTTP status).
        detail: String,
    },
    /// The signature to time-stamp cannot be read.
    #[error("the signature to time-stamp cannot be read: {detail}")]
    Unreadable {
        /// Why.
        detail: String,
    },
}

/// The signature format to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureFormat {
    /// `application/jose`: JWS with a JAdES-style header.
    Jose,
    /// `application/pkcs7-signature`: detached CMS.
    Cms,
}

#[derive(Debug)]
enum Key {
    P256(Vec<u8>),
    P384(Vec<u8>),
    Rsa(Box<RsaKeyPair>),
}

/// A private key (PKCS #8: P-256, P-384 or RSA) with its certificate chain (signer first).
#[derive(Debug)]
pub struct SigningKey {
    key: Key,
    chain: Vec<Certificate>,
    rng: SystemRandom,
}

impl SigningKey {
    /// Reads a PKCS #8 PEM private key (`-----BEGIN PRIVATE KEY-----`) and a PEM chain.
    /// The first certificate of the chain must hold the key's public half.
    pub fn from_pem(key_pem: &[u8], chain_pem: &[u8]) -> Result<Self, SignError> {
        let block = pem::parse_many(key_pem)
            .map_err(|error| SignError::KeyNotPem {
                detail: error.to_string(),
            })?
            .into_iter()
            .find(|block| block.tag() == "PRIVATE KEY")
            .ok_or(SignError::NoPrivateKey)?;
        let chain = Certificate::all_from_pem(chain_pem)?;
        Self::from_pkcs8(block.contents(), chain)
    }

    /// A PKCS #8 DER key with its chain (signer first).
    pub fn from_pkcs8(pkcs8: &[u8], chain: Vec<Certificate>) -> Result<Self, SignError> {
        let rng = SystemRandom::new();
        let public: Vec<u8>;
        let key = if let Ok(pair) = EcdsaKeyPair::from_pkcs8(
            &ring_signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8,
            &rng,
        ) {
            public = pair.public_key().as_ref().to_vec();
            Key::P256(pkcs8.to_vec())
        } else if let Ok(pair) = EcdsaKeyPair::from_pkcs8(
            &ring_signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            pkcs8,
            &rng,
        ) {
            public = pair.public_key().as_ref().to_vec();
            Key::P384(pkcs8.to_vec())
        } else {
            let pair =
                RsaKeyPair::from_pkcs8(pkcs8).map_err(|error| SignError::UnsupportedKey {
                    detail: error.to_string(),
                })?;
            public = pair.public_key().as_ref().to_vec();
            Key::Rsa(Box::new(pair))
        };
        let signer = chain.first().ok_or(SignError::EmptyChain)?;
        let matches = match signer.public_key() {
            Ok(crate::crypto::PublicKey::Ec { point, .. }) => *point == public,
            Ok(crate::crypto::PublicKey::Rsa { pkcs1 }) => *pkcs1 == public,
            Err(_) => false,
        };
        if !matches {
            return Err(SignError::KeyNotOfSigner {
                subject: signer.subject().to_owned(),
            });
        }
        Ok(Self { key, chain, rng })
    }

    /// The chain, signer first.
    #[must_use]
    pub fn chain(&self) -> &[Certificate] {
        &self.chain
    }

    /// The default JOSE algorithm of the key: ES256, ES384 or RS256.
    #[must_use]
    pub fn default_algorithm(&self) -> &'static str {
        match self.key {
            Key::P256(_) => "ES256",
            Key::P384(_) => "ES384",
            Key::Rsa(_) => "RS256",
        }
    }

    /// Signs `message` with JOSE `alg`; `asn1` selects the DER `ECDSA-Sig-Value` encoding
    /// of CMS instead of JOSE's `r || s`.
    fn sign(&self, alg: &str, message: &[u8], asn1: bool) -> Result<Vec<u8>, SignError> {
        let error = |_| SignError::SigningFailed;
        match (&self.key, alg) {
            (Key::P256(pkcs8), "ES256") | (Key::P384(pkcs8), "ES384") => {
                let algorithm = match (alg, asn1) {
                    ("ES256", false) => &ring_signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    ("ES256", true) => &ring_signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                    (_, false) => &ring_signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                    (_, true) => &ring_signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                };
                let pair = EcdsaKeyPair::from_pkcs8(algorithm, pkcs8, &self.rng)
                    .map_err(|_| SignError::KeyUnloadable)?;
                Ok(pair
                    .sign(&self.rng, message)
                    .map_err(error)?
                    .as_ref()
                    .to_vec())
            }
            (Key::Rsa(pair), "RS256" | "PS256" | "RS384" | "PS384" | "RS512" | "PS512") => {
                let padding: &dyn ring_signature::RsaEncoding = match alg {
                    "RS256" => &ring_signature::RSA_PKCS1_SHA256,
                    "RS384" => &ring_signature::RSA_PKCS1_SHA384,
                    "RS512" => &ring_signature::RSA_PKCS1_SHA512,
                    "PS256" => &ring_signature::RSA_PSS_SHA256,
                    "PS384" => &ring_signature::RSA_PSS_SHA384,
                    _ => &ring_signature::RSA_PSS_SHA512,
                };
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(padding, &self.rng, message, &mut signature)
                    .map_err(error)?;
                Ok(signature)
            }
            _ => Err(SignError::AlgorithmNotForKey {
                algorithm: alg.to_owned(),
                key_algorithm: self.default_algorithm(),
            }),
        }
    }
}

/// What to sign with, besides the key.
#[derive(Debug, Clone)]
pub struct SignOptions {
    /// The format.
    pub format: SignatureFormat,
    /// The JOSE algorithm; the key's default when `None`.
    pub algorithm: Option<String>,
    /// The signing time (signed, and written to `Signature.when`).
    pub signing_time: OffsetDateTime,
    /// `Signature.who`.
    pub who: Reference,
    /// The commitment type (ASTM E1762 code); [`AUTHOR_SIGNATURE`] when `None`.
    pub commitment: Option<String>,
    /// The canonicalization; `#document` for a Bundle, `#static` for Provenance targets
    /// when `None` (so the signature survives a server setting `meta`).
    pub canonicalization: Option<Canonicalization>,
}

/// Signs `targets`, giving the `Signature` element.
pub fn sign_targets(
    key: &SigningKey,
    targets: &[Target<'_>],
    method: Canonicalization,
    options: &SignOptions,
) -> Result<Signature, SignError> {
    let alg = options
        .algorithm
        .clone()
        .unwrap_or_else(|| key.default_algorithm().to_owned());
    let commitment = options
        .commitment
        .clone()
        .unwrap_or_else(|| AUTHOR_SIGNATURE.to_owned());
    let contents = crate::verify::canonical_contents(targets, method)?;
    let (sig_format, data) = match options.format {
        SignatureFormat::Jose => {
            let commitment_uri = format!("urn:oid:{commitment}");
            let sig_d = if let [_] = contents.as_slice() {
                None
            } else {
                let hash = Hash::Sha256;
                Some((
                    hash,
                    contents
                        .iter()
                        .map(|(reference, bytes)| (reference.clone(), hash.digest(bytes)))
                        .collect(),
                ))
            };
            let detached = sig_d.is_none();
            let header = jws::header(&HeaderInput {
                alg: &alg,
                chain: key.chain(),
                signing_time: options.signing_time,
                commitment: Some(&commitment_uri),
                sig_d,
            });
            let payload = if detached {
                URL_SAFE_NO_PAD.encode(&contents[0].1)
            } else {
                String::new()
            };
            let signature = key.sign(&alg, format!("{header}.{payload}").as_bytes(), false)?;
            let compact = format!("{header}..{}", URL_SAFE_NO_PAD.encode(signature));
            (JOSE, STANDARD.encode(compact))
        }
        SignatureFormat::Cms => {
            let [(_, content)] = contents.as_slice() else {
                return Err(SignError::CmsTargets {
                    count: contents.len(),
                });
            };
            let (hash, oid) = match alg.as_str() {
                "ES256" => (Hash::Sha256, "1.2.840.10045.4.3.2"),
                "ES384" => (Hash::Sha384, "1.2.840.10045.4.3.3"),
                "RS256" => (Hash::Sha256, "1.2.840.113549.1.1.11"),
                "RS384" => (Hash::Sha384, "1.2.840.113549.1.1.12"),
                "RS512" => (Hash::Sha512, "1.2.840.113549.1.1.13"),
                other => {
                    return Err(SignError::CmsAlgorithm {
                        algorithm: other.to_owned(),
                    });
                }
            };
            let (attributes, signed) =
                pkcs7::signed_attributes(&hash.digest(content), options.signing_time)?;
            let signature = key.sign(&alg, &signed, true)?;
            let der = pkcs7::assemble(key.chain(), hash, oid, attributes, &signature)?;
            (PKCS7, STANDARD.encode(der))
        }
    };
    let when =
        Instant::parse(rfc3339(options.signing_time)).map_err(|error| SignError::SigningTime {
            detail: error.to_string(),
        })?;
    Ok(Signature {
        r#type: vec![Coding::new(SIGNATURE_TYPE_SYSTEM, &commitment)],
        when: Some(Primitive::new(when)),
        who: Some(Box::new(options.who.clone())),
        target_format: Some(Primitive::new(format!(
            "application/fhir+json;canonicalization={}",
            method.uri()
        ))),
        sig_format: Some(Primitive::new(sig_format.to_owned())),
        data: Some(Primitive::new(data)),
        ..Signature::default()
    })
}

/// Signs a document Bundle: sets `Bundle.signature` (canonicalization `#document`
/// unless the options say otherwise).
pub fn sign_bundle(
    bundle: &mut Bundle,
    key: &SigningKey,
    options: &SignOptions,
) -> Result<(), SignError> {
    bundle.signature = None;
    let method = options
        .canonicalization
        .unwrap_or(Canonicalization::Document);
    let resource = Resource::Bundle(Box::new(bundle.clone()));
    let reference = bundle
        .id
        .as_ref()
        .and_then(|id| id.value.clone())
        .map_or_else(|| "Bundle".to_owned(), |id| format!("Bundle/{id}"));
    let signature = sign_targets(
        key,
        &[Target {
            reference: &reference,
            resource: &resource,
        }],
        method,
        options,
    )?;
    bundle.signature = Some(Box::new(signature));
    Ok(())
}

/// Signs the targets of a Provenance: adds a `Provenance.signature` (canonicalization
/// `#static` unless the options say otherwise). `targets` are matched to
/// `Provenance.target` by reference; every target must be given.
pub fn sign_provenance(
    provenance: &mut Provenance,
    targets: &[Target<'_>],
    key: &SigningKey,
    options: &SignOptions,
) -> Result<(), SignError> {
    let mut ordered = Vec::with_capacity(provenance.target.len());
    for reference in &provenance.target {
        let text = reference.reference_str().unwrap_or_default();
        let target = targets
            .iter()
            .find(|target| target.reference == text)
            .ok_or_else(|| SignError::TargetNotGiven {
                reference: text.to_owned(),
            })?;
        ordered.push(*target);
    }
    if ordered.is_empty() {
        return Err(SignError::NoTarget);
    }
    let method = options.canonicalization.unwrap_or(Canonicalization::Static);
    let signature = sign_targets(key, &ordered, method, options)?;
    provenance.signature.push(signature);
    Ok(())
}

/// Adds a signature time-stamp from `authority` to a signature made by [`sign_targets`]
/// (ETSI baseline B-B to B-T): for `application/jose`, a `JAdES` `sigTst` over the
/// base64url of the signature value, in the `etsiU` unprotected header of the flattened
/// JSON serialization; for `application/pkcs7-signature`, a `CAdES`
/// `signature-time-stamp` unsigned attribute over the signature value. The signed bytes
/// do not change, so the signature value stays valid.
///
/// # Errors
/// The signature cannot be read, or the authority cannot be asked or refuses, or its
/// token answers another request.
pub fn add_timestamp(
    signature: &mut Signature,
    authority: &dyn crate::timestamp::TimeStampAuthority,
) -> Result<(), SignError> {
    let unreadable = |detail: String| SignError::Unreadable { detail };
    let format = signature
        .sig_format
        .as_ref()
        .and_then(|format| format.value.clone())
        .unwrap_or_default();
    let data = signature
        .data
        .as_ref()
        .and_then(|data| data.value.clone())
        .ok_or_else(|| unreadable("Signature.data is missing".into()))?;
    let bytes = STANDARD
        .decode(data.trim())
        .map_err(|error| unreadable(format!("Signature.data is not base64: {error}")))?;
    let essence = format.split(';').next().unwrap_or_default().trim();
    let data = match essence {
        JOSE => {
            let text =
                String::from_utf8(bytes).map_err(|_| unreadable("the JWS is not text".into()))?;
            let mut object = if text.trim_start().starts_with('{') {
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text)
                    .map_err(|error| unreadable(format!("the JWS JSON: {error}")))?
            } else {
                let parts: Vec<&str> = text.split('.').collect();
                let [header, "", value] = parts.as_slice() else {
                    return Err(unreadable("not a detached compact JWS".into()));
                };
                let mut object = serde_json::Map::new();
                object.insert("protected".into(), (*header).into());
                object.insert("signature".into(), (*value).into());
                object
            };
            let value = object
                .get("signature")
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| unreadable("the JWS has no signature".into()))?
                .to_owned();
            let token = crate::timestamp::request_token(authority, value.as_bytes())?;
            let item = serde_json::json!({
                "sigTst": { "tstTokens": [ { "val": STANDARD.encode(token) } ] }
            });
            let header = object
                .entry("header")
                .or_insert_with(|| serde_json::json!({}));
            let etsi_u = header
                .as_object_mut()
                .ok_or_else(|| unreadable("the JWS unprotected header is not an object".into()))?
                .entry("etsiU")
                .or_insert_with(|| serde_json::json!([]));
            etsi_u
                .as_array_mut()
                .ok_or_else(|| unreadable("etsiU is not an array".into()))?
                .push(URL_SAFE_NO_PAD.encode(item.to_string()).into());
            STANDARD.encode(serde_json::Value::Object(object).to_string())
        }
        PKCS7 => {
            let value = pkcs7::signature_value(&bytes)?;
            let token = crate::timestamp::request_token(authority, &value)?;
            STANDARD.encode(pkcs7::with_timestamp(&bytes, &token)?)
        }
        other => {
            return Err(unreadable(format!(
                "sigFormat {other:?} is not one renhice signs"
            )));
        }
    };
    signature.data = Some(Primitive::new(data));
    Ok(())
}
