//! The cryptographic primitives, all from `ring`: digests and signature verification for
//! the algorithms a firma digital may use (ECDSA on P-256/P-384, RSA PKCS #1 v1.5 and
//! RSA-PSS with SHA-2).

use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::error::{CryptoError, KeyError};

/// A SHA-2 digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Hash {
    /// The digest of `data`.
    #[must_use]
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let algorithm = match self {
            Self::Sha256 => &ring::digest::SHA256,
            Self::Sha384 => &ring::digest::SHA384,
            Self::Sha512 => &ring::digest::SHA512,
        };
        ring::digest::digest(algorithm, data).as_ref().to_vec()
    }

    /// The digest of the concatenation of `parts`, without joining them.
    #[must_use]
    pub(crate) fn digest_parts(self, parts: &[&[u8]]) -> Vec<u8> {
        let algorithm = match self {
            Self::Sha256 => &ring::digest::SHA256,
            Self::Sha384 => &ring::digest::SHA384,
            Self::Sha512 => &ring::digest::SHA512,
        };
        let mut context = ring::digest::Context::new(algorithm);
        for part in parts {
            context.update(part);
        }
        context.finish().as_ref().to_vec()
    }

    /// The algorithm's object identifier (NIST, 2.16.840.1.101.3.4.2.x).
    #[must_use]
    pub const fn oid(self) -> &'static str {
        match self {
            Self::Sha256 => "2.16.840.1.101.3.4.2.1",
            Self::Sha384 => "2.16.840.1.101.3.4.2.2",
            Self::Sha512 => "2.16.840.1.101.3.4.2.3",
        }
    }

    /// The algorithm an object identifier names.
    #[must_use]
    pub fn from_oid(oid: &str) -> Option<Self> {
        match oid {
            "2.16.840.1.101.3.4.2.1" => Some(Self::Sha256),
            "2.16.840.1.101.3.4.2.2" => Some(Self::Sha384),
            "2.16.840.1.101.3.4.2.3" => Some(Self::Sha512),
            _ => None,
        }
    }

    /// The `JAdES` name (`S256`, `S384`, `S512`).
    #[must_use]
    pub const fn jades_name(self) -> &'static str {
        match self {
            Self::Sha256 => "S256",
            Self::Sha384 => "S384",
            Self::Sha512 => "S512",
        }
    }

    /// The algorithm a `JAdES` name names.
    #[must_use]
    pub fn from_jades_name(name: &str) -> Option<Self> {
        match name {
            "S256" => Some(Self::Sha256),
            "S384" => Some(Self::Sha384),
            "S512" => Some(Self::Sha512),
            _ => None,
        }
    }
}

/// SHA-1 of `data`: only to name certificates in OCSP (RFC 6960 `CertID`), where it is
/// an identifier rather than a security-bearing digest.
pub(crate) fn sha1(data: &[u8]) -> [u8; 20] {
    let mut out = [0; 20];
    out.copy_from_slice(
        ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data).as_ref(),
    );
    out
}

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, data).as_ref());
    out
}

/// An elliptic curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// NIST P-256 (secp256r1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
}

/// A public key from a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// An ECDSA key: the curve and the uncompressed point.
    Ec {
        /// The curve.
        curve: Curve,
        /// The point, `04 || X || Y`.
        point: Vec<u8>,
    },
    /// An RSA key: the PKCS #1 `RSAPublicKey` DER.
    Rsa {
        /// The `RSAPublicKey` DER.
        pkcs1: Vec<u8>,
    },
}

impl PublicKey {
    /// The key of a `SubjectPublicKeyInfo`, when it is one this verifier supports.
    pub(crate) fn from_spki(spki: &SubjectPublicKeyInfo<'_>) -> Result<Self, KeyError> {
        let algorithm = spki.algorithm.algorithm.to_id_string();
        let key = spki.subject_public_key.data.to_vec();
        match algorithm.as_str() {
            "1.2.840.113549.1.1.1" => Ok(Self::Rsa { pkcs1: key }),
            "1.2.840.10045.2.1" => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|parameters| parameters.as_oid().ok())
                    .map(|oid| oid.to_id_string());
                match curve.as_deref() {
                    Some("1.2.840.10045.3.1.7") => Ok(Self::Ec {
                        curve: Curve::P256,
                        point: key,
                    }),
                    Some("1.3.132.0.34") => Ok(Self::Ec {
                        curve: Curve::P384,
                        point: key,
                    }),
                    other => Err(KeyError::UnsupportedCurve {
                        curve: other.map(str::to_owned),
                    }),
                }
            }
            other => Err(KeyError::UnsupportedAlgorithm {
                algorithm: other.to_owned(),
            }),
        }
    }

    /// The JOSE algorithm names this key can verify.
    #[must_use]
    pub fn jose_algorithms(&self) -> &'static [&'static str] {
        match self {
            Self::Ec {
                curve: Curve::P256, ..
            } => &["ES256"],
            Self::Ec {
                curve: Curve::P384, ..
            } => &["ES384"],
            Self::Rsa { .. } => &["RS256", "PS256", "RS384", "PS384", "RS512", "PS512"],
        }
    }
}

/// How a signature value is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// ECDSA; `fixed` for the JOSE `r || s` encoding, else the ASN.1 `ECDSA-Sig-Value`.
    Ecdsa { fixed: bool },
    /// RSASSA-PKCS1-v1_5.
    RsaPkcs1,
    /// RSASSA-PSS with MGF1 over the same hash and a salt as long as the hash.
    RsaPss,
}

/// Verifies `signature` over `message` with `key`.
pub(crate) fn verify(
    key: &PublicKey,
    scheme: Scheme,
    hash: Hash,
    message: &[u8],
    signature: &[u8],
) -> Result<(), CryptoError> {
    let (algorithm, key_bytes): (&'static dyn VerificationAlgorithm, &[u8]) =
        match (key, scheme, hash) {
            (PublicKey::Ec { curve, point }, Scheme::Ecdsa { fixed }, hash) => {
                let algorithm: &'static dyn VerificationAlgorithm = match (curve, hash, fixed) {
                    (Curve::P256, Hash::Sha256, true) => &signature::ECDSA_P256_SHA256_FIXED,
                    (Curve::P256, Hash::Sha256, false) => &signature::ECDSA_P256_SHA256_ASN1,
                    (Curve::P256, Hash::Sha384, false) => &signature::ECDSA_P256_SHA384_ASN1,
                    (Curve::P384, Hash::Sha384, true) => &signature::ECDSA_P384_SHA384_FIXED,
                    (Curve::P384, Hash::Sha384, false) => &signature::ECDSA_P384_SHA384_ASN1,
                    (Curve::P384, Hash::Sha256, false) => &signature::ECDSA_P384_SHA256_ASN1,
                    (curve, hash, _) => {
                        return Err(CryptoError::UnsupportedEcdsa {
                            curve: *curve,
                            hash,
                        });
                    }
                };
                (algorithm, point)
            }
            (PublicKey::Rsa { pkcs1 }, Scheme::RsaPkcs1, hash) => (
                match hash {
                    Hash::Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    Hash::Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    Hash::Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                },
                pkcs1,
            ),
            (PublicKey::Rsa { pkcs1 }, Scheme::RsaPss, hash) => (
                match hash {
                    Hash::Sha256 => &signature::RSA_PSS_2048_8192_SHA256,
                    Hash::Sha384 => &signature::RSA_PSS_2048_8192_SHA384,
                    Hash::Sha512 => &signature::RSA_PSS_2048_8192_SHA512,
                },
                pkcs1,
            ),
            (PublicKey::Ec { .. }, _, _) => {
                return Err(CryptoError::RsaSchemeWithEcKey);
            }
            (PublicKey::Rsa { .. }, _, _) => {
                return Err(CryptoError::EcdsaWithRsaKey);
            }
        };
    UnparsedPublicKey::new(algorithm, key_bytes)
        .verify(message, signature)
        .map_err(|_| CryptoError::BadSignature)
}

/// The scheme and hash of an X.509 / CMS signature algorithm OID. `digest` is the CMS
/// `digestAlgorithm`, used where the signature algorithm does not name a hash
/// (`rsaEncryption`, `id-ecPublicKey`, RSASSA-PSS).
pub(crate) fn scheme_of_oid(
    algorithm: &str,
    parameters: Option<&[u8]>,
    digest: Option<Hash>,
) -> Result<(Scheme, Hash), CryptoError> {
    let asn1 = Scheme::Ecdsa { fixed: false };
    let need_digest = || {
        digest.ok_or_else(|| CryptoError::DigestRequired {
            algorithm: algorithm.to_owned(),
        })
    };
    Ok(match algorithm {
        "1.2.840.10045.4.3.2" => (asn1, Hash::Sha256),
        "1.2.840.10045.4.3.3" => (asn1, Hash::Sha384),
        "1.2.840.10045.4.3.4" => (asn1, Hash::Sha512),
        "1.2.840.10045.2.1" => (asn1, need_digest()?),
        "1.2.840.113549.1.1.11" => (Scheme::RsaPkcs1, Hash::Sha256),
        "1.2.840.113549.1.1.12" => (Scheme::RsaPkcs1, Hash::Sha384),
        "1.2.840.113549.1.1.13" => (Scheme::RsaPkcs1, Hash::Sha512),
        "1.2.840.113549.1.1.1" => (Scheme::RsaPkcs1, need_digest()?),
        "1.2.840.113549.1.1.10" => (Scheme::RsaPss, pss_hash(parameters)?),
        other => {
            return Err(CryptoError::UnsupportedAlgorithm {
                algorithm: other.to_owned(),
            });
        }
    })
}

/// The hash of `RSASSA-PSS-params` (RFC 4055 §3.1), refusing parameter sets `ring`
/// cannot verify: the hash must be SHA-2 and the salt as long as the hash (the MGF1 hash
/// is checked by verifying). `parameters` is the content of the SEQUENCE.
fn pss_hash(parameters: Option<&[u8]>) -> Result<Hash, CryptoError> {
    let mut hash = None;
    // RFC 4055 defaults: SHA-1 and a 20-byte salt.
    let mut salt = 20_usize;
    let mut rest = parameters.unwrap_or_default();
    while let Some((tag, value, next)) = der_tlv(rest) {
        match tag {
            0xA0 => {
                // [0] AlgorithmIdentifier: SEQUENCE { OID, params }.
                hash = der_tlv(value)
                    .and_then(|(_, sequence, _)| der_tlv(sequence))
                    .and_then(|(tag, oid, _)| (tag == 0x06).then_some(oid))
                    .and_then(|oid| match oid {
                        [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, n] => Some(*n),
                        _ => None,
                    })
                    .and_then(|n| match n {
                        1 => Some(Hash::Sha256),
                        2 => Some(Hash::Sha384),
                        3 => Some(Hash::Sha512),
                        _ => None,
                    });
                if hash.is_none() {
                    return Err(CryptoError::UnsupportedPssHash);
                }
            }
            0xA2 => {
                salt = der_tlv(value)
                    .filter(|(tag, _, _)| *tag == 0x02)
                    .map(|(_, int, _)| {
                        int.iter()
                            .fold(0_usize, |n, b| n.saturating_mul(256) + usize::from(*b))
                    })
                    .ok_or(CryptoError::UnreadablePssSalt)?;
            }
            _ => {}
        }
        rest = next;
    }
    let hash = hash.ok_or(CryptoError::PssSha1)?;
    let expected = hash.digest(b"").len();
    if salt != expected {
        return Err(CryptoError::UnsupportedPssSalt { salt, expected });
    }
    Ok(hash)
}

/// One DER tag-length-value: `(tag, value, rest)`; single-byte tags only.
fn der_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, input) = input.split_first()?;
    let (&first, input) = input.split_first()?;
    let (length, input) = if first < 0x80 {
        (usize::from(first), input)
    } else {
        let count = usize::from(first & 0x7F);
        if count == 0 || count > 4 || input.len() < count {
            return None;
        }
        let (bytes, input) = input.split_at(count);
        (
            bytes
                .iter()
                .fold(0_usize, |n, b| (n << 8) | usize::from(*b)),
            input,
        )
    };
    (input.len() >= length).then(|| (tag, &input[..length], &input[length..]))
}

/// Verifies a certificate or CRL signature.
pub(crate) fn verify_x509_signature(
    key: &PublicKey,
    algorithm: &str,
    parameters: Option<&[u8]>,
    message: &[u8],
    signature: &[u8],
) -> Result<(), CryptoError> {
    let (scheme, hash) = scheme_of_oid(algorithm, parameters, None)?;
    verify(key, scheme, hash, message, signature)
}

/// The scheme and hash of a JOSE `alg`.
pub(crate) fn scheme_of_jose(alg: &str) -> Option<(Scheme, Hash)> {
    let fixed = Scheme::Ecdsa { fixed: true };
    Some(match alg {
        "ES256" => (fixed, Hash::Sha256),
        "ES384" => (fixed, Hash::Sha384),
        "RS256" => (Scheme::RsaPkcs1, Hash::Sha256),
        "RS384" => (Scheme::RsaPkcs1, Hash::Sha384),
        "RS512" => (Scheme::RsaPkcs1, Hash::Sha512),
        "PS256" => (Scheme::RsaPss, Hash::Sha256),
        "PS384" => (Scheme::RsaPss, Hash::Sha384),
        "PS512" => (Scheme::RsaPss, Hash::Sha512),
        _ => return None,
    })
}
