//! What the registry requires of the identity resources it stores, and what it extracts
//! from them for search and uniqueness.
//!
//! - A `Patient` must carry at least one identity document typed in `IdspersonaPeru`
//!   (DNI, carné de extranjería, passport, foreign document) with a valid number and, for
//!   documents issued abroad, the issuing country (`pe-pais`). Each document is a unique
//!   key `kind|country|number`, so no two current patients share one. A patient merged
//!   into another (`active: false` with a `replaced-by` link) claims no keys: the
//!   surviving record carries them.
//! - An `Organization` (an IPRESS) must carry its RENIPRESS code: an identifier typed in
//!   `IPRESSCS` whose value is the 8-digit code, unique among organizations.
//!
//! Violations are 422 answers naming the element (`Patient.identifier[1]`).

use renhice_model::Primitive;
use renhice_model::peru::{PersonId, Renipress, url};
use renhice_model::resources::{Organization, Patient, Resource};
use renhice_model::types::Identifier;
use renhice_model::values::{DateParts, Precision};
use renhice_store::resources::{DateEntry, SearchIndex, StringEntry, TokenEntry};
use unicode_normalization::UnicodeNormalization;

use crate::ApiError;

/// What a checked resource contributes to the database besides its JSON.
#[derive(Debug, Default)]
pub(crate) struct Extracted {
    /// Search values.
    pub(crate) index: SearchIndex,
    /// Unique business keys.
    pub(crate) unique_keys: Vec<String>,
    /// What an active Consent grants.
    pub(crate) grants: Vec<renhice_store::consents::ConsentGrant>,
}

/// The token search parameter under which identity-document keys are indexed.
pub(crate) const IDENTITY_KEY_PARAM: &str = "identity-key";

/// The token parameter behind `identifier:of-type`: system `{type system}|{type code}`,
/// code the identifier's value (normalised for identity documents).
pub(crate) const OF_TYPE_PARAM: &str = "identifier:of-type";

/// Checks a resource against the registry's rules and extracts its index and keys.
pub(crate) fn check(resource: &Resource) -> Result<Extracted, ApiError> {
    match resource {
        Resource::Patient(p) => patient(p),
        Resource::Organization(o) => organization(o),
        Resource::Consent(c) => super::consent::check(c),
        _ => Ok(Extracted::default()),
    }
}

pub(crate) fn identifier_tokens(identifiers: &[Identifier], index: &mut SearchIndex) {
    for identifier in identifiers {
        let Some(value) = identifier.value_str() else {
            continue;
        };
        index.tokens.push(TokenEntry {
            param: "identifier".to_owned(),
            system: identifier.system_str().map(str::to_owned),
            code: value.to_owned(),
        });
        // Identity documents are found by their normalised number however they were
        // spelled (`ve1234567` and `VE1234567` are one passport).
        let value = match PersonId::from_identifier(identifier) {
            Ok(Some(id)) => id.value().to_owned(),
            _ => value.to_owned(),
        };
        for coding in identifier.r#type.iter().flat_map(|t| &t.coding) {
            if let (Some(system), Some(code)) = (
                coding.system.as_ref().and_then(Primitive::as_str),
                coding.code.as_ref().and_then(Primitive::as_str),
            ) {
                index.tokens.push(TokenEntry {
                    param: OF_TYPE_PARAM.to_owned(),
                    system: Some(format!("{system}|{code}")),
                    code: value.clone(),
                });
            }
        }
    }
}

/// Normalises the value of an `identifier:of-type` search the way [`identifier_tokens`]
/// indexed it.
pub(crate) fn normalise_of_type_value(type_system: &str, value: &str) -> String {
    if type_system == url::CS_IDS_PERSONA {
        value.trim().to_ascii_uppercase()
    } else {
        value.to_owned()
    }
}

/// Normalises text for string search: accents removed (NFD, combining marks dropped),
/// lower case, runs of whitespace as one space, trimmed. `Huamán` and `HUAMAN` are one.
pub(crate) fn normalise_text(text: &str) -> String {
    let folded: String = text
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn push_string(index: &mut SearchIndex, param: &str, text: &str) {
    let value = normalise_text(text);
    if !value.is_empty()
        && !index
            .strings
            .iter()
            .any(|s| s.param == param && s.value == value)
    {
        index.strings.push(StringEntry {
            param: param.to_owned(),
            value,
        });
    }
}

/// The closed range of microseconds a date of some precision covers (UTC).
pub(crate) fn date_range(parts: &DateParts) -> Option<(i64, i64)> {
    use time::{Date, Month};
    let year = i32::from(parts.year);
    let (first, last) = match parts.precision {
        Precision::Year => (
            Date::from_calendar_date(year, Month::January, 1).ok()?,
            Date::from_calendar_date(year, Month::December, 31).ok()?,
        ),
        Precision::Month => {
            let month = Month::try_from(parts.month?).ok()?;
            let first = Date::from_calendar_date(year, month, 1).ok()?;
            let next = if month == Month::December {
                Date::from_calendar_date(year + 1, Month::January, 1).ok()?
            } else {
                Date::from_calendar_date(year, month.next(), 1).ok()?
            };
            (first, next.previous_day()?)
        }
        _ => {
            let day =
                Date::from_calendar_date(year, Month::try_from(parts.month?).ok()?, parts.day?)
                    .ok()?;
            (day, day)
        }
    };
    let start = first.midnight().assume_utc().unix_timestamp() * 1_000_000;
    let end = (last.next_day()?.midnight().assume_utc().unix_timestamp()) * 1_000_000 - 1;
    Some((start, end))
}

/// The closed range of microseconds a dateTime covers: the instant itself when a time
/// is given (at its offset), otherwise the whole year, month or day (UTC).
pub(crate) fn datetime_range(parts: &DateParts) -> Option<(i64, i64)> {
    let Some(t) = parts.time else {
        return date_range(parts);
    };
    let date = time::Date::from_calendar_date(
        i32::from(parts.year),
        time::Month::try_from(parts.month?).ok()?,
        parts.day?,
    )
    .ok()?;
    // A leap second (60) counts as the last second of its minute.
    let clock =
        time::Time::from_hms_nano(t.hour, t.minute, t.second.min(59), t.nanos.unwrap_or(0)).ok()?;
    let offset =
        time::UtcOffset::from_whole_seconds(i32::from(parts.offset_minutes.unwrap_or(0)) * 60)
            .ok()?;
    let at = time::PrimitiveDateTime::new(date, clock).assume_offset(offset);
    let micros = i64::try_from(at.unix_timestamp_nanos() / 1000).ok()?;
    Some((micros, micros))
}

/// PDQm: `family` matches the whole family name and each surname in it, so either
/// apellido finds the patient; the HL7 fathers/mothers-family extensions too.
fn name_index(p: &Patient, index: &mut SearchIndex) {
    for name in &p.name {
        if let Some(family) = &name.family {
            if let Some(text) = family.as_str() {
                push_string(index, "family", text);
                for part in text.split_whitespace() {
                    push_string(index, "family", part);
                }
            }
            for ext in family.extensions() {
                if let Some(renhice_model::types::ExtensionValue::String(v)) = &ext.value
                    && let Some(text) = v.as_str()
                {
                    push_string(index, "family", text);
                }
            }
        }
        for given in &name.given {
            if let Some(text) = given.as_str() {
                push_string(index, "given", text);
            }
        }
    }
}

fn patient(p: &Patient) -> Result<Extracted, ApiError> {
    let mut out = Extracted::default();
    identifier_tokens(&p.identifier, &mut out.index);
    name_index(p, &mut out.index);
    if let Some(gender) = p.gender.as_ref().and_then(Primitive::as_str) {
        out.index.tokens.push(TokenEntry {
            param: "gender".to_owned(),
            system: None,
            code: gender.to_owned(),
        });
    }
    if let Some((low, high)) = p
        .birth_date
        .as_ref()
        .and_then(Primitive::value)
        .and_then(|d| date_range(&d.parts()))
    {
        out.index.dates.push(DateEntry {
            param: "birthdate".to_owned(),
            low,
            high,
        });
    }
    // Where a merged record points, so the survivor's record locations include its
    // documents.
    for link in &p.link {
        if link.r#type.as_ref().and_then(Primitive::as_str) == Some("replaced-by")
            && let Some(target) = link
                .other
                .as_deref()
                .and_then(|o| o.reference_str())
                .and_then(|r| r.strip_prefix("Patient/"))
        {
            out.index
                .references
                .push(renhice_store::resources::ReferenceEntry {
                    param: "replaced-by".to_owned(),
                    target_type: "Patient".to_owned(),
                    target_id: target.to_owned(),
                });
        }
    }
    let merged = p.active.as_ref().and_then(Primitive::value) == Some(&false)
        && p.link
            .iter()
            .any(|l| l.r#type.as_ref().and_then(Primitive::as_str) == Some("replaced-by"));
    for (i, identifier) in p.identifier.iter().enumerate() {
        match PersonId::from_identifier(identifier) {
            Ok(Some(id)) => {
                out.index.tokens.push(TokenEntry {
                    param: IDENTITY_KEY_PARAM.to_owned(),
                    system: None,
                    code: id.key(),
                });
                if !merged {
                    out.unique_keys.push(id.key());
                }
            }
            Ok(None) => {}
            Err(e) => {
                return Err(ApiError::Unprocessable {
                    path: format!("Patient.identifier[{i}]"),
                    message: e.to_string(),
                });
            }
        }
    }
    if out
        .index
        .tokens
        .iter()
        .all(|t| t.param != IDENTITY_KEY_PARAM)
    {
        return Err(ApiError::Unprocessable {
            path: "Patient.identifier".to_owned(),
            message: format!(
                "a patient needs at least one identity document: an identifier whose type is \
                 coded in {} (1 DNI, 2 carné de extranjería, 3 pasaporte, 4 foreign document)",
                url::CS_IDS_PERSONA
            ),
        });
    }
    // One document listed twice is one key, not a conflict with itself.
    out.unique_keys.sort();
    out.unique_keys.dedup();
    Ok(out)
}

fn organization(o: &Organization) -> Result<Extracted, ApiError> {
    let mut out = Extracted::default();
    identifier_tokens(&o.identifier, &mut out.index);
    for (i, identifier) in o.identifier.iter().enumerate() {
        let typed_ipress = identifier.r#type.as_deref().is_some_and(|t| {
            t.coding
                .iter()
                .any(|c| c.system.as_ref().and_then(Primitive::as_str) == Some(url::CS_IPRESS))
        });
        if !typed_ipress {
            continue;
        }
        let value = identifier.value_str().unwrap_or_default();
        let code = Renipress::parse(value).map_err(|e| ApiError::Unprocessable {
            path: format!("Organization.identifier[{i}].value"),
            message: e.to_string(),
        })?;
        out.index.tokens.push(TokenEntry {
            param: "renipress".to_owned(),
            system: None,
            code: code.as_str().to_owned(),
        });
        out.unique_keys.push(format!("renipress|{code}"));
    }
    if out.unique_keys.is_empty() {
        return Err(ApiError::Unprocessable {
            path: "Organization.identifier".to_owned(),
            message: format!(
                "an IPRESS needs its RENIPRESS code: an identifier whose type is coded in {} \
                 and whose value is the 8-digit code",
                url::CS_IPRESS
            ),
        });
    }
    out.unique_keys.sort();
    out.unique_keys.dedup();
    Ok(out)
}
