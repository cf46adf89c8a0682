//! The certificate profile of RFC 5280 §4, held strictly: what a conforming CA MUST and
//! MUST NOT put in a certificate. A certificate of a path that breaks one of these rules
//! fails the `certificate-profile` check, each rule with its own code and sentence, since
//! the other checks may read such a certificate differently from the CA that meant it
//! (two `basicConstraints`, one saying `cA=FALSE` and the other `cA=TRUE`, say).
//!
//! The rules that depend on the certificate alone are found when it is read
//! ([`crate::Certificate`]); those that depend on its place in a path (a CA certificate
//! must have a critical `basicConstraints`, a key usage and a subject key identifier) when
//! the path is evaluated. The trust anchor is exempt: RFC 5280 §6.1.1 (d) takes it as a
//! name and a key, trusted as configured.

use std::fmt;

/// One rule of the RFC 5280 certificate profile that a certificate breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProfileRule {
    /// An extension appears twice (§4.2).
    DuplicateExtension {
        /// The extension's object identifier.
        oid: String,
    },
    /// An extension's value does not decode as its ASN.1 definition (DER), or breaks its
    /// definition's own constraints (an empty list, a field out of range).
    MalformedExtension {
        /// The extension's object identifier.
        oid: String,
        /// What is wrong.
        detail: String,
    },
    /// Extensions in a certificate whose version is not 3 (§4.1.2.1, §4.1.2.9).
    ExtensionsBeforeVersion3 {
        /// The version as written (0 for v1, 1 for v2).
        version: u32,
    },
    /// The serial number is zero or negative (§4.1.2.2).
    SerialNotPositive,
    /// The serial number is longer than 20 octets (§4.1.2.2).
    SerialTooLong {
        /// Its length in octets.
        octets: usize,
    },
    /// `signatureAlgorithm` differs from the `signature` field inside the signed part
    /// (§4.1.1.2).
    SignatureAlgorithmMismatch,
    /// The issuer name is empty (§4.1.2.4).
    EmptyIssuer,
    /// The subject is empty and the certificate has no critical subject alternative name
    /// (§4.2.1.6).
    EmptySubjectWithoutCriticalSan,
    /// An extension RFC 5280 requires to be non-critical is marked critical
    /// (authorityKeyIdentifier §4.2.1.1, subjectKeyIdentifier §4.2.1.2,
    /// authorityInfoAccess §4.2.2.1).
    MustNotBeCritical {
        /// The extension's object identifier.
        oid: String,
    },
    /// An extension RFC 5280 requires to be critical is not (policyConstraints §4.2.1.11,
    /// inhibitAnyPolicy §4.2.1.14).
    MustBeCritical {
        /// The extension's object identifier.
        oid: String,
    },
    /// A key usage with no bit set (§4.2.1.3).
    EmptyKeyUsage,
    /// `keyCertSign` in the key usage without `cA` in the basic constraints (§4.2.1.3).
    KeyCertSignWithoutCa,
    /// A `pathLenConstraint` without `cA` (§4.2.1.9).
    PathLenWithoutCa,
    /// Name constraints in a certificate that is not a CA's (§4.2.1.10).
    NameConstraintsWithoutCa,
    /// A CA certificate whose `basicConstraints` is not critical (§4.2.1.9).
    CaBasicConstraintsNotCritical,
    /// A CA certificate without a key usage (§4.2.1.3).
    CaWithoutKeyUsage,
    /// A CA certificate without a subject key identifier (§4.2.1.2).
    CaWithoutSubjectKeyId,
    /// A certificate other than a self-signed one without an authority key identifier
    /// carrying a `keyIdentifier` (§4.2.1.1).
    MissingAuthorityKeyId,
}

impl ProfileRule {
    /// A stable code for the rule (`duplicate-extension`), for programs and reports.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::DuplicateExtension { .. } => "duplicate-extension",
            Self::MalformedExtension { .. } => "malformed-extension",
            Self::ExtensionsBeforeVersion3 { .. } => "extensions-before-v3",
            Self::SerialNotPositive => "serial-not-positive",
            Self::SerialTooLong { .. } => "serial-too-long",
            Self::SignatureAlgorithmMismatch => "signature-algorithm-mismatch",
            Self::EmptyIssuer => "empty-issuer",
            Self::EmptySubjectWithoutCriticalSan => "empty-subject-without-critical-san",
            Self::MustNotBeCritical { .. } => "must-not-be-critical",
            Self::MustBeCritical { .. } => "must-be-critical",
            Self::EmptyKeyUsage => "empty-key-usage",
            Self::KeyCertSignWithoutCa => "key-cert-sign-without-ca",
            Self::PathLenWithoutCa => "path-len-without-ca",
            Self::NameConstraintsWithoutCa => "name-constraints-without-ca",
            Self::CaBasicConstraintsNotCritical => "ca-basic-constraints-not-critical",
            Self::CaWithoutKeyUsage => "ca-without-key-usage",
            Self::CaWithoutSubjectKeyId => "ca-without-subject-key-id",
            Self::MissingAuthorityKeyId => "missing-authority-key-id",
        }
    }

    /// The section of RFC 5280 that states the rule.
    #[must_use]
    pub const fn section(&self) -> &'static str {
        match self {
            Self::DuplicateExtension { .. } | Self::MalformedExtension { .. } => "4.2",
            Self::ExtensionsBeforeVersion3 { .. } => "4.1.2.1",
            Self::SerialNotPositive | Self::SerialTooLong { .. } => "4.1.2.2",
            Self::SignatureAlgorithmMismatch => "4.1.1.2",
            Self::EmptyIssuer => "4.1.2.4",
            Self::EmptySubjectWithoutCriticalSan => "4.2.1.6",
            Self::MustNotBeCritical { .. } | Self::MissingAuthorityKeyId => "4.2.1.1",
            Self::MustBeCritical { .. } => "4.2.1.11",
            Self::EmptyKeyUsage | Self::KeyCertSignWithoutCa | Self::CaWithoutKeyUsage => "4.2.1.3",
            Self::PathLenWithoutCa | Self::CaBasicConstraintsNotCritical => "4.2.1.9",
            Self::NameConstraintsWithoutCa => "4.2.1.10",
            Self::CaWithoutSubjectKeyId => "4.2.1.2",
        }
    }
}

impl fmt::Display for ProfileRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DuplicateExtension { oid } => {
                write!(f, "has the {} extension twice", extension_name(oid))
            }
            Self::MalformedExtension { oid, detail } => write!(
                f,
                "has a {} extension that cannot be read: {detail}",
                extension_name(oid)
            ),
            Self::ExtensionsBeforeVersion3 { version } => write!(
                f,
                "is a version {} certificate with extensions, which only version 3 may carry",
                version + 1
            ),
            Self::SerialNotPositive => f.write_str("has a serial number that is not positive"),
            Self::SerialTooLong { octets } => write!(
                f,
                "has a serial number of {octets} octets (at most 20 are allowed)"
            ),
            Self::SignatureAlgorithmMismatch => f.write_str(
                "names one signature algorithm outside its signed part and another inside it",
            ),
            Self::EmptyIssuer => f.write_str("has an empty issuer name"),
            Self::EmptySubjectWithoutCriticalSan => f.write_str(
                "has an empty subject and no critical subject alternative name to name it",
            ),
            Self::MustNotBeCritical { oid } => write!(
                f,
                "marks its {} extension critical, which must not be",
                extension_name(oid)
            ),
            Self::MustBeCritical { oid } => write!(
                f,
                "does not mark its {} extension critical, which must be",
                extension_name(oid)
            ),
            Self::EmptyKeyUsage => f.write_str("has a key usage with no usage in it"),
            Self::KeyCertSignWithoutCa => {
                f.write_str("allows keyCertSign in its key usage but is not a CA (cA is not set)")
            }
            Self::PathLenWithoutCa => {
                f.write_str("has a pathLenConstraint but is not a CA (cA is not set)")
            }
            Self::NameConstraintsWithoutCa => {
                f.write_str("has name constraints but is not a CA certificate")
            }
            Self::CaBasicConstraintsNotCritical => {
                f.write_str("is a CA certificate whose basicConstraints is not marked critical")
            }
            Self::CaWithoutKeyUsage => f.write_str("is a CA certificate without a key usage"),
            Self::CaWithoutSubjectKeyId => {
                f.write_str("is a CA certificate without a subject key identifier")
            }
            Self::MissingAuthorityKeyId => f.write_str(
                "has no authority key identifier (with a keyIdentifier), which every certificate but a self-signed one must have",
            ),
        }?;
        write!(f, " (RFC 5280 §{})", self.section())
    }
}

/// A certificate of the path that breaks the profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{subject}\" {rule}")]
pub struct ProfileError {
    /// The certificate's subject.
    pub subject: String,
    /// The rule it breaks.
    pub rule: ProfileRule,
}

/// The usual name of an extension, else its object identifier.
pub(crate) fn extension_name(oid: &str) -> &str {
    match oid {
        "2.5.29.14" => "subjectKeyIdentifier",
        "2.5.29.15" => "keyUsage",
        "2.5.29.17" => "subjectAltName",
        "2.5.29.18" => "issuerAltName",
        "2.5.29.19" => "basicConstraints",
        "2.5.29.20" => "cRLNumber",
        "2.5.29.21" => "reasonCode",
        "2.5.29.24" => "invalidityDate",
        "2.5.29.27" => "deltaCRLIndicator",
        "2.5.29.28" => "issuingDistributionPoint",
        "2.5.29.29" => "certificateIssuer",
        "2.5.29.30" => "nameConstraints",
        "2.5.29.31" => "cRLDistributionPoints",
        "2.5.29.32" => "certificatePolicies",
        "2.5.29.33" => "policyMappings",
        "2.5.29.35" => "authorityKeyIdentifier",
        "2.5.29.36" => "policyConstraints",
        "2.5.29.37" => "extKeyUsage",
        "2.5.29.46" => "freshestCRL",
        "2.5.29.54" => "inhibitAnyPolicy",
        "1.3.6.1.5.5.7.1.1" => "authorityInfoAccess",
        "1.3.6.1.5.5.7.1.11" => "subjectInfoAccess",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_says_its_section() {
        let rule = ProfileRule::DuplicateExtension {
            oid: "2.5.29.19".into(),
        };
        let error = ProfileError {
            subject: "CN=CA".into(),
            rule,
        };
        assert_eq!(
            error.to_string(),
            "\"CN=CA\" has the basicConstraints extension twice (RFC 5280 §4.2)"
        );
        assert_eq!(error.rule.code(), "duplicate-extension");
    }
}
