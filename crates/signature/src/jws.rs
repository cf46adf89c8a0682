//! `application/jose`: a JWS (RFC 7515) in compact serialization with a detached payload,
//! and a JAdES-style protected header (ETSI TS 119 182-1).
//!
//! The header carries `alg` (`ES256`, `ES384`, `RS256`, `PS256`, and the RSA variants
//! with SHA-384/512), the signer certificate as `x5c` (signer first, standard base64
//! DER) or as `x5t#S256` (then it must be in the trust store), `sigT` (the signing time,
//! `YYYY-MM-DDThh:mm:ssZ`), optionally `srCms` (the commitment: `commId.id` is a URI such
//! as `urn:oid:1.2.840.10065.1.12.1.1`, author's signature), and `crit` naming `sigT` and
//! every other `JAdES` parameter present. Any other critical parameter is refused, as
//! RFC 7515 §4.1.11 requires.
//!
//! The signed content is bound in one of two ways:
//! - **detached payload** (RFC 7515 Appendix F): the payload is the canonical JSON of the
//!   single target, left out of the serialization (`header..signature`) and put back for
//!   verification;
//! - **`sigD`** with `mId` `http://uri.etsi.org/19182/ObjectIdByURIHash`: the header lists
//!   each target (`pars`, the references of `Provenance.target`) with the digest of its
//!   canonical JSON (`hashM`, `hashV`), and the payload is empty. One signature then covers
//!   several targets, and a changed target is named in the report.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::cert::{Certificate, CertificateError};
use crate::crypto::{self, Hash};
use crate::datetime;
use crate::envelope::{Binding, Envelope, Named};
use crate::path::TrustStore;
use crate::revocation::Carried;

/// The `sigD` mechanism this verifier supports.
pub const OBJECT_ID_BY_URI_HASH: &str = "http://uri.etsi.org/19182/ObjectIdByURIHash";

/// The header parameters this verifier understands when listed in `crit`.
const UNDERSTOOD_CRIT: [&str; 3] = ["sigT", "srCms", "sigD"];

/// Why a JWS cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwsError {
    /// Not three parts separated by dots.
    #[error("Signature.data is not a JWS in compact serialization (three parts separated by dots)")]
    NotCompact,
    /// The JWS carries its payload.
    #[error(
        "the JWS carries its payload; a signature on a FHIR resource must be detached (the target is the payload)"
    )]
    AttachedPayload,
    /// The protected header is not base64url.
    #[error("the JWS protected header is not base64url: {detail}")]
    HeaderNotBase64url {
        /// What the decoder says.
        detail: String,
    },
    /// The protected header is not a JSON object.
    #[error("the JWS protected header is not a JSON object: {detail}")]
    HeaderNotJson {
        /// What the JSON parser says.
        detail: String,
    },
    /// The signature is not base64url.
    #[error("the JWS signature is not base64url: {detail}")]
    SignatureNotBase64url {
        /// What the decoder says.
        detail: String,
    },
    /// The header has no `alg`.
    #[error("the JWS header has no \"alg\"")]
    NoAlgorithm,
    /// An `alg` this verifier does not verify.
    #[error(
        "JWS algorithm {alg:?} is not supported (ES256, ES384, RS256, PS256 and RS/PS384/512 are)"
    )]
    UnsupportedAlgorithm {
        /// The `alg` given.
        alg: String,
    },
    /// A header parameter of the wrong JSON type.
    #[error("\"{parameter}\" must {expected}")]
    Malformed {
        /// The parameter (`crit`, `x5c`, `sigD.pars`…).
        parameter: String,
        /// What it must be (`be an array`, `list strings`…).
        expected: &'static str,
    },
    /// `crit` names a parameter this verifier does not understand.
    #[error("the JWS header marks {parameter:?} critical, which this verifier does not understand")]
    UnknownCritical {
        /// The parameter.
        parameter: String,
    },
    /// A `JAdES` parameter is present but not listed in `crit`.
    #[error("\"{parameter}\" is present but not listed in \"crit\" (JAdES requires it)")]
    NotCritical {
        /// The parameter.
        parameter: &'static str,
    },
    /// An `x5c` entry is not base64.
    #[error("x5c[{index}] is not base64: {detail}")]
    X5cNotBase64 {
        /// The entry's position.
        index: usize,
        /// What the decoder says.
        detail: String,
    },
    /// An `x5c` entry is not a certificate this verifier reads.
    #[error("x5c[{index}]: {source}")]
    X5cCertificate {
        /// The entry's position.
        index: usize,
        /// Why the certificate cannot be read.
        source: CertificateError,
    },
    /// The flattened JSON serialization is not JSON.
    #[error("Signature.data is not a JWS JSON serialization: {detail}")]
    NotJson {
        /// What the JSON parser says.
        detail: String,
    },
    /// The general JSON serialization (several signatures in one).
    #[error(
        "the JWS uses the general JSON serialization (\"signatures\"); one signature per FHIR Signature is expected"
    )]
    GeneralSerialization,
    /// An unprotected header parameter other than `etsiU`.
    #[error(
        "the JWS unprotected header has {name:?}; only \"etsiU\" (JAdES unsigned properties) is read there"
    )]
    UnprotectedParameter {
        /// The parameter.
        name: String,
    },
    /// `etsiU` cannot be read.
    #[error("\"etsiU\": {detail}")]
    EtsiU {
        /// What is wrong.
        detail: String,
    },
    /// `x5c` is empty.
    #[error("\"x5c\" is empty")]
    EmptyX5c,
    /// `x5t#S256` is not the thumbprint of the first `x5c` certificate.
    #[error("\"x5t#S256\" is not the thumbprint of the first \"x5c\" certificate")]
    ThumbprintMismatch,
    /// `x5t#S256` is not base64url.
    #[error("\"x5t#S256\" is not base64url: {detail}")]
    ThumbprintNotBase64url {
        /// What the decoder says.
        detail: String,
    },
    /// The certificate `x5t#S256` names is neither in the signature nor in the trust
    /// store.
    #[error(
        "the signer certificate (x5t#S256 {thumbprint}) is not in the signature and not in the trust store"
    )]
    UnknownSigner {
        /// The thumbprint, as given.
        thumbprint: String,
    },
    /// Neither `x5c` nor `x5t#S256`.
    #[error("the JWS header identifies no signer certificate (neither \"x5c\" nor \"x5t#S256\")")]
    NoSigner,
    /// `sigT` is not a time.
    #[error("\"sigT\" {text:?} is not a time: {detail}")]
    BadSigningTime {
        /// The text given.
        text: String,
        /// What the time parser says.
        detail: String,
    },
    /// The header has no `sigT`.
    #[error("the JWS header has no signing time (\"sigT\")")]
    NoSigningTime,
    /// An `srCms` item without `commId.id`.
    #[error("each \"srCms\" item needs \"commId\": {{\"id\": …}}")]
    NoCommitmentId,
    /// A `sigD` mechanism other than [`OBJECT_ID_BY_URI_HASH`].
    #[error("\"sigD\" mechanism {mechanism:?} is not supported (only {OBJECT_ID_BY_URI_HASH} is)")]
    UnsupportedSigD {
        /// The `mId` given.
        mechanism: String,
    },
    /// A `sigD.hashM` other than `S256`, `S384` and `S512`.
    #[error("\"sigD.hashM\" {name:?} is not S256, S384 or S512")]
    UnsupportedSigDHash {
        /// The `hashM` given.
        name: String,
    },
    /// `sigD` lists no object, or not one digest per object.
    #[error("\"sigD\" must list as many digests (hashV) as objects (pars), at least one")]
    SigDCounts,
    /// A `sigD.hashV` digest is not base64url.
    #[error("\"sigD.hashV\" for {reference:?} is not base64url: {detail}")]
    SigDDigestNotBase64url {
        /// The object (`pars` entry) the digest is for.
        reference: String,
        /// What the decoder says.
        detail: String,
    },
}

fn malformed(parameter: &str, expected: &'static str) -> JwsError {
    JwsError::Malformed {
        parameter: parameter.to_owned(),
        expected,
    }
}

/// Reads a JWS from `Signature.data`: the base64 of the compact serialization, or of
/// the flattened JSON serialization (RFC 7515 §7.2.2) when an unprotected header carries
/// `JAdES` unsigned properties (`etsiU`: a signature time-stamp). The compact
/// serialization itself is also accepted.
pub(crate) fn parse(data: &str, trust: &TrustStore) -> Result<Envelope, JwsError> {
    let text = STANDARD
        .decode(data.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|text| text.matches('.').count() == 2 || text.trim_start().starts_with('{'))
        .unwrap_or_else(|| data.trim().to_owned());
    let parts = if text.trim_start().starts_with('{') {
        JwsParts::from_json(&text)?
    } else {
        JwsParts::from_compact(&text)?
    };
    let (header_b64, payload, signature_b64) = (
        parts.protected.as_str(),
        parts.payload.as_str(),
        parts.signature.as_str(),
    );
    let timestamps = parts.timestamps.clone();
    let carried = parts.carried.clone();
    if !payload.is_empty() {
        return Err(JwsError::AttachedPayload);
    }
    let header = protected_header(header_b64)?;
    let signature =
        URL_SAFE_NO_PAD
            .decode(signature_b64)
            .map_err(|error| JwsError::SignatureNotBase64url {
                detail: error.to_string(),
            })?;

    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(JwsError::NoAlgorithm)?;
    let (scheme, hash) =
        crypto::scheme_of_jose(alg).ok_or_else(|| JwsError::UnsupportedAlgorithm {
            alg: alg.to_owned(),
        })?;

    let crit: Vec<&str> = match header.get("crit") {
        None => Vec::new(),
        Some(Value::Array(names)) => names
            .iter()
            .map(|name| {
                name.as_str()
                    .ok_or_else(|| malformed("crit", "list header parameter names"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(malformed("crit", "be an array")),
    };
    if let Some(unknown) = crit.iter().find(|name| !UNDERSTOOD_CRIT.contains(name)) {
        return Err(JwsError::UnknownCritical {
            parameter: (*unknown).to_owned(),
        });
    }
    for name in UNDERSTOOD_CRIT {
        if header.contains_key(name) && !crit.contains(&name) {
            return Err(JwsError::NotCritical { parameter: name });
        }
    }

    let (signer, extra) = certificates(&header, trust)?;
    let signing_time = match header.get("sigT") {
        Some(Value::String(text)) => {
            datetime::parse_rfc3339(text).map_err(|error| JwsError::BadSigningTime {
                text: text.clone(),
                detail: error.to_string(),
            })?
        }
        Some(_) => return Err(malformed("sigT", "be a string")),
        None => return Err(JwsError::NoSigningTime),
    };
    let commitment = commitments(&header)?;
    let binding = match header.get("sigD") {
        None => Binding::JwsDetached {
            header_b64: header_b64.to_owned(),
        },
        Some(sig_d) => sig_d_binding(header_b64, sig_d)?,
    };
    Ok(Envelope {
        algorithm: alg.to_owned(),
        scheme,
        hash,
        signer,
        extra,
        signing_time,
        commitment,
        signature,
        binding,
        // JAdES signature time-stamps are over the base64url of the signature value (ETSI
        // TS 119 182-1 §5.3.4.1).
        timestamped: signature_b64.as_bytes().to_vec(),
        carried,
        timestamps,
    })
}

/// The protected header: base64url JSON, each member once, without `etsiU`.
fn protected_header(header_b64: &str) -> Result<Map<String, Value>, JwsError> {
    let header_bytes =
        URL_SAFE_NO_PAD
            .decode(header_b64)
            .map_err(|error| JwsError::HeaderNotBase64url {
                detail: error.to_string(),
            })?;
    let header_text =
        std::str::from_utf8(&header_bytes).map_err(|error| JwsError::HeaderNotJson {
            detail: error.to_string(),
        })?;
    let header = unique_object(header_text).map_err(|detail| JwsError::HeaderNotJson { detail })?;
    // JAdES unsigned properties belong in the unprotected header alone (RFC 7515 §7.2.1:
    // the two headers are disjoint).
    if header.contains_key("etsiU") {
        return Err(malformed("etsiU", "be in the unprotected header only"));
    }
    Ok(header)
}

/// The parts of a JWS, from either serialization.
struct JwsParts {
    protected: String,
    payload: String,
    signature: String,
    /// The DER of each `sigTst` token in `etsiU`.
    timestamps: Vec<Vec<u8>>,
    /// The validation material in `etsiU` (`xVals`, `rVals`).
    carried: Carried,
}

impl JwsParts {
    /// The parts of a compact serialization (which has no unprotected header).
    fn from_compact(text: &str) -> Result<Self, JwsError> {
        let mut parts = text.split('.');
        let (Some(protected), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwsError::NotCompact);
        };
        Ok(Self {
            protected: protected.to_owned(),
            payload: payload.to_owned(),
            signature: signature.to_owned(),
            timestamps: Vec::new(),
            carried: Carried::default(),
        })
    }

    /// The parts of a flattened JSON serialization (RFC 7515 §7.2.2), whose unprotected
    /// header may carry `etsiU`.
    fn from_json(text: &str) -> Result<Self, JwsError> {
        let object = unique_object(text).map_err(|detail| JwsError::NotJson { detail })?;
        if object.contains_key("signatures") {
            return Err(JwsError::GeneralSerialization);
        }
        let string = |name: &str| match object.get(name) {
            Some(Value::String(text)) => Ok(text.clone()),
            Some(_) => Err(malformed(name, "be a string")),
            None => Ok(String::new()),
        };
        let protected = string("protected")?;
        let payload = string("payload")?;
        let signature = string("signature")?;
        if protected.is_empty() || signature.is_empty() {
            return Err(JwsError::NotCompact);
        }
        let mut timestamps = Vec::new();
        let mut carried = Carried::default();
        match object.get("header") {
            None => {}
            Some(Value::Object(header)) => {
                for (name, value) in header {
                    if name != "etsiU" {
                        return Err(JwsError::UnprotectedParameter { name: name.clone() });
                    }
                    let (tokens, material) = etsi_u(value)?;
                    timestamps.extend(tokens);
                    carried.extend(material);
                }
            }
            Some(_) => return Err(malformed("header", "be an object")),
        }
        Ok(Self {
            protected,
            payload,
            signature,
            timestamps,
            carried,
        })
    }
}

/// A JSON object read in one pass, refusing a member name twice in one object at any
/// depth: JSON parsers differ on which one counts (`serde_json` keeps the last), so
/// another verifier could read other bytes, headers or tokens than this one.
fn unique_object(text: &str) -> Result<Map<String, Value>, String> {
    use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
    struct Unique;
    impl<'de> DeserializeSeed<'de> for Unique {
        type Value = Value;
        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
            deserializer.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Unique {
        type Value = Value;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
            Ok(Value::Bool(value))
        }
        fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
            Ok(Value::from(value))
        }
        fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
            Ok(Value::from(value))
        }
        fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
            Ok(Value::from(value))
        }
        fn visit_str<E>(self, value: &str) -> Result<Value, E> {
            Ok(Value::String(value.to_owned()))
        }
        fn visit_string<E>(self, value: String) -> Result<Value, E> {
            Ok(Value::String(value))
        }
        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element_seed(Unique)? {
                items.push(item);
            }
            Ok(Value::Array(items))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut object = Map::new();
            while let Some(key) = map.next_key::<String>()? {
                let value = map.next_value_seed(Unique)?;
                if object.contains_key(&key) {
                    return Err(serde::de::Error::custom(format!(
                        "the member {key:?} appears twice in one object"
                    )));
                }
                object.insert(key, value);
            }
            Ok(Value::Object(object))
        }
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = Unique
        .deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value))
        .map_err(|error| error.to_string())?;
    match value {
        Value::Object(object) => Ok(object),
        _ => Err("not a JSON object".to_owned()),
    }
}

/// The signature time-stamps and the validation material among the `JAdES` unsigned
/// properties: each `etsiU` item is a JSON object, or its base64url (ETSI TS 119 182-1
/// §5.1.1); items other than `sigTst`, `xVals` and `rVals` are not read.
fn etsi_u(value: &Value) -> Result<(Vec<Vec<u8>>, Carried), JwsError> {
    let bad = |detail: String| JwsError::EtsiU { detail };
    let items = value
        .as_array()
        .ok_or_else(|| bad("it is not an array".into()))?;
    let mut tokens = Vec::new();
    let mut carried = Carried::default();
    for (index, item) in items.iter().enumerate() {
        let decoded;
        let object = match item {
            Value::Object(object) => object,
            Value::String(encoded) => {
                let bytes = URL_SAFE_NO_PAD
                    .decode(encoded.trim_end_matches('='))
                    .map_err(|error| bad(format!("item {index} is not base64url: {error}")))?;
                decoded = serde_json::from_slice::<Map<String, Value>>(&bytes)
                    .map_err(|error| bad(format!("item {index} is not a JSON object: {error}")))?;
                &decoded
            }
            _ => {
                return Err(bad(format!(
                    "item {index} is neither an object nor base64url"
                )));
            }
        };
        for name in ["xVals", "rVals"] {
            if let Some(value) = object.get(name) {
                carried.add_jades(name, value);
            }
        }
        let Some(sig_tst) = object.get("sigTst") else {
            continue;
        };
        if sig_tst.get("canonAlg").is_some() {
            return Err(bad(
                "sigTst with canonAlg is not supported (the imprint is over the signature value)"
                    .into(),
            ));
        }
        let list = sig_tst
            .get("tstTokens")
            .and_then(Value::as_array)
            .filter(|list| !list.is_empty())
            .ok_or_else(|| bad("sigTst has no tstTokens".into()))?;
        for token in list {
            let val = token
                .get("val")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("a sigTst token has no \"val\"".into()))?;
            if token
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|kind| kind != "DER")
            {
                return Err(bad("a sigTst token is not of type DER".into()));
            }
            let der = STANDARD
                .decode(val)
                .or_else(|_| URL_SAFE_NO_PAD.decode(val.trim_end_matches('=')))
                .map_err(|error| bad(format!("a sigTst token is not base64: {error}")))?;
            tokens.push(der);
        }
    }
    Ok((tokens, carried))
}

/// The signer certificate and the others the header carries.
fn certificates(
    header: &Map<String, Value>,
    trust: &TrustStore,
) -> Result<(Certificate, Vec<Certificate>), JwsError> {
    if let Some(x5c) = header.get("x5c") {
        let list = x5c
            .as_array()
            .ok_or_else(|| malformed("x5c", "be an array"))?;
        let mut certificates = Vec::with_capacity(list.len());
        for (index, item) in list.iter().enumerate() {
            let text = item
                .as_str()
                .ok_or_else(|| malformed("x5c", "list base64 strings"))?;
            let der = || {
                STANDARD
                    .decode(text)
                    .map_err(|error| JwsError::X5cNotBase64 {
                        index,
                        detail: error.to_string(),
                    })
            };
            certificates.push(trust.certificate(text.as_bytes(), der, |source| {
                JwsError::X5cCertificate { index, source }
            })?);
        }
        if certificates.is_empty() {
            return Err(JwsError::EmptyX5c);
        }
        let signer = certificates.remove(0);
        if let Some(Value::String(thumbprint)) = header.get("x5t#S256") {
            let expected = URL_SAFE_NO_PAD.decode(thumbprint).unwrap_or_default();
            if expected != signer.fingerprint() {
                return Err(JwsError::ThumbprintMismatch);
            }
        }
        return Ok((signer, certificates));
    }
    if let Some(thumbprint) = header.get("x5t#S256") {
        let thumbprint = thumbprint
            .as_str()
            .ok_or_else(|| malformed("x5t#S256", "be a string"))?;
        let fingerprint = URL_SAFE_NO_PAD.decode(thumbprint).map_err(|error| {
            JwsError::ThumbprintNotBase64url {
                detail: error.to_string(),
            }
        })?;
        let signer = trust
            .find_by_sha256(&fingerprint)
            .ok_or_else(|| JwsError::UnknownSigner {
                thumbprint: thumbprint.to_owned(),
            })?;
        return Ok((signer.clone(), Vec::new()));
    }
    Err(JwsError::NoSigner)
}

/// The commitment type identifiers of `srCms`.
fn commitments(header: &Map<String, Value>) -> Result<Vec<String>, JwsError> {
    let Some(sr_cms) = header.get("srCms") else {
        return Ok(Vec::new());
    };
    let list = sr_cms
        .as_array()
        .ok_or_else(|| malformed("srCms", "be an array"))?;
    list.iter()
        .map(|item| {
            item.pointer("/commId/id")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or(JwsError::NoCommitmentId)
        })
        .collect()
}

fn sig_d_binding(header_b64: &str, sig_d: &Value) -> Result<Binding, JwsError> {
    let mechanism = sig_d.get("mId").and_then(Value::as_str).unwrap_or_default();
    if mechanism != OBJECT_ID_BY_URI_HASH {
        return Err(JwsError::UnsupportedSigD {
            mechanism: mechanism.to_owned(),
        });
    }
    let hash_name = sig_d
        .get("hashM")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let hash = Hash::from_jades_name(hash_name).ok_or_else(|| JwsError::UnsupportedSigDHash {
        name: hash_name.to_owned(),
    })?;
    let strings = |name: &str| -> Result<Vec<&str>, JwsError> {
        let parameter = format!("sigD.{name}");
        sig_d
            .get(name)
            .and_then(Value::as_array)
            .ok_or_else(|| malformed(&parameter, "be an array"))?
            .iter()
            .map(|value| {
                value
                    .as_str()
                    .ok_or_else(|| malformed(&parameter, "list strings"))
            })
            .collect()
    };
    let pars = strings("pars")?;
    let hashes = strings("hashV")?;
    if pars.is_empty() || pars.len() != hashes.len() {
        return Err(JwsError::SigDCounts);
    }
    let digests = pars
        .iter()
        .zip(&hashes)
        .map(|(par, value)| {
            URL_SAFE_NO_PAD
                .decode(value)
                .map(|digest| (Some((*par).to_owned()), digest))
                .map_err(|error| JwsError::SigDDigestNotBase64url {
                    reference: (*par).to_owned(),
                    detail: error.to_string(),
                })
        })
        .collect::<Result<_, _>>()?;
    Ok(Binding::Digests {
        signed: format!("{header_b64}.").into_bytes(),
        hash,
        digests,
    })
}

/// What a JWS signer puts in the protected header.
pub(crate) struct HeaderInput<'a> {
    pub(crate) alg: &'a str,
    pub(crate) chain: &'a [Certificate],
    pub(crate) signing_time: OffsetDateTime,
    pub(crate) commitment: Option<&'a str>,
    /// `(reference, digest)` per target for `sigD`; `None` for a detached payload.
    pub(crate) sig_d: Option<(Hash, Named)>,
}

/// The base64url protected header for a signature.
pub(crate) fn header(input: &HeaderInput<'_>) -> String {
    let mut header = Map::new();
    header.insert("alg".into(), json!(input.alg));
    header.insert(
        "x5c".into(),
        Value::Array(
            input
                .chain
                .iter()
                .map(|cert| json!(STANDARD.encode(cert.der())))
                .collect(),
        ),
    );
    if let Some(signer) = input.chain.first() {
        header.insert(
            "x5t#S256".into(),
            json!(URL_SAFE_NO_PAD.encode(signer.fingerprint())),
        );
    }
    header.insert("sigT".into(), json!(datetime::rfc3339(input.signing_time)));
    let mut crit = vec![json!("sigT")];
    if let Some(commitment) = input.commitment {
        header.insert("srCms".into(), json!([{ "commId": { "id": commitment } }]));
        crit.push(json!("srCms"));
    }
    if let Some((hash, targets)) = &input.sig_d {
        header.insert(
            "sigD".into(),
            json!({
                "mId": OBJECT_ID_BY_URI_HASH,
                "pars": targets.iter().map(|(reference, _)| reference.as_str()).collect::<Vec<_>>(),
                "hashM": hash.jades_name(),
                "hashV": targets.iter().map(|(_, digest)| URL_SAFE_NO_PAD.encode(digest)).collect::<Vec<_>>(),
            }),
        );
        crit.push(json!("sigD"));
    }
    header.insert("crit".into(), Value::Array(crit));
    URL_SAFE_NO_PAD.encode(Value::Object(header).to_string())
}
