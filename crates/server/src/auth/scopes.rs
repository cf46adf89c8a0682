//! SMART App Launch scopes: what an app asks for and what a person's token lets it do.
//!
//! Clinical scopes are `context/resource.permissions`: the context is `patient` (the
//! person's own records, for patients) or `user` (what the person may see, for
//! clinicians, auditors and administrators); the resource a FHIR type or `*`; the
//! permissions SMART v2's `cruds` letters (create, read, update, delete, search), in
//! that order, or v1's `read`/`write`/`*`, read as `rs`/`cud`/`cruds`. A person's token
//! can never do more than the person's role lets them ([`crate::auth::access`]): scopes
//! only narrow what an app may do with it.

use std::fmt;

/// The context of clinical scopes: whose records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// `patient/`: the signed-in patient's own records.
    Patient,
    /// `user/`: whatever the signed-in person may see.
    User,
    /// `system/`: what a SIHCE system (a client-credentials token) may do, within what
    /// its registration grants.
    System,
}

/// One clinical scope.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Clinical {
    context: Context,
    /// A FHIR type, or `*`.
    resource: String,
    /// Letters of `cruds`.
    permissions: String,
}

/// The scopes of a request or a token.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "each is one of SMART's scopes, asked for or not"
)]
pub struct Scopes {
    clinical: Vec<Clinical>,
    /// `openid`: an ID token is wanted.
    pub openid: bool,
    /// `fhirUser`: the ID token names the person's FHIR resource.
    pub fhir_user: bool,
    /// `offline_access` or `online_access`: a refresh token is wanted.
    pub refresh: bool,
    /// `launch/patient`: the app wants the patient in context (the patient's own).
    pub launch_patient: bool,
    /// `profile`.
    pub profile: bool,
}

/// Why a scope string was refused (an OAuth `invalid_scope`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScopeError(pub String);

/// The SMART v2 letters, in their required order.
const LETTERS: &str = "cruds";

fn permissions(text: &str) -> Option<String> {
    match text {
        "read" => return Some("rs".to_owned()),
        "write" => return Some("cud".to_owned()),
        "*" => return Some(LETTERS.to_owned()),
        _ => {}
    }
    // v2: a non-empty subsequence of "cruds", in order, each letter once.
    let mut last = None;
    for c in text.chars() {
        let at = LETTERS.find(c)?;
        if last.is_some_and(|l| at <= l) {
            return None;
        }
        last = Some(at);
    }
    (!text.is_empty()).then(|| text.to_owned())
}

impl Scopes {
    /// Parses a space-separated scope string as an app sends it. Scopes the registry does
    /// not know are refused rather than dropped, so an app never believes it holds what
    /// it does not.
    pub fn parse(text: &str) -> Result<Self, ScopeError> {
        let mut scopes = Self::default();
        for scope in text.split_ascii_whitespace() {
            match scope {
                "openid" => scopes.openid = true,
                "fhirUser" => scopes.fhir_user = true,
                "profile" => scopes.profile = true,
                "offline_access" | "online_access" => scopes.refresh = true,
                "launch/patient" => scopes.launch_patient = true,
                other => scopes.clinical.push(clinical(other, false)?),
            }
        }
        Ok(scopes)
    }

    /// Parses the scopes of a SIHCE system (SMART Backend Services): `system/Type.cruds`
    /// only, at least one.
    pub fn parse_system(text: &str) -> Result<Self, ScopeError> {
        let mut scopes = Self::default();
        for scope in text.split_ascii_whitespace() {
            let parsed = clinical(scope, true)?;
            if parsed.context != Context::System {
                return Err(ScopeError(format!(
                    "{scope}: a SIHCE system asks for system/… scopes (e.g. system/*.rs); \
                     patient/… and user/… are for people's sign-in"
                )));
            }
            scopes.clinical.push(parsed);
        }
        if scopes.clinical.is_empty() {
            return Err(ScopeError(
                "no scope: a SIHCE system asks for system/… scopes, e.g. system/*.cruds".to_owned(),
            ));
        }
        Ok(scopes)
    }

    /// Whether every permission these scopes name is also allowed by `granted`: what a
    /// token request may ask for within what a client's registration grants.
    #[must_use]
    pub fn within(&self, granted: &Self) -> bool {
        self.clinical.iter().all(|c| {
            c.permissions.chars().all(|letter| {
                granted.clinical.iter().any(|g| {
                    g.context == c.context
                        && (g.resource == "*" || g.resource == c.resource)
                        && g.permissions.contains(letter)
                })
            })
        })
    }

    /// The one context of the clinical scopes: an app acts either for a patient's own
    /// records or for a professional, never both with one token.
    pub fn context(&self) -> Result<Context, ScopeError> {
        let first = self.clinical.first().map(|c| c.context).ok_or_else(|| {
            ScopeError(
                "no clinical scope: ask for patient/… (a patient's own records) or user/… \
                 (a professional's access), e.g. patient/*.rs"
                    .to_owned(),
            )
        })?;
        if self.clinical.iter().any(|c| c.context != first) {
            return Err(ScopeError(
                "patient/… and user/… scopes cannot be asked for together".to_owned(),
            ));
        }
        if self.launch_patient && first != Context::Patient {
            return Err(ScopeError(
                "launch/patient goes with patient/… scopes".to_owned(),
            ));
        }
        Ok(first)
    }

    /// Whether the scopes allow `letter` (one of `cruds`) on `resource`.
    #[must_use]
    pub fn allows(&self, resource: &str, letter: char) -> bool {
        self.clinical.iter().any(|c| {
            (c.resource == "*" || c.resource == resource) && c.permissions.contains(letter)
        })
    }
}

fn clinical(scope: &str, system: bool) -> Result<Clinical, ScopeError> {
    let refuse = || {
        ScopeError(format!(
            "scope {scope:?} is not one of this registry's: openid, fhirUser, profile, \
             offline_access, online_access, launch/patient, patient/Type.cruds, user/Type.cruds"
        ))
    };
    let (context, rest) = scope.split_once('/').ok_or_else(refuse)?;
    let context = match context {
        "patient" => Context::Patient,
        "user" => Context::User,
        "system" if system => Context::System,
        "system" => {
            return Err(ScopeError(format!(
                "{scope}: system/ scopes are for SIHCE systems (client credentials at the \
                 token endpoint), not for people's sign-in"
            )));
        }
        _ => return Err(refuse()),
    };
    // SMART v2 lets a scope narrow itself with a query (`?category=…`); the registry does
    // not apply such narrowing, so it refuses it rather than grant more than asked.
    if rest.contains('?') {
        return Err(ScopeError(format!(
            "{scope}: scopes narrowed by search parameters are not supported"
        )));
    }
    let (resource, letters) = rest.split_once('.').ok_or_else(refuse)?;
    let valid_type = resource == "*"
        || (resource.starts_with(|c: char| c.is_ascii_uppercase())
            && resource.chars().all(|c| c.is_ascii_alphanumeric()));
    if !valid_type {
        return Err(refuse());
    }
    let permissions = permissions(letters).ok_or_else(|| {
        ScopeError(format!(
            "{scope}: permissions are letters of cruds in that order (e.g. rs), or read, \
             write, *"
        ))
    })?;
    Ok(Clinical {
        context,
        resource: resource.to_owned(),
        permissions,
    })
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if self.openid {
            parts.push("openid".to_owned());
        }
        if self.fhir_user {
            parts.push("fhirUser".to_owned());
        }
        if self.profile {
            parts.push("profile".to_owned());
        }
        if self.refresh {
            parts.push("offline_access".to_owned());
        }
        if self.launch_patient {
            parts.push("launch/patient".to_owned());
        }
        for c in &self.clinical {
            let context = match c.context {
                Context::Patient => "patient",
                Context::User => "user",
                Context::System => "system",
            };
            parts.push(format!("{context}/{}.{}", c.resource, c.permissions));
        }
        f.write_str(&parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn v1_and_v2_permissions_read_alike() {
        let s = Scopes::parse("openid fhirUser patient/*.read launch/patient").unwrap();
        assert_eq!(s.context().unwrap(), Context::Patient);
        assert!(s.allows("DocumentReference", 'r') && s.allows("Patient", 's'));
        assert!(!s.allows("Consent", 'c'));
        assert_eq!(s.to_string(), "openid fhirUser launch/patient patient/*.rs");
        let s =
            Scopes::parse("user/DocumentReference.rs user/Consent.cruds offline_access").unwrap();
        assert!(s.refresh && s.allows("Consent", 'u') && !s.allows("Patient", 'r'));
    }

    #[test]
    fn a_system_asks_within_what_its_registration_grants() {
        let registered =
            Scopes::parse_system("system/Patient.crus system/DocumentReference.rs").unwrap();
        let asked = Scopes::parse_system("system/Patient.rs").unwrap();
        assert!(asked.within(&registered));
        assert!(registered.within(&registered));
        assert!(
            !Scopes::parse_system("system/Patient.d")
                .unwrap()
                .within(&registered)
        );
        assert!(
            !Scopes::parse_system("system/*.rs")
                .unwrap()
                .within(&registered)
        );
        assert!(
            Scopes::parse_system("system/Consent.rs")
                .unwrap()
                .within(&Scopes::parse_system("system/*.cruds").unwrap())
        );
        assert!(asked.allows("Patient", 'r') && !asked.allows("Patient", 'c'));
        assert_eq!(asked.to_string(), "system/Patient.rs");
        for bad in [
            "",
            "user/*.rs",
            "openid",
            "system/*.x",
            "patient/*.rs system/*.rs",
        ] {
            assert!(Scopes::parse_system(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn what_a_scope_cannot_say_is_refused() {
        for bad in [
            "patient/*.rsc",
            "patient/*.rr",
            "patient/*.",
            "patient/*.x",
            "patient/observation.rs",
            "system/*.rs",
            "launch",
            "patient/Observation.rs?category=laboratory",
            "admin/*.rs",
        ] {
            assert!(Scopes::parse(bad).is_err(), "{bad}");
        }
        assert!(
            Scopes::parse("patient/*.rs user/*.rs")
                .unwrap()
                .context()
                .is_err()
        );
        assert!(Scopes::parse("openid fhirUser").unwrap().context().is_err());
        assert!(
            Scopes::parse("launch/patient user/*.rs")
                .unwrap()
                .context()
                .is_err()
        );
    }
}
