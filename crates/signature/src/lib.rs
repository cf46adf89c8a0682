//! Signature verification for renhice: decides whether a clinical act carries a valid
//! firma digital (FHIR `Signature` on `Provenance` or `Bundle`; JWS and CMS), with the
//! certificate path evaluated against configured trust anchors at the best signature time:
//! the time an RFC 3161 signature time-stamp proves ([`timestamp`]), else the verification
//! time, never the time the signer claims.
//!
//! This crate depends only on the FHIR model: verification does no network or database
//! I/O and never reads the clock (the verification time is an argument), so the same
//! inputs always give the same report.
//!
//! - [`Verifier`] holds the [`TrustStore`] (anchors and known intermediates) and the
//!   [`RevocationStore`] (CRLs and OCSP responses), and produces one [`SignatureReport`] per signature with
//!   each [`Check`] reported separately and an overall [`Indication`].
//! - [`jws`] and [`pkcs7`] describe the two formats for FHIR resources, [`pades`] the
//!   signatures of PDF files ([`Verifier::verify_pdf`]); [`sign`] makes signatures in them, and
//!   [`sign::add_timestamp`] adds a signature time-stamp from a [`TimeStampAuthority`].
//! - A report prints as text ([`std::fmt::Display`]), converts to FHIR
//!   ([`SignatureReport::to_issues`], [`operation_outcome`]) and to JSON
//!   ([`SignatureReport::to_json`]).
//! - Errors are typed: a check that did not pass carries its cause
//!   ([`CheckResult::error`], a [`SignatureError`]) beside its sentence, and every
//!   fallible function returns an error enum whose `Display` is that sentence.

mod carried;
mod cert;
mod constraints;
mod crypto;
pub mod datetime;
mod envelope;
mod error;
pub mod jws;
mod names;
pub mod ocsp;
mod output;
pub mod pades;
mod path;
pub mod pkcs7;
mod policy;
pub mod profile;
mod report;
mod revocation;
mod scope;
pub mod sign;
pub mod timestamp;
pub mod trusted_list;
mod verify;

pub use cert::{Certificate, CertificateError};
pub use crypto::{Curve, Hash, PublicKey};
pub use error::{
    ContentError, CryptoError, FormatError, IdentityError, KeyError, KeyUsageError, PathError,
    ResponderError, RevocationError, RevocationSource, SignatureError, SigningTimeError,
    TargetError,
};
pub use jws::JwsError;
pub use ocsp::{OcspError, OcspQuery, OcspResponse};
pub use output::{CHECK_SYSTEM, INDICATION_SYSTEM, operation_outcome, overall};
pub use pades::{PdfError, PdfSignatureError};
pub use path::{TrustError, TrustStore};
pub use pkcs7::CmsError;
pub use policy::PolicySettings;
pub use profile::{ProfileError, ProfileRule};
pub use renhice_model::FHIR_VERSION;
pub use report::{
    CertificateReport, Check, CheckResult, Indication, SignatureReport, SignerInfo, Status,
    SubIndication, TimestampReport,
};
pub use revocation::{Crl, CrlDefect, CrlError, RevocationStore};
pub use timestamp::{TimeStampAuthority, TimestampError};
pub use trusted_list::{TrustedList, TrustedListError, TrustedService};
pub use verify::{Context, JOSE, PKCS7, Target, Verifier};
