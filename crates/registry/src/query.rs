//! A search's parameters, read into the store's criteria by the table of
//! [`crate::params`].
//!
//! Strings match case- and accent-insensitively by prefix. Commas separate alternatives.
//! `_count` (default 20, at most 200) sizes a page; the `next` link carries a `_cursor`
//! (the position of the last row returned), so pages do not shift when resources are
//! added. `_total=accurate` (or `estimate`) asks for `Bundle.total`. An unknown
//! parameter is refused unless the client asked for lenient handling, in which case it
//! is ignored and left out of the `self` link (FHIR R4 §3.1.1.1.5).

use renhice_store::search::{Criterion, Cursor, Match, Order};

use crate::params::{self, Kind};
use crate::{ResourceType, RuleError};

/// The page size when the client names none.
pub const DEFAULT_COUNT: usize = 20;
/// The largest page served.
pub const MAX_COUNT: usize = 200;

/// A parsed search.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    /// `patient.identifier` values, resolved to patients before searching.
    pub patient_identifiers: Vec<Match>,
    /// The criteria on the index.
    pub criteria: Vec<Criterion>,
    /// The parameters applied, for the `self` and `next` links.
    pub kept: Vec<(String, String)>,
    /// The page size.
    pub count: usize,
    /// The order of the results.
    pub order: Order,
    /// Where the page starts.
    pub after: Cursor,
    /// `_include=DocumentReference:custodian`.
    pub include_custodian: bool,
    /// `_total=accurate` or `estimate` (or `_summary=count`).
    pub total: bool,
    /// `_summary=count`: the total only, no entries.
    pub count_only: bool,
}

fn invalid(name: &str, message: String) -> RuleError {
    RuleError::invalid(name, message)
}

/// One value of a parameter of `kind`.
pub fn value(kind: Kind, name: &str, raw: &str) -> Result<Match, RuleError> {
    match kind {
        Kind::Reference(target) => {
            let target = target.as_str();
            let id = raw
                .strip_prefix(target)
                .and_then(|r| r.strip_prefix('/'))
                .unwrap_or(raw);
            if id.is_empty() || id.contains('/') {
                return Err(invalid(
                    name,
                    format!("{name} is a {target} id or {target}/id, got {raw:?}"),
                ));
            }
            Ok(Match::Reference {
                target_type: target.to_owned(),
                target_id: id.to_owned(),
            })
        }
        Kind::Token | Kind::PatientIdentifier => Ok(match raw.split_once('|') {
            Some((system, code)) => Match::Token {
                system: Some(system.to_owned()),
                code: code.to_owned(),
            },
            None => Match::Token {
                system: None,
                code: raw.to_owned(),
            },
        }),
        Kind::OfType => {
            let (system, code) = crate::conditional::of_type(name, raw)?;
            Ok(Match::Token {
                system: Some(system),
                code,
            })
        }
        Kind::String => {
            let value = crate::text::normalise_text(raw);
            if value.is_empty() {
                return Err(invalid(name, format!("{name} needs a value")));
            }
            Ok(Match::StringPrefix(value))
        }
        Kind::Date => crate::dates::search_value(name, raw),
    }
}

/// The `_cursor` of a next link: `key`, or `date_key` under a date order.
#[must_use]
pub fn cursor_text(cursor: Cursor) -> Option<String> {
    match cursor {
        Cursor::Start => None,
        Cursor::Key(k) => Some(k.to_string()),
        Cursor::DateKey(d, k) => Some(format!("{d}_{k}")),
    }
}

fn parse_cursor(raw: &str, order: Order) -> Result<Cursor, RuleError> {
    let bad = || {
        invalid(
            "_cursor",
            format!("_cursor {raw:?} is not a page cursor from a next link of this search"),
        )
    };
    match order {
        Order::Date { .. } => {
            let (d, k) = raw.split_once('_').ok_or_else(bad)?;
            Ok(Cursor::DateKey(
                d.parse().map_err(|_| bad())?,
                k.parse().map_err(|_| bad())?,
            ))
        }
        Order::Key | Order::KeyDescending => raw.parse().map(Cursor::Key).map_err(|_| bad()),
    }
}

/// A result parameter (`_sort`, `_include`, `_total`) applied to `request`; `false` if
/// the value is not offered.
fn result_parameter(
    resource_type: ResourceType,
    name: &str,
    raw: &str,
    request: &mut SearchRequest,
) -> bool {
    use ResourceType::{DocumentReference, List};
    match (name, raw) {
        ("_sort", "date" | "-date") if matches!(resource_type, DocumentReference | List) => {
            request.order = Order::Date {
                param: "date",
                descending: raw.starts_with('-'),
            };
        }
        ("_sort", "_lastUpdated" | "-_lastUpdated")
            if params::find(resource_type, "_lastUpdated").is_some() =>
        {
            request.order = Order::Date {
                param: "_lastUpdated",
                descending: raw.starts_with('-'),
            };
        }
        ("_include", "DocumentReference:custodian") if resource_type == DocumentReference => {
            request.include_custodian = true;
        }
        ("_total", "accurate" | "estimate") => request.total = true,
        ("_total", "none") => request.total = false,
        _ => return false,
    }
    request.kept.push((name.to_owned(), raw.to_owned()));
    true
}

/// `_summary`: `count` asks for the total only; the other values shape each resource
/// (the server's conventions do) and are kept for the links.
fn summary(raw: &str, request: &mut SearchRequest) -> Result<(), RuleError> {
    match raw {
        "count" => {
            request.count_only = true;
            request.total = true;
        }
        "true" | "text" | "data" | "false" => {}
        _ => {
            return Err(invalid(
                "_summary",
                format!("_summary={raw} is not one of true, text, data, count, false"),
            ));
        }
    }
    request.kept.push(("_summary".to_owned(), raw.to_owned()));
    Ok(())
}

/// Reads a search of `resource_type` from its parameters (query string and form body).
/// `lenient`: the client sent `Prefer: handling=lenient`.
pub fn parse(
    resource_type: ResourceType,
    pairs: &[(String, String)],
    lenient: bool,
) -> Result<SearchRequest, RuleError> {
    let mut request = SearchRequest {
        patient_identifiers: Vec::new(),
        criteria: Vec::new(),
        kept: Vec::new(),
        count: DEFAULT_COUNT,
        order: Order::Key,
        after: Cursor::Start,
        include_custodian: false,
        total: false,
        count_only: false,
    };
    let mut cursor = None;
    for (name, raw) in pairs {
        crate::text::checked_value(name, raw)?;
        match name.as_str() {
            "_count" => {
                request.count = raw
                    .parse::<usize>()
                    .map_err(|_| invalid("_count", format!("_count {raw:?} is not a number")))?
                    .min(MAX_COUNT);
                // No entries asked for: the count of them (as R5 defines `_count=0`).
                if request.count == 0 {
                    request.count_only = true;
                    request.total = true;
                }
            }
            "_cursor" => cursor = Some(raw.clone()),
            "_format" => {}
            // The answer's form (applied to each resource by the server's conventions,
            // `fhir::conventions`); kept for the links.
            "_summary" => summary(raw, &mut request)?,
            "_elements" => request.kept.push((name.clone(), raw.clone())),
            "_sort" | "_include" | "_total" => {
                if !result_parameter(resource_type, name, raw, &mut request) && !lenient {
                    return Err(invalid(
                        name,
                        format!(
                            "{name}={raw} is not offered on {resource_type} here (see /fhir/metadata); \
                             send Prefer: handling=lenient to have it ignored"
                        ),
                    ));
                }
            }
            _ => {
                let Some(param) = params::offered(resource_type, name) else {
                    if lenient {
                        continue;
                    }
                    return Err(invalid(
                        name,
                        format!(
                            "{name:?} is not a search parameter of {resource_type} here (see /fhir/metadata); \
                             send Prefer: handling=lenient to have unknown parameters ignored"
                        ),
                    ));
                };
                let values = raw
                    .split(',')
                    .map(|v| value(param.kind, name, v))
                    .collect::<Result<Vec<_>, _>>()?;
                request.kept.push((name.clone(), raw.clone()));
                if param.kind == Kind::PatientIdentifier {
                    request.patient_identifiers.extend(values);
                    continue;
                }
                request.criteria.push(Criterion {
                    param: param.index_name().to_owned(),
                    values,
                    narrow: param.narrows(),
                });
            }
        }
    }
    if let Some(raw) = cursor {
        request.after = parse_cursor(&raw, request.order)?;
    }
    let needs_patient = match resource_type {
        ResourceType::List => Some("an MHD SubmissionSet (ITI-66)"),
        ResourceType::Consent => Some("a PCF consent (ITI-108)"),
        ResourceType::DocumentReference => Some("an MHD document (ITI-67)"),
        _ => None,
    };
    if let Some(what) = needs_patient {
        let has = |p: &str| request.kept.iter().any(|(n, _)| n == p);
        if !(has("patient") || has("subject") || has("patient.identifier")) || !has("status") {
            return Err(invalid(
                "query",
                format!(
                    "{what} search names the patient (patient or patient.identifier) and the status"
                ),
            ));
        }
    }
    Ok(request)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ResourceType::{DocumentReference, Patient};

    /// A query string's pairs, undecoded (also for the other modules' tests).
    pub(crate) fn pairs(query: &str) -> Vec<(String, String)> {
        query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (n, v) = p.split_once('=').unwrap_or((p, ""));
                (n.to_owned(), v.to_owned())
            })
            .collect()
    }

    #[test]
    fn every_offered_parameter_reads_a_value_of_its_kind() {
        for p in params::PARAMS.iter().filter(|p| p.offered()) {
            let sample = match p.kind {
                Kind::Token | Kind::PatientIdentifier => "http://x|a",
                Kind::OfType => "http://x|t|v",
                Kind::String => "Quispe",
                Kind::Date => "ge2026-03",
                Kind::Reference(_) => "abc",
            };
            assert!(
                value(p.kind, p.name, sample).is_ok(),
                "{}.{} refuses {sample}",
                p.resource,
                p.name
            );
        }
    }

    #[test]
    fn aliases_and_chains_land_on_their_index() {
        let r = parse(
            DocumentReference,
            &pairs("subject=Patient/p1&status=current&patient.identifier=x|1"),
            false,
        )
        .unwrap();
        assert_eq!(r.criteria[0].param, "patient");
        assert_eq!(r.patient_identifiers.len(), 1);
        assert_eq!(r.kept.len(), 3);
    }

    #[test]
    fn document_searches_name_the_patient_and_status() {
        let e = parse(DocumentReference, &pairs("status=current"), false).unwrap_err();
        assert_eq!(e.path(), "query");
    }

    #[test]
    fn unknown_and_internal_parameters_are_refused_unless_lenient() {
        for q in ["nickname=x", "identity-key=1|PER|1", "_sort=family"] {
            let e = parse(Patient, &pairs(q), false).unwrap_err();
            assert_eq!(Some(e.path()), q.split('=').next(), "{q}");
            let r = parse(Patient, &pairs(q), true).unwrap();
            assert!(r.kept.is_empty() && r.criteria.is_empty(), "{q}");
        }
    }

    #[test]
    fn counts_cursors_and_order() {
        let r = parse(
            DocumentReference,
            &pairs("patient=p&status=current&_count=1000&_sort=-date&_cursor=5_7"),
            false,
        )
        .unwrap();
        assert_eq!(r.count, MAX_COUNT);
        assert_eq!(r.after, Cursor::DateKey(5, 7));
        assert_eq!(cursor_text(r.after).as_deref(), Some("5_7"));
        let e = parse(Patient, &pairs("_cursor=5_7"), false).unwrap_err();
        assert_eq!(e.path(), "_cursor");
        assert_eq!(
            parse(Patient, &pairs("_count=x"), false)
                .unwrap_err()
                .path(),
            "_count"
        );
    }

    #[test]
    fn strings_are_folded_and_dates_bounded() {
        let r = parse(Patient, &pairs("family=HUAMÁN&birthdate=2000"), false).unwrap();
        assert_eq!(
            r.criteria[0].values,
            [Match::StringPrefix("huaman".to_owned())]
        );
        assert!(matches!(r.criteria[1].values[0], Match::Date { .. }));
        assert_eq!(
            parse(Patient, &pairs("given="), false).unwrap_err().path(),
            "given"
        );
    }
}
