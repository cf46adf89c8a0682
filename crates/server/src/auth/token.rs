//! Access tokens: JWTs signed by the registry (ES256) carrying IHE IUA claims.
//!
//! ```json
//! {
//!   "iss": "https://renhice.example/auth", "aud": "https://renhice.example/fhir",
//!   "sub": "sihce-hospital-santa-clara", "iat": 1764700000, "exp": 1764700300,
//!   "jti": "0b6c…",
//!   "extensions": {
//!     "ihe_iua": {
//!       "subject_organization_id": "00012345",
//!       "subject_role": {"system": "http://renhice.org/fhir/CodeSystem/role", "code": "clinician"},
//!       "purpose_of_use": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "TREAT"},
//!       "national_provider_identifier": "01|012345",
//!       "subject_name": "Dra. Rosa Quispe"
//!     },
//!     "renhice": {"emergency_reason": "…"}
//!   }
//! }
//! ```
//!
//! `person_id` (for patients) is the registry's identity-document key, `kind|country|number`
//! (`1|PER|45678912` for a DNI); `national_provider_identifier` the colegiatura key
//! `college|number`. Only `ES256` is accepted, whatever the token's header says.

use std::fmt;

use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};

use super::keys::{KeyError, KeyRing};

/// The code system of [`Role`] codes in `subject_role`.
pub const ROLE_SYSTEM: &str = "http://renhice.org/fhir/CodeSystem/role";
/// The code system of [`Purpose`] codes in `purpose_of_use` (HL7 v3 `ActReason`).
pub const PURPOSE_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";

/// Who a caller is, for the registry's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A SIHCE acting for its IPRESS, with no person named.
    System,
    /// A clinician, through their IPRESS's SIHCE.
    Clinician,
    /// A patient (or their representative), for their own records.
    Patient,
    /// An auditor: reads the audit trail.
    Auditor,
    /// An administrator: registers IPRESS and clients.
    Admin,
}

impl Role {
    /// Every role: for what any authenticated caller may do (`$validate`,
    /// `$verify-signature`: the body is the caller's own, no record is read).
    pub(crate) const ALL: [Self; 5] = [
        Self::System,
        Self::Clinician,
        Self::Patient,
        Self::Auditor,
        Self::Admin,
    ];
    /// The role's code.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::Clinician => "clinician",
            Self::Patient => "patient",
            Self::Auditor => "auditor",
            Self::Admin => "admin",
        }
    }

    /// The role for a code.
    #[must_use]
    pub fn from_code(code: &str) -> Option<Self> {
        [
            Self::System,
            Self::Clinician,
            Self::Patient,
            Self::Auditor,
            Self::Admin,
        ]
        .into_iter()
        .find(|r| r.code() == code)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Why a caller asks (`purpose_of_use`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Treatment (the default).
    Treat,
    /// Emergency treatment: break-glass access, with a stated reason.
    Emergency,
    /// At the patient's request (the patient's own access).
    PatientRequest,
    /// Operations of the registry itself (administration, audit).
    Operations,
}

impl Purpose {
    /// The `ActReason` code.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::Treat => "TREAT",
            Self::Emergency => "ETREAT",
            Self::PatientRequest => "PATRQT",
            Self::Operations => "HOPERAT",
        }
    }

    /// The purpose for an `ActReason` code.
    #[must_use]
    pub fn from_code(code: &str) -> Option<Self> {
        [
            Self::Treat,
            Self::Emergency,
            Self::PatientRequest,
            Self::Operations,
        ]
        .into_iter()
        .find(|p| p.code() == code)
    }
}

/// A FHIR Coding as IUA writes `subject_role` and `purpose_of_use`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodingClaim {
    /// The code system.
    pub system: String,
    /// The code.
    pub code: String,
}

/// The `ihe_iua` extension claims.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IuaClaims {
    /// The RENIPRESS code of the caller's IPRESS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_organization_id: Option<String>,
    /// The IPRESS's name, for people reading the audit trail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_organization: Option<String>,
    /// The acting person's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_name: Option<String>,
    /// The role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_role: Option<CodingClaim>,
    /// The purpose of use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose_of_use: Option<CodingClaim>,
    /// A clinician's colegiatura key (`01|012345`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub national_provider_identifier: Option<String>,
    /// A patient's identity-document key (`1|PER|45678912`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_id: Option<String>,
}

/// The registry's own extension claims.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenhiceClaims {
    /// Why emergency access is needed (required with `ETREAT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency_reason: Option<String>,
}

/// The `extensions` claim.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extensions {
    /// IHE IUA.
    #[serde(default)]
    pub ihe_iua: IuaClaims,
    /// The registry's own.
    #[serde(default, skip_serializing_if = "is_default")]
    pub renhice: RenhiceClaims,
}

fn is_default(r: &RenhiceClaims) -> bool {
    r == &RenhiceClaims::default()
}

/// Every claim of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer: the registry's token endpoint.
    pub iss: String,
    /// Subject: the client (or person) the token was issued to.
    pub sub: String,
    /// Audience: the registry's FHIR base URL.
    pub aud: String,
    /// Issued at (Unix seconds).
    pub iat: u64,
    /// Expires at (Unix seconds).
    pub exp: u64,
    /// Not before (Unix seconds): the registry issues none, but a token carrying one is
    /// refused until then (RFC 7519 §4.1.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Token id.
    pub jti: String,
    /// IUA and registry claims.
    pub extensions: Extensions,
    /// The sign-in session of a person's token (absent from SIHCE tokens): the token is
    /// honoured only while the session lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The app a person's token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The SMART scopes the token grants, space-separated: a person's app's, or a SIHCE
    /// system's `system/` scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// What a person's token carries beyond who they are: their sign-in and what the app
/// was granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    /// The session id (`sid`).
    pub session: String,
    /// The app (`client_id`).
    pub client: String,
    /// The SMART scopes granted, space-separated.
    pub scope: String,
}

/// What a token is issued for: the caller's identity and purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Subject (client id or person).
    pub subject: String,
    /// Role.
    pub role: Role,
    /// RENIPRESS code (system and clinician roles).
    pub organization: Option<String>,
    /// Colegiatura key (clinicians).
    pub practitioner: Option<String>,
    /// The acting person's name.
    pub name: Option<String>,
    /// Identity-document key (patients).
    pub person: Option<String>,
    /// Purpose of use.
    pub purpose: Purpose,
    /// Reason for emergency access.
    pub emergency_reason: Option<String>,
    /// The sign-in of a person's token; `None` for SIHCE and administrator tokens.
    pub sign_in: Option<SignIn>,
    /// The SMART `system/` scopes of a SIHCE system's token (space-separated), within
    /// what its client registration grants; `None`: the role's rights, unnarrowed (a
    /// token minted on the registry's own machine by `renhice token issue`).
    pub system_scope: Option<String>,
}

impl Grant {
    /// The token's claims, valid for `lifetime_secs` from `now` (Unix seconds).
    #[must_use]
    pub fn claims(&self, issuer: &str, audience: &str, now: u64, lifetime_secs: u64) -> Claims {
        Claims {
            iss: issuer.to_owned(),
            sub: self.subject.clone(),
            aud: audience.to_owned(),
            iat: now,
            exp: now + lifetime_secs,
            nbf: None,
            jti: uuid::Uuid::new_v4().to_string(),
            extensions: Extensions {
                ihe_iua: IuaClaims {
                    subject_organization_id: self.organization.clone(),
                    subject_organization: None,
                    subject_name: self.name.clone(),
                    subject_role: Some(CodingClaim {
                        system: ROLE_SYSTEM.to_owned(),
                        code: self.role.code().to_owned(),
                    }),
                    purpose_of_use: Some(CodingClaim {
                        system: PURPOSE_SYSTEM.to_owned(),
                        code: self.purpose.code().to_owned(),
                    }),
                    national_provider_identifier: self.practitioner.clone(),
                    person_id: self.person.clone(),
                },
                renhice: RenhiceClaims {
                    emergency_reason: self.emergency_reason.clone(),
                },
            },
            sid: self.sign_in.as_ref().map(|s| s.session.clone()),
            client_id: self.sign_in.as_ref().map(|s| s.client.clone()),
            scope: self
                .sign_in
                .as_ref()
                .map(|s| s.scope.clone())
                .or_else(|| self.system_scope.clone()),
        }
    }
}

/// Why a token was not accepted: said to the client (nothing secret in it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TokenRejected(pub String);

/// Signs `grant` as an access token.
pub fn issue(
    keys: &KeyRing,
    grant: &Grant,
    issuer: &str,
    audience: &str,
    now: u64,
    lifetime_secs: u64,
) -> Result<String, KeyError> {
    keys.sign(&grant.claims(issuer, audience, now, lifetime_secs))
}

/// Checks a bearer token: signature by one of `keys` (ES256 only), issuer, audience,
/// expiry (with `leeway_secs` of clock skew), and the lifetime the registry allows; then
/// the IUA claims' shape ([`Grant::from_claims`]). Returns the grant, the claims and the
/// id of the key that signed the token.
pub fn verify(
    keys: &KeyRing,
    token: &str,
    (issuer, audience): (&str, &str),
    (leeway_secs, max_lifetime_secs): (u64, u64),
    now: u64,
) -> Result<(Grant, Claims, String), TokenRejected> {
    let reject = |m: &str| TokenRejected(m.to_owned());
    let header = jsonwebtoken::decode_header(token).map_err(|_| {
        reject("the bearer token is not a well-formed JWT (or its algorithm is not ES256)")
    })?;
    if header.alg != Algorithm::ES256 {
        return Err(TokenRejected(format!(
            "the token is signed with {:?}; the registry accepts only ES256",
            header.alg
        )));
    }
    let kid = header
        .kid
        .ok_or_else(|| reject("the token names no signing key (kid)"))?;
    let key = keys.decoding_key(&kid).ok_or_else(|| {
        TokenRejected(format!(
            "the token's signing key {kid:?} is not one of the registry's (see /auth/jwks)"
        ))
    })?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.leeway = leeway_secs;
    // Expiry is judged below against `now`, the caller's clock, not the library's.
    validation.validate_exp = false;
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind;
        TokenRejected(
            match e.kind() {
                ErrorKind::ExpiredSignature => "the token has expired",
                ErrorKind::InvalidSignature => "the token's signature does not verify",
                ErrorKind::InvalidAudience => "the token is for another audience (aud)",
                ErrorKind::InvalidIssuer => "the token is from another issuer (iss)",
                ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)",
                ErrorKind::MissingRequiredClaim(_) | ErrorKind::Json(_) => {
                    "the token's claims are incomplete or malformed"
                }
                _ => "the token is not valid",
            }
            .to_owned(),
        )
    })?;
    let claims = data.claims;
    if claims.exp.saturating_add(leeway_secs) < now {
        return Err(reject("the token has expired"));
    }
    if claims.exp.saturating_sub(claims.iat) > max_lifetime_secs {
        return Err(TokenRejected(format!(
            "the token lives {} s; the registry accepts at most {max_lifetime_secs} s",
            claims.exp.saturating_sub(claims.iat)
        )));
    }
    if claims.iat > now + leeway_secs {
        return Err(reject("the token was issued in the future (iat)"));
    }
    if claims.nbf.is_some_and(|nbf| nbf > now + leeway_secs) {
        return Err(reject("the token is not valid yet (nbf)"));
    }
    let grant = Grant::from_claims(&claims)?;
    Ok((grant, claims, kid))
}

impl Grant {
    /// The grant a token's claims describe, if they are coherent: a known role; an IPRESS
    /// for systems and clinicians, a colegiatura for clinicians, an identity document for
    /// patients; a reason with emergency purpose.
    pub fn from_claims(claims: &Claims) -> Result<Self, TokenRejected> {
        let iua = &claims.extensions.ihe_iua;
        let role = iua
            .subject_role
            .as_ref()
            .filter(|c| c.system == ROLE_SYSTEM)
            .and_then(|c| Role::from_code(&c.code))
            .ok_or_else(|| {
                TokenRejected(format!(
                    "the token's ihe_iua.subject_role is not a role of {ROLE_SYSTEM} \
                     (system, clinician, patient, auditor, admin)"
                ))
            })?;
        let purpose = match &iua.purpose_of_use {
            None => Purpose::Treat,
            Some(c) => Some(c)
                .filter(|c| c.system == PURPOSE_SYSTEM)
                .and_then(|c| Purpose::from_code(&c.code))
                .ok_or_else(|| {
                    TokenRejected(format!(
                        "the token's ihe_iua.purpose_of_use is not TREAT, ETREAT, PATRQT or \
                         HOPERAT of {PURPOSE_SYSTEM}"
                    ))
                })?,
        };
        let organization = iua.subject_organization_id.clone();
        if matches!(role, Role::System | Role::Clinician) {
            let valid = organization
                .as_deref()
                .is_some_and(|o| renhice_model::peru::Renipress::parse(o).is_ok());
            if !valid {
                return Err(TokenRejected(format!(
                    "a {role} token names its IPRESS by an 8-digit RENIPRESS code in \
                     ihe_iua.subject_organization_id"
                )));
            }
        }
        if role == Role::Clinician && iua.national_provider_identifier.is_none() {
            return Err(TokenRejected(
                "a clinician token names the clinician in ihe_iua.national_provider_identifier"
                    .to_owned(),
            ));
        }
        if role == Role::Patient && iua.person_id.is_none() {
            return Err(TokenRejected(
                "a patient token names the patient's identity document in ihe_iua.person_id \
                 (kind|country|number, e.g. 1|PER|45678912)"
                    .to_owned(),
            ));
        }
        let emergency_reason = claims
            .extensions
            .renhice
            .emergency_reason
            .clone()
            .filter(|r| !r.trim().is_empty());
        Ok(Self {
            subject: claims.sub.clone(),
            role,
            organization,
            practitioner: iua.national_provider_identifier.clone(),
            name: iua.subject_name.clone(),
            person: iua.person_id.clone(),
            purpose,
            emergency_reason,
            sign_in: claims.sid.as_ref().map(|sid| SignIn {
                session: sid.clone(),
                client: claims.client_id.clone().unwrap_or_default(),
                scope: claims.scope.clone().unwrap_or_default(),
            }),
            system_scope: claims.sid.is_none().then(|| claims.scope.clone()).flatten(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

    use super::*;

    const ISS: &str = "https://renhice.test/auth";
    const AUD: &str = "https://renhice.test/fhir";

    fn clinician() -> Grant {
        Grant {
            subject: "sihce-santa-clara".to_owned(),
            role: Role::Clinician,
            organization: Some("00012345".to_owned()),
            practitioner: Some("01|012345".to_owned()),
            name: Some("Dra. Rosa Quispe".to_owned()),
            person: None,
            purpose: Purpose::Treat,
            emergency_reason: None,
            sign_in: None,
            system_scope: None,
        }
    }

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    fn check(keys: &KeyRing, token: &str) -> Result<Grant, TokenRejected> {
        verify(
            keys,
            token,
            (ISS, AUD),
            (30, 3600),
            jsonwebtoken::get_current_timestamp(),
        )
        .map(|(g, _, _)| g)
    }

    /// A token with `header` and `claims` as given, signed (or not) by `signature`.
    fn forge(header: &serde_json::Value, claims: &Claims, signature: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            B64.encode(header.to_string()),
            B64.encode(serde_json::to_string(claims).unwrap()),
            B64.encode(signature)
        )
    }

    #[test]
    fn the_published_role_code_system_lists_exactly_the_roles() {
        let text = include_str!("../../../../profiles/renhice/CodeSystem-role.json");
        let Ok(renhice_model::resources::Resource::CodeSystem(cs)) =
            renhice_model::resources::Resource::from_json(text.as_bytes())
        else {
            panic!("profiles/renhice/CodeSystem-role.json is not a CodeSystem");
        };
        assert_eq!(cs.url.as_ref().and_then(|u| u.as_str()), Some(ROLE_SYSTEM));
        let codes: Vec<&str> = cs
            .concept
            .iter()
            .filter_map(|c| c.code.as_ref().and_then(|c| c.as_str()))
            .collect();
        assert_eq!(
            codes,
            ["system", "clinician", "patient", "auditor", "admin"]
        );
        for code in codes {
            assert_eq!(Role::from_code(code).map(Role::code), Some(code));
        }
    }

    #[test]
    fn an_issued_token_verifies_to_its_grant() {
        let keys = KeyRing::ephemeral().unwrap();
        let token = issue(&keys, &clinician(), ISS, AUD, now(), 300).unwrap();
        assert_eq!(check(&keys, &token).unwrap(), clinician());
        // The claims are IUA's, in its JSON shape.
        let claims: serde_json::Value =
            serde_json::from_slice(&B64.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap();
        let iua = &claims["extensions"]["ihe_iua"];
        assert_eq!(iua["subject_organization_id"], "00012345");
        assert_eq!(iua["subject_role"]["code"], "clinician");
        assert_eq!(iua["purpose_of_use"]["code"], "TREAT");
        assert_eq!(iua["national_provider_identifier"], "01|012345");
        assert_eq!(
            claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
            300
        );
    }

    #[test]
    fn tokens_the_registry_did_not_sign_as_issued_are_refused() {
        let keys = KeyRing::ephemeral().unwrap();
        let good = issue(&keys, &clinician(), ISS, AUD, now(), 300).unwrap();
        let claims = clinician().claims(ISS, AUD, now(), 300);
        let kid = keys.kids().pop().unwrap();

        // Another key, even with this ring's kid.
        let other = KeyRing::ephemeral().unwrap();
        let foreign = issue(&other, &clinician(), ISS, AUD, now(), 300).unwrap();
        assert!(
            check(&keys, &foreign)
                .unwrap_err()
                .0
                .contains("not one of the registry's")
        );
        let (_, rest) = foreign.split_once('.').unwrap();
        let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": kid});
        let relabelled = format!("{}.{rest}", B64.encode(header.to_string()));
        assert!(
            check(&keys, &relabelled)
                .unwrap_err()
                .0
                .contains("signature")
        );

        // alg none, and HS256 keyed with the public key: the classic confusions.
        let none = forge(
            &serde_json::json!({"alg": "none", "kid": kid}),
            &claims,
            b"",
        );
        assert!(check(&keys, &none).is_err());
        let hs = forge(
            &serde_json::json!({"alg": "HS256", "kid": kid}),
            &claims,
            b"x",
        );
        assert!(check(&keys, &hs).unwrap_err().0.contains("ES256"));

        // A payload changed after signing.
        let mut parts: Vec<&str> = good.split('.').collect();
        let mut escalated = claims.clone();
        escalated.extensions.ihe_iua.subject_role = Some(CodingClaim {
            system: ROLE_SYSTEM.to_owned(),
            code: "admin".to_owned(),
        });
        let payload = B64.encode(serde_json::to_string(&escalated).unwrap());
        parts[1] = &payload;
        assert!(
            check(&keys, &parts.join("."))
                .unwrap_err()
                .0
                .contains("signature")
        );

        // Not a JWT at all.
        assert!(check(&keys, "not-a-token").is_err());
        assert!(check(&keys, &good).is_ok());
    }

    #[test]
    fn expiry_audience_issuer_and_lifetime_are_checked() {
        let keys = KeyRing::ephemeral().unwrap();
        let g = clinician();
        let expired = issue(&keys, &g, ISS, AUD, now() - 1000, 300).unwrap();
        assert_eq!(
            check(&keys, &expired).unwrap_err().0,
            "the token has expired"
        );
        let elsewhere = issue(&keys, &g, ISS, "https://other.test/fhir", now(), 300).unwrap();
        assert!(check(&keys, &elsewhere).unwrap_err().0.contains("audience"));
        let stranger = issue(&keys, &g, "https://other.test/auth", AUD, now(), 300).unwrap();
        assert!(check(&keys, &stranger).unwrap_err().0.contains("issuer"));
        let long = issue(&keys, &g, ISS, AUD, now(), 7200).unwrap();
        assert!(check(&keys, &long).unwrap_err().0.contains("at most 3600"));
        let future = issue(&keys, &g, ISS, AUD, now() + 600, 300).unwrap();
        assert!(check(&keys, &future).unwrap_err().0.contains("future"));
        // Signed by the registry's key, but not valid before a moment still to come.
        let mut early = g.claims(ISS, AUD, now(), 300);
        early.nbf = Some(now() + 120);
        let early = keys.sign(&early).unwrap();
        assert_eq!(
            check(&keys, &early).unwrap_err().0,
            "the token is not valid yet (nbf)"
        );
        let mut begun = g.claims(ISS, AUD, now(), 300);
        begun.nbf = Some(now() - 5);
        assert_eq!(check(&keys, &keys.sign(&begun).unwrap()).unwrap(), g);
    }

    #[test]
    fn claims_must_describe_a_coherent_caller() {
        let keys = KeyRing::ephemeral().unwrap();
        let refused = |g: Grant| {
            let token = issue(&keys, &g, ISS, AUD, now(), 300).unwrap();
            check(&keys, &token).unwrap_err().0
        };
        let mut g = clinician();
        g.organization = Some("12345".to_owned());
        assert!(refused(g).contains("RENIPRESS"));
        let mut g = clinician();
        g.practitioner = None;
        assert!(refused(g).contains("national_provider_identifier"));
        let mut g = clinician();
        g.role = Role::Patient;
        assert!(refused(g).contains("person_id"));
        // An unknown role code is refused, not read as some default.
        let mut claims = clinician().claims(ISS, AUD, now(), 300);
        claims.extensions.ihe_iua.subject_role = Some(CodingClaim {
            system: ROLE_SYSTEM.to_owned(),
            code: "superuser".to_owned(),
        });
        let token = keys.sign(&claims).unwrap();
        assert!(check(&keys, &token).unwrap_err().0.contains("subject_role"));
    }
}
