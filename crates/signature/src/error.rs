//! Why a signature, its key, its certificates or its revocation status is not acceptable:
//! typed errors that callers match on, each rendering as the sentence the report gives.

use renhice_model::canonical::CanonicalError;
use time::OffsetDateTime;

use crate::crypto::{Curve, Hash};
use crate::jws::JwsError;
use crate::pkcs7::CmsError;
use crate::verify::{JOSE, PKCS7};

/// A time as reports write it (for `Display` of errors that carry times).
fn text(time: &OffsetDateTime) -> String {
    crate::datetime::rfc3339(*time)
}

/// Why a certificate's public key cannot be used by this verifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// An elliptic-curve key on a curve other than P-256 and P-384.
    #[error(
        "elliptic curve {} is not supported (P-256 and P-384 are)",
        .curve.as_deref().unwrap_or("(unnamed)")
    )]
    UnsupportedCurve {
        /// The curve's object identifier, when the key names one.
        curve: Option<String>,
    },
    /// A key of an algorithm other than RSA and ECDSA.
    #[error("public key algorithm {algorithm} is not supported (RSA and ECDSA are)")]
    UnsupportedAlgorithm {
        /// The algorithm's object identifier.
        algorithm: String,
    },
}

/// Why a signature value could not be verified, or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// An ECDSA curve and hash pair this verifier does not verify.
    #[error("ECDSA on {curve:?} with {hash:?} is not supported")]
    UnsupportedEcdsa {
        /// The key's curve.
        curve: Curve,
        /// The signature's hash.
        hash: Hash,
    },
    /// An RSA signature scheme with an elliptic-curve key.
    #[error("an RSA signature cannot be made with an elliptic-curve key")]
    RsaSchemeWithEcKey,
    /// ECDSA with an RSA key.
    #[error("an ECDSA signature cannot be made with an RSA key")]
    EcdsaWithRsaKey,
    /// The signature value is not the key's signature over the message.
    #[error("the signature value does not verify with the public key")]
    BadSignature,
    /// A signature algorithm that names no hash (`rsaEncryption`, `id-ecPublicKey`)
    /// without a digest algorithm beside it.
    #[error("signature algorithm {algorithm} needs a digest algorithm")]
    DigestRequired {
        /// The signature algorithm's object identifier.
        algorithm: String,
    },
    /// A signature algorithm this verifier does not verify.
    #[error(
        "signature algorithm {algorithm} is not supported (ECDSA, RSA PKCS #1 v1.5 and RSA-PSS with SHA-2 are)"
    )]
    UnsupportedAlgorithm {
        /// The signature algorithm's object identifier.
        algorithm: String,
    },
    /// RSASSA-PSS parameters naming a hash other than SHA-2.
    #[error("RSASSA-PSS with a hash other than SHA-256/384/512 is not supported")]
    UnsupportedPssHash,
    /// RSASSA-PSS parameters whose salt length cannot be read.
    #[error("RSASSA-PSS saltLength cannot be read")]
    UnreadablePssSalt,
    /// RSASSA-PSS parameters that leave the hash to its default, SHA-1.
    #[error("RSASSA-PSS with SHA-1 (the default hash) is not supported")]
    PssSha1,
    /// RSASSA-PSS with a salt of another length than the hash.
    #[error(
        "RSASSA-PSS with a {salt}-byte salt is not supported; the salt must be as long as the hash ({expected} bytes), as JOSE's PS256 and most signers use"
    )]
    UnsupportedPssSalt {
        /// The salt length the parameters give, in bytes.
        salt: usize,
        /// The hash length, in bytes.
        expected: usize,
    },
    /// The signing certificate's key cannot be used.
    #[error("the key of {subject} cannot be used: {source}")]
    UnusableKey {
        /// The subject of the certificate whose key it is.
        subject: String,
        /// Why the key cannot be used.
        source: KeyError,
    },
}

/// Why a certification path is not acceptable at the signing time (RFC 5280 §6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// No path reaches a trust anchor: it ends at a root that is not one.
    #[error("the path ends at \"{subject}\", which is not one of the configured trust anchors")]
    UntrustedRoot {
        /// The subject of the root the path ends at.
        subject: String,
    },
    /// No path reaches a trust anchor: the issuer of the last certificate found is
    /// nowhere to be found.
    #[error(
        "no certificate of \"{issuer}\" (the issuer of \"{subject}\") is among the trust anchors, the known intermediates or the certificates the signature carries"
    )]
    IssuerNotFound {
        /// The issuer name that is missing.
        issuer: String,
        /// The subject of the certificate it issued.
        subject: String,
    },
    /// A certificate of the path has a critical extension this verifier does not process.
    #[error(
        "\"{subject}\" has a critical extension {oid} that this verifier does not process (RFC 5280 §4.2)"
    )]
    UnknownCriticalExtension {
        /// The certificate's subject.
        subject: String,
        /// The extension's object identifier.
        oid: String,
    },
    /// A certificate's names break the name constraints of a CA above it (RFC 5280
    /// §4.2.1.10).
    #[error(
        "\"{subject}\" has the {name}, which the name constraints of \"{ca}\" {}",
        if *.excluded { "exclude" } else { "do not permit" }
    )]
    NameConstraint {
        /// The certificate's subject.
        subject: String,
        /// The name that breaks the constraint, described (`DNS name x.pe`).
        name: String,
        /// The constraining CA's subject.
        ca: String,
        /// Whether the name is excluded (else outside every permitted subtree of its form,
        /// or of a form that cannot be compared).
        excluded: bool,
    },
    /// The path is valid for no certificate policy while one is required (RFC 5280
    /// §6.1.3 (f), §6.1.5: by a CA's requireExplicitPolicy or the verifier's settings).
    #[error(
        "from \"{subject}\" on, the path is valid for no certificate policy the verifier accepts, and one is required (requireExplicitPolicy, RFC 5280 §6.1)"
    )]
    NoValidPolicy {
        /// The certificate at which no policy was left.
        subject: String,
    },
    /// The certificate policies of the path, with their mappings, grow past what any
    /// real path needs; processing stops rather than spend without bound.
    #[error(
        "at \"{subject}\", the certificate policies of the path and their mappings grow past what a real path needs; the path is refused"
    )]
    PolicyTreeTooLarge {
        /// The certificate at which processing stopped.
        subject: String,
    },
    /// A certificate's issuer name is not the next certificate's subject.
    #[error("the issuer of \"{subject}\" is not the subject of \"{issuer}\"")]
    IssuerNameMismatch {
        /// The certificate's subject.
        subject: String,
        /// The subject of the next certificate of the path.
        issuer: String,
    },
    /// A certificate's signature does not verify with its issuer's key.
    #[error(
        "the signature on \"{subject}\" does not verify with the key of \"{issuer}\": {source}"
    )]
    BadCertificateSignature {
        /// The certificate's subject.
        subject: String,
        /// The issuer's subject.
        issuer: String,
        /// Why it does not verify.
        source: CryptoError,
    },
    /// More intermediate CAs below a CA than its `pathLenConstraint` allows.
    #[error(
        "\"{issuer}\" allows at most {limit} intermediate CA certificate(s) below it (pathLenConstraint), and the path has {below}"
    )]
    PathTooLong {
        /// The constraining CA's subject.
        issuer: String,
        /// Its `pathLenConstraint`.
        limit: u32,
        /// The intermediates below it in the path.
        below: usize,
    },
    /// A certificate that issued another is not a CA certificate.
    #[error(
        "\"{issuer}\" issued \"{subject}\" but is not a CA certificate (basic constraints cA is not set)"
    )]
    NotCa {
        /// The issuing certificate's subject.
        issuer: String,
        /// The issued certificate's subject.
        subject: String,
    },
    /// A CA whose key usage does not allow signing certificates.
    #[error("\"{issuer}\" issued \"{subject}\" but its key usage does not include keyCertSign")]
    NoKeyCertSign {
        /// The issuing certificate's subject.
        issuer: String,
        /// The issued certificate's subject.
        subject: String,
    },
    /// A certificate of the path was not yet valid at the signing time.
    #[error("\"{subject}\" was not yet valid at {} (valid from {})", text(.at), text(.not_before))]
    NotYetValid {
        /// The certificate's subject.
        subject: String,
        /// The time the path was evaluated at (the signing time).
        at: OffsetDateTime,
        /// The start of the certificate's validity.
        not_before: OffsetDateTime,
    },
    /// A certificate of the path had expired at the signing time.
    #[error("\"{subject}\" had expired at {} (valid until {})", text(.at), text(.not_after))]
    Expired {
        /// The certificate's subject.
        subject: String,
        /// The time the path was evaluated at (the signing time).
        at: OffsetDateTime,
        /// The end of the certificate's validity.
        not_after: OffsetDateTime,
    },
    /// A certificate of the path has expired since the claimed signing time, and no
    /// time-stamp proves the signature was made before (ETSI EN 319 102-1
    /// `OUT_OF_BOUNDS_NO_POE`).
    #[error(
        "\"{subject}\" expired on {}, before the verification time {}; the signature claims {}, but without a time-stamp nothing proves it was made before the certificate expired",
        text(.not_after),
        text(.verified_at),
        text(.claimed)
    )]
    ExpiredWithoutProof {
        /// The certificate's subject.
        subject: String,
        /// The end of the certificate's validity.
        not_after: OffsetDateTime,
        /// The time the verification was made for.
        verified_at: OffsetDateTime,
        /// The signing time the signature claims.
        claimed: OffsetDateTime,
    },
}

/// A target whose canonical JSON cannot be produced (so it can be neither signed nor
/// checked).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reference}: {source}")]
pub struct TargetError {
    /// The reference the target is named by.
    pub reference: String,
    /// Why its canonical form cannot be produced.
    pub source: CanonicalError,
}

/// Why a signature cannot be read: the [`Check::Format`](crate::Check::Format) check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// `Signature.sigFormat` is absent.
    #[error("Signature.sigFormat is missing, so the signature cannot be read")]
    NoSigFormat,
    /// `Signature.data` is absent.
    #[error("Signature.data is missing: there is no digital signature to verify")]
    NoData,
    /// A `sigFormat` other than JOSE and CMS.
    #[error("sigFormat {format:?} is not supported ({JOSE} and {PKCS7} are)")]
    UnsupportedFormat {
        /// The media type given.
        format: String,
    },
    /// `Signature.targetFormat` names no canonicalization this verifier applies.
    #[error("Signature.targetFormat: {source}")]
    TargetFormat {
        /// Why the media type is refused.
        source: CanonicalError,
    },
    /// A target has no canonical form under the signature's canonicalization.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// The JWS cannot be read.
    #[error(transparent)]
    Jws(#[from] JwsError),
    /// The CMS signature cannot be read.
    #[error(transparent)]
    Cms(#[from] CmsError),
    /// A PDF signature dictionary that cannot be verified.
    #[error(transparent)]
    Pdf(#[from] crate::pades::PdfSignatureError),
}

/// Why the signed content does not match the targets: the
/// [`Check::ContentIntegrity`](crate::Check::ContentIntegrity) check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContentError {
    /// The bytes a PDF signature's `/ByteRange` covers do not have the signed digest.
    #[error(
        "the bytes of revision {revision} that the /ByteRange covers are not those signed (messageDigest differs)"
    )]
    ByteRangeDigest {
        /// The revision the signature signs (1 is the first).
        revision: usize,
    },
    /// A PDF was changed after signing beyond what may change.
    #[error(
        "the PDF was changed after revision {revision}, which this signature signs, in ways that are not allowed ({allowed}): {}",
        .changes.join(", ")
    )]
    ModifiedAfterSigning {
        /// The revision the signature signs.
        revision: usize,
        /// What may change: the certification level, or none.
        allowed: String,
        /// The changes that are not allowed.
        changes: Vec<String>,
    },
    /// A JWS with a detached payload over more or fewer than one target.
    #[error(
        "a JWS with a detached payload signs one target, and there are {count}; several targets need \"sigD\""
    )]
    DetachedTargets {
        /// The number of targets.
        count: usize,
    },
    /// A CMS signature over more or fewer than one target.
    #[error("a CMS signature signs one target, and there are {count}")]
    CmsTargets {
        /// The number of targets.
        count: usize,
    },
    /// A JWS with a detached payload that does not verify over the target.
    #[error(
        "the signature does not verify over the canonical JSON of {reference}: the content was changed after signing, or the signature was not made with this certificate"
    )]
    PayloadMismatch {
        /// The target's reference.
        reference: String,
    },
    /// A CMS `messageDigest` that is not the target's digest.
    #[error(
        "the canonical JSON of {reference} does not have the signed message digest: it was changed after signing"
    )]
    DigestMismatch {
        /// The target's reference.
        reference: String,
    },
    /// `sigD` digests that do not match the targets.
    #[error("{}", digests(.changed, .unsigned, .extra))]
    Digests {
        /// Targets whose digest differs from the signed one.
        changed: Vec<String>,
        /// Targets the signature has no digest for.
        unsigned: Vec<String>,
        /// Signed objects that are not targets.
        extra: Vec<String>,
    },
}

fn digests(changed: &[String], unsigned: &[String], extra: &[String]) -> String {
    let mut reasons = Vec::new();
    if !changed.is_empty() {
        reasons.push(format!("changed after signing: {}", changed.join(", ")));
    }
    if !unsigned.is_empty() {
        reasons.push(format!(
            "targets the signature does not cover: {}",
            unsigned.join(", ")
        ));
    }
    if !extra.is_empty() {
        reasons.push(format!(
            "signed objects that are not targets: {}",
            extra.join(", ")
        ));
    }
    reasons.join("; ")
}

/// Why the signing time is not acceptable: the
/// [`Check::SigningTime`](crate::Check::SigningTime) check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigningTimeError {
    /// The signed signing time is after the verification time.
    #[error(
        "the signing time {} is after the verification time {}",
        text(.signing_time),
        text(.verified_at)
    )]
    AfterVerification {
        /// The signed signing time.
        signing_time: OffsetDateTime,
        /// The time the verification was made for.
        verified_at: OffsetDateTime,
    },
    /// `Signature.when` is too far from the signed signing time.
    #[error(
        "Signature.when says {}, but the signed signing time is {}",
        text(.when),
        text(.signing_time)
    )]
    WhenDisagrees {
        /// `Signature.when`.
        when: OffsetDateTime,
        /// The signed signing time.
        signing_time: OffsetDateTime,
    },
    /// A PDF signature's `/M` is too far from the CMS `signingTime`.
    #[error(
        "the signature dictionary's /M says {}, but the signed signingTime is {}",
        text(.m),
        text(.signing_time)
    )]
    PdfDateDisagrees {
        /// `/M`.
        m: OffsetDateTime,
        /// The CMS `signingTime`.
        signing_time: OffsetDateTime,
    },
    /// The claimed signing time is after the time-stamp that proves the signature
    /// existed: the claim cannot be true.
    #[error(
        "the signature claims it was made at {}, after its time-stamp of {}",
        text(.signing_time),
        text(.timestamp)
    )]
    AfterTimestamp {
        /// The signed signing time.
        signing_time: OffsetDateTime,
        /// The earliest valid time-stamp's time.
        timestamp: OffsetDateTime,
    },
}

/// Why the signer certificate is not fit for signing: the
/// [`Check::KeyUsage`](crate::Check::KeyUsage) check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyUsageError {
    /// The signer certificate is a CA certificate.
    #[error("\"{subject}\" is a CA certificate, not a signer's")]
    CaCertificate {
        /// The certificate's subject.
        subject: String,
    },
    /// The key usage allows neither `nonRepudiation` nor `digitalSignature`.
    #[error(
        "the key usage of \"{subject}\" allows neither nonRepudiation (contentCommitment) nor digitalSignature"
    )]
    NoSigningUsage {
        /// The certificate's subject.
        subject: String,
    },
    /// The extended key usage names no document-signing purpose.
    #[error(
        "the extended key usage of \"{subject}\" ({}) does not include document signing or email protection",
        .usages.join(", ")
    )]
    NoDocumentSigning {
        /// The certificate's subject.
        subject: String,
        /// Its extended key usages, as dotted object identifiers.
        usages: Vec<String>,
    },
}

/// Why the certificate does not show the signer to be the party `Signature.who` names:
/// the [`Check::SignerIdentity`](crate::Check::SignerIdentity) check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// `Signature.who` is absent.
    #[error("Signature.who is missing: the signature does not say who signed")]
    NoWho,
    /// `Signature.who` names no party whose identifiers are at hand.
    #[error(
        "{named} cannot be resolved to a party with identifiers to compare with the certificate"
    )]
    Unresolved {
        /// The party as `Signature.who` names it.
        named: String,
    },
    /// The certificate carries no identity number.
    #[error(
        "the certificate subject \"{subject}\" carries no serialNumber or organizationIdentifier to compare with {named}"
    )]
    NoCertificateIdentifier {
        /// The certificate's subject.
        subject: String,
        /// The party as `Signature.who` names it.
        named: String,
    },
    /// The certificate identifies someone else.
    #[error(
        "the certificate identifies {} but {named} is {}",
        .certificate.join(", "),
        identifier_values(.identifiers)
    )]
    Mismatch {
        /// The certificate's identity attributes (`PNOPE-41234567`).
        certificate: Vec<String>,
        /// The party as `Signature.who` names it.
        named: String,
        /// The party's identifier values.
        identifiers: Vec<String>,
    },
}

fn identifier_values(identifiers: &[String]) -> String {
    if identifiers.is_empty() {
        "without identifiers".to_owned()
    } else {
        identifiers.join(", ")
    }
}

/// Where revocation information comes from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationSource {
    /// A CRL.
    #[error("CRL issued {}", text(.issued))]
    Crl {
        /// Its `thisUpdate`.
        issued: OffsetDateTime,
    },
    /// An OCSP response.
    #[error("OCSP response of \"{responder}\" for {}", text(.this_update))]
    Ocsp {
        /// The subject of the certificate that signed it.
        responder: String,
        /// The `thisUpdate` of its answer.
        this_update: OffsetDateTime,
    },
}

/// Why the revocation status of a certificate is bad or unknown: the
/// [`Check::Revocation`](crate::Check::Revocation) check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationError {
    /// Revoked at or before the signing time.
    #[error(
        "\"{subject}\" (serial {serial}) was revoked on {}{}, before the signing time {} ({source})",
        text(.revoked_at),
        revocation_reason(.reason.as_ref()),
        text(.signing_time)
    )]
    Revoked {
        /// The certificate's subject.
        subject: String,
        /// Its serial number, in hexadecimal.
        serial: String,
        /// The revocation time.
        revoked_at: OffsetDateTime,
        /// The revocation reason, when given.
        reason: Option<String>,
        /// The signing time.
        signing_time: OffsetDateTime,
        /// Who says so.
        source: RevocationSource,
    },
    /// Revoked after the claimed signing time, which nothing proves.
    #[error(
        "\"{subject}\" was revoked on {}{}, after the claimed signing time {}; no time-stamp before the revocation proves the signature was made before it ({source})",
        text(.revoked_at),
        revocation_reason(.reason.as_ref()),
        text(.signing_time)
    )]
    RevokedAfterSigning {
        /// The certificate's subject.
        subject: String,
        /// The revocation time.
        revoked_at: OffsetDateTime,
        /// The revocation reason, when given.
        reason: Option<String>,
        /// The signing time.
        signing_time: OffsetDateTime,
        /// Who says so.
        source: RevocationSource,
    },
    /// No usable CRL of the issuer is at hand.
    #[error(
        "no CRL signed by \"{issuer}\" is available for \"{subject}\"{}",
        from_points(.distribution_points)
    )]
    NoCrl {
        /// The issuing CA's subject.
        issuer: String,
        /// The certificate's subject.
        subject: String,
        /// Where the CRL can be fetched (the certificate's distribution points).
        distribution_points: Vec<String>,
    },
    /// A CRL of the certificate's CA could not be used: it breaks the CRL profile of RFC
    /// 5280 §5, or carries something this verifier does not process.
    #[error("a CRL of \"{issuer}\" issued {} was set aside: it {why}", text(.this_update))]
    CrlSetAside {
        /// The CRL's issuer.
        issuer: String,
        /// Its `thisUpdate`.
        this_update: OffsetDateTime,
        /// Why.
        why: crate::revocation::CrlDefect,
    },
    /// The newest CRL had expired at the time the status must be known at (the time a
    /// time-stamp proves, else the verification time).
    #[error(
        "the newest CRL of \"{issuer}\" (issued {}, next update {}) expired before {}, the time the status must be known at (the time-stamp's, else the verification time)",
        text(.this_update),
        .next_update.as_ref().map(text).unwrap_or_default(),
        text(.signing_time)
    )]
    CrlExpired {
        /// The CRL's issuer.
        issuer: String,
        /// Its `thisUpdate`.
        this_update: OffsetDateTime,
        /// Its `nextUpdate`.
        next_update: Option<OffsetDateTime>,
        /// The time the status must be known at.
        signing_time: OffsetDateTime,
    },
    /// No OCSP response is at hand for a certificate that names responders.
    #[error(
        "no OCSP response is available for \"{subject}\" (responders: {})",
        .responders.join(", ")
    )]
    NoOcspResponse {
        /// The certificate's subject.
        subject: String,
        /// The responders it names.
        responders: Vec<String>,
    },
    /// The OCSP responder answered `unknown`.
    #[error("the OCSP responder \"{responder}\" does not know \"{subject}\"")]
    OcspUnknown {
        /// The subject of the certificate that signed the response.
        responder: String,
        /// The certificate's subject.
        subject: String,
    },
    /// An OCSP response was not signed by the CA or a responder it authorised.
    #[error("an OCSP response produced {} was set aside: {source}", text(.produced_at))]
    OcspSetAside {
        /// When the response was produced.
        produced_at: OffsetDateTime,
        /// Why it was set aside.
        source: ResponderError,
    },
    /// The newest OCSP answer is older than the time the status must be known at and
    /// was not current then.
    #[error(
        "the newest {source} (next update {}) is older than {}, the time the status must be known at (the time-stamp's, else the verification time)",
        .next_update.as_ref().map_or_else(|| "none".to_owned(), text),
        text(.signing_time)
    )]
    OcspOutdated {
        /// The response.
        source: RevocationSource,
        /// Its `nextUpdate`.
        next_update: Option<OffsetDateTime>,
        /// The signing time.
        signing_time: OffsetDateTime,
    },
}

fn revocation_reason(reason: Option<&String>) -> String {
    reason
        .map(|reason| format!(", reason {reason}"))
        .unwrap_or_default()
}

fn from_points(points: &[String]) -> String {
    if points.is_empty() {
        String::new()
    } else {
        format!(" (distribution points: {})", points.join(", "))
    }
}

/// Why an OCSP response does not count for a certificate: it is not signed by the CA or
/// by a responder the CA authorised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponderError {
    /// Named as signed by the CA, but its signature does not verify with the CA's key.
    #[error("its signature does not verify with the key of \"{issuer}\"")]
    IssuerSignature {
        /// The CA's subject.
        issuer: String,
    },
    /// Signed by neither the CA nor a certificate the response carries.
    #[error("it is signed neither by \"{issuer}\" nor by a responder certificate it carries")]
    UnknownResponder {
        /// The CA's subject.
        issuer: String,
    },
    /// The responder certificate was not issued by the CA.
    #[error("its responder \"{responder}\" was not issued by \"{issuer}\"")]
    NotIssuedByCa {
        /// The responder certificate's subject.
        responder: String,
        /// The CA's subject.
        issuer: String,
    },
    /// The responder certificate lacks `id-kp-OCSPSigning`.
    #[error(
        "its responder \"{responder}\" is not authorised to sign OCSP responses (no id-kp-OCSPSigning)"
    )]
    NotAuthorised {
        /// The responder certificate's subject.
        responder: String,
    },
    /// The responder certificate was not valid when the response was produced.
    #[error(
        "its responder certificate \"{responder}\" was not valid when the response was produced"
    )]
    ResponderNotValid {
        /// The responder certificate's subject.
        responder: String,
        /// When the response was produced.
        produced_at: OffsetDateTime,
    },
    /// The response's signature does not verify with the responder's key.
    #[error("its signature does not verify with the key of its responder \"{responder}\"")]
    ResponderSignature {
        /// The responder certificate's subject.
        responder: String,
    },
}

/// Why a check did not pass: the typed cause a [`CheckResult`](crate::CheckResult)
/// carries beside its sentence (the `Display` of the cause is that sentence).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The signature cannot be read.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// The Provenance names no target.
    #[error("the Provenance has no target, so the signature signs nothing")]
    NoTarget,
    /// Targets the Provenance names are not at hand.
    #[error(
        "the signed target(s) {} are not available to check the signature against",
        .references.join(", ")
    )]
    MissingTargets {
        /// Their references.
        references: Vec<String>,
    },
    /// The signed content does not match the targets.
    #[error(transparent)]
    Content(#[from] ContentError),
    /// The signer certificate's key cannot be used.
    #[error("the signer's public key cannot be used: {source}")]
    UnusableKey {
        /// Why.
        source: KeyError,
    },
    /// The signature's algorithm is not one the signer's key signs with.
    #[error(
        "the algorithm {algorithm} does not fit the signer's key (which signs with {})",
        .key_algorithms.join(", ")
    )]
    AlgorithmMismatch {
        /// The signature's algorithm (JOSE name).
        algorithm: String,
        /// The algorithms the key signs with (JOSE names).
        key_algorithms: Vec<String>,
    },
    /// The signature value over the signed attributes does not verify.
    #[error(
        "{source}: the signed attributes were changed, or the signature was not made with this certificate"
    )]
    SignatureValue {
        /// Why it does not verify.
        source: CryptoError,
    },
    /// The signing time is not acceptable.
    #[error(transparent)]
    SigningTime(#[from] SigningTimeError),
    /// No acceptable certification path, or a certificate of it not valid then.
    #[error(transparent)]
    Path(#[from] PathError),
    /// A certificate of the path breaks the RFC 5280 profile.
    #[error(transparent)]
    Profile(#[from] crate::profile::ProfileError),
    /// The signer certificate is not fit for signing.
    #[error(transparent)]
    KeyUsage(#[from] KeyUsageError),
    /// A certificate of the path was revoked, or its status is unknown: the causes
    /// for the certificate the verdict rests on.
    #[error("{}", join(.causes))]
    Revocation {
        /// Every cause, in the order the report gives them.
        causes: Vec<RevocationError>,
    },
    /// The signer is not shown to be the party `Signature.who` names.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// A time-stamp the signature carries does not prove its time.
    #[error(transparent)]
    Timestamp(#[from] crate::timestamp::TimestampError),
}

fn join(causes: &[RevocationError]) -> String {
    causes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
