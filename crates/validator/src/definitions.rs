//! The definitions validation is driven by: `StructureDefinition` snapshots and the
//! expanded value sets of their required bindings, as vendored (trimmed) from HL7's R4
//! package under `profiles/r4/validation/` and compiled into the binary.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use serde::Deserialize;
use serde_json::Value;

/// The trimmed R4 `StructureDefinitions` (`scripts/vendor-fhir-r4-validation.mjs`).
const R4_DEFINITIONS: &str = include_str!("../../../profiles/r4/validation/definitions.json");
/// The expanded value sets of the R4 required bindings.
const R4_TERMINOLOGY: &str = include_str!("../../../profiles/r4/validation/terminology.json");

/// Where a profile's snapshot element keeps its base's maximum cardinality.
pub(crate) const BASE_MAX: &str = "_baseMax";

/// Why definitions could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DefinitionError {
    /// A text is not the JSON expected.
    #[error("{context}: {detail}")]
    Json {
        /// What the text is (`profiles/pe/patient.json`, `terminology`).
        context: String,
        /// What the JSON parser says.
        detail: String,
    },
    /// A value set cannot be expanded.
    #[error("ValueSet {url}: {source}")]
    ValueSet {
        /// The value set's canonical URL.
        url: String,
        /// Why.
        source: crate::profiles::ValueSetError,
    },
    /// Profiles whose base is neither known nor among the resources given.
    #[error(
        "profiles whose base is not known: {}",
        .profiles
            .iter()
            .map(|(url, base)| format!("{url} (base {base})"))
            .collect::<Vec<_>>()
            .join(", ")
    )]
    UnknownBases {
        /// `(url, baseDefinition)` of each such profile (`?` and `none` when absent).
        profiles: Vec<(String, String)>,
    },
    /// A profile without `url`.
    #[error("a profile without url")]
    NoUrl,
    /// A profile that cannot be added.
    #[error("{url}: {source}")]
    Profile {
        /// The profile's canonical URL.
        url: String,
        /// Why.
        source: crate::profiles::ProfileError,
    },
}

impl DefinitionError {
    fn json(context: &str, error: &serde_json::Error) -> Self {
        Self::Json {
            context: context.to_owned(),
            detail: error.to_string(),
        }
    }
}

/// A type an element may have.
#[derive(Debug, Clone, Deserialize)]
pub struct TypeRef {
    /// The type's code (`string`, `Reference`, `BackboneElement`, or for a primitive's
    /// value a FHIRPath system type).
    pub code: String,
    /// Profiles the referenced resource must conform to (for `Reference`).
    #[serde(default, rename = "targetProfile")]
    pub target_profile: Vec<String>,
    /// Profiles the value must conform to.
    #[serde(default)]
    pub profile: Vec<String>,
    #[serde(default)]
    extension: Vec<Value>,
}

impl TypeRef {
    /// The FHIR type of an element whose type is a FHIRPath system type (`id`, `url`,
    /// `value` of primitives): the `structuredefinition-fhir-type` extension.
    #[must_use]
    pub fn fhir_type(&self) -> Option<&str> {
        self.extension.iter().find_map(|extension| {
            (extension.get("url")?.as_str()?
                == "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type")
                .then(|| extension.get("valueUrl")?.as_str())
                .flatten()
        })
    }

    /// The regular expression a primitive's value must match, if the definition has one.
    #[must_use]
    pub fn regex(&self) -> Option<&str> {
        self.extension.iter().find_map(|extension| {
            (extension.get("url")?.as_str()? == "http://hl7.org/fhir/StructureDefinition/regex")
                .then(|| extension.get("valueString")?.as_str())
                .flatten()
        })
    }
}

/// A binding of an element to a value set.
#[derive(Debug, Clone, Deserialize)]
pub struct Binding {
    /// `required`, `extensible`, `preferred` or `example`.
    pub strength: String,
    /// The value set's canonical URL (possibly with `|version`).
    #[serde(default, rename = "valueSet")]
    pub value_set: Option<String>,
}

/// An invariant (FHIRPath constraint).
#[derive(Debug, Clone, Deserialize)]
pub struct Constraint {
    /// Its key (`ele-1`, `pat-1`…).
    pub key: String,
    /// `error` or `warning`.
    pub severity: String,
    /// What it requires, in words.
    pub human: String,
    /// The FHIRPath expression.
    #[serde(default)]
    pub expression: Option<String>,
    /// The definition it comes from.
    #[serde(default)]
    pub source: Option<String>,
}

/// One element of a snapshot.
#[derive(Debug, Clone, Deserialize)]
pub struct ElementDefinition {
    /// The element's id (`Patient.contact.name`, `Extension.extension:foo`).
    #[serde(default)]
    pub id: Option<String>,
    /// The path (`Patient.contact.name`).
    pub path: String,
    /// The slice this element defines.
    #[serde(default, rename = "sliceName")]
    pub slice_name: Option<String>,
    /// Minimum cardinality.
    #[serde(default)]
    pub min: u32,
    /// Maximum cardinality (`*` or a number).
    #[serde(default)]
    pub max: Option<String>,
    /// The types allowed.
    #[serde(default, rename = "type")]
    pub types: Vec<TypeRef>,
    /// For an element defined elsewhere in the resource (`#Questionnaire.item`).
    #[serde(default, rename = "contentReference")]
    pub content_reference: Option<String>,
    /// The value-set binding.
    #[serde(default)]
    pub binding: Option<Binding>,
    /// The invariants.
    #[serde(default)]
    pub constraint: Vec<Constraint>,
    /// Maximum length of a string value.
    #[serde(default, rename = "maxLength")]
    pub max_length: Option<usize>,
    /// Every other key kept by the trimming: `fixed[x]`, `pattern[x]`, `slicing`.
    #[serde(flatten)]
    pub other: serde_json::Map<String, Value>,
    /// The last segment of the path, set when the definition is indexed.
    #[serde(skip)]
    name: String,
    /// The slicing of this element, parsed when the definition is indexed.
    #[serde(skip)]
    slicing: Option<Slicing>,
}

/// How the values of a repeating element are told apart into slices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slicing {
    /// What tells the slices apart: every discriminator must match.
    pub discriminators: Vec<Discriminator>,
    /// Whether the slices must come in the order of the definition.
    pub ordered: bool,
    /// Whether values that are in no slice are allowed, and where.
    pub rules: SlicingRules,
}

/// Whether a slicing allows values in none of its slices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlicingRules {
    /// Anywhere.
    Open,
    /// No.
    Closed,
    /// After the sliced values.
    OpenAtEnd,
}

/// One discriminator of a slicing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discriminator {
    /// `value`, `pattern`, `exists`, `type` or `profile`.
    pub kind: String,
    /// The FHIRPath of the discriminating element, from the sliced element
    /// (`system`, `url`, `$this`, `resource`).
    pub path: String,
}

impl Slicing {
    fn from_json(value: &Value) -> Self {
        let discriminators = value
            .get("discriminator")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|discriminator| Discriminator {
                kind: text(discriminator, "type"),
                path: text(discriminator, "path"),
            })
            .collect();
        Self {
            discriminators,
            ordered: value.get("ordered").and_then(Value::as_bool) == Some(true),
            rules: match value.get("rules").and_then(Value::as_str) {
                Some("closed") => SlicingRules::Closed,
                Some("openAtEnd") => SlicingRules::OpenAtEnd,
                _ => SlicingRules::Open,
            },
        }
    }
}

fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

impl ElementDefinition {
    /// The element's id: its path, with `:slice` after each sliced segment.
    #[must_use]
    pub fn id(&self) -> &str {
        self.id.as_deref().unwrap_or(&self.path)
    }

    /// How the element is sliced, if it is.
    #[must_use]
    pub fn slicing(&self) -> Option<&Slicing> {
        self.slicing.as_ref()
    }

    /// Whether the element is a JSON array: its base definition lets it repeat (a
    /// profile that narrows it to one value does not change its JSON form).
    #[must_use]
    pub fn repeats(&self) -> bool {
        let max = self
            .other
            .get(BASE_MAX)
            .and_then(Value::as_str)
            .or(self.max.as_deref());
        !matches!(max, Some("0" | "1"))
    }

    /// The maximum cardinality, `None` for unbounded.
    #[must_use]
    pub fn max_count(&self) -> Option<usize> {
        match self.max.as_deref() {
            None | Some("*") => None,
            Some(number) => number.parse().ok(),
        }
    }

    /// The last segment of the path (`name`, `value[x]`).
    #[must_use]
    pub fn name(&self) -> &str {
        if self.name.is_empty() {
            self.path.rsplit('.').next().unwrap_or(&self.path)
        } else {
            &self.name
        }
    }

    /// The `fixed[x]` value, with its key.
    #[must_use]
    pub fn fixed(&self) -> Option<(&str, &Value)> {
        self.prefixed("fixed")
    }

    /// The `pattern[x]` value, with its key.
    #[must_use]
    pub fn pattern(&self) -> Option<(&str, &Value)> {
        self.prefixed("pattern")
    }

    fn prefixed(&self, prefix: &str) -> Option<(&str, &Value)> {
        self.other
            .iter()
            .find(|(key, _)| key.starts_with(prefix))
            .map(|(key, value)| (key.as_str(), value))
    }
}

/// A `StructureDefinition`, as validation reads it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StructureDefinition {
    /// Canonical URL.
    pub url: String,
    /// Computer name.
    pub name: String,
    /// The type it defines or constrains.
    #[serde(rename = "type")]
    pub type_name: String,
    /// `primitive-type`, `complex-type` or `resource`.
    pub kind: String,
    /// Whether it is abstract.
    #[serde(default)]
    pub r#abstract: bool,
    /// What it derives from.
    #[serde(default, rename = "baseDefinition")]
    pub base_definition: Option<String>,
    /// `specialization` for base types and resources, `constraint` for profiles.
    #[serde(default)]
    pub derivation: Option<String>,
    /// The snapshot.
    pub elements: Vec<ElementDefinition>,
    /// Positions of each element's children (not slices) in `elements`, by element id.
    #[serde(skip)]
    children: HashMap<String, Vec<usize>>,
    /// Each element's children by JSON name, by element id.
    #[serde(skip)]
    child_index: HashMap<String, ChildIndex>,
    /// Position of each element by id.
    #[serde(skip)]
    by_id: HashMap<String, usize>,
    /// The slices of each sliced element (positions), in definition order.
    #[serde(skip)]
    slices: HashMap<usize, Vec<usize>>,
}

/// The children of one element, for finding the definition of a JSON property.
#[derive(Debug, Clone, Default)]
pub struct ChildIndex {
    /// Position of each child by name (`name`, or the stem of `value[x]`).
    names: HashMap<String, usize>,
    /// The stems of the choice children (`value` for `value[x]`), with positions.
    stems: Vec<(String, usize)>,
    /// The children with a minimum cardinality above 0.
    pub required: Vec<usize>,
}

impl ChildIndex {
    /// The child a JSON property (without a leading `_`) is, with the type suffix of a
    /// choice (`valueQuantity` → (position of `value[x]`, `Quantity`)).
    #[must_use]
    pub fn lookup<'k>(&self, key: &'k str) -> Option<(usize, Option<&'k str>)> {
        if let Some(position) = self.names.get(key) {
            return Some((*position, None));
        }
        self.stems.iter().find_map(|(stem, position)| {
            let suffix = key.strip_prefix(stem.as_str())?;
            suffix
                .starts_with(|c: char| c.is_ascii_uppercase())
                .then_some((*position, Some(suffix)))
        })
    }
}

impl StructureDefinition {
    pub(crate) fn index(&mut self) {
        self.children.clear();
        self.child_index.clear();
        self.by_id.clear();
        self.slices.clear();
        for element in &mut self.elements {
            element.name = element
                .path
                .rsplit('.')
                .next()
                .unwrap_or(&element.path)
                .to_owned();
            if element.id.is_none() {
                element.id = Some(element.path.clone());
            }
            element.slicing = element.other.get("slicing").map(Slicing::from_json);
        }
        for (position, element) in self.elements.iter().enumerate() {
            self.by_id.insert(element.id().to_owned(), position);
        }
        for (position, element) in self.elements.iter().enumerate() {
            let Some((parent, segment)) = element.id().rsplit_once('.') else {
                continue;
            };
            if let Some((name, _slice)) = segment.split_once(':') {
                // `Patient.identifier:dni` slices `Patient.identifier`.
                if let Some(sliced) = self.by_id.get(&format!("{parent}.{name}")) {
                    self.slices.entry(*sliced).or_default().push(position);
                }
                continue;
            }
            self.children
                .entry(parent.to_owned())
                .or_default()
                .push(position);
            let index = self.child_index.entry(parent.to_owned()).or_default();
            match segment.strip_suffix("[x]") {
                Some(stem) => index.stems.push((stem.to_owned(), position)),
                None => {
                    index.names.insert(segment.to_owned(), position);
                }
            }
            if element.min > 0 {
                index.required.push(position);
            }
        }
    }

    /// Whether this is a profile (a constraint on another definition) rather than a
    /// base type or resource.
    #[must_use]
    pub fn is_profile(&self) -> bool {
        self.derivation.as_deref() == Some("constraint")
    }

    /// The root element.
    #[must_use]
    pub fn root(&self) -> Option<&ElementDefinition> {
        self.elements.first()
    }

    /// The element with id `id` (a base definition's ids are its paths).
    #[must_use]
    pub fn element(&self, id: &str) -> Option<&ElementDefinition> {
        self.position(id).map(|position| &self.elements[position])
    }

    /// The position in the snapshot of the element with id `id`.
    #[must_use]
    pub fn position(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// The index of the children of the element with id `id`.
    #[must_use]
    pub fn child_index(&self, id: &str) -> Option<&ChildIndex> {
        self.child_index.get(id)
    }

    /// The index of the children of the element with id `id`, or for a slice that
    /// constrains none of them, of the element it slices.
    #[must_use]
    pub fn child_index_of(&self, id: &str) -> Option<&ChildIndex> {
        if let Some(index) = self.child_index.get(id) {
            return Some(index);
        }
        let colon = id.rfind(':')?;
        let end = id[colon..].find('.').map_or(id.len(), |dot| colon + dot);
        self.child_index_of(&format!("{}{}", &id[..colon], &id[end..]))
    }

    /// The slices (positions) of the element at `position`, in definition order.
    #[must_use]
    pub fn slices(&self, position: usize) -> &[usize] {
        self.slices.get(&position).map_or(&[], Vec::as_slice)
    }

    /// The element at a position of the snapshot.
    #[must_use]
    pub fn at(&self, position: usize) -> &ElementDefinition {
        &self.elements[position]
    }

    /// The children of the element with id `id`.
    pub fn children(&self, id: &str) -> impl Iterator<Item = &ElementDefinition> {
        self.children
            .get(id)
            .into_iter()
            .flatten()
            .map(|position| &self.elements[*position])
    }
}

/// A value set's codes.
#[derive(Debug)]
pub enum ValueSetCodes {
    /// The codes it contains.
    Codes(CodeSet),
    /// The value set could not be expanded here (why).
    NotExpanded(String),
}

/// The codes of an expanded value set, for lookups by code or by system and code.
#[derive(Debug, Default)]
pub struct CodeSet {
    by_system: HashMap<String, HashSet<String>>,
    codes: HashSet<String>,
}

impl CodeSet {
    /// Whether the set has `code` (in `system`, when one is given).
    #[must_use]
    pub fn contains(&self, system: Option<&str>, code: &str) -> bool {
        match system {
            Some(system) => self
                .by_system
                .get(system)
                .is_some_and(|codes| codes.contains(code)),
            None => self.codes.contains(code),
        }
    }

    /// How many (system, code) pairs it has.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_system.values().map(HashSet::len).sum()
    }

    /// Whether it has no code.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }
}

impl FromIterator<(String, String)> for CodeSet {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Self {
        let mut set = Self::default();
        for (system, code) in pairs {
            set.codes.insert(code.clone());
            set.by_system.entry(system).or_default().insert(code);
        }
        set
    }
}

#[derive(Deserialize)]
struct RawValueSet {
    url: String,
    #[serde(default)]
    codes: Vec<(String, String)>,
    #[serde(default, rename = "notExpanded")]
    not_expanded: Option<String>,
}

/// Definitions to validate against: base types and resources, profiles, value sets.
/// Cloning is cheap: the definitions themselves are shared.
#[derive(Debug, Default, Clone)]
pub struct Definitions {
    pub(crate) by_url: HashMap<String, Arc<StructureDefinition>>,
    /// Base definitions by type name.
    by_type: HashMap<String, Arc<StructureDefinition>>,
    pub(crate) value_sets: HashMap<String, Arc<ValueSetCodes>>,
}

impl Definitions {
    /// The FHIR R4 core definitions, parsed once.
    ///
    /// # Panics
    /// Never for the vendored files (a test parses them).
    #[must_use]
    #[allow(
        clippy::expect_used,
        reason = "the files are compiled in and parsed by every test: a failure is a build defect"
    )]
    pub fn r4() -> &'static Self {
        static R4: OnceLock<Definitions> = OnceLock::new();
        R4.get_or_init(|| {
            let mut definitions = Self::default();
            definitions
                .add_structure_definitions(R4_DEFINITIONS)
                .expect("the vendored R4 definitions parse");
            definitions
                .add_terminology(R4_TERMINOLOGY)
                .expect("the vendored R4 terminology parses");
            definitions
        })
    }

    /// Adds `StructureDefinitions` in the trimmed form (a JSON array).
    pub fn add_structure_definitions(&mut self, json: &str) -> Result<(), DefinitionError> {
        let list: Vec<StructureDefinition> = serde_json::from_str(json)
            .map_err(|error| DefinitionError::json("StructureDefinitions", &error))?;
        for mut definition in list {
            definition.index();
            let definition = Arc::new(definition);
            let is_base = definition
                .base_definition
                .as_deref()
                .is_none_or(|base| !base.ends_with(&format!("/{}", definition.type_name)))
                && definition.url
                    == format!(
                        "http://hl7.org/fhir/StructureDefinition/{}",
                        definition.type_name
                    );
            if is_base {
                self.by_type
                    .insert(definition.type_name.clone(), Arc::clone(&definition));
            }
            self.by_url.insert(definition.url.clone(), definition);
        }
        Ok(())
    }

    /// Adds expanded value sets (a JSON array of `{url, codes: [[system, code]…]}`).
    pub fn add_terminology(&mut self, json: &str) -> Result<(), DefinitionError> {
        let list: Vec<RawValueSet> = serde_json::from_str(json)
            .map_err(|error| DefinitionError::json("terminology", &error))?;
        for value_set in list {
            let codes = match value_set.not_expanded {
                Some(why) => ValueSetCodes::NotExpanded(why),
                None => ValueSetCodes::Codes(value_set.codes.into_iter().collect()),
            };
            self.value_sets.insert(value_set.url, Arc::new(codes));
        }
        Ok(())
    }

    /// The base definition of a type or resource.
    #[must_use]
    pub fn of_type(&self, type_name: &str) -> Option<&Arc<StructureDefinition>> {
        self.by_type.get(type_name)
    }

    /// A definition by canonical URL (a `|version` suffix is ignored).
    #[must_use]
    pub fn by_url(&self, url: &str) -> Option<&Arc<StructureDefinition>> {
        self.by_url.get(url.split('|').next().unwrap_or(url))
    }

    /// Every definition (base and profiles).
    pub fn structure_definitions(&self) -> impl Iterator<Item = &StructureDefinition> {
        self.by_url.values().map(AsRef::as_ref)
    }

    /// The canonical URLs of the profiles (not the base definitions), sorted.
    #[must_use]
    pub fn profile_urls(&self) -> Vec<&str> {
        let mut urls: Vec<&str> = self
            .by_url
            .values()
            .filter(|definition| definition.is_profile())
            .map(|definition| definition.url.as_str())
            .collect();
        urls.sort_unstable();
        urls
    }

    /// A value set's codes by canonical URL (a `|version` suffix is ignored).
    #[must_use]
    pub fn value_set(&self, url: &str) -> Option<&ValueSetCodes> {
        self.value_sets
            .get(url.split('|').next().unwrap_or(url))
            .map(Arc::as_ref)
    }
}
