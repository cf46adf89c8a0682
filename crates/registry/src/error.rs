//! The error of a rule.

/// A request or resource the registry's rules refuse, with the element at fault.
///
/// The variants say how the refusal is answered: a request that cannot be read
/// ([`RuleError::Invalid`], HTTP 400), a readable one that breaks a rule of the registry
/// ([`RuleError::Unprocessable`], HTTP 422), or one the caller may not make
/// ([`RuleError::Forbidden`], HTTP 403). `path` is a FHIRPath-like element
/// path (`Patient.identifier[1]`), a search or query parameter, or a header name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// The request cannot be read as written: a malformed parameter, header or value.
    #[error("{path}: {message}")]
    Invalid {
        /// The parameter, header or element at fault.
        path: String,
        /// What is wrong and what is expected instead.
        message: String,
    },
    /// Readable FHIR that breaks a rule of the registry.
    #[error("{path}: {message}")]
    Unprocessable {
        /// The element at fault.
        path: String,
        /// Which rule, and how to comply.
        message: String,
    },
    /// The caller may not do this.
    #[error("{message} (rule: {rule})")]
    Forbidden {
        /// The access rule that refused, e.g. `own-ipress-entries`.
        rule: &'static str,
        /// What was refused and why.
        message: String,
    },
}

impl RuleError {
    /// A request that cannot be read (400).
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }

    /// A resource that breaks a registry rule (422).
    pub fn unprocessable(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Unprocessable {
            path: path.into(),
            message: message.into(),
        }
    }

    /// A refusal by access rule `rule` (403).
    pub fn forbidden(rule: &'static str, message: impl Into<String>) -> Self {
        Self::Forbidden {
            rule,
            message: message.into(),
        }
    }

    /// The element, parameter or header at fault (empty for an access refusal, which is
    /// about the request as a whole).
    #[must_use]
    pub fn path(&self) -> &str {
        match self {
            Self::Invalid { path, .. } | Self::Unprocessable { path, .. } => path,
            Self::Forbidden { .. } => "",
        }
    }

    /// What is wrong, without the path.
    #[must_use]
    pub fn message(&self) -> &str {
        match self {
            Self::Invalid { message, .. }
            | Self::Unprocessable { message, .. }
            | Self::Forbidden { message, .. } => message,
        }
    }
}
