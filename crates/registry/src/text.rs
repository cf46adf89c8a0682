//! How strings are compared: the folding behind string search and identity documents.

use crate::RuleError;
use renhice_model::peru::url;
use unicode_normalization::UnicodeNormalization;

/// Normalises text for string search: accents removed (NFD, combining marks dropped),
/// lower case, runs of whitespace as one space, trimmed. `Huamán` and `HUAMAN` are one.
#[must_use]
pub fn normalise_text(text: &str) -> String {
    let folded: String = text
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Normalises the value of an `identifier:of-type` search the way the index holds it:
/// identity documents (`IdspersonaPeru`) by their upper-case number, so `ve1234567` and
/// `VE1234567` are one passport; other identifiers as written.
#[must_use]
pub fn normalise_of_type_value(type_system: &str, value: &str) -> String {
    if type_system == url::CS_IDS_PERSONA {
        value.trim().to_ascii_uppercase()
    } else {
        value.to_owned()
    }
}

/// The most bytes one indexed value may hold: a token's code or system, a folded
/// string, a reference's id. A search key is a database index key (PostgreSQL's B-tree
/// takes at most about 2.7 KB per row), and nobody searches by a kilobyte of text: a
/// longer value is refused with its path rather than failing in the database.
pub const MAX_INDEX_VALUE_BYTES: usize = 1024;

/// Refuses a parameter value nothing could be indexed under: longer than an index value
/// may be, or holding a control character (a NUL would not even reach PostgreSQL).
/// The queries the registry reads values from (searches, conditional criteria, the
/// audit trail's parameters) go through it.
///
/// # Errors
/// [`RuleError::Invalid`] naming the parameter.
pub fn checked_value(name: &str, raw: &str) -> Result<(), RuleError> {
    // A parameter may list several values (`a,b`) and carry a system (`s|v`).
    let limit = 4 * MAX_INDEX_VALUE_BYTES;
    if raw.len() > limit {
        return Err(RuleError::invalid(
            name,
            format!(
                "the value of {name} holds {} bytes; a search value may hold at most {limit}",
                raw.len()
            ),
        ));
    }
    if let Some(c) = raw
        .chars()
        .chain(name.chars())
        .find(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n'))
    {
        return Err(RuleError::invalid(
            name.escape_debug().to_string(),
            format!(
                "a search parameter may not hold the control character U+{:04X}",
                u32::from(c)
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accents_case_and_spaces_fold() {
        assert_eq!(normalise_text("  HUAMÁN   Quispe "), "huaman quispe");
        assert_eq!(normalise_text("Ñahui"), "nahui");
        assert_eq!(normalise_text("Müller\tPeña"), "muller pena");
        assert_eq!(normalise_text(" \t\n"), "");
    }

    #[test]
    fn identity_documents_fold_to_upper_case() {
        assert_eq!(
            normalise_of_type_value(url::CS_IDS_PERSONA, " ve1234567 "),
            "VE1234567"
        );
        assert_eq!(
            normalise_of_type_value("http://example.org/ids", " ve1 "),
            " ve1 "
        );
    }

    proptest! {
        #[test]
        fn folding_is_idempotent(text in "\\PC{0,40}") {
            let once = normalise_text(&text);
            prop_assert_eq!(normalise_text(&once), once.clone());
        }

        #[test]
        fn folding_ignores_case_and_outer_space(text in "[a-zA-ZáéíóúÁÉÍÓÚñÑ ]{0,30}") {
            let spaced = format!("  {}  ", text.to_uppercase());
            prop_assert_eq!(normalise_text(&spaced), normalise_text(&text));
        }

        #[test]
        fn folded_text_has_no_runs_of_space_nor_upper_case(text in "\\PC{0,40}") {
            let folded = normalise_text(&text);
            prop_assert!(!folded.contains("  "));
            prop_assert_eq!(folded.trim(), folded.as_str());
            prop_assert!(!folded.chars().any(char::is_uppercase) || folded.chars().any(|c| c.to_lowercase().next() == Some(c)));
        }
    }
}
