//! Conditional interactions: the criterion of a conditional update (PIXm ITI-104) and
//! the version an `If-Match` names.

use crate::RuleError;
use crate::text::normalise_of_type_value;

/// The search criterion of a conditional update: one identifier, by `system|value`,
/// by value alone, or by `identifier:of-type=type-system|type-code|value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentifierCriterion {
    /// The token parameter the index holds it under.
    pub param: &'static str,
    /// The identifier's system (for `of-type`: `type-system|type-code`).
    pub system: Option<String>,
    /// The identifier's value (normalised for identity documents).
    pub value: String,
}

/// The criterion of a conditional update from its query's parameters.
pub fn identifier_criterion(pairs: &[(String, String)]) -> Result<IdentifierCriterion, RuleError> {
    let [(name, raw)] = pairs else {
        return Err(RuleError::invalid(
            "query",
            "a conditional update takes exactly one criterion: identifier=[system|]value \
             or identifier:of-type=type-system|type-code|value",
        ));
    };
    crate::text::checked_value(name, raw)?;
    let invalid = |message: String| RuleError::invalid(name.clone(), message);
    match name.as_str() {
        "identifier" => {
            let (system, value) = match raw.split_once('|') {
                Some((system, value)) => (Some(system.to_owned()), value.to_owned()),
                None => (None, raw.clone()),
            };
            if value.is_empty() {
                return Err(invalid("identifier needs a value".to_owned()));
            }
            Ok(IdentifierCriterion {
                param: "identifier",
                system: system.filter(|s| !s.is_empty()),
                value,
            })
        }
        "identifier:of-type" => {
            let (system, value) = of_type(name, raw)?;
            Ok(IdentifierCriterion {
                param: "identifier:of-type",
                system: Some(system),
                value,
            })
        }
        other => Err(invalid(format!(
            "{other:?} does not name an identifier; use identifier or identifier:of-type"
        ))),
    }
}

/// An `identifier:of-type` value `type-system|type-code|value` as the index holds it:
/// system `type-system|type-code`, the value normalised.
pub fn of_type(name: &str, raw: &str) -> Result<(String, String), RuleError> {
    let mut parts = raw.splitn(3, '|');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(ts), Some(tc), Some(value))
            if !ts.is_empty() && !tc.is_empty() && !value.is_empty() =>
        {
            Ok((format!("{ts}|{tc}"), normalise_of_type_value(ts, value)))
        }
        (Some(_), Some(_), Some(_)) => Err(RuleError::invalid(
            name,
            format!("{name} needs a type system, a type code and a value, got {raw:?}"),
        )),
        _ => Err(RuleError::invalid(
            name,
            format!("{name} is type-system|type-code|value, got {raw:?}"),
        )),
    }
}

/// The version an `If-Match` value (a header, or a batch entry's `request.ifMatch`)
/// names: `W/"3"`, `"3"` or `3`.
pub fn if_match(value: Option<&str>) -> Result<Option<i64>, RuleError> {
    let Some(text) = value.map(str::trim) else {
        return Ok(None);
    };
    let inner = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    inner.parse::<i64>().map(Some).map_err(|_| {
        RuleError::invalid(
            "If-Match",
            format!("If-Match {text:?} is not a version ETag such as W/\"3\""),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use renhice_model::peru::url;

    fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
        query
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn identifier_with_and_without_system() {
        let c = identifier_criterion(&pairs(&[("identifier", "http://x|A1")])).unwrap();
        assert_eq!(
            (c.param, c.system.as_deref(), c.value.as_str()),
            ("identifier", Some("http://x"), "A1")
        );
        let c = identifier_criterion(&pairs(&[("identifier", "|A1")])).unwrap();
        assert_eq!(c.system, None);
        let c = identifier_criterion(&pairs(&[("identifier", "A1")])).unwrap();
        assert_eq!(c.system, None);
        assert_eq!(
            identifier_criterion(&pairs(&[("identifier", "x|")]))
                .unwrap_err()
                .path(),
            "identifier"
        );
    }

    #[test]
    fn identity_documents_by_type_are_normalised() {
        let raw = format!("{}|3|ve1234567", url::CS_IDS_PERSONA);
        let c = identifier_criterion(&pairs(&[("identifier:of-type", &raw)])).unwrap();
        assert_eq!(c.system, Some(format!("{}|3", url::CS_IDS_PERSONA)));
        assert_eq!(c.value, "VE1234567");
        for bad in ["a|b", "a||v", "|b|v"] {
            let e = identifier_criterion(&pairs(&[("identifier:of-type", bad)])).unwrap_err();
            assert_eq!(e.path(), "identifier:of-type", "{bad}");
        }
    }

    #[test]
    fn exactly_one_known_criterion() {
        assert_eq!(identifier_criterion(&[]).unwrap_err().path(), "query");
        let two = pairs(&[("identifier", "a"), ("identifier", "b")]);
        assert_eq!(identifier_criterion(&two).unwrap_err().path(), "query");
        let other = pairs(&[("family", "quispe")]);
        assert_eq!(identifier_criterion(&other).unwrap_err().path(), "family");
    }

    #[test]
    fn if_match_forms() {
        assert_eq!(if_match(None), Ok(None));
        assert_eq!(if_match(Some("W/\"3\"")), Ok(Some(3)));
        assert_eq!(if_match(Some(" \"12\" ")), Ok(Some(12)));
        assert_eq!(if_match(Some("7")), Ok(Some(7)));
        assert_eq!(if_match(Some("W/\"x\"")).unwrap_err().path(), "If-Match");
        assert!(if_match(Some("")).is_err());
    }

    proptest! {
        #[test]
        fn every_version_round_trips_through_an_etag(v in 0i64..i64::MAX) {
            prop_assert_eq!(if_match(Some(&format!("W/\"{v}\""))), Ok(Some(v)));
        }
    }
}
