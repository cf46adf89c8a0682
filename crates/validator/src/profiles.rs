//! Profiles: `StructureDefinitions` that constrain another definition, written as a
//! differential and given a snapshot here (the base's snapshot with the differential
//! merged in), plus the `CodeSystems` and `ValueSets` their bindings name.
//!
//! The snapshot generation covers what profiles of a registry need, and refuses the
//! rest with a reason rather than guessing: constraining cardinality, types, bindings,
//! fixed and pattern values, `maxLength` and invariants of any element, including the
//! children of data-type elements (`Patient.identifier.system`); slices of repeating
//! elements with their own children (`Patient.identifier:dni.system`) and of
//! extensions (`Patient.extension:nacionalidad`, typed by an extension profile).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::Value;

use crate::definitions::{
    BASE_MAX, Constraint, DefinitionError, Definitions, ElementDefinition, StructureDefinition,
    TypeRef, ValueSetCodes,
};

/// The files of `profiles/` compiled into the binary (written by `build.rs`):
/// `(path under profiles/, text)`.
const BUNDLED: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/bundled_profiles.rs"));

impl Definitions {
    /// FHIR R4 core with the profiles, extensions, code systems and value sets under
    /// `profiles/` (MINSA's Peruvian profiles in `profiles/pe/`, the registry's in
    /// `profiles/renhice/`), parsed once.
    ///
    /// # Panics
    /// Never for the bundled files (a test loads them).
    #[must_use]
    #[allow(
        clippy::expect_used,
        reason = "the files are compiled in and loaded by every test: a failure is a build defect"
    )]
    pub fn renhice() -> &'static Self {
        static RENHICE: std::sync::OnceLock<Definitions> = std::sync::OnceLock::new();
        RENHICE.get_or_init(|| {
            let mut definitions = Self::r4().clone();
            let resources = BUNDLED
                .iter()
                .map(|(path, text)| {
                    serde_json::from_str::<Value>(text)
                        .map_err(|error| DefinitionError(format!("profiles/{path}: {error}")))
                })
                .collect::<Result<Vec<_>, _>>()
                .expect("the bundled profiles are JSON");
            definitions
                .add_conformance_resources(&resources)
                .expect("the bundled profiles load");
            definitions
        })
    }

    /// The paths (under `profiles/`) of the conformance resources compiled in.
    #[must_use]
    pub fn bundled_files() -> Vec<&'static str> {
        BUNDLED.iter().map(|(path, _)| *path).collect()
    }

    /// Adds conformance resources: `StructureDefinitions` (profiles with a
    /// differential, in any order: each waits for its base), `CodeSystems` and
    /// `ValueSets` (expanded here from their `compose`). Other resources are ignored.
    ///
    /// # Errors
    /// A profile whose base is unknown, or whose differential cannot be applied (with
    /// the element and why); a value set that includes an unknown code system.
    pub fn add_conformance_resources(
        &mut self,
        resources: &[Value],
    ) -> Result<(), DefinitionError> {
        fn of_type<'r>(
            resources: &'r [Value],
            name: &'static str,
        ) -> impl Iterator<Item = &'r Value> {
            resources
                .iter()
                .filter(move |resource| resource["resourceType"] == name)
        }
        let code_systems: HashMap<&str, &Value> = of_type(resources, "CodeSystem")
            .filter_map(|system| Some((system["url"].as_str()?, system)))
            .collect();
        let value_sets: HashMap<&str, &Value> = of_type(resources, "ValueSet")
            .filter_map(|set| Some((set["url"].as_str()?, set)))
            .collect();
        for (url, value_set) in &value_sets {
            let codes = expand(value_set, &code_systems, &value_sets, &mut HashSet::new())
                .map_err(|why| DefinitionError(format!("ValueSet {url}: {why}")))?;
            self.value_sets.insert(
                (*url).to_owned(),
                Arc::new(ValueSetCodes::Codes(codes.into_iter().collect())),
            );
        }
        // A code system with a `valueSet` is also its own value set ("all codes").
        for system in code_systems.values() {
            if let (Some(url), Some(value_set)) =
                (system["url"].as_str(), system["valueSet"].as_str())
                && !self.value_sets.contains_key(value_set)
            {
                let codes = concepts(system)
                    .into_iter()
                    .map(|code| (url.to_owned(), code));
                self.value_sets.insert(
                    value_set.to_owned(),
                    Arc::new(ValueSetCodes::Codes(codes.collect())),
                );
            }
        }
        let mut pending: Vec<&Value> = of_type(resources, "StructureDefinition").collect();
        while !pending.is_empty() {
            let before = pending.len();
            let mut waiting = Vec::new();
            for profile in pending {
                let base = profile["baseDefinition"].as_str().unwrap_or_default();
                if self.by_url(base).is_some() {
                    self.add_profile(profile)?;
                } else {
                    waiting.push(profile);
                }
            }
            if waiting.len() == before {
                let names: Vec<String> = waiting
                    .iter()
                    .map(|profile| {
                        format!(
                            "{} (base {})",
                            profile["url"].as_str().unwrap_or("?"),
                            profile["baseDefinition"].as_str().unwrap_or("none")
                        )
                    })
                    .collect();
                return Err(DefinitionError(format!(
                    "profiles whose base is not known: {}",
                    names.join(", ")
                )));
            }
            pending = waiting;
        }
        Ok(())
    }

    /// Adds one profile (a `StructureDefinition` with `derivation` `constraint` and a
    /// differential), its snapshot generated from its base, which must be known.
    ///
    /// # Errors
    /// What makes the differential impossible to apply, naming the element.
    pub fn add_profile(
        &mut self,
        profile: &Value,
    ) -> Result<Arc<StructureDefinition>, DefinitionError> {
        let field = |key: &str| profile[key].as_str().map(str::to_owned);
        let url = field("url").ok_or_else(|| DefinitionError("a profile without url".into()))?;
        let fail = |why: String| DefinitionError(format!("{url}: {why}"));
        if field("derivation").as_deref() != Some("constraint") {
            return Err(fail(
                "only profiles (derivation constraint) can be added".into(),
            ));
        }
        let base_url = field("baseDefinition").ok_or_else(|| fail("no baseDefinition".into()))?;
        let base = self
            .by_url(&base_url)
            .cloned()
            .ok_or_else(|| fail(format!("its base {base_url} is not known")))?;
        let type_name = field("type").unwrap_or_else(|| base.type_name.clone());
        if type_name != base.type_name {
            return Err(fail(format!(
                "it constrains {type_name}, its base {base_url} defines {}",
                base.type_name
            )));
        }
        let mut snapshot = Snapshot {
            definitions: self,
            elements: base.elements.clone(),
            url: &url,
        };
        let differential = profile["differential"]["element"]
            .as_array()
            .ok_or_else(|| fail("no differential.element".into()))?;
        for raw in differential {
            let element: ElementDefinition = serde_json::from_value(raw.clone())
                .map_err(|error| fail(format!("differential element: {error}")))?;
            let id = element
                .id
                .clone()
                .unwrap_or_else(|| match &element.slice_name {
                    Some(slice) => format!("{}:{slice}", element.path),
                    None => element.path.clone(),
                });
            if unsliced(&id) != element.path {
                return Err(fail(format!("element {id} has path {}", element.path)));
            }
            let position = snapshot.find_or_create(&id).map_err(fail)?;
            snapshot
                .merge(position, raw)
                .map_err(|why| fail(format!("{id}: {why}")))?;
        }
        let elements = snapshot.elements;
        let mut definition = StructureDefinition::default();
        definition.url.clone_from(&url);
        definition.name = field("name").unwrap_or_else(|| type_name.clone());
        definition.type_name = type_name;
        definition.kind.clone_from(&base.kind);
        definition.r#abstract = profile["abstract"].as_bool().unwrap_or(false);
        definition.base_definition = Some(base_url);
        definition.derivation = Some("constraint".into());
        definition.elements = elements;
        definition.index();
        let definition = Arc::new(definition);
        self.by_url.insert(url, Arc::clone(&definition));
        Ok(definition)
    }
}

/// A snapshot being built from a base's elements.
struct Snapshot<'d> {
    definitions: &'d Definitions,
    elements: Vec<ElementDefinition>,
    url: &'d str,
}

impl Snapshot<'_> {
    fn position(&self, id: &str) -> Option<usize> {
        self.elements.iter().position(|element| element.id() == id)
    }

    /// The position of the element `id`, adding it when it is a new slice or a child
    /// of a data-type element the snapshot has not expanded yet.
    fn find_or_create(&mut self, id: &str) -> Result<usize, String> {
        if let Some(position) = self.position(id) {
            return Ok(position);
        }
        let Some((parent, segment)) = id.rsplit_once('.') else {
            return Err(format!("no element {id}"));
        };
        if let Some((name, slice)) = segment.split_once(':') {
            let sliced_id = format!("{parent}.{name}");
            let sliced = self.find_or_create(&sliced_id)?;
            if !self.elements[sliced].other.contains_key("slicing") {
                return Err(format!("{id} slices {sliced_id}, which has no slicing"));
            }
            let mut element = self.elements[sliced].clone();
            element.id = Some(id.to_owned());
            element.slice_name = Some(slice.to_owned());
            element.other.remove("slicing");
            // A slice is a subset of the sliced values: none of it is required unless
            // the profile says so.
            element.min = 0;
            let end = self.end_of(sliced);
            self.elements.insert(end, element);
            return Ok(end);
        }
        let parent_position = self.find_or_create(parent)?;
        let prefix = format!("{parent}.");
        if self
            .elements
            .iter()
            .any(|element| element.id().starts_with(&prefix))
        {
            return Err(format!("{id}: {parent} has no child {segment}"));
        }
        let children = self.children_for(parent_position)?;
        let at = parent_position + 1;
        self.elements.splice(at..at, children);
        self.position(id)
            .ok_or_else(|| format!("{id}: {parent} has no child {segment}"))
    }

    /// Where the elements of the element at `position` (descendants and slices) end.
    fn end_of(&self, position: usize) -> usize {
        let id = self.elements[position].id();
        let (children, slices) = (format!("{id}."), format!("{id}:"));
        let mut end = position + 1;
        while end < self.elements.len() {
            let other = self.elements[end].id();
            if !(other.starts_with(&children) || other.starts_with(&slices)) {
                break;
            }
            end += 1;
        }
        end
    }

    /// The children of the element at `position`, with ids and paths under it: a
    /// slice's are the sliced element's; otherwise its type's (or type profile's).
    fn children_for(&self, position: usize) -> Result<Vec<ElementDefinition>, String> {
        let element = &self.elements[position];
        let (id, path) = (element.id().to_owned(), element.path.clone());
        let unsliced_id = unsliced_last(&id);
        if unsliced_id != id {
            let prefix = format!("{unsliced_id}.");
            let copied: Vec<ElementDefinition> = self
                .elements
                .iter()
                .filter(|other| other.id().starts_with(&prefix))
                .map(|other| {
                    let mut copy = other.clone();
                    copy.id = Some(format!("{id}.{}", &other.id()[prefix.len()..]));
                    copy
                })
                .collect();
            if !copied.is_empty() {
                return Ok(copied);
            }
        }
        let [type_ref] = element.types.as_slice() else {
            return Err(format!(
                "{id} has {} types: restrict it to one before constraining its children",
                element.types.len()
            ));
        };
        let definition = type_ref
            .profile
            .iter()
            .find_map(|url| self.definitions.by_url(url))
            .or_else(|| self.definitions.of_type(&type_ref.code))
            .ok_or_else(|| format!("{id}: its type {} is not known", type_ref.code))?;
        let Some(root) = definition.root() else {
            return Err(format!("{id}: its type {} is empty", type_ref.code));
        };
        let (root_id, root_path) = (root.id().to_owned(), root.path.clone());
        Ok(definition.elements[1..]
            .iter()
            .map(|other| {
                let mut copy = other.clone();
                copy.id = Some(format!("{id}{}", &other.id()[root_id.len()..]));
                copy.path = format!("{path}{}", &other.path[root_path.len()..]);
                copy
            })
            .collect())
    }

    /// Applies a differential element to the snapshot element at `position`.
    fn merge(&mut self, position: usize, raw: &Value) -> Result<(), String> {
        let Some(object) = raw.as_object() else {
            return Err("a differential element must be an object".into());
        };
        let element = &mut self.elements[position];
        if let Some(min) = object.get("min").and_then(Value::as_u64) {
            let min = u32::try_from(min).map_err(|_| "min too large".to_owned())?;
            if element.slice_name.is_none() && min < element.min {
                return Err(format!("min {min} is below the base's {}", element.min));
            }
            element.min = min;
        }
        if let Some(max) = object.get("max").and_then(Value::as_str) {
            let number = |text: &str| text.parse::<usize>().ok();
            if let (Some(base), Some(new)) = (element.max_count(), number(max))
                && new > base
            {
                return Err(format!("max {max} is above the base's {base}"));
            }
            if element.max_count().is_some() && max == "*" {
                return Err("max * is above the base's".into());
            }
            if !element.other.contains_key(BASE_MAX)
                && let Some(base) = element.max.clone()
            {
                element.other.insert(BASE_MAX.into(), Value::String(base));
            }
            element.max = Some(max.to_owned());
        }
        if let Some(types) = object.get("type") {
            let types: Vec<TypeRef> =
                serde_json::from_value(types.clone()).map_err(|error| format!("type: {error}"))?;
            for type_ref in &types {
                let allowed = element.types.iter().any(|base| {
                    base.code == type_ref.code
                        || base.code == "Resource"
                        || base.code == "DomainResource"
                });
                if !allowed {
                    return Err(format!("type {} is not one the base allows", type_ref.code));
                }
            }
            element.types = types;
        }
        if let Some(binding) = object.get("binding") {
            element.binding = Some(
                serde_json::from_value(binding.clone())
                    .map_err(|error| format!("binding: {error}"))?,
            );
        }
        if let Some(length) = object.get("maxLength").and_then(Value::as_u64) {
            element.max_length = usize::try_from(length).ok();
        }
        if let Some(constraints) = object.get("constraint") {
            let constraints: Vec<Constraint> = serde_json::from_value(constraints.clone())
                .map_err(|error| format!("constraint: {error}"))?;
            for mut constraint in constraints {
                constraint.source.get_or_insert_with(|| self.url.to_owned());
                element
                    .constraint
                    .retain(|other| other.key != constraint.key);
                element.constraint.push(constraint);
            }
        }
        if let Some(slicing) = object.get("slicing") {
            element.other.insert("slicing".into(), slicing.clone());
        }
        for (key, value) in object {
            if key.starts_with("fixed") || key.starts_with("pattern") {
                element.other.retain(|other, _| {
                    !(other.starts_with("fixed") || other.starts_with("pattern"))
                });
                element.other.insert(key.clone(), value.clone());
            }
        }
        Ok(())
    }
}

/// An element id without its slice names (`Patient.identifier:dni.system` →
/// `Patient.identifier.system`): its path.
fn unsliced(id: &str) -> String {
    id.split('.')
        .map(|segment| segment.split(':').next().unwrap_or(segment))
        .collect::<Vec<_>>()
        .join(".")
}

/// An element id without the slice name of its last segment.
fn unsliced_last(id: &str) -> String {
    match id.rsplit_once('.') {
        Some((parent, segment)) => {
            format!("{parent}.{}", segment.split(':').next().unwrap_or(segment))
        }
        None => id.to_owned(),
    }
}

/// The codes of a code system (nested concepts included).
fn concepts(system: &Value) -> Vec<String> {
    fn walk(concepts: &Value, out: &mut Vec<String>) {
        for concept in concepts.as_array().into_iter().flatten() {
            if let Some(code) = concept["code"].as_str() {
                out.push(code.to_owned());
            }
            walk(&concept["concept"], out);
        }
    }
    let mut out = Vec::new();
    walk(&system["concept"], &mut out);
    out
}

/// The (system, code) pairs of a value set's `compose.include` (whole code systems,
/// listed concepts, other value sets), less its `compose.exclude`.
fn expand(
    value_set: &Value,
    code_systems: &HashMap<&str, &Value>,
    value_sets: &HashMap<&str, &Value>,
    seen: &mut HashSet<String>,
) -> Result<Vec<(String, String)>, String> {
    let url = value_set["url"].as_str().unwrap_or_default();
    if !seen.insert(url.to_owned()) {
        return Err(format!("{url} includes itself"));
    }
    let part = |key: &str, seen: &mut HashSet<String>| -> Result<Vec<(String, String)>, String> {
        let mut codes = Vec::new();
        for include in value_set["compose"][key].as_array().into_iter().flatten() {
            if include.get("filter").is_some() {
                return Err("filters are not supported: list the concepts".into());
            }
            if let Some(system) = include["system"].as_str() {
                if let Some(listed) = include["concept"].as_array() {
                    codes.extend(
                        listed
                            .iter()
                            .filter_map(|concept| concept["code"].as_str())
                            .map(|code| (system.to_owned(), code.to_owned())),
                    );
                } else {
                    let whole = code_systems
                        .get(system)
                        .ok_or_else(|| format!("code system {system} is not known here"))?;
                    codes.extend(
                        concepts(whole)
                            .into_iter()
                            .map(|code| (system.to_owned(), code)),
                    );
                }
            }
            for other in include["valueSet"].as_array().into_iter().flatten() {
                let other = other.as_str().unwrap_or_default();
                let set = value_sets
                    .get(other)
                    .ok_or_else(|| format!("value set {other} is not known here"))?;
                codes.extend(expand(set, code_systems, value_sets, seen)?);
            }
        }
        Ok(codes)
    };
    let mut codes = part("include", seen)?;
    let excluded: HashSet<(String, String)> = part("exclude", seen)?.into_iter().collect();
    codes.retain(|pair| !excluded.contains(pair));
    seen.remove(url);
    Ok(codes)
}
