//! People and the identity providers they sign in at: the configuration of each provider
//! (`[[auth.identity_providers]]`) and how its claims make a person the registry knows.
//!
//! The registry does not keep passwords: a person proves who they are at an OpenID
//! Connect provider the registry trusts (in Peru, the State's ID Gob.pe for anyone with a
//! DNI, or a hospital's own provider for its staff), and the provider's claims say who
//! they are to the registry. A clinician is recognised by their colegiatura
//! (`college|number`, e.g. `01|012345` for the Colegio Médico) and their IPRESS (a
//! RENIPRESS code); a patient by their identity document (`1|PER|45678912` for a DNI);
//! auditors and administrators by a role value the provider asserts. A provider can be
//! limited to the roles and IPRESS it may speak for: a hospital's provider vouches for
//! that hospital's clinicians, not for auditors of the registry.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::token::Role;

/// A user-facing app allowed to ask people to sign in (`[[auth.apps]]`): a public
/// client, which proves itself by PKCE and its registered redirect URIs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct App {
    /// Its `client_id`.
    pub client_id: String,
    /// Its name, shown to people.
    #[serde(default)]
    pub name: String,
    /// Where the registry may send people back with a code (exact match).
    pub redirect_uris: Vec<String>,
    /// Where the registry may send people after signing out (exact match).
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
}

/// An identity provider people sign in at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityProvider {
    /// A short name (letters, digits, `-`): it prefixes the subjects of its people
    /// (`name|sub`) and picks it on the sign-in page (`?idp=name`).
    pub name: String,
    /// What people see on the sign-in page ("ID Gob.pe").
    #[serde(default)]
    pub title: String,
    /// Its OpenID Connect issuer; its configuration is read from
    /// `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// The registry's client id at the provider.
    pub client_id: String,
    /// The registry's client secret at the provider (`client_secret_basic`); prefer
    /// `client_secret_env`.
    #[serde(default)]
    pub client_secret: String,
    /// The environment variable holding the client secret, so the secret need not be
    /// written in the configuration file.
    #[serde(default)]
    pub client_secret_env: String,
    /// Scopes asked of the provider (`openid` is always asked).
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Which claims say what.
    #[serde(default)]
    pub claims: ClaimNames,
    /// The roles this provider may vouch for, named on purpose (no default): a
    /// hospital's provider vouches for its clinicians (`["clinician"]`), the State's for
    /// patients and perhaps clinicians, never by omission for auditors or administrators.
    pub roles: Vec<Role>,
    /// The RENIPRESS codes of the IPRESS whose clinicians this provider may vouch for;
    /// empty: any.
    #[serde(default)]
    pub ipress: Vec<String>,
}

fn default_scopes() -> Vec<String> {
    vec!["openid".to_owned(), "profile".to_owned()]
}

/// Every role a provider may vouch for (tests).
#[cfg(test)]
fn every_role() -> Vec<Role> {
    vec![Role::Patient, Role::Clinician, Role::Auditor, Role::Admin]
}

/// The names of the claims that describe a person. Empty: not used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClaimNames {
    /// The person's name.
    pub name: String,
    /// An identity-document key, `kind|country|number` (`1|PER|45678912`).
    pub document: String,
    /// A bare DNI number (as ID Gob.pe gives it): the document `1|PER|number`.
    pub dni: String,
    /// The colegiatura key, `college|number` (`01|012345`).
    pub colegiatura: String,
    /// The RENIPRESS code of the clinician's IPRESS.
    pub renipress: String,
    /// A string or array of strings naming the person's roles in the registry.
    pub roles: String,
    /// The value of `roles` that makes an auditor.
    pub auditor_role: String,
    /// The value of `roles` that makes an administrator.
    pub admin_role: String,
}

impl Default for ClaimNames {
    fn default() -> Self {
        Self {
            name: "name".to_owned(),
            document: String::new(),
            dni: "dni".to_owned(),
            colegiatura: "colegiatura".to_owned(),
            renipress: "renipress".to_owned(),
            roles: "roles".to_owned(),
            auditor_role: "renhice-auditor".to_owned(),
            admin_role: "renhice-admin".to_owned(),
        }
    }
}

impl IdentityProvider {
    /// The client secret: from `client_secret_env` if named, else `client_secret`.
    #[must_use]
    pub fn secret(&self) -> String {
        if !self.client_secret_env.is_empty()
            && let Ok(secret) = std::env::var(&self.client_secret_env)
        {
            return secret;
        }
        self.client_secret.clone()
    }

    /// The name shown to people.
    #[must_use]
    pub fn title(&self) -> &str {
        if self.title.is_empty() {
            &self.name
        } else {
            &self.title
        }
    }
}

/// A signed-in person as the registry recognises them: fixed for a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// `provider|sub`.
    pub subject: String,
    /// Their name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Identity-document key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    /// Colegiatura key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colegiatura: Option<String>,
    /// RENIPRESS code of their IPRESS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renipress: Option<String>,
    /// The professional roles the provider vouches for (clinician, auditor, admin).
    #[serde(default)]
    pub roles: Vec<Role>,
}

/// Why a signed-in person cannot act in the registry: said to them, in Spanish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotRecognised(pub String);

fn text(claims: &Map<String, Value>, name: &str) -> Option<String> {
    if name.is_empty() {
        return None;
    }
    claims
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn values(claims: &Map<String, Value>, name: &str) -> Vec<String> {
    if name.is_empty() {
        return Vec::new();
    }
    match claims.get(name) {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// The person a provider's claims (ID token and userinfo, merged) describe.
pub fn recognise(
    provider: &IdentityProvider,
    claims: &Map<String, Value>,
) -> Result<Person, NotRecognised> {
    let names = &provider.claims;
    let sub = text(claims, "sub")
        .ok_or_else(|| NotRecognised("el proveedor de identidad no dio un sujeto (sub)".into()))?;
    let document = text(claims, &names.document).or_else(|| {
        text(claims, &names.dni)
            .filter(|n| n.len() == 8 && n.bytes().all(|b| b.is_ascii_digit()))
            .map(|n| format!("1|PER|{n}"))
    });
    let colegiatura = text(claims, &names.colegiatura).filter(|c| c.contains('|'));
    let renipress =
        text(claims, &names.renipress).filter(|r| renhice_model::peru::Renipress::parse(r).is_ok());
    let asserted = values(claims, &names.roles);
    let mut roles = Vec::new();
    if !names.admin_role.is_empty() && asserted.contains(&names.admin_role) {
        roles.push(Role::Admin);
    }
    if !names.auditor_role.is_empty() && asserted.contains(&names.auditor_role) {
        roles.push(Role::Auditor);
    }
    let ipress_allowed =
        |code: &str| provider.ipress.is_empty() || provider.ipress.iter().any(|c| c == code);
    if let (Some(_), Some(code)) = (&colegiatura, &renipress)
        && ipress_allowed(code)
    {
        roles.push(Role::Clinician);
    }
    roles.retain(|r| provider.roles.contains(r));
    let document = document.filter(|_| provider.roles.contains(&Role::Patient));
    Ok(Person {
        subject: format!("{}|{sub}", provider.name),
        name: text(claims, &names.name),
        document,
        colegiatura,
        renipress,
        roles,
    })
}

impl Person {
    /// The professional role a `user/` sign-in acts in: the widest the person holds
    /// (administrator, then auditor, then clinician).
    pub fn professional_role(&self) -> Result<Role, NotRecognised> {
        [Role::Admin, Role::Auditor, Role::Clinician]
            .into_iter()
            .find(|r| self.roles.contains(r))
            .ok_or_else(|| {
                NotRecognised(
                    "su cuenta no tiene un rol profesional en el registro: un profesional de \
                     salud necesita su colegiatura y su IPRESS en el proveedor de identidad"
                        .to_owned(),
                )
            })
    }

    /// The identity document a `patient/` sign-in acts for.
    pub fn patient_document(&self) -> Result<&str, NotRecognised> {
        self.document.as_deref().ok_or_else(|| {
            NotRecognised(
                "su cuenta no tiene un documento de identidad que el registro reconozca (DNI)"
                    .to_owned(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use serde_json::json;

    use super::*;

    fn provider() -> IdentityProvider {
        IdentityProvider {
            name: "idgobpe".to_owned(),
            title: String::new(),
            issuer: "https://idp.example".to_owned(),
            client_id: "renhice".to_owned(),
            client_secret: String::new(),
            client_secret_env: String::new(),
            scopes: default_scopes(),
            claims: ClaimNames::default(),
            roles: every_role(),
            ipress: Vec::new(),
        }
    }

    fn claims(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(map) => map,
            other => panic!("claims are an object: {other}"),
        }
    }

    #[test]
    fn a_clinician_needs_a_colegiatura_and_an_ipress() {
        let p = recognise(
            &provider(),
            &claims(
                json!({"sub": "a1", "name": "Dra. Rosa", "colegiatura": "01|012345",
                "renipress": "00012345", "dni": "40123456"}),
            ),
        )
        .unwrap();
        assert_eq!(p.subject, "idgobpe|a1");
        assert_eq!(p.professional_role().unwrap(), Role::Clinician);
        assert_eq!(p.patient_document().unwrap(), "1|PER|40123456");
        let no_ipress = recognise(
            &provider(),
            &claims(json!({"sub": "a1", "colegiatura": "01|1"})),
        )
        .unwrap();
        assert!(no_ipress.professional_role().is_err());
        let bad_ipress = recognise(
            &provider(),
            &claims(json!({"sub": "a1", "colegiatura": "01|1", "renipress": "12"})),
        )
        .unwrap();
        assert!(bad_ipress.professional_role().is_err());
    }

    #[test]
    fn a_provider_vouches_only_for_its_roles_and_ipress() {
        let mut hospital = provider();
        hospital.roles = vec![Role::Clinician];
        hospital.ipress = vec!["00012345".to_owned()];
        let auditor = recognise(
            &hospital,
            &claims(json!({"sub": "x", "roles": ["renhice-auditor"], "dni": "41234567"})),
        )
        .unwrap();
        assert!(auditor.professional_role().is_err(), "not an auditor here");
        assert!(auditor.patient_document().is_err(), "nor a patient");
        let elsewhere = recognise(
            &hospital,
            &claims(json!({"sub": "y", "colegiatura": "01|2", "renipress": "00067890"})),
        )
        .unwrap();
        assert!(elsewhere.professional_role().is_err(), "another IPRESS");
    }

    #[test]
    fn roles_rank_administrator_auditor_clinician() {
        let p = recognise(
            &provider(),
            &claims(json!({"sub": "z", "roles": "renhice-auditor renhice-admin"})),
        )
        .unwrap();
        assert_eq!(p.professional_role().unwrap(), Role::Admin);
        let none = recognise(&provider(), &claims(json!({"sub": "z", "dni": "1234"}))).unwrap();
        assert!(none.patient_document().is_err(), "a DNI has eight digits");
        assert!(recognise(&provider(), &claims(json!({"name": "x"}))).is_err());
    }
}
