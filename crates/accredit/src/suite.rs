//! A suite: a FHIR R4 `TestScript`, held to R4 and to what the runner can do when loaded.

use std::collections::HashSet;
use std::path::Path;

use renhice_model::IssueSeverity;
use renhice_validator::Validator;
use serde_json::Value;

use crate::{AccreditError, SUITES};

/// A loaded, valid suite.
#[derive(Debug, Clone)]
pub struct Suite {
    name: String,
    script: Value,
}

/// A variable of a suite, as a caller is asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    /// Its name (`${name}` in the suite).
    pub name: String,
    /// What it is.
    pub description: String,
    /// Its default value, if the suite has one.
    pub default: Option<String>,
    /// Whether the suite reads it from an earlier answer (then it is never asked for).
    pub derived: bool,
}

impl Variable {
    /// Whether the caller must give it.
    #[must_use]
    pub const fn required(&self) -> bool {
        self.default.is_none() && !self.derived
    }
}

pub(crate) fn text_of(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

impl Suite {
    /// A compiled-in suite ([`SUITES`]) by name.
    ///
    /// # Errors
    /// [`AccreditError::NoSuite`] for an unknown name; [`AccreditError::BadSuite`] if the
    /// suite does not hold to R4.
    pub fn named(name: &str) -> Result<Self, AccreditError> {
        let (name, text) = SUITES
            .iter()
            .find(|(known, _)| *known == name)
            .ok_or_else(|| AccreditError::NoSuite {
                name: name.to_owned(),
                known: known_names(),
            })?;
        Self::parse(name, text)
    }

    /// A compiled-in suite by name, or else a `TestScript` JSON file.
    ///
    /// # Errors
    /// As [`Suite::named`], and [`AccreditError::Unreadable`] for a file that cannot be
    /// read.
    pub fn load(name_or_path: &str) -> Result<Self, AccreditError> {
        if SUITES.iter().any(|(name, _)| *name == name_or_path) {
            return Self::named(name_or_path);
        }
        let path = Path::new(name_or_path);
        if !path.exists() {
            return Err(AccreditError::NoSuite {
                name: name_or_path.to_owned(),
                known: known_names(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|source| AccreditError::Unreadable {
            path: path.to_owned(),
            source,
        })?;
        let name = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or(name_or_path);
        Self::parse(name, &text)
    }

    /// Every compiled-in suite.
    ///
    /// # Errors
    /// [`AccreditError::BadSuite`] if one does not hold to R4 (a build that should not
    /// have passed its tests).
    pub fn all() -> Result<Vec<Self>, AccreditError> {
        SUITES
            .iter()
            .map(|(name, text)| Self::parse(name, text))
            .collect()
    }

    fn parse(name: &str, text: &str) -> Result<Self, AccreditError> {
        let bad = |reason: String| AccreditError::BadSuite {
            name: name.to_owned(),
            reason,
        };
        let script: Value =
            serde_json::from_str(text).map_err(|error| bad(format!("not JSON: {error}")))?;
        if script["resourceType"] != "TestScript" {
            return Err(bad("not a TestScript".into()));
        }
        // A suite is FHIR: it is held to R4 (and the profiles it names must be known).
        let errors: Vec<String> = Validator::renhice()
            .validate(&script)
            .into_iter()
            .filter(|issue| matches!(issue.severity, IssueSeverity::Error | IssueSeverity::Fatal))
            .map(|issue| {
                format!(
                    "{}: {}",
                    issue.expression.join(","),
                    issue.diagnostics.unwrap_or_default()
                )
            })
            .collect();
        if !errors.is_empty() {
            return Err(bad(format!(
                "not a valid TestScript:\n  {}",
                errors.join("\n  ")
            )));
        }
        Ok(Self {
            name: name.to_owned(),
            script,
        })
    }

    /// Its name (the compiled-in name, or the file's stem).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its `title`.
    #[must_use]
    pub fn title(&self) -> String {
        text_of(&self.script, "title")
    }

    /// Its `description`.
    #[must_use]
    pub fn description(&self) -> String {
        text_of(&self.script, "description")
    }

    /// Its canonical `url`.
    #[must_use]
    pub fn url(&self) -> String {
        text_of(&self.script, "url")
    }

    /// How many tests it has.
    #[must_use]
    pub fn tests(&self) -> usize {
        self.script["test"].as_array().map_or(0, Vec::len)
    }

    /// The `TestScript`.
    #[must_use]
    pub const fn script(&self) -> &Value {
        &self.script
    }

    /// Its variables, in the suite's order.
    #[must_use]
    pub fn variables(&self) -> Vec<Variable> {
        self.script["variable"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|variable| Variable {
                name: text_of(variable, "name"),
                description: text_of(variable, "description"),
                default: variable["defaultValue"].as_str().map(str::to_owned),
                derived: variable.get("sourceId").is_some()
                    || variable.get("expression").is_some()
                    || variable.get("headerField").is_some(),
            })
            .collect()
    }

    /// Refuses values for variables the suite does not have, and a missing value for one
    /// it needs: checked before anything is sent, so a run never stops half-way for it.
    ///
    /// # Errors
    /// [`AccreditError::UnknownVariable`], [`AccreditError::MissingVariable`].
    pub fn check_variables(&self, given: &[(String, String)]) -> Result<(), AccreditError> {
        let variables = self.variables();
        let names: HashSet<&str> = variables.iter().map(|v| v.name.as_str()).collect();
        if let Some((unknown, _)) = given
            .iter()
            .find(|(name, _)| !names.contains(name.as_str()))
        {
            let mut known: Vec<&str> = names.into_iter().collect();
            known.sort_unstable();
            return Err(AccreditError::UnknownVariable {
                name: unknown.clone(),
                known: if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                },
            });
        }
        let given: HashSet<&str> = given
            .iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, _)| name.as_str())
            .collect();
        if let Some(missing) = variables
            .iter()
            .find(|v| v.required() && !given.contains(v.name.as_str()))
        {
            return Err(AccreditError::MissingVariable {
                name: missing.name.clone(),
                description: missing.description.clone(),
            });
        }
        Ok(())
    }
}

fn known_names() -> String {
    SUITES
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_compiled_in_suite_loads() {
        let suites = Suite::all().unwrap();
        assert_eq!(suites.len(), SUITES.len());
        for suite in suites {
            assert!(suite.tests() > 0, "{}", suite.name());
            assert!(!suite.title().is_empty(), "{}", suite.name());
        }
    }

    #[test]
    fn variables_are_checked_before_a_run() {
        let suite = Suite::named("registro-envio").unwrap();
        let required: Vec<String> = suite
            .variables()
            .into_iter()
            .filter(Variable::required)
            .map(|v| v.name)
            .collect();
        assert_eq!(required, ["ipressId", "patientId"]);
        let err = suite
            .check_variables(&[("ipressId".into(), "1".into())])
            .unwrap_err();
        assert!(
            matches!(&err, AccreditError::MissingVariable { name, .. } if name == "patientId"),
            "{err}"
        );
        let err = suite
            .check_variables(&[("pacienteId".into(), "1".into())])
            .unwrap_err();
        assert!(
            matches!(&err, AccreditError::UnknownVariable { name, .. } if name == "pacienteId"),
            "{err}"
        );
        suite
            .check_variables(&[
                ("ipressId".into(), "1".into()),
                ("patientId".into(), "2".into()),
            ])
            .unwrap();
        // A suite whose variables all have defaults needs none.
        Suite::named("sihce-basico")
            .unwrap()
            .check_variables(&[])
            .unwrap();
    }

    #[test]
    fn an_unknown_suite_names_the_known_ones() {
        let err = Suite::load("no-such-suite").unwrap_err();
        assert!(err.to_string().contains("registro-envio"), "{err}");
    }
}
