//! Who sees which of a patient's records: the registry denies by default.
//!
//! - A patient sees all of their own records (their record and the records merged into
//!   it), nobody else's.
//! - A SIHCE or clinician sees the entries its own IPRESS holds; what an active consent
//!   of the patient grants it (or the clinician) for the token's purpose: every entry,
//!   but the sensitive ones other IPRESS hold only when the consent covers sensitive
//!   data; and, under emergency (`ETREAT`, with a stated reason), the record locations
//!   and summaries of every IPRESS, except the entries other IPRESS labelled sensitive.
//!   An emergency does not open other IPRESS's index entries themselves.
//! - Auditors and administrators read no patient's records.
//!
//! Refusals are [`RuleError::Forbidden`] naming the rule (`patient-own-records`,
//! `own-ipress-entries`, `emergency-reason`, `role`).

use renhice_model::{IssueSeverity, IssueType, OperationOutcomeIssue};
use renhice_store::consents::ConsentGrant;
use renhice_store::records::LocationGroup;

use crate::RuleError;

/// Which of a patient's index entries a caller may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// All of them.
    All,
    /// Only those this IPRESS (an `Organization` id) holds.
    Custodian(String),
    /// Emergency access from this IPRESS: everything but the sensitive entries other
    /// IPRESS hold.
    Emergency(String),
    /// Access a patient's consent grants the caller (of this IPRESS): every entry, but
    /// the sensitive ones other IPRESS hold only when the consent covers sensitive data.
    Consented {
        /// The caller's IPRESS (an `Organization` id).
        own: String,
        /// Whether the consent covers entries labelled sensitive.
        sensitive: bool,
        /// The Consent's logical id.
        consent: String,
    },
}

impl Scope {
    /// Whether an entry held by `custodian`, labelled sensitive or not, is in scope.
    #[must_use]
    pub fn covers(&self, custodian: &str, sensitive: bool) -> bool {
        match self {
            Self::All => true,
            Self::Custodian(own) => own == custodian,
            Self::Emergency(own) => own == custodian || !sensitive,
            Self::Consented {
                own,
                sensitive: covered,
                ..
            } => own == custodian || *covered || !sensitive,
        }
    }

    /// Refuses an entry outside the scope (read by id), naming the rule.
    pub fn check(&self, custodian: &str, sensitive: bool) -> Result<(), RuleError> {
        if self.covers(custodian, sensitive) {
            Ok(())
        } else {
            Err(outside(custodian))
        }
    }
}

/// The refusal of what another IPRESS (`custodian`, an `Organization` id) holds.
#[must_use]
pub fn outside(custodian: &str) -> RuleError {
    RuleError::forbidden(
        "own-ipress-entries",
        format!(
            "this is held by Organization/{custodian}; without the patient's consent (one \
             covering sensitive data, for entries labelled so) a SIHCE or clinician reads \
             only what its own IPRESS holds"
        ),
    )
}

/// How many IPRESS hold entries of the patient (of `groups`, the patient's groups of
/// current entries) that `scope` leaves out: what an answer must own up to, so that it
/// never reads as "no history elsewhere" when there is one.
#[must_use]
pub fn withheld(groups: &[LocationGroup], scope: &Scope) -> usize {
    let mut custodians: Vec<&str> = groups
        .iter()
        .filter(|g| !scope.covers(&g.custodian_id, g.sensitive))
        .map(|g| g.custodian_id.as_str())
        .collect();
    custodians.sort_unstable();
    custodians.dedup();
    custodians.len()
}

/// The information issue an answer carries when the caller's access left out the entries
/// of `ipress` IPRESS (at least one): how many, not which, and how to get access.
#[must_use]
pub fn withheld_issue(ipress: usize) -> OperationOutcomeIssue {
    let held = if ipress == 1 {
        "1 IPRESS holds".to_owned()
    } else {
        format!("{ipress} IPRESS hold")
    };
    OperationOutcomeIssue::new(
        IssueSeverity::Information,
        IssueType::Suppressed,
        format!(
            "{held} records of this patient that your access does not cover, so they are \
             not in this answer. To see them, the patient can grant your IPRESS consent \
             (or consent covering sensitive data, for entries labelled so); in an \
             emergency, ask for emergency access (purpose ETREAT, with a reason), which is \
             audited and shown to the patient."
        ),
    )
}

/// What is being asked of a patient's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// Index entries (ITI-67, ITI-66, reads by id).
    Entries,
    /// `$record-locations`: where the records are.
    Locations,
    /// `$summary`: the basic clinical information.
    Summary,
}

/// What a consent grants a SIHCE or clinician now: the widest of the grants that apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consented {
    /// Whether it covers entries labelled sensitive.
    pub sensitive: bool,
    /// The Consent's logical id.
    pub consent: String,
}

/// The widest of `grants` (each with its Consent's id) that applies at `now` for
/// `purpose`: one covering sensitive data if any does, else the first.
pub fn widest<'a>(
    grants: impl IntoIterator<Item = (&'a ConsentGrant, &'a str)>,
    now: i64,
    purpose: &str,
) -> Option<Consented> {
    let mut applying = grants.into_iter().filter(|(g, _)| g.applies(now, purpose));
    let first = applying.next()?;
    let (grant, consent) = std::iter::once(first)
        .chain(applying)
        .find(|(g, _)| g.sensitive)
        .unwrap_or(first);
    Some(Consented {
        sensitive: grant.sensitive,
        consent: consent.to_owned(),
    })
}

/// The caller, as the access rules see it.
#[derive(Debug, Clone, Copy)]
pub enum Asker<'a> {
    /// A patient, whose own records are `family` (their record and those merged into it).
    Patient {
        /// Their record's id and the ids of the records merged into it.
        family: &'a [String],
    },
    /// A SIHCE or clinician of IPRESS `own`.
    Ipress {
        /// Its IPRESS (an `Organization` id).
        own: &'a str,
        /// What the patient's consents grant it now, if anything.
        consented: Option<&'a Consented>,
        /// Whether the token's purpose is an emergency (`ETREAT`).
        emergency: bool,
        /// The emergency's stated reason.
        reason: Option<&'a str>,
    },
    /// A role that reads no patient's records (`auditor`, `admin`).
    Other {
        /// The role's code.
        role: &'a str,
    },
}

/// Which of `patient`'s records `asker` may see for `reading`, or the refusal.
pub fn scope(asker: Asker<'_>, patient: &str, reading: Reading) -> Result<Scope, RuleError> {
    match asker {
        Asker::Patient { family } => {
            if family.iter().any(|p| p == patient) {
                Ok(Scope::All)
            } else {
                Err(RuleError::forbidden(
                    "patient-own-records",
                    "a patient reads only their own records",
                ))
            }
        }
        Asker::Ipress {
            own,
            consented,
            emergency,
            reason,
        } => {
            if let Some(c) = consented {
                return Ok(Scope::Consented {
                    own: own.to_owned(),
                    sensitive: c.sensitive,
                    consent: c.consent.clone(),
                });
            }
            if emergency && reading != Reading::Entries {
                return emergency_reason(reason).map(|_| Scope::Emergency(own.to_owned()));
            }
            Ok(Scope::Custodian(own.to_owned()))
        }
        Asker::Other { role } => Err(RuleError::forbidden(
            "role",
            format!(
                "a {role} token does not read patients' records; that is for: system, clinician, patient"
            ),
        )),
    }
}

/// The stated reason of an emergency access, or the refusal without one.
pub fn emergency_reason(reason: Option<&str>) -> Result<&str, RuleError> {
    reason.ok_or_else(|| {
        RuleError::forbidden(
            "emergency-reason",
            "emergency access (purpose_of_use ETREAT) states its reason in the token's \
             extensions.renhice.emergency_reason",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn group(custodian: &str, sensitive: bool) -> LocationGroup {
        LocationGroup {
            custodian_id: custodian.to_owned(),
            types: "[]".to_owned(),
            count: 2,
            first: None,
            last: None,
            sensitive,
        }
    }

    #[test]
    fn withheld_counts_the_ipress_left_out_not_their_groups() {
        let groups = [
            group("home", false),
            group("home", true),
            group("a", false),
            group("a", true),
            group("b", true),
        ];
        assert_eq!(withheld(&groups, &Scope::All), 0);
        assert_eq!(withheld(&groups, &Scope::Custodian("home".into())), 2);
        // An emergency shows what is not labelled sensitive: a's and b's labelled ones.
        assert_eq!(withheld(&groups, &Scope::Emergency("home".into())), 2);
        let consented = |sensitive| Scope::Consented {
            own: "home".into(),
            sensitive,
            consent: "c".into(),
        };
        assert_eq!(withheld(&groups, &consented(true)), 0);
        assert_eq!(withheld(&groups, &consented(false)), 2);
        assert_eq!(withheld(&groups[..3], &consented(false)), 0);
        let issue = withheld_issue(2);
        assert_eq!(issue.code, IssueType::Suppressed);
        let text = issue.diagnostics.unwrap_or_default();
        assert!(text.starts_with("2 IPRESS hold records"), "{text}");
        assert!(
            !text.contains("Organization/"),
            "which IPRESS is not said: {text}"
        );
    }

    fn ipress<'a>(
        consented: Option<&'a Consented>,
        emergency: bool,
        reason: Option<&'a str>,
    ) -> Asker<'a> {
        Asker::Ipress {
            own: "home",
            consented,
            emergency,
            reason,
        }
    }

    fn rule(e: &RuleError) -> Option<&'static str> {
        match e {
            RuleError::Forbidden { rule, .. } => Some(rule),
            _ => None,
        }
    }

    #[test]
    fn a_patient_sees_their_own_records_only() {
        let family = ["p1".to_owned(), "merged".to_owned()];
        let asker = Asker::Patient { family: &family };
        assert_eq!(scope(asker, "merged", Reading::Entries), Ok(Scope::All));
        let e = scope(asker, "p2", Reading::Summary).unwrap_err();
        assert_eq!(rule(&e), Some("patient-own-records"));
    }

    #[test]
    fn without_consent_an_ipress_sees_its_own_entries() {
        assert_eq!(
            scope(ipress(None, false, None), "p", Reading::Locations),
            Ok(Scope::Custodian("home".to_owned()))
        );
    }

    #[test]
    fn an_emergency_opens_locations_and_summaries_with_a_reason() {
        let s = scope(ipress(None, true, Some("paro")), "p", Reading::Summary);
        assert_eq!(s, Ok(Scope::Emergency("home".to_owned())));
        // Not the entries themselves.
        let s = scope(ipress(None, true, Some("paro")), "p", Reading::Entries);
        assert_eq!(s, Ok(Scope::Custodian("home".to_owned())));
        let e = scope(ipress(None, true, None), "p", Reading::Locations).unwrap_err();
        assert_eq!(rule(&e), Some("emergency-reason"));
    }

    #[test]
    fn a_consent_outranks_an_emergency() {
        let c = Consented {
            sensitive: false,
            consent: "c1".to_owned(),
        };
        let s = scope(ipress(Some(&c), true, None), "p", Reading::Entries).unwrap();
        assert!(matches!(s, Scope::Consented { ref consent, .. } if consent == "c1"));
    }

    #[test]
    fn auditors_read_no_records() {
        let e = scope(Asker::Other { role: "auditor" }, "p", Reading::Entries).unwrap_err();
        assert_eq!(rule(&e), Some("role"));
    }

    fn grant(sensitive: bool, purposes: &[&str], starts: Option<i64>) -> ConsentGrant {
        ConsentGrant {
            patient_id: "p".to_owned(),
            grantee: "Organization/home".to_owned(),
            purposes: purposes.iter().map(|p| (*p).to_owned()).collect(),
            starts,
            ends: None,
            sensitive,
        }
    }

    #[test]
    fn the_widest_applying_grant_wins() {
        let (a, b, later) = (
            grant(false, &["TREAT"], None),
            grant(true, &[], None),
            grant(true, &[], Some(100)),
        );
        let grants = [(&later, "c0"), (&a, "c1"), (&b, "c2")];
        assert_eq!(
            widest(grants, 10, "TREAT"),
            Some(Consented {
                sensitive: true,
                consent: "c2".to_owned()
            })
        );
        assert_eq!(widest([(&a, "c1")], 10, "ETREAT"), None);
    }

    fn scopes() -> impl Strategy<Value = Scope> {
        let ipress = prop_oneof![Just("home".to_owned()), Just("other".to_owned())];
        prop_oneof![
            Just(Scope::All),
            ipress.clone().prop_map(Scope::Custodian),
            ipress.clone().prop_map(Scope::Emergency),
            (ipress, any::<bool>()).prop_map(|(own, sensitive)| Scope::Consented {
                own,
                sensitive,
                consent: "c".to_owned()
            }),
        ]
    }

    proptest! {
        /// Every scope covers what its own IPRESS holds, and an unlabelled entry is
        /// covered by every scope wider than the custodian's own.
        #[test]
        fn scopes_nest(scope in scopes(), custodian in "home|other|third", sensitive in any::<bool>()) {
            let own = match &scope {
                Scope::All => None,
                Scope::Custodian(o) | Scope::Emergency(o) | Scope::Consented { own: o, .. } => Some(o.clone()),
            };
            if let Some(own) = &own {
                prop_assert!(scope.covers(own, sensitive));
            }
            let custodian_only = Scope::Custodian(own.clone().unwrap_or_default());
            // No scope is narrower than its IPRESS's own entries.
            if custodian_only.covers(&custodian, sensitive) {
                prop_assert!(scope.covers(&custodian, sensitive));
            }
            // Beyond its own IPRESS, a scope never shows a sensitive entry an unlabelled
            // one of the same custodian would not be shown.
            if scope.covers(&custodian, true) {
                prop_assert!(scope.covers(&custodian, false));
            }
            prop_assert_eq!(scope.check(&custodian, sensitive).is_ok(), scope.covers(&custodian, sensitive));
        }
    }
}
