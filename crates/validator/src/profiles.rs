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

/// Why a profile's differential cannot be applied to its base.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// A `StructureDefinition` whose derivation is not `constraint`.
    #[error("only profiles (derivation constraint) can be added")]
    NotAConstraint,
    /// No `baseDefinition`.
    #[error("no baseDefinition")]
    NoBase,
    /// A `baseDefinition` that is not known.
    #[error("its base {base} is not known")]
    UnknownBase {
        /// The base's canonical URL.
        base: String,
    },
    /// A `type` other than the base's.
    #[error("it constrains {type_name}, its base {base} defines {base_type}")]
    TypeMismatch {
        /// The profile's type.
        type_name: String,
        /// The base's canonical URL.
        base: String,
        /// The base's type.
        base_type: String,
    },
    /// No `differential.element`.
    #[error("no differential.element")]
    NoDifferential,
    /// A differential element that is not an `ElementDefinition`.
    #[error("differential element: {detail}")]
    BadElement {
        /// What the JSON reader says.
        detail: String,
    },
    /// An element whose id does not fit its path.
    #[error("element {id} has path {path}")]
    PathMismatch {
        /// The element's id.
        id: String,
        /// Its path.
        path: String,
    },
    /// An element the snapshot has no place for.
    #[error(transparent)]
    Element(#[from] ElementError),
    /// A differential element that cannot be applied to its snapshot element.
    #[error("{id}: {source}")]
    Differential {
        /// The element's id.
        id: String,
        /// Why.
        source: DifferentialError,
    },
}

/// Why an element of a differential has no place in the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ElementError {
    /// No such element, and none to add it under.
    #[error("no element {id}")]
    NoElement {
        /// The element's id.
        id: String,
    },
    /// A slice of an element that is not sliced.
    #[error("{id} slices {sliced}, which has no slicing")]
    NotSliced {
        /// The slice's id.
        id: String,
        /// The id of the element it slices.
        sliced: String,
    },
    /// A child the parent element does not have.
    #[error("{id}: {parent} has no child {name}")]
    NoChild {
        /// The element's id.
        id: String,
        /// The parent's id.
        parent: String,
        /// The child's name.
        name: String,
    },
    /// Children of an element of several types.
    #[error("{id} has {count} types: restrict it to one before constraining its children")]
    SeveralTypes {
        /// The element's id.
        id: String,
        /// How many types it has.
        count: usize,
    },
    /// Children of an element whose type is not known.
    #[error("{id}: its type {type_code} is not known")]
    UnknownType {
        /// The element's id.
        id: String,
        /// Its type.
        type_code: String,
    },
    /// Children of an element whose type definition has no elements.
    #[error("{id}: its type {type_code} is empty")]
    EmptyType {
        /// The element's id.
        id: String,
        /// Its type.
        type_code: String,
    },
}

/// Why a differential element cannot be applied to its snapshot element.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DifferentialError {
    /// The element is not a JSON object.
    #[error("a differential element must be an object")]
    NotAnObject,
    /// A `min` beyond 32 bits.
    #[error("min too large")]
    MinTooLarge,
    /// A `min` below the base's.
    #[error("min {min} is below the base's {base}")]
    MinBelowBase {
        /// The differential's `min`.
        min: u32,
        /// The base's.
        base: u32,
    },
    /// A `max` above the base's.
    #[error("max {max} is above the base's {base}")]
    MaxAboveBase {
        /// The differential's `max`.
        max: String,
        /// The base's.
        base: usize,
    },
    /// A `max` of `*` where the base's is bounded.
    #[error("max * is above the base's")]
    UnboundedMax,
    /// A `type`, `binding` or `constraint` that cannot be read.
    #[error("{field}: {detail}")]
    BadValue {
        /// The field (`type`, `binding`, `constraint`).
        field: &'static str,
        /// What the JSON reader says.
        detail: String,
    },
    /// A type the base element does not allow.
    #[error("type {type_code} is not one the base allows")]
    TypeNotAllowed {
        /// The type.
        type_code: String,
    },
}

/// Why a value set cannot be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueSetError {
    /// The value set includes itself, directly or through others.
    #[error("{url} includes itself")]
    IncludesItself {
        /// The value set's canonical URL.
        url: String,
    },
    /// An include with a filter.
    #[error("filters are not supported: list the concepts")]
    Filter,
    /// A whole code system that is not among the resources.
    #[error("code system {system} is not known here")]
    UnknownCodeSystem {
        /// The code system's canonical URL.
        system: String,
    },
    /// A value set that is not among the resources.
    #[error("value set {url} is not known here")]
    UnknownValueSet {
        /// The value set's canonical URL.
        url: String,
    },
}

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
                    serde_json::from_str::<Value>(text).map_err(|error| DefinitionError::Json {
                        context: format!("profiles/{path}"),
                        detail: error.to_string(),
                    })
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
                .map_err(|source| DefinitionError::ValueSet {
                    url: (*url).to_owned(),
                    source,
                })?;
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
                let profiles = waiting
                    .iter()
                    .map(|profile| {
                        (
                            profile["url"].as_str().unwrap_or("?").to_owned(),
                            profile["baseDefinition"]
                                .as_str()
                                .unwrap_or("none")
                                .to_owned(),
                        )
                    })
                    .collect();
                return Err(DefinitionError::UnknownBases { profiles });
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
        let url = field("url").ok_or(DefinitionError::NoUrl)?;
        let fail = |source: ProfileError| DefinitionError::Profile {
            url: url.clone(),
            source,
        };
        if field("derivation").as_deref() != Some("constraint") {
            return Err(fail(ProfileError::NotAConstraint));
        }
        let base_url = field("baseDefinition").ok_or_else(|| fail(ProfileError::NoBase))?;
        let base = self.by_url(&base_url).cloned().ok_or_else(|| {
            fail(ProfileError::UnknownBase {
                base: base_url.clone(),
            })
        })?;
        let type_name = field("type").unwrap_or_else(|| base.type_name.clone());
        if type_name != base.type_name {
            return Err(fail(ProfileError::TypeMismatch {
                type_name,
                base: base_url,
                base_type: base.type_name.clone(),
            }));
        }
        let mut snapshot = Snapshot {
            definitions: self,
            elements: base.elements.clone(),
            url: &url,
        };
        let differential = profile["differential"]["element"]
            .as_array()
            .ok_or_else(|| fail(ProfileError::NoDifferential))?;
        for raw in differential {
            let element: ElementDefinition =
                serde_json::from_value(raw.clone()).map_err(|error| {
                    fail(ProfileError::BadElement {
                        detail: error.to_string(),
                    })
                })?;
            let id = element
                .id
                .clone()
                .unwrap_or_else(|| match &element.slice_name {
                    Some(slice) => format!("{}:{slice}", element.path),
                    None => element.path.clone(),
                });
            if unsliced(&id) != element.path {
                return Err(fail(ProfileError::PathMismatch {
                    id,
                    path: element.path,
                }));
            }
            let position = snapshot
                .find_or_create(&id)
                .map_err(|error| fail(error.into()))?;
            snapshot
                .merge(position, raw)
                .map_err(|source| fail(ProfileError::Differential { id, source }))?;
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
    fn find_or_create(&mut self, id: &str) -> Result<usize, ElementError> {
        if let Some(position) = self.position(id) {
            return Ok(position);
        }
        let Some((parent, segment)) = id.rsplit_once('.') else {
            return Err(ElementError::NoElement { id: id.to_owned() });
        };
        let no_child = || ElementError::NoChild {
            id: id.to_owned(),
            parent: parent.to_owned(),
            name: segment.to_owned(),
        };
        if let Some((name, slice)) = segment.split_once(':') {
            let sliced_id = format!("{parent}.{name}");
            let sliced = self.find_or_create(&sliced_id)?;
            if !self.elements[sliced].other.contains_key("slicing") {
                return Err(ElementError::NotSliced {
                    id: id.to_owned(),
                    sliced: sliced_id,
                });
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
            return Err(no_child());
        }
        let children = self.children_for(parent_position)?;
        let at = parent_position + 1;
        self.elements.splice(at..at, children);
        self.position(id).ok_or_else(no_child)
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
    fn children_for(&self, position: usize) -> Result<Vec<ElementDefinition>, ElementError> {
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
            return Err(ElementError::SeveralTypes {
                id,
                count: element.types.len(),
            });
        };
        let definition = type_ref
            .profile
            .iter()
            .find_map(|url| self.definitions.by_url(url))
            .or_else(|| self.definitions.of_type(&type_ref.code))
            .ok_or_else(|| ElementError::UnknownType {
                id: id.clone(),
                type_code: type_ref.code.clone(),
            })?;
        let Some(root) = definition.root() else {
            return Err(ElementError::EmptyType {
                id,
                type_code: type_ref.code.clone(),
            });
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
    fn merge(&mut self, position: usize, raw: &Value) -> Result<(), DifferentialError> {
        let bad = |field: &'static str| {
            move |error: serde_json::Error| DifferentialError::BadValue {
                field,
                detail: error.to_string(),
            }
        };
        let Some(object) = raw.as_object() else {
            return Err(DifferentialError::NotAnObject);
        };
        let element = &mut self.elements[position];
        if let Some(min) = object.get("min").and_then(Value::as_u64) {
            let min = u32::try_from(min).map_err(|_| DifferentialError::MinTooLarge)?;
            if element.slice_name.is_none() && min < element.min {
                return Err(DifferentialError::MinBelowBase {
                    min,
                    base: element.min,
                });
            }
            element.min = min;
        }
        if let Some(max) = object.get("max").and_then(Value::as_str) {
            let number = |text: &str| text.parse::<usize>().ok();
            if let (Some(base), Some(new)) = (element.max_count(), number(max))
                && new > base
            {
                return Err(DifferentialError::MaxAboveBase {
                    max: max.to_owned(),
                    base,
                });
            }
            if element.max_count().is_some() && max == "*" {
                return Err(DifferentialError::UnboundedMax);
            }
            if !element.other.contains_key(BASE_MAX)
                && let Some(base) = element.max.clone()
            {
                element.other.insert(BASE_MAX.into(), Value::String(base));
            }
            element.max = Some(max.to_owned());
        }
        if let Some(types) = object.get("type") {
            let types: Vec<TypeRef> = serde_json::from_value(types.clone()).map_err(bad("type"))?;
            for type_ref in &types {
                let allowed = element.types.iter().any(|base| {
                    base.code == type_ref.code
                        || base.code == "Resource"
                        || base.code == "DomainResource"
                });
                if !allowed {
                    return Err(DifferentialError::TypeNotAllowed {
                        type_code: type_ref.code.clone(),
                    });
                }
            }
            element.types = types;
        }
        if let Some(binding) = object.get("binding") {
            element.binding =
                Some(serde_json::from_value(binding.clone()).map_err(bad("binding"))?);
        }
        if let Some(length) = object.get("maxLength").and_then(Value::as_u64) {
            element.max_length = usize::try_from(length).ok();
        }
        if let Some(constraints) = object.get("constraint") {
            let constraints: Vec<Constraint> =
                serde_json::from_value(constraints.clone()).map_err(bad("constraint"))?;
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
) -> Result<Vec<(String, String)>, ValueSetError> {
    let url = value_set["url"].as_str().unwrap_or_default();
    if !seen.insert(url.to_owned()) {
        return Err(ValueSetError::IncludesItself {
            url: url.to_owned(),
        });
    }
    let part = |key: &str,
                seen: &mut HashSet<String>|
     -> Result<Vec<(String, String)>, ValueSetError> {
        let mut codes = Vec::new();
        for include in value_set["compose"][key].as_array().into_iter().flatten() {
            if include.get("filter").is_some() {
                return Err(ValueSetError::Filter);
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
                    let whole = code_systems.get(system).ok_or_else(|| {
                        ValueSetError::UnknownCodeSystem {
                            system: system.to_owned(),
                        }
                    })?;
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
                    .ok_or_else(|| ValueSetError::UnknownValueSet {
                        url: other.to_owned(),
                    })?;
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
