//! NIST's Public Key Interoperability Test Suite (PKITS, "Certification Path Validation",
//! 2011 data), run through `Verifier::verify_certificate`: every test of sections 4.1 to
//! 4.16 with its expected result from the PKITS document (`tests/pkits/cases.tsv`, the
//! files vendored by `scripts/vendor-pkits.sh`, checked against `SHA256SUMS` here).
//!
//! A test passes when the verdict is PASSED for a valid path and anything else for an
//! invalid one. Where the verifier departs from the document on purpose, or a section
//! needs inputs the verifier does not take, the case is listed below with the reason, and
//! the suite fails if a listed case starts agreeing (so the list, and the table in
//! docs/signatures.md, stay true).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use renhice_signature::{
    Certificate, Crl, Indication, PolicySettings, RevocationStore, TrustStore, Verifier,
};
use time::macros::datetime;

/// A time inside every validity period of the data (2011-01-01 to 2030-12-31).
const AT: time::OffsetDateTime = datetime!(2026-06-15 12:00:00 UTC);

const DSA: &str = "DSA keys and SHA-1 are refused (docs/signatures.md, algorithms)";
const STRICT_BASIC: &str = "the certificate profile refuses a CA whose basicConstraints is not critical (RFC 5280 §4.2.1.9), which PKITS, written for relying parties, accepts";
const STRICT_POLICY_CRL: &str = "the certificate profile refuses a policyConstraints that is not critical (RFC 5280 §4.2.1.11), in the CA's certificate and in the certificate of its other key, which signs its CRLs: no CRL can be used either";
const STRICT_POLICY: &str = "the certificate profile refuses a policyConstraints that is not critical (RFC 5280 §4.2.1.11), which the PKITS CAs carry and PKITS accepts";
const CIRCULAR: &str = "the indirect CRL's issuer is itself covered only by the CRL it signs: the verifier does not take a CRL as proof of its own signer's status, so the status stays indeterminate (OpenSSL refuses this path too)";

/// Cases where the verdict departs from the document, and why.
const DEPARTURES: &[(&str, &str)] = &[
    ("4.1.4", DSA),
    ("4.1.5", DSA),
    ("4.6.4", STRICT_BASIC),
    ("4.8.6a", STRICT_POLICY),
    ("4.8.10a", STRICT_POLICY),
    ("4.8.11a", STRICT_POLICY),
    ("4.8.6b", STRICT_POLICY),
    ("4.8.10b", STRICT_POLICY),
    ("4.8.10c", STRICT_POLICY),
    ("4.8.11b", STRICT_POLICY),
    ("4.8.13a", STRICT_POLICY),
    ("4.8.13b", STRICT_POLICY),
    ("4.8.13c", STRICT_POLICY),
    ("4.8.14a", STRICT_POLICY),
    ("4.8.18a", STRICT_POLICY),
    ("4.8.18b", STRICT_POLICY),
    ("4.10.1a", STRICT_POLICY),
    ("4.10.3b", STRICT_POLICY),
    ("4.10.5a", STRICT_POLICY),
    ("4.10.6a", STRICT_POLICY),
    ("4.10.9", STRICT_POLICY),
    ("4.10.11", STRICT_POLICY),
    ("4.10.12a", STRICT_POLICY),
    ("4.10.12b", STRICT_POLICY),
    ("4.10.13", STRICT_POLICY),
    ("4.10.14", STRICT_POLICY),
    ("4.12.2", STRICT_POLICY),
    ("4.12.3a", STRICT_POLICY),
    ("4.12.7", STRICT_POLICY_CRL),
    ("4.12.9", STRICT_POLICY_CRL),
    ("4.14.30", CIRCULAR),
];

/// The validation inputs a case names (`default`, or `explicit-policy`,
/// `policy-mapping-inhibit`, `any-policy-inhibit` and `policy-set=NIST-test-policy-N,…`
/// joined with `+`); `None` for one the verifier does not take.
fn settings(text: &str) -> Option<PolicySettings> {
    let mut settings = PolicySettings::default();
    if text == "default" {
        return Some(settings);
    }
    for part in text.split('+') {
        match part {
            "explicit-policy" => settings.require_explicit = true,
            "policy-mapping-inhibit" => settings.inhibit_mapping = true,
            "any-policy-inhibit" => settings.inhibit_any = true,
            other => {
                let list = other.strip_prefix("policy-set=")?;
                for policy in list.split(',') {
                    let number = policy.strip_prefix("NIST-test-policy-")?;
                    settings
                        .acceptable
                        .push(format!("2.16.840.1.101.3.2.1.48.{number}"));
                }
            }
        }
    }
    Some(settings)
}

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pkits")
}

fn certificate(name: &str) -> Certificate {
    let der = std::fs::read(data().join("certs").join(name))
        .unwrap_or_else(|error| panic!("{name}: {error}"));
    Certificate::from_der(&der).unwrap_or_else(|error| panic!("{name}: {error}"))
}

struct Case {
    id: String,
    name: String,
    expected: bool,
    settings: String,
    path: Vec<String>,
    crls: Vec<String>,
    extra: Vec<String>,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(data().join("cases.tsv")).unwrap();
    let split = |field: &str| -> Vec<String> {
        field
            .split(',')
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect()
    };
    text.lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert!(fields.len() >= 6, "cases.tsv: {line}");
            Case {
                id: fields[0].to_owned(),
                name: fields[1].to_owned(),
                expected: match fields[2] {
                    "valid" => true,
                    "invalid" => false,
                    other => panic!("cases.tsv: expected {other}"),
                },
                settings: fields[3].to_owned(),
                path: split(fields[4]),
                crls: split(fields[5]),
                extra: fields.get(6).map(|field| split(field)).unwrap_or_default(),
            }
        })
        .collect()
}

/// The verdict for one case: the end entity's checks with the trust anchor, the path's
/// CAs and the extra certificates known, and the case's CRLs.
/// The verdict, the first reason it is not PASSED, and the codes of the checks that did
/// not pass (with the profile rule, for the profile check).
fn run(case: &Case, settings: PolicySettings) -> (Indication, String, Vec<String>) {
    let mut trust = TrustStore::new();
    trust.set_policy_settings(settings);
    trust.add_anchor(certificate("TrustAnchorRootCertificate.crt"));
    let (end_entity, cas) = case.path.split_last().expect("a path");
    for name in cas.iter().chain(&case.extra) {
        trust.add_intermediate(certificate(name));
    }
    let mut revocation = RevocationStore::new();
    for name in &case.crls {
        let der = std::fs::read(data().join("crls").join(name)).unwrap();
        revocation.add(Crl::from_der(&der).unwrap_or_else(|error| panic!("{name}: {error}")));
    }
    let verifier = Verifier::new(trust, revocation);
    let report = verifier.verify_certificate(&certificate(end_entity), &[], AT);
    let why = report
        .checks
        .iter()
        .filter(|check| check.status != renhice_signature::Status::Passed)
        .map(|check| format!("{}: {}", check.check, check.reason))
        .next()
        .unwrap_or_default();
    let not_passed = report
        .checks
        .iter()
        .filter(|check| check.status != renhice_signature::Status::Passed)
        .map(|check| match &check.error {
            Some(renhice_signature::SignatureError::Profile(error)) => {
                format!("{}/{}", check.check, error.rule.code())
            }
            _ => check.check.to_string(),
        })
        .collect();
    (report.indication(), why, not_passed)
}

/// For a departure due to the certificate profile, the only checks that may fail: every
/// other check, policy processing included, must reach the document's verdict.
fn profile_only(reason: &str) -> Option<&'static [&'static str]> {
    if reason == STRICT_BASIC {
        Some(&["certificate-profile/ca-basic-constraints-not-critical"])
    } else if reason == STRICT_POLICY {
        Some(&["certificate-profile/must-be-critical"])
    } else if reason == STRICT_POLICY_CRL {
        Some(&["certificate-profile/must-be-critical", "revocation"])
    } else {
        None
    }
}

#[test]
fn the_vendored_files_are_nists() {
    let sums = std::fs::read_to_string(data().join("SHA256SUMS")).unwrap();
    let mut count = 0;
    for line in sums.lines() {
        let (sum, name) = line.split_once("  ").expect("sha256sum format");
        let bytes = std::fs::read(data().join(name)).unwrap();
        let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
        let hex = digest
            .as_ref()
            .iter()
            .fold(String::new(), |hex, byte| hex + &format!("{byte:02x}"));
        assert_eq!(
            hex, sum,
            "{name} differs from what scripts/vendor-pkits.sh vendored"
        );
        count += 1;
    }
    assert_eq!(count, 405 + 173);
}

#[test]
fn pkits_sections_4_1_to_4_16() {
    let cases = cases();
    assert_eq!(cases.len(), 248, "every line of cases.tsv");
    let departures: BTreeMap<&str, &str> = DEPARTURES.iter().copied().collect();
    let mut wrong = Vec::new();
    let mut sections: BTreeMap<(u32, u32), [usize; 4]> = BTreeMap::new();
    for case in &cases {
        let mut numbers = case
            .id
            .split('.')
            .map(|part| part.parse::<u32>().unwrap_or(0));
        let section = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
        let tally = sections.entry(section).or_default();
        let Some(settings) = settings(&case.settings) else {
            tally[3] += 1;
            continue;
        };
        let (indication, why, not_passed) = run(case, settings);
        let agrees = (indication == Indication::Passed) == case.expected;
        match (agrees, departures.get(case.id.as_str())) {
            (true, None) => tally[0] += 1,
            (false, Some(reason))
                if profile_only(reason).is_some_and(|only| not_passed != only) =>
            {
                wrong.push(format!(
                    "{} {} departs for its profile only, yet these checks did not pass: {not_passed:?} — {why}",
                    case.id, case.name
                ));
            }
            (false, Some(_)) => {
                if std::env::var_os("PKITS_VERBOSE").is_some() {
                    println!("{} departs: {indication:?} — {why}", case.id);
                }
                tally[2] += 1;
            }
            (false, None) => wrong.push(format!(
                "{} {} (expected {}): {indication:?} — {why}",
                case.id,
                case.name,
                if case.expected { "valid" } else { "invalid" }
            )),
            (true, Some(reason)) => wrong.push(format!(
                "{} {} now agrees with the document: remove it from DEPARTURES ({reason})",
                case.id, case.name
            )),
        }
        tally[1] += 1;
    }
    println!("section  agree  run  departures  not-applicable");
    for ((major, minor), [agree, run, departed, skipped]) in &sections {
        let section = format!("{major}.{minor}");
        println!("{section:8} {agree:5} {run:4} {departed:11} {skipped:14}");
    }
    assert!(
        wrong.is_empty(),
        "{} case(s):\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
