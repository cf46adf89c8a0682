//! Reading the official `StructureDefinition`s into the IR.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::ir::{Choice, Field, FieldType, Model, Module, Struct, Variant};
use crate::r4;

/// Rust value type of each FHIR primitive.
pub(crate) fn primitive_rust_type(code: &str) -> Option<&'static str> {
    Some(match code {
        "boolean" => "bool",
        "integer" => "i32",
        "unsignedInt" | "positiveInt" => "u32",
        "decimal" => "Decimal",
        "date" => "Date",
        "dateTime" => "DateTime",
        "instant" => "Instant",
        "time" => "Time",
        "string" | "code" | "id" | "markdown" | "uri" | "url" | "canonical" | "oid" | "uuid"
        | "base64Binary" => "String",
        _ => return None,
    })
}

/// Loads every `StructureDefinition` of the bundles under `dir`.
pub(crate) fn load_definitions(dir: &Path) -> anyhow::Result<Vec<Value>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                Path::new(n)
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("json"))
                    && (n.starts_with("profiles-types") || n.starts_with("profiles-resources"))
            })
        })
        .collect();
    files.sort();
    let mut sds = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        let bundle: Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", file.display()))?;
        for entry in bundle["entry"].as_array().into_iter().flatten() {
            let r = &entry["resource"];
            if r["resourceType"] == "StructureDefinition" {
                sds.push(r.clone());
            }
        }
    }
    Ok(sds)
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// `Bundle.entry.request` → `BundleEntryRequest`.
fn struct_name(path: &str) -> String {
    path.split('.')
        .map(|seg| upper_first(seg.trim_end_matches("[x]")))
        .collect()
}

const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "if", "impl", "in",
    "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "static", "struct", "super", "trait", "true", "try", "type", "typeof", "unsafe",
    "unsized", "use", "virtual", "where", "while", "yield",
];

/// `birthDate` → `birth_date`; keywords become raw identifiers.
pub(crate) fn field_name(json: &str) -> String {
    let mut out = String::new();
    for (i, c) in json.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    if KEYWORDS.contains(&out.as_str()) {
        format!("r#{out}")
    } else {
        out
    }
}

fn type_codes(el: &Value) -> Vec<(String, Option<String>)> {
    el["type"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let code = t["code"].as_str().unwrap_or_default().to_owned();
            let fhir_type = t["extension"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|x| {
                    x["url"]
                        == "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
                })
                .and_then(|x| x["valueUrl"].as_str().map(str::to_owned));
            (code, fhir_type)
        })
        .collect()
}

fn short(el: &Value) -> String {
    el["short"]
        .as_str()
        .or_else(|| el["definition"].as_str())
        .unwrap_or_default()
        .to_owned()
}

struct Builder<'a> {
    complex_types: &'a BTreeSet<String>,
    resource_types: &'a BTreeSet<String>,
    diffs: &'a r4::Differentials<'a>,
}

impl Builder<'_> {
    /// Builds the structs and choices of one `StructureDefinition`.
    #[allow(
        clippy::too_many_lines,
        reason = "one pass over the elements, easier to follow whole"
    )]
    fn build(
        &self,
        sd: &Value,
        is_resource: bool,
        deviations: &mut Vec<r4::Deviation>,
    ) -> anyhow::Result<Module> {
        let root = sd["type"]
            .as_str()
            .context("StructureDefinition without type")?;
        if sd["snapshot"]["element"]
            .as_array()
            .is_none_or(Vec::is_empty)
        {
            bail!("{root}: no snapshot");
        }
        let elements = &r4::elements(sd, self.diffs, deviations);
        // Paths that have children are backbone elements (nested structs).
        let mut has_children = BTreeSet::new();
        for el in elements {
            let path = el["path"].as_str().unwrap_or_default();
            if let Some((parent, _)) = path.rsplit_once('.') {
                has_children.insert(parent.to_owned());
            }
        }
        let mut order: Vec<String> = vec![root.to_owned()];
        let mut structs: BTreeMap<String, Struct> = BTreeMap::new();
        structs.insert(
            root.to_owned(),
            Struct {
                name: struct_name(root),
                path: root.to_owned(),
                resource_type: is_resource.then(|| root.to_owned()),
                doc: sd["description"]
                    .as_str()
                    .map_or_else(|| short(&elements[0]), str::to_owned),
                fields: Vec::new(),
            },
        );
        let mut choices = Vec::new();
        for el in elements.iter().skip(1) {
            let path = el["path"].as_str().context("element without path")?;
            let (parent, name) = path
                .rsplit_once('.')
                .context("element path without parent")?;
            if el["max"] == "0" {
                continue;
            }
            let list = el["max"].as_str().is_some_and(|m| m != "1");
            let min = el["min"].as_u64().unwrap_or(0);
            let codes = type_codes(el);
            let (json, ty) = if let Some(base) = name.strip_suffix("[x]") {
                let choice_name = struct_name(path);
                let mut variants = Vec::new();
                for (code, _) in &codes {
                    let ty = if let Some(rust) = primitive_rust_type(code) {
                        FieldType::Primitive(rust)
                    } else if self.complex_types.contains(code) {
                        FieldType::Complex(code.clone())
                    } else {
                        bail!("{path}: unknown choice type {code}");
                    };
                    variants.push(Variant {
                        name: upper_first(code),
                        json: format!("{base}{}", upper_first(code)),
                        ty,
                    });
                }
                choices.push(Choice {
                    name: choice_name.clone(),
                    path: path.to_owned(),
                    base: base.to_owned(),
                    variants,
                });
                (base.to_owned(), FieldType::Choice(choice_name))
            } else if let Some(reference) = el["contentReference"].as_str() {
                (
                    name.to_owned(),
                    FieldType::Complex(struct_name(reference.trim_start_matches('#'))),
                )
            } else if has_children.contains(path) {
                order.push(path.to_owned());
                structs.insert(
                    path.to_owned(),
                    Struct {
                        name: struct_name(path),
                        path: path.to_owned(),
                        resource_type: None,
                        doc: short(el),
                        fields: Vec::new(),
                    },
                );
                (name.to_owned(), FieldType::Complex(struct_name(path)))
            } else {
                let [(code, fhir_type)] = codes.as_slice() else {
                    bail!("{path}: expected one type, found {codes:?}");
                };
                let ty = if code.starts_with("http://hl7.org/fhirpath/System.") {
                    // The `id` of a resource is an element (`_id` is allowed); the `id` of a
                    // data type or backbone element and `Extension.url` are plain attributes.
                    let resource_id = is_resource && parent == root && name == "id";
                    let fhir = fhir_type.as_deref().unwrap_or("string");
                    let rust =
                        primitive_rust_type(fhir).with_context(|| format!("{path}: {fhir}"))?;
                    if resource_id {
                        FieldType::Primitive(rust)
                    } else {
                        FieldType::Plain(rust)
                    }
                } else if code == "xhtml" {
                    FieldType::Plain("String")
                } else if let Some(rust) = primitive_rust_type(code) {
                    FieldType::Primitive(rust)
                } else if code == "Resource" {
                    FieldType::AnyResource
                } else if self.complex_types.contains(code) || self.resource_types.contains(code) {
                    FieldType::Complex(code.clone())
                } else {
                    bail!("{path}: unknown type {code}");
                };
                (name.to_owned(), ty)
            };
            let field = Field {
                rust: field_name(&json),
                json,
                ty,
                list,
                boxed: false,
                doc: short(el),
                min,
                summary: el["isSummary"] == true,
            };
            structs
                .get_mut(parent)
                .with_context(|| format!("{path}: parent {parent} is not a struct"))?
                .fields
                .push(field);
        }
        let structs = order.iter().filter_map(|p| structs.remove(p)).collect();
        Ok(Module { structs, choices })
    }
}

/// Builds the model from the definitions of FHIR `version`; also returns where it
/// departs from the vendored snapshots to follow R4 (see [`r4`]).
pub(crate) fn build_model(
    sds: &[Value],
    version: &str,
) -> anyhow::Result<(Model, Vec<r4::Deviation>)> {
    let mut deviations = Vec::new();
    let diffs = r4::Differentials::new(sds);
    let sds: Vec<Value> = sds
        .iter()
        .filter(|sd| {
            sd["derivation"] != "specialization" || r4::in_release(sd, version, &mut deviations)
        })
        .cloned()
        .collect();
    let is = |sd: &Value, kind: &str| {
        sd["kind"] == kind && sd["derivation"] == "specialization" && sd["abstract"] != true
    };
    let complex_types: BTreeSet<String> = sds
        .iter()
        .filter(|sd| is(sd, "complex-type"))
        .filter_map(|sd| sd["type"].as_str().map(str::to_owned))
        .collect();
    let resource_types: BTreeSet<String> = sds
        .iter()
        .filter(|sd| is(sd, "resource"))
        .filter_map(|sd| sd["type"].as_str().map(str::to_owned))
        .collect();
    let builder = Builder {
        complex_types: &complex_types,
        resource_types: &resource_types,
        diffs: &diffs,
    };
    let mut model = Model::default();
    let mut types: Vec<&Value> = sds.iter().filter(|sd| is(sd, "complex-type")).collect();
    types.sort_by_key(|sd| sd["type"].as_str().unwrap_or_default().to_owned());
    for sd in types {
        let module = builder.build(sd, false, &mut deviations)?;
        model.types.structs.extend(module.structs);
        model.types.choices.extend(module.choices);
    }
    let mut resources: Vec<&Value> = sds.iter().filter(|sd| is(sd, "resource")).collect();
    resources.sort_by_key(|sd| sd["type"].as_str().unwrap_or_default().to_owned());
    for sd in resources {
        let name = sd["type"].as_str().unwrap_or_default().to_owned();
        model
            .resources
            .push((name, builder.build(sd, true, &mut deviations)?));
    }
    mark_boxed(&mut model);
    deviations.sort();
    Ok((model, deviations))
}

/// Boxes every single-valued complex field.
///
/// Two reasons: recursive types (`Identifier.assigner` → `Reference.identifier` →
/// `Identifier`) need a box somewhere to have a finite size, and keeping every struct
/// small makes reading fast: a `BundleEntry` with its request, response and search
/// inline would be nearly 2 KB, default-initialised and moved for every entry. Boxed,
/// an absent element costs one null pointer and a present one the same single allocation
/// a `serde_json::Value` object would cost. Lists and choices (boxed variants) need
/// nothing more.
fn mark_boxed(model: &mut Model) {
    let structs = model.types.structs.iter_mut().chain(
        model
            .resources
            .iter_mut()
            .flat_map(|(_, m)| m.structs.iter_mut()),
    );
    for s in structs {
        for f in &mut s.fields {
            f.boxed = matches!(f.ty, FieldType::Complex(_)) && !f.list;
        }
    }
}
