//! Signature verification for renhice: decides whether a clinical act carries a valid
//! firma digital (FHIR `Signature` on `Provenance` or `Bundle`; JWS and CMS), with the
//! certificate path evaluated at the signing time against configured trust anchors.
//!
//! This crate depends only on the FHIR model: verification does no network or database
//! I/O and never reads the clock (the verification time is an argument), so the same
//! inputs always give the same report.

pub use renhice_model::FHIR_VERSION;
