//! Recovers the HL7 FHIR R4 element list of each definition.
//!
//! The vendored package is not byte-for-byte what HL7 published: its publisher added
//! elements to some snapshots (`Meta.project`, `Binary.url`, later-release elements of
//! `ResearchStudy` and `EvidenceVariable`, …), narrowed one type
//! (`Bundle.entry.response.outcome`), dropped a few R4 elements from the
//! `EvidenceVariable` snapshot and added a definition of a later release
//! (`SubscriptionStatus`, fhirVersion 4.3.0). The differentials were left as HL7 wrote
//! them, and for a base specialisation the differential *is* the declaration of every
//! element the definition introduces. So the generator:
//!
//! * keeps a snapshot element only if the differential of the definition that
//!   introduces it (the root of its `base.path`) declares it;
//! * takes an element's own declaration (types, cardinality, content reference) from
//!   that differential where the two disagree;
//! * adds the differential elements the snapshot lost, after their differential
//!   predecessor;
//! * skips definitions whose `fhirVersion` is not the vendored release.
//!
//! Every such decision is a [`Deviation`], written to `crates/model/EXCEPTIONS.md` so
//! the model's departures from the vendored files are reviewed, not silent.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::Value;

/// One place where the model follows HL7 R4 rather than the vendored snapshot.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Deviation {
    /// The definition (`StructureDefinition.type`).
    pub(crate) definition: String,
    /// The element path, or the definition's id for a skipped definition.
    pub(crate) path: String,
    /// What the generator did and why.
    pub(crate) reason: String,
}

/// The differentials of all definitions, by `type`.
pub(crate) struct Differentials<'a> {
    by_type: BTreeMap<&'a str, BTreeMap<&'a str, &'a Value>>,
}

impl<'a> Differentials<'a> {
    /// Indexes the differential elements of `sds` by definition type and path.
    pub(crate) fn new(sds: &'a [Value]) -> Self {
        let by_type = sds
            .iter()
            .filter(|sd| sd["derivation"] == "specialization" || sd["baseDefinition"].is_null())
            .filter_map(|sd| {
                let ty = sd["type"].as_str()?;
                let elements = sd["differential"]["element"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|el| Some((el["path"].as_str()?, el)))
                    .collect();
                Some((ty, elements))
            })
            .collect();
        Self { by_type }
    }

    /// The declaration of a snapshot element in the differential that introduces it.
    fn declaration(&self, el: &Value) -> Option<&'a Value> {
        let path = el["path"].as_str()?;
        let base = el["base"]["path"].as_str().unwrap_or(path);
        let root = base.split('.').next()?;
        self.by_type.get(root)?.get(base).copied()
    }
}

/// The properties of an element that define the model (the rest is documentation).
const DECLARATION: [&str; 4] = ["type", "min", "max", "contentReference"];

/// Whether a definition belongs to the vendored release; records a deviation if not.
pub(crate) fn in_release(sd: &Value, version: &str, deviations: &mut Vec<Deviation>) -> bool {
    let fhir_version = sd["fhirVersion"].as_str().unwrap_or_default();
    if fhir_version == version {
        return true;
    }
    deviations.push(Deviation {
        definition: sd["type"].as_str().unwrap_or_default().to_owned(),
        path: sd["id"].as_str().unwrap_or_default().to_owned(),
        reason: format!(
            "definition of FHIR {fhir_version}, not {version}: no type is generated for it"
        ),
    });
    false
}

/// The R4 element list of a base specialisation (see the module documentation).
pub(crate) fn elements(
    sd: &Value,
    diffs: &Differentials<'_>,
    deviations: &mut Vec<Deviation>,
) -> Vec<Value> {
    let ty = sd["type"].as_str().unwrap_or_default();
    let mut deviation = |path: &str, reason: String| {
        deviations.push(Deviation {
            definition: ty.to_owned(),
            path: path.to_owned(),
            reason,
        });
    };
    let snapshot = sd["snapshot"]["element"].as_array().map_or(&[][..], |v| v);
    let mut out: Vec<Value> = Vec::with_capacity(snapshot.len());
    let mut omitted: Vec<&str> = Vec::new();
    for el in snapshot {
        let path = el["path"].as_str().unwrap_or_default();
        // The children of an omitted element go with it (its `id` and `extension` are
        // declared by Element, but belong to nothing in R4).
        if omitted.iter().any(|o| {
            path.strip_prefix(o)
                .is_some_and(|rest| rest.starts_with('.'))
        }) {
            continue;
        }
        let Some(decl) = diffs.declaration(el) else {
            omitted.push(path);
            deviation(
                path,
                "in the snapshot but not declared by the R4 differential: omitted".to_owned(),
            );
            continue;
        };
        let own = el["base"]["path"].as_str().is_none_or(|b| b == path);
        let mut el = el.clone();
        if own && path.contains('.') {
            for key in DECLARATION {
                // Target profiles of references do not shape the model; compare type codes.
                let differs = if key == "type" {
                    type_codes(&decl[key]) != type_codes(&el[key])
                } else {
                    decl[key] != el[key]
                };
                if decl.get(key).is_some() && differs {
                    deviation(
                        path,
                        format!(
                            "snapshot `{key}` {} differs from the R4 differential {}: the differential is used",
                            summary(&el[key]),
                            summary(&decl[key])
                        ),
                    );
                    el[key] = decl[key].clone();
                }
            }
        }
        out.push(el);
    }
    // Differential elements the snapshot lost go after their predecessor in the
    // differential, which keeps them among their siblings in R4 order.
    let present: BTreeSet<String> = out
        .iter()
        .filter_map(|el| el["path"].as_str().map(str::to_owned))
        .collect();
    let own = sd["differential"]["element"]
        .as_array()
        .map_or(&[][..], |v| v);
    let mut previous: Option<&str> = None;
    for el in own {
        let path = el["path"].as_str().unwrap_or_default();
        if !present.contains(path) {
            deviation(
                path,
                "declared by the R4 differential but missing from the snapshot: added".to_owned(),
            );
            let at = previous
                .and_then(|p| out.iter().position(|e| e["path"] == p))
                .map_or(out.len(), |i| i + 1);
            out.insert(at, el.clone());
        }
        previous = Some(path);
    }
    out
}

/// The type codes of an element's `type` array.
fn type_codes(types: &Value) -> Vec<&str> {
    types
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["code"].as_str())
        .collect()
}

/// A short rendering of a declaration value for the exceptions file.
fn summary(v: &Value) -> String {
    match v {
        Value::Null => "(absent)".to_owned(),
        Value::Array(_) => format!("`{}`", type_codes(v).join(" | ")),
        Value::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    }
}

/// Renders the deviations as the Markdown file `crates/model/EXCEPTIONS.md`.
pub(crate) fn render(header: &str, version: &str, deviations: &[Deviation]) -> String {
    let mut out = String::from("<!--\n");
    for line in header.lines().filter(|l| !l.is_empty()) {
        out.push_str(line.trim_start_matches("//").trim());
        out.push('\n');
    }
    out.push_str("-->\n\n");
    // Writing to a String cannot fail.
    _ = write!(
        out,
        "# Where the model departs from the vendored definitions\n\n\
         The model follows HL7 FHIR R4 ({version}). The vendored package adds to some\n\
         snapshots elements that R4 does not have and changes a few declarations; the\n\
         differentials are as HL7 published them. `renhice-codegen` trusts the\n\
         differentials (see `crates/codegen/src/r4.rs`) and lists here every place where\n\
         that changes the model, so a JSON document using one of these elements is refused\n\
         in strict mode as it would be by any R4 server.\n\n\
         Every vendored resource and every file of the clinical corpus round-trips\n\
         exactly; there are no round-trip exceptions.\n\n\
         | definition | element | what the generator did |\n\
         | --- | --- | --- |\n"
    );
    for d in deviations {
        _ = writeln!(out, "| {} | `{}` | {} |", d.definition, d.path, d.reason);
    }
    out
}
