//! `Patient/$record-locations`: where a patient's history lives, assembled from the
//! groups of index entries the store finds.
//!
//! The answer is a `Parameters` with one `location` per IPRESS holding current index
//! entries of the patient (and of every record merged into the patient), whose parts are
//! `organization` (a reference with the RENIPRESS identifier and the name as display),
//! `renipress`, `name`, `count`, `first` and `last` (the earliest and latest
//! `DocumentReference.date`, as UTC instants), one `type` per document type (a code
//! written with and without its display counts once, with it) and one `endpoint` per
//! endpoint of the IPRESS. IPRESS are ordered by their latest entry, newest first.

use std::collections::HashMap;

use renhice_model::Primitive;
use renhice_model::peru::{Renipress, url};
use renhice_model::resources::{
    Organization, Parameters, ParametersParameter, ParametersParameterValue, Resource,
};
use renhice_model::types::{Coding, Reference};
use renhice_model::values::DateTime;
use renhice_store::records::LocationGroup;
use serde_json::Value;

/// One IPRESS's part of the answer.
#[derive(Default)]
struct Location {
    count: i64,
    first: Option<i64>,
    last: Option<i64>,
    types: Vec<Coding>,
}

fn part(name: &str, value: ParametersParameterValue) -> ParametersParameter {
    ParametersParameter {
        name: Some(name.into()),
        value: Some(value),
        ..ParametersParameter::default()
    }
}

/// The codings a record entry's `types` column holds.
fn codings(types: &str) -> Vec<Coding> {
    let Ok(Value::Array(items)) = serde_json::from_str::<Value>(types) else {
        return Vec::new();
    };
    items
        .iter()
        .map(|item| {
            let text = |name: &str| item.get(name).and_then(Value::as_str);
            Coding {
                system: text("system").map(Into::into),
                code: text("code").map(Into::into),
                display: text("display").map(Into::into),
                ..Coding::default()
            }
        })
        .collect()
}

/// The answer of `$record-locations` from the groups of current entries the caller may
/// see, each with its IPRESS: one `location` per IPRESS, newest first; and, when the
/// caller's access left out the entries of `withheld` IPRESS (another IPRESS's entries
/// without the patient's consent, sensitive entries under emergency access),
/// `withheld` = true and an `outcome` (an `OperationOutcome` whose information issue
/// says how many IPRESS, not which, and how to get access), so that an answer never
/// reads as "no history elsewhere" when there is one.
#[must_use]
pub fn answer(groups: Vec<(LocationGroup, Option<Organization>)>, withheld: usize) -> Parameters {
    let mut by_ipress: HashMap<String, Location> = HashMap::new();
    let mut organizations: HashMap<String, Option<Organization>> = HashMap::new();
    for (group, organization) in groups {
        organizations
            .entry(group.custodian_id.clone())
            .or_insert(organization);
        let location = by_ipress.entry(group.custodian_id).or_default();
        location.count += group.count;
        location.first = [location.first, group.first].into_iter().flatten().min();
        location.last = [location.last, group.last].into_iter().flatten().max();
        for coding in codings(&group.types) {
            match location
                .types
                .iter_mut()
                .find(|c| c.system == coding.system && c.code == coding.code)
            {
                // The same code written with and without its display: keep the display.
                Some(known) if known.display.is_none() => *known = coding,
                Some(_) => {}
                None => location.types.push(coding),
            }
        }
    }
    let mut ordered: Vec<(String, Location)> = by_ipress.into_iter().collect();
    // Newest first; ties (and undated entries) in a stable order.
    ordered.sort_by(|(a_id, a), (b_id, b)| b.last.cmp(&a.last).then_with(|| a_id.cmp(b_id)));
    let mut parameter: Vec<ParametersParameter> = ordered
        .into_iter()
        .map(|(org_id, location)| {
            let organization = organizations.get(org_id.as_str()).and_then(Option::as_ref);
            location_parameter(&org_id, organization, location)
        })
        .collect();
    if withheld > 0 {
        parameter.push(part(
            "withheld",
            ParametersParameterValue::Boolean(Primitive::new(true)),
        ));
        parameter.push(ParametersParameter {
            name: Some("outcome".into()),
            resource: Some(withheld_outcome(withheld)),
            ..ParametersParameter::default()
        });
    }
    Parameters {
        parameter,
        ..Parameters::default()
    }
}

/// The `OperationOutcome` saying that the entries of `ipress` IPRESS were withheld
/// ([`crate::access::withheld_issue`]), as a resource of the model.
#[must_use]
pub fn withheld_outcome(ipress: usize) -> Resource {
    let outcome = renhice_model::OperationOutcome {
        id: None,
        issue: vec![crate::access::withheld_issue(ipress)],
    };
    let json = serde_json::to_vec(&outcome).unwrap_or_default();
    // The model reads back what it wrote; the fallback is never taken.
    Resource::from_json(&json).unwrap_or_else(|_| Resource::OperationOutcome(Box::default()))
}

fn location_parameter(
    org_id: &str,
    organization: Option<&Organization>,
    location: Location,
) -> ParametersParameter {
    let name = organization
        .and_then(|o| o.name.as_ref())
        .and_then(Primitive::as_str)
        .map(str::to_owned);
    let renipress = organization.and_then(|o| {
        o.identifier.iter().find(|i| {
            i.r#type.as_deref().is_some_and(|t| {
                t.coding
                    .iter()
                    .any(|c| c.system.as_ref().and_then(Primitive::as_str) == Some(url::CS_IPRESS))
            })
        })
    });
    let mut reference = Reference::to("Organization", org_id);
    if let Some(name) = &name {
        reference = reference.with_display(name);
    }
    if let Some(identifier) = renipress {
        reference.identifier = Some(Box::new(identifier.clone()));
    }
    let mut parts = vec![part(
        "organization",
        ParametersParameterValue::Reference(Box::new(reference)),
    )];
    if let Some(code) = renipress
        .and_then(|i| i.value_str())
        .and_then(|v| Renipress::parse(v).ok())
    {
        parts.push(part(
            "renipress",
            ParametersParameterValue::Identifier(Box::new(code.to_identifier())),
        ));
    }
    if let Some(name) = name {
        parts.push(part("name", ParametersParameterValue::String(name.into())));
    }
    parts.push(part(
        "count",
        ParametersParameterValue::Integer(i32::try_from(location.count).unwrap_or(i32::MAX).into()),
    ));
    for (label, value) in [("first", location.first), ("last", location.last)] {
        if let Some(micros) = value
            && let Ok(date) = DateTime::parse(crate::dates::instant_text(micros))
        {
            parts.push(part(
                label,
                ParametersParameterValue::DateTime(Primitive::new(date)),
            ));
        }
    }
    for coding in location.types {
        parts.push(part(
            "type",
            ParametersParameterValue::Coding(Box::new(coding)),
        ));
    }
    for endpoint in organization.iter().flat_map(|o| o.endpoint.iter()) {
        parts.push(part(
            "endpoint",
            ParametersParameterValue::Reference(Box::new(endpoint.clone())),
        ));
    }
    ParametersParameter {
        name: Some("location".into()),
        part: parts,
        ..ParametersParameter::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use renhice_model::resources::Resource;

    fn group(custodian: &str, types: &str, count: i64, first: i64, last: i64) -> LocationGroup {
        LocationGroup {
            custodian_id: custodian.to_owned(),
            types: types.to_owned(),
            count,
            first: Some(first),
            last: Some(last),
            sensitive: false,
        }
    }

    fn ipress(name: &str, code: &str) -> Organization {
        let json = format!(
            r#"{{"resourceType": "Organization", "name": "{name}",
                "identifier": [{{"type": {{"coding": [{{"system": "{}", "code": "IPRESS"}}]}}, "value": "{code}"}}],
                "endpoint": [{{"reference": "Endpoint/e1"}}]}}"#,
            url::CS_IPRESS
        );
        match Resource::from_json(json.as_bytes()) {
            Ok(Resource::Organization(o)) => *o,
            other => panic!("{other:?}"),
        }
    }

    fn parts<'a>(p: &'a ParametersParameter, name: &str) -> Vec<&'a ParametersParameter> {
        p.part
            .iter()
            .filter(|q| q.name.as_ref().and_then(Primitive::as_str) == Some(name))
            .collect()
    }

    const CONSULT: &str =
        r#"[{"system":"http://loinc.org","code":"11488-4","display":"Consult note"}]"#;
    const CONSULT_BARE: &str = r#"[{"system":"http://loinc.org","code":"11488-4"}]"#;

    #[test]
    fn one_location_per_ipress_newest_first() {
        let answer = answer(
            vec![
                (
                    group("a", CONSULT_BARE, 2, 10, 20),
                    Some(ipress("Hospital A", "00000001")),
                ),
                (
                    group("b", CONSULT, 1, 5, 50),
                    Some(ipress("Clínica B", "00000002")),
                ),
                (
                    group("a", CONSULT, 3, 1, 30),
                    Some(ipress("Hospital A", "00000001")),
                ),
            ],
            0,
        );
        assert_eq!(answer.parameter.len(), 2);
        let (b, a) = (&answer.parameter[0], &answer.parameter[1]);
        assert_eq!(
            parts(b, "name")[0].value,
            Some(ParametersParameterValue::String("Clínica B".into()))
        );
        assert_eq!(
            parts(a, "count")[0].value,
            Some(ParametersParameterValue::Integer(5.into()))
        );
        // The code written with and without its display counts once, with it.
        let types = parts(a, "type");
        assert_eq!(types.len(), 1);
        let Some(ParametersParameterValue::Coding(c)) = &types[0].value else {
            panic!("{types:?}")
        };
        assert_eq!(
            c.display.as_ref().and_then(Primitive::as_str),
            Some("Consult note")
        );
        let instant = |p: &ParametersParameter, name: &str| match &parts(p, name)[0].value {
            Some(ParametersParameterValue::DateTime(d)) => d.value().map(|v| v.as_str().to_owned()),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            instant(a, "first").as_deref(),
            Some("1970-01-01T00:00:00.000001Z")
        );
        assert_eq!(
            instant(a, "last").as_deref(),
            Some("1970-01-01T00:00:00.00003Z")
        );
        assert_eq!(parts(a, "renipress").len(), 1);
        assert_eq!(parts(a, "endpoint").len(), 1);
    }

    #[test]
    fn an_unknown_ipress_is_still_located() {
        let answer = answer(vec![(group("gone", "not json", 1, 1, 1), None)], 0);
        assert!(
            !answer
                .parameter
                .iter()
                .any(|p| p.name.as_ref().and_then(Primitive::as_str) == Some("withheld")),
            "withheld only when something was left out"
        );
        let told = super::answer(Vec::new(), 3);
        assert_eq!(told.parameter.len(), 2);
        assert_eq!(
            told.parameter[0].value,
            Some(ParametersParameterValue::Boolean(Primitive::new(true)))
        );
        let Some(Resource::OperationOutcome(outcome)) = &told.parameter[1].resource else {
            panic!("{told:?}")
        };
        let issue = &outcome.issue[0];
        assert_eq!(
            issue.code.as_ref().and_then(Primitive::as_str),
            Some("suppressed")
        );
        assert!(
            issue
                .diagnostics
                .as_ref()
                .and_then(Primitive::as_str)
                .is_some_and(|d| d.starts_with("3 IPRESS hold")),
            "{issue:?}"
        );
        let location = &answer.parameter[0];
        assert_eq!(parts(location, "organization").len(), 1);
        assert!(parts(location, "name").is_empty());
        assert!(parts(location, "type").is_empty());
    }
}
