//! The structural pass: a resource's JSON walked against the snapshot of its definition
//! (and of each element's type), checking cardinality, JSON shape, types and choice
//! types, primitive formats, fixed and pattern values, required bindings, nested
//! resources, and reporting elements no definition declares.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use regex::Regex;
use renhice_model::types::{CodeableConcept, Coding};
use renhice_model::{IssueSeverity, IssueType, OperationOutcomeIssue};
use serde_json::{Map, Value};

use crate::definitions::{
    Constraint, Definitions, Discriminator, ElementDefinition, SlicingRules, StructureDefinition,
    ValueSetCodes,
};
use crate::fhirpath;

/// The code system of the rules an issue breaks (`details.coding`).
pub const RULE_SYSTEM: &str = "http://renhice.org/fhir/CodeSystem/validation-rule";

/// A rule of the structural pass, named in each issue's `details`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Not JSON, not an object, no or unknown `resourceType`.
    Structure,
    /// Fewer or more occurrences than the definition allows.
    Cardinality,
    /// An array where one value is allowed, or a single value where an array is needed.
    Shape,
    /// A value of the wrong JSON type or FHIR type, or a choice element with no type.
    Type,
    /// A primitive value that does not match its type's format.
    Format,
    /// An element the definitions do not declare.
    UnknownElement,
    /// A value that differs from the definition's `fixed[x]`.
    Fixed,
    /// A value that does not contain the definition's `pattern[x]`.
    Pattern,
    /// A code outside the value set a required binding names.
    Binding,
    /// An element with neither a value nor children (`ele-1`).
    Empty,
    /// A string longer than the definition's `maxLength`.
    MaxLength,
    /// A value in no slice of a closed slicing, or slices out of their order.
    Slicing,
    /// A reference to a resource of a type the element does not allow.
    ReferenceTarget,
    /// A profile that is not known, or is not a profile of the resource's type.
    Profile,
}

impl Rule {
    /// The rule's code.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::Structure => "structure",
            Self::Cardinality => "cardinality",
            Self::Shape => "shape",
            Self::Type => "type",
            Self::Format => "format",
            Self::UnknownElement => "unknown-element",
            Self::Fixed => "fixed-value",
            Self::Pattern => "pattern-value",
            Self::Binding => "required-binding",
            Self::Empty => "ele-1",
            Self::MaxLength => "max-length",
            Self::Slicing => "slicing",
            Self::ReferenceTarget => "reference-target",
            Self::Profile => "profile",
        }
    }

    const fn issue_type(self) -> IssueType {
        match self {
            Self::Structure
            | Self::Shape
            | Self::UnknownElement
            | Self::Slicing
            | Self::ReferenceTarget
            | Self::Profile => IssueType::Structure,
            Self::Cardinality => IssueType::Required,
            Self::Type | Self::Format | Self::Fixed | Self::Pattern | Self::MaxLength => {
                IssueType::Value
            }
            Self::Binding => IssueType::CodeInvalid,
            Self::Empty => IssueType::Invariant,
        }
    }
}

/// How the validator treats what the definitions do not declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Unknown elements are errors (as an R4 server must refuse them).
    #[default]
    Strict,
    /// Unknown elements are warnings.
    Lenient,
}

/// Collects issues while walking.
pub(crate) struct Walk<'a, 'v> {
    pub(crate) definitions: &'a Definitions,
    pub(crate) mode: Mode,
    pub(crate) issues: Vec<OperationOutcomeIssue>,
    regexes: &'a Mutex<HashMap<String, Option<Regex>>>,
    /// The resources the walk is in, outermost first (`%rootResource`, `%resource`).
    resources: Vec<&'v Value>,
    /// Whether a resource (by address) conforms to a profile, as found by this
    /// validation and the ones it starts for references and slices; `true` while being
    /// found, so that resources referring to each other end.
    conformance: std::rc::Rc<std::cell::RefCell<HashMap<(usize, String), bool>>>,
}

/// Parsed invariants, shared by every validation (`Err`: why one cannot be read).
type Compiled = Result<std::sync::Arc<fhirpath::Expr>, fhirpath::FhirPathError>;

fn expression_cache() -> &'static Mutex<HashMap<String, Compiled>> {
    static CACHE: std::sync::OnceLock<Mutex<HashMap<String, Compiled>>> =
        std::sync::OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// Compiled primitive formats, shared by every validation.
pub(crate) fn regex_cache() -> &'static Mutex<HashMap<String, Option<Regex>>> {
    static CACHE: std::sync::OnceLock<Mutex<HashMap<String, Option<Regex>>>> =
        std::sync::OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

impl<'a, 'v> Walk<'a, 'v> {
    pub(crate) fn new(definitions: &'a Definitions, mode: Mode) -> Self {
        Self {
            definitions,
            mode,
            issues: Vec::new(),
            regexes: regex_cache(),
            resources: Vec::new(),
            conformance: std::rc::Rc::default(),
        }
    }

    /// Evaluates `constraints` (but `ele-1`, checked natively, and those whose keys are
    /// in `skip`) on `node`.
    fn invariants(
        &mut self,
        node: &'v Value,
        constraints: &[Constraint],
        skip: &[Constraint],
        path: &str,
    ) {
        let (Some(root), Some(resource)) = (
            self.resources.first().copied(),
            self.resources.last().copied(),
        ) else {
            return;
        };
        for constraint in constraints {
            if constraint.key == "ele-1" || skip.iter().any(|other| other.key == constraint.key) {
                continue;
            }
            let Some(text) = constraint.expression.as_deref() else {
                continue;
            };
            let compiled = {
                let mut cache = expression_cache()
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some(compiled) = cache.get(text) {
                    compiled.clone()
                } else {
                    let compiled = fhirpath::parse(text).map(std::sync::Arc::new);
                    cache.insert(text.to_owned(), compiled.clone());
                    compiled
                }
            };
            let env = fhirpath::Env {
                resource,
                root,
                context: node,
            };
            let outcome = compiled.and_then(|expr| fhirpath::holds(&expr, node, &env));
            match outcome {
                Ok(true) => {}
                Ok(false) => {
                    let severity = if constraint.severity == "warning" {
                        IssueSeverity::Warning
                    } else {
                        IssueSeverity::Error
                    };
                    self.invariant_issue(
                        severity,
                        &constraint.key,
                        path,
                        format!("{}: {} ({text})", constraint.key, constraint.human),
                    );
                }
                Err(why) => self.invariant_issue(
                    IssueSeverity::Information,
                    &constraint.key,
                    path,
                    format!("{} was not evaluated: {why}", constraint.key),
                ),
            }
        }
    }

    /// An issue for an invariant: the rule is its key.
    fn invariant_issue(&mut self, severity: IssueSeverity, key: &str, path: &str, message: String) {
        let details = CodeableConcept {
            coding: vec![Coding::new(RULE_SYSTEM, key)],
            ..CodeableConcept::default()
        };
        self.issues.push(
            OperationOutcomeIssue::new(severity, IssueType::Invariant, message)
                .with_details(details)
                .at(path),
        );
    }

    pub(crate) fn issue(
        &mut self,
        severity: IssueSeverity,
        rule: Rule,
        path: &str,
        message: impl Into<String>,
    ) {
        let details = CodeableConcept {
            coding: vec![Coding::new(RULE_SYSTEM, rule.code())],
            ..CodeableConcept::default()
        };
        let issue =
            OperationOutcomeIssue::new(severity, rule.issue_type(), message).with_details(details);
        // A resource without a known type has no path to name.
        self.issues.push(if path.is_empty() {
            issue
        } else {
            issue.at(path)
        });
    }

    fn error(&mut self, rule: Rule, path: &str, message: impl Into<String>) {
        self.issue(IssueSeverity::Error, rule, path, message);
    }

    /// Validates a resource (the JSON object at `path`) against its base definition, or
    /// against `profiles` and those of its `meta.profile` that are known.
    pub(crate) fn resource(&mut self, value: &'v Value, path: &str, profiles: &[String]) {
        let Some(object) = value.as_object() else {
            self.error(Rule::Structure, path, "a resource must be a JSON object");
            return;
        };
        let Some(type_name) = object.get("resourceType").and_then(Value::as_str) else {
            self.error(Rule::Structure, path, "the resource has no resourceType");
            return;
        };
        let Some(definition) = self.definitions.of_type(type_name) else {
            self.error(
                Rule::Structure,
                path,
                format!("resourceType {type_name:?} is not a FHIR R4 resource"),
            );
            return;
        };
        if definition.kind != "resource" || definition.r#abstract {
            self.error(
                Rule::Structure,
                path,
                format!("{type_name} is not a concrete FHIR R4 resource"),
            );
            return;
        }
        let path = if path.is_empty() { type_name } else { path };
        let walked = self.profiles_of(object, type_name, definition, profiles, path);
        let before = self.issues.len();
        self.resources.push(value);
        for definition in &walked {
            let root_id = definition.root().map_or(type_name, ElementDefinition::id);
            self.complex(object, definition, root_id, path, true);
            if let Some(root) = definition.root() {
                self.invariants(value, &root.constraint, &[], path);
            }
        }
        self.resources.pop();
        if walked.len() > 1 {
            // What the base definition finds, every profile of it finds again.
            let mut seen = Vec::new();
            let tail: Vec<OperationOutcomeIssue> = self.issues.drain(before..).collect();
            for issue in tail {
                if !seen.contains(&issue) {
                    seen.push(issue);
                }
            }
            self.issues.extend(seen);
        }
    }

    /// The definitions a resource is walked against: the profiles asked for and those
    /// it claims in `meta.profile` that are known, or its base definition.
    fn profiles_of(
        &mut self,
        object: &Map<String, Value>,
        type_name: &str,
        base: &Arc<StructureDefinition>,
        asked: &[String],
        path: &str,
    ) -> Vec<Arc<StructureDefinition>> {
        let base = Arc::clone(base);
        let mut walked: Vec<Arc<StructureDefinition>> = Vec::new();
        let claimed = object
            .get("meta")
            .and_then(|meta| meta.get("profile"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
            .filter_map(|(index, url)| Some((url.as_str()?, Some(index))));
        let urls: Vec<(&str, Option<usize>)> = asked
            .iter()
            .map(|url| (url.as_str(), None))
            .chain(claimed)
            .collect();
        for (url, claimed_at) in urls {
            let at = claimed_at.map_or_else(
                || path.to_owned(),
                |index| format!("{path}.meta.profile[{index}]"),
            );
            match self.definitions.by_url(url) {
                Some(profile) if profile.type_name == type_name => {
                    if !walked.iter().any(|known| known.url == profile.url) {
                        walked.push(Arc::clone(profile));
                    }
                }
                Some(profile) => {
                    let message = format!(
                        "{url} is a profile of {}, not of {type_name}",
                        profile.type_name
                    );
                    self.error(Rule::Profile, &at, message);
                }
                None if claimed_at.is_none() => {
                    self.error(
                        Rule::Profile,
                        &at,
                        format!("profile {url} is not known here"),
                    );
                }
                None => self.issue(
                    IssueSeverity::Information,
                    Rule::Profile,
                    &at,
                    format!("profile {url} is not known here: checked against FHIR R4 only"),
                ),
            }
        }
        if walked.is_empty() {
            walked.push(base);
        }
        walked
    }

    /// Validates the children of a complex value `object` against the element
    /// `element_id` of `definition`.
    fn complex(
        &mut self,
        object: &'v Map<String, Value>,
        definition: &StructureDefinition,
        element_id: &str,
        path: &str,
        is_resource: bool,
    ) {
        let empty = crate::definitions::ChildIndex::default();
        let index = definition.child_index_of(element_id).unwrap_or(&empty);
        let element_path = definition
            .element(element_id)
            .map_or(element_id, |element| element.path.as_str());
        // Each property to the child it is (by snapshot position), in snapshot order.
        let mut present: Vec<(usize, &str, Option<&str>)> = Vec::with_capacity(object.len());
        let mut unknown = Vec::new();
        for key in object.keys() {
            if is_resource && key == "resourceType" {
                continue;
            }
            let bare = key.strip_prefix('_').unwrap_or(key);
            match index.lookup(bare) {
                Some((position, suffix)) => {
                    // `name` and `_name` are one element.
                    if !present.iter().any(|(p, n, _)| *p == position && *n == bare) {
                        present.push((position, bare, suffix));
                    }
                }
                None => unknown.push(key),
            }
        }
        present.sort_by_key(|(position, _, _)| *position);
        for required in &index.required {
            if !present.iter().any(|(position, _, _)| position == required) {
                let child = definition.at(*required);
                self.count(child, 0, &format!("{path}.{}", child.name()));
            }
        }
        let mut previous: Option<(usize, &str)> = None;
        for (position, name, suffix) in &present {
            let child = definition.at(*position);
            let Some(suffix) = suffix else {
                self.element(object, name, *position, None, definition, path);
                continue;
            };
            let stem = child.name().trim_end_matches("[x]");
            if let Some((before, other)) = previous
                && before == *position
            {
                self.error(
                    Rule::Type,
                    &format!("{path}.{stem}[x]"),
                    format!("{stem}[x] has one value, of one type; here it has {other} and {name}"),
                );
                continue;
            }
            previous = Some((*position, name));
            let Some(type_ref) = child.types.iter().find(|t| capitalised(&t.code) == *suffix)
            else {
                self.error(
                    Rule::Type,
                    &format!("{path}.{name}"),
                    format!(
                        "{stem}[x] may not be of type {suffix} here (allowed: {})",
                        child
                            .types
                            .iter()
                            .map(|t| t.code.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                continue;
            };
            let code = type_ref.code.clone();
            self.element(object, name, *position, Some(&code), definition, path);
        }
        for key in unknown {
            let severity = match self.mode {
                Mode::Strict => IssueSeverity::Error,
                Mode::Lenient => IssueSeverity::Warning,
            };
            self.issue(
                severity,
                Rule::UnknownElement,
                &format!("{path}.{key}"),
                format!("{key:?} is not an element of {element_path} in FHIR R4"),
            );
        }
    }

    fn count(&mut self, element: &ElementDefinition, count: usize, path: &str) {
        if count < element.min as usize {
            self.error(
                Rule::Cardinality,
                path,
                format!(
                    "{} is required: at least {} value(s), found {count}",
                    element.path, element.min
                ),
            );
        }
        if let Some(max) = element.max_count()
            && count > max
        {
            self.error(
                Rule::Cardinality,
                path,
                format!(
                    "{} allows at most {max} value(s), found {count}",
                    element.path
                ),
            );
        }
    }

    /// Validates the element `key` of `object` (its value and, for primitives, its
    /// `_key` companion), defined at `position` of `definition`.
    fn element(
        &mut self,
        object: &'v Map<String, Value>,
        key: &str,
        position: usize,
        choice: Option<&str>,
        definition: &StructureDefinition,
        parent_path: &str,
    ) {
        let element = definition.at(position);
        let value = object.get(key);
        let companion = object.get(&format!("_{key}"));
        let path = format!("{parent_path}.{key}");
        let repeats = element.repeats();
        let as_list = |value: Option<&'v Value>| -> Vec<&'v Value> {
            match value {
                None => Vec::new(),
                Some(Value::Array(items)) => items.iter().collect(),
                Some(other) => vec![other],
            }
        };
        if let Some(value) = value {
            if repeats && !value.is_array() {
                self.error(
                    Rule::Shape,
                    &path,
                    format!("{} repeats: its value must be a JSON array", element.path),
                );
                return;
            }
            if !repeats && value.is_array() {
                self.error(
                    Rule::Shape,
                    &path,
                    format!(
                        "{} has at most one value: it must not be a JSON array",
                        element.path
                    ),
                );
                return;
            }
            if let Value::Array(items) = value
                && items.is_empty()
            {
                self.error(
                    Rule::Empty,
                    &path,
                    "an array must not be empty: leave the element out",
                );
            }
        }
        let (values, companions) = (as_list(value), as_list(companion));
        let count = values.len().max(companions.len());
        self.count(element, count, &path);
        let slices = if definition.slices(position).is_empty() {
            Vec::new()
        } else {
            self.assign_slices(&values, position, definition, &path, repeats)
        };
        for index in 0..count {
            let item_path = if repeats {
                format!("{path}[{index}]")
            } else {
                path.clone()
            };
            let item = values.get(index).copied().filter(|v| !v.is_null());
            let extra = companions.get(index).copied().filter(|v| !v.is_null());
            if item.is_none() && extra.is_none() {
                self.error(
                    Rule::Empty,
                    &item_path,
                    "a null with no extension in its place: every element needs a value or children",
                );
                continue;
            }
            // A value in a slice is held to the slice's definition.
            let item_position = slices.get(index).copied().flatten().unwrap_or(position);
            let item_element = definition.at(item_position);
            if let Some(reference) = &item_element.content_reference {
                let target = reference.trim_start_matches('#');
                match item.and_then(|item| Some((item, item.as_object()?))) {
                    Some((item, object)) => {
                        self.backbone(object, definition, target, &item_path);
                        // The invariants of the element it repeats (`que-1` on every
                        // level of `Questionnaire.item`).
                        if let Some(target_element) = definition.element(target) {
                            self.invariants(item, &target_element.constraint, &[], &item_path);
                        }
                    }
                    None => self.error(
                        Rule::Type,
                        &item_path,
                        format!("{} must be a JSON object", element.path),
                    ),
                }
                continue;
            }
            let type_code = choice
                .map(str::to_owned)
                .or_else(|| single_type(item_element, definition));
            let Some(type_code) = type_code.as_deref() else {
                continue;
            };
            self.typed(
                item,
                extra,
                type_code,
                item_position,
                definition,
                &item_path,
            );
        }
    }

    /// The slice each value of a sliced element is in (`None`: in none), reporting the
    /// slices' cardinalities, values in no slice of a closed slicing, and order.
    #[allow(
        clippy::too_many_lines,
        reason = "one pass over the values: assignment, then each slicing rule in turn"
    )]
    fn assign_slices(
        &mut self,
        values: &[&'v Value],
        position: usize,
        definition: &StructureDefinition,
        path: &str,
        repeats: bool,
    ) -> Vec<Option<usize>> {
        let element = definition.at(position);
        let Some(slicing) = element.slicing() else {
            return Vec::new();
        };
        let slices = definition.slices(position);
        let assigned: Vec<Option<usize>> = values
            .iter()
            .map(|value| {
                slices.iter().copied().find(|slice| {
                    slicing.discriminators.iter().all(|discriminator| {
                        self.discriminates(value, *slice, discriminator, definition)
                    })
                })
            })
            .collect();
        for slice in slices {
            let slice_element = definition.at(*slice);
            let name = slice_element.slice_name.as_deref().unwrap_or_default();
            let found = assigned
                .iter()
                .filter(|other| **other == Some(*slice))
                .count();
            if found < slice_element.min as usize {
                self.error(
                    Rule::Cardinality,
                    path,
                    format!(
                        "slice {name} of {} is required: at least {} value(s), found {found}",
                        element.path, slice_element.min
                    ),
                );
            }
            if let Some(max) = slice_element.max_count()
                && found > max
            {
                self.error(
                    Rule::Cardinality,
                    path,
                    format!(
                        "slice {name} of {} allows at most {max} value(s), found {found}",
                        element.path
                    ),
                );
            }
        }
        let item_path = |index: usize| {
            if repeats {
                format!("{path}[{index}]")
            } else {
                path.to_owned()
            }
        };
        let names = || {
            slices
                .iter()
                .filter_map(|slice| definition.at(*slice).slice_name.as_deref())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut last_rank = 0;
        let mut unsliced_seen = false;
        for (index, slice) in assigned.iter().enumerate() {
            match slice {
                None if slicing.rules == SlicingRules::Closed => self.error(
                    Rule::Slicing,
                    &item_path(index),
                    format!(
                        "in none of the slices of {} ({}), and no other values are allowed",
                        element.path,
                        names()
                    ),
                ),
                None => unsliced_seen = true,
                Some(slice) => {
                    let rank = slices.iter().position(|other| other == slice).unwrap_or(0);
                    if unsliced_seen && slicing.rules == SlicingRules::OpenAtEnd {
                        self.error(
                            Rule::Slicing,
                            &item_path(index),
                            format!(
                                "values in none of the slices of {} must come after the slices",
                                element.path
                            ),
                        );
                    }
                    if slicing.ordered && rank < last_rank {
                        self.error(
                            Rule::Slicing,
                            &item_path(index),
                            format!(
                                "the slices of {} must come in their order ({})",
                                element.path,
                                names()
                            ),
                        );
                    }
                    last_rank = last_rank.max(rank);
                }
            }
        }
        assigned
    }

    /// Whether `value` is in the slice at `slice` as far as `discriminator` tells.
    fn discriminates(
        &self,
        value: &'v Value,
        slice: usize,
        discriminator: &Discriminator,
        definition: &StructureDefinition,
    ) -> bool {
        let found = values_at(value, &discriminator.path);
        let target = self.element_at(definition, slice, &discriminator.path);
        match discriminator.kind.as_str() {
            "value" | "pattern" => {
                let expected = target.and_then(|element| {
                    element
                        .fixed()
                        .map(|(_, fixed)| (false, fixed.clone()))
                        .or_else(|| {
                            element
                                .pattern()
                                .map(|(_, pattern)| (true, pattern.clone()))
                        })
                });
                // An extension slice is told by its profile's url.
                let expected = expected.or_else(|| {
                    (discriminator.path == "url")
                        .then(|| slice_profile(definition.at(slice)))
                        .flatten()
                        .map(|url| (false, Value::String(url.to_owned())))
                });
                expected.is_some_and(|(is_pattern, expected)| {
                    found.iter().any(|value| {
                        if is_pattern {
                            contains(value, &expected)
                        } else {
                            **value == expected
                        }
                    })
                })
            }
            "exists" => match target {
                Some(element) if element.min > 0 => !found.is_empty(),
                Some(element) if element.max_count() == Some(0) => found.is_empty(),
                _ => false,
            },
            "type" => target.is_some_and(|element| {
                found.iter().any(|value| {
                    value
                        .get("resourceType")
                        .and_then(Value::as_str)
                        .is_some_and(|found| element.types.iter().any(|t| t.code == found))
                })
            }),
            "profile" => target.is_some_and(|element| {
                element
                    .types
                    .iter()
                    .flat_map(|t| &t.profile)
                    .any(|url| found.iter().any(|value| self.conforms(value, url)))
            }),
            _ => false,
        }
    }

    /// The element a discriminator path names from a slice: in the slice's own
    /// children, or in the profile of the slice's type.
    fn element_at<'d>(
        &self,
        definition: &'d StructureDefinition,
        slice: usize,
        path: &str,
    ) -> Option<&'d ElementDefinition>
    where
        'a: 'd,
    {
        let element = definition.at(slice);
        if path == "$this" {
            return Some(element);
        }
        if let Some(found) = definition.element(&format!("{}.{path}", element.id())) {
            return Some(found);
        }
        let profile = self.definitions.by_url(slice_profile(element)?)?;
        let root = profile.root()?;
        profile.element(&format!("{}.{path}", root.id()))
    }

    /// Whether `value` has no error against the profile `url` (found once per
    /// validation for each value and profile).
    fn conforms(&self, value: &'v Value, url: &str) -> bool {
        let key = (std::ptr::from_ref(value) as usize, url.to_owned());
        if let Some(known) = self.conformance.borrow().get(&key) {
            return *known;
        }
        self.conformance.borrow_mut().insert(key.clone(), true);
        let found = self.conforms_now(value, url);
        self.conformance.borrow_mut().insert(key, found);
        found
    }

    fn conforms_now(&self, value: &'v Value, url: &str) -> bool {
        let Some(profile) = self.definitions.by_url(url) else {
            return false;
        };
        let mut walk = Walk::new(self.definitions, self.mode);
        walk.conformance = std::rc::Rc::clone(&self.conformance);
        walk.resources.clone_from(&self.resources);
        if value.get("resourceType").is_some() {
            walk.resource(value, "", &[url.to_owned()]);
        } else if let (Some(object), Some(root)) = (value.as_object(), profile.root()) {
            walk.complex(object, profile, root.id(), root.id(), false);
        }
        !walk
            .issues
            .iter()
            .any(|issue| matches!(issue.severity, IssueSeverity::Fatal | IssueSeverity::Error))
    }

    /// Validates one value of type `type_code`, defined at `position` of `definition`.
    fn typed(
        &mut self,
        item: Option<&'v Value>,
        extra: Option<&'v Value>,
        type_code: &str,
        position: usize,
        definition: &StructureDefinition,
        path: &str,
    ) {
        let element = definition.at(position);
        if let Some(extra) = extra {
            self.primitive_extension(extra, path);
        }
        let Some(item) = item else { return };
        let type_ref = element.types.iter().find(|t| t.code == type_code);
        let profiles = type_ref.map(|t| t.profile.clone()).unwrap_or_default();
        match type_code {
            "BackboneElement" | "Element" if element.path.contains('.') => match item.as_object() {
                Some(object) => self.backbone(object, definition, element.id(), path),
                None => self.error(
                    Rule::Type,
                    path,
                    format!("{} must be a JSON object", element.path),
                ),
            },
            "Resource" | "DomainResource" => self.resource(item, path, &profiles),
            code if code.starts_with("http://hl7.org/fhirpath/System.") => {
                // The value of a primitive type (only in the primitive's own definition).
            }
            code => {
                let Some(type_definition) = self.definitions.of_type(code).cloned() else {
                    return;
                };
                if type_definition.kind == "primitive-type" {
                    self.primitive(item, &type_definition, element, path);
                } else if type_definition.kind == "resource" {
                    // A profile may narrow `Resource` to one resource type.
                    if item.get("resourceType").and_then(Value::as_str) == Some(code) {
                        self.resource(item, path, &profiles);
                    } else {
                        self.error(
                            Rule::Type,
                            path,
                            format!("{} must be a {code} here", element.path),
                        );
                    }
                } else {
                    match item.as_object() {
                        Some(object) => {
                            self.complex_value(
                                object,
                                item,
                                &type_definition,
                                &profiles,
                                element,
                                definition,
                                path,
                            );
                        }
                        None => self.error(
                            Rule::Type,
                            path,
                            format!("a {code} must be a JSON object, found {}", json_kind(item)),
                        ),
                    }
                }
            }
        }
        self.fixed_and_pattern(item, element, path);
        self.binding(item, type_code, element, path);
        if type_code == "Reference" {
            self.reference_target(item, type_ref, element, path);
        }
        if !item.is_object() || type_code != "Resource" {
            self.invariants(item, &element.constraint, &[], path);
        }
    }

    /// A value of a complex data type: its children from the profile that constrains
    /// them in place, or from the type's profile, or (for an extension) the profile its
    /// url names, or from the type itself; then the type's invariants.
    #[allow(
        clippy::too_many_arguments,
        reason = "one step of the walk, with its context"
    )]
    fn complex_value(
        &mut self,
        object: &'v Map<String, Value>,
        item: &'v Value,
        type_definition: &Arc<StructureDefinition>,
        profiles: &[String],
        element: &ElementDefinition,
        definition: &StructureDefinition,
        path: &str,
    ) {
        self.not_empty(object, path);
        if element.path.contains('.') && definition.child_index_of(element.id()).is_some() {
            self.complex(object, definition, element.id(), path, false);
            if let Some(root) = type_definition.root() {
                self.invariants(item, &root.constraint, &element.constraint, path);
            }
            return;
        }
        let profile = profiles
            .iter()
            .find_map(|url| self.definitions.by_url(url))
            .or_else(|| {
                let url = object.get("url").and_then(Value::as_str)?;
                let profile = self.definitions.by_url(url)?;
                (type_definition.type_name == "Extension"
                    && profile.type_name == "Extension"
                    && profile.is_profile())
                .then_some(profile)
            })
            .cloned();
        let walked = profile.unwrap_or_else(|| Arc::clone(type_definition));
        let Some(root) = walked.root() else { return };
        self.complex(object, &walked, root.id(), path, false);
        // The data type's own invariants (`ref-1`, `per-1`…), with the profile's.
        self.invariants(item, &root.constraint, &element.constraint, path);
    }

    /// A `Reference` whose target's type is not one of the element's target profiles.
    fn reference_target(
        &mut self,
        item: &'v Value,
        type_ref: Option<&crate::definitions::TypeRef>,
        element: &ElementDefinition,
        path: &str,
    ) {
        let Some(type_ref) = type_ref.filter(|t| !t.target_profile.is_empty()) else {
            return;
        };
        let allowed: Vec<&str> = type_ref
            .target_profile
            .iter()
            .filter_map(|url| Some(self.definitions.by_url(url)?.type_name.as_str()))
            .collect();
        if allowed.is_empty()
            || allowed
                .iter()
                .any(|t| matches!(*t, "Resource" | "DomainResource"))
        {
            return;
        }
        let Some(found) = self.reference_type(item) else {
            return;
        };
        if !allowed.contains(&found.as_str()) {
            self.error(
                Rule::ReferenceTarget,
                path,
                format!(
                    "refers to a {found}; {} may refer to {}",
                    element.path,
                    allowed.join(", ")
                ),
            );
            return;
        }
        // A target in the same Bundle or contained is held to the profiles named for
        // its type (one of them suffices); others cannot be read from here.
        let profiles: Vec<&str> = type_ref
            .target_profile
            .iter()
            .filter(|url| {
                self.definitions
                    .by_url(url)
                    .is_some_and(|profile| profile.is_profile() && profile.type_name == found)
            })
            .map(String::as_str)
            .collect();
        if profiles.is_empty() {
            return;
        }
        let Some(target) = self.resolve(item) else {
            return;
        };
        if !profiles.iter().any(|url| self.conforms(target, url)) {
            self.error(
                Rule::ReferenceTarget,
                path,
                format!(
                    "the {found} it refers to does not conform to {} (validate it for the details)",
                    profiles.join(" or ")
                ),
            );
        }
    }

    /// The resource a `Reference` points at, when it is contained (`#id`) or an entry
    /// of the Bundle the walk is in (by `fullUrl`).
    fn resolve(&self, item: &Value) -> Option<&'v Value> {
        let reference = item.get("reference").and_then(Value::as_str)?;
        if let Some(local) = reference.strip_prefix('#') {
            return self.resources.iter().rev().find_map(|resource| {
                resource
                    .get("contained")?
                    .as_array()?
                    .iter()
                    .find(|contained| contained.get("id").and_then(Value::as_str) == Some(local))
            });
        }
        self.resources.iter().find_map(|resource| {
            resource
                .get("entry")?
                .as_array()?
                .iter()
                .find(|entry| entry.get("fullUrl").and_then(Value::as_str) == Some(reference))?
                .get("resource")
        })
    }

    /// The resource type a `Reference` points at, where it can be told: from its
    /// `type`, a contained resource (`#id`), an entry of the Bundle it is in (by
    /// `fullUrl`), or the `Type/id` of its URL.
    fn reference_type(&self, item: &Value) -> Option<String> {
        let known = |name: &str| {
            self.definitions
                .of_type(name)
                .is_some_and(|definition| definition.kind == "resource")
        };
        // A contained resource or an entry of the Bundle says what it is.
        if let Some(target) = self.resolve(item) {
            return target
                .get("resourceType")
                .and_then(Value::as_str)
                .map(str::to_owned);
        }
        let reference = item.get("reference").and_then(Value::as_str);
        if reference.is_some_and(|reference| reference.starts_with('#')) {
            return None;
        }
        if let Some(declared) = item.get("type").and_then(Value::as_str) {
            let name = declared.rsplit('/').next().unwrap_or(declared);
            return known(name).then(|| name.to_owned());
        }
        let reference = reference?;
        let without_version = reference.split("/_history/").next().unwrap_or(reference);
        let mut segments = without_version.rsplit('/');
        let (_, name) = (segments.next()?, segments.next()?);
        known(name).then(|| name.to_owned())
    }

    fn backbone(
        &mut self,
        object: &'v Map<String, Value>,
        definition: &StructureDefinition,
        element_id: &str,
        path: &str,
    ) {
        self.not_empty(object, path);
        self.complex(object, definition, element_id, path, false);
    }

    /// `ele-1` for an object: an element has a value or children.
    fn not_empty(&mut self, object: &Map<String, Value>, path: &str) {
        if object.is_empty() {
            self.error(
                Rule::Empty,
                path,
                "an element must have a value or children (ele-1)",
            );
        }
    }

    /// The `_element` object of a primitive: only `id` and `extension`.
    fn primitive_extension(&mut self, extra: &'v Value, path: &str) {
        let Some(definition) = self.definitions.of_type("Element").cloned() else {
            return;
        };
        match extra.as_object() {
            Some(object) => self.complex(object, &definition, "Element", path, false),
            None => self.error(
                Rule::Type,
                path,
                "the extensions of a primitive (the _element) must be a JSON object",
            ),
        }
    }

    /// A primitive value: JSON type and format.
    fn primitive(
        &mut self,
        item: &Value,
        type_definition: &StructureDefinition,
        element: &ElementDefinition,
        path: &str,
    ) {
        let code = type_definition.type_name.as_str();
        let json_ok = match code {
            "boolean" => item.is_boolean(),
            "integer" | "positiveInt" | "unsignedInt" => item.is_i64() || item.is_u64(),
            "decimal" => item.is_number(),
            _ => item.is_string(),
        };
        if !json_ok {
            self.error(
                Rule::Type,
                path,
                format!(
                    "a {code} must be a JSON {}, found {}",
                    json_for(code),
                    json_kind(item)
                ),
            );
            return;
        }
        let text = match item {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        if let Some(max) = element.max_length
            && text.chars().count() > max
        {
            self.error(
                Rule::MaxLength,
                path,
                format!("longer than the {max} characters allowed"),
            );
        }
        if text.trim().is_empty() && item.is_string() {
            self.error(
                Rule::Format,
                path,
                format!("an empty {code}: leave the element out"),
            );
            return;
        }
        if !self.holds_meaning(code, item, &text, path) {
            return;
        }
        let Some(regex) = type_definition
            .element(&format!("{code}.value"))
            .and_then(|value| value.types.first())
            .and_then(|t| t.regex())
        else {
            return;
        };
        let matches = {
            let mut cache = self
                .regexes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let compiled = cache
                .entry(regex.to_owned())
                .or_insert_with(|| Regex::new(&format!("^(?:{regex})$")).ok());
            compiled
                .as_ref()
                .is_none_or(|compiled| compiled.is_match(&text))
        };
        if !matches {
            self.error(
                Rule::Format,
                path,
                format!("{:?} is not a valid {code}", shown(&text)),
            );
        }
        if matches!(code, "positiveInt") && item.as_i64().is_some_and(|n| n < 1) {
            self.error(
                Rule::Format,
                path,
                format!("{text} is not a positiveInt (1 or more)"),
            );
        }
        if matches!(code, "unsignedInt") && item.as_i64().is_some_and(|n| n < 0) {
            self.error(
                Rule::Format,
                path,
                format!("{text} is not an unsignedInt (0 or more)"),
            );
        }
    }

    /// What FHIR means by a primitive beyond its R4 pattern; `false` when the pattern is
    /// not to be checked after it (an error was reported, or, for strings, the pattern is
    /// replaced here).
    fn holds_meaning(&mut self, code: &str, item: &Value, text: &str, path: &str) -> bool {
        if item.is_string() {
            // Every primitive written as a JSON string is a FHIR string underneath
            // (`code`, `uri`, `id`, …), under FHIR R4 §2.24.0.1's limit: "strings SHALL
            // NOT exceed 1MB (1024*1024 characters)". R4's patterns for them (`\S*`,
            // `[^\s]+`) let control characters through, and a NUL cannot even be stored.
            // An attachment's data (base64Binary) is not text: it may be larger.
            if code != "base64Binary"
                && text.len() > MAX_STRING_CHARS
                && text.chars().count() > MAX_STRING_CHARS
            {
                self.error(
                    Rule::MaxLength,
                    path,
                    format!(
                        "a {code} may hold at most {MAX_STRING_CHARS} characters (FHIR R4); this one holds {}",
                        text.chars().count()
                    ),
                );
                return false;
            }
            if let Some(bad) = text
                .chars()
                .find(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n'))
            {
                self.error(
                    Rule::Format,
                    path,
                    format!(
                        "a {code} may not hold the control character U+{:04X} (only tab, carriage return and line feed)",
                        u32::from(bad)
                    ),
                );
                return false;
            }
        }
        if matches!(code, "string" | "markdown") {
            // R4's pattern `[ \r\n\t\S]+` was written for XML Schema; read with Unicode
            // classes it refuses a no-break space (common in text pasted from documents)
            // and lets every control character through. What FHIR means is checked
            // above: any character but the controls other than tab, CR and LF.
            return false;
        }
        if matches!(code, "integer" | "positiveInt" | "unsignedInt")
            && item.as_i64().is_none_or(|n| i32::try_from(n).is_err())
        {
            self.error(
                Rule::Format,
                path,
                format!("{text} is out of the range of a {code} (32-bit: at most 2147483647)"),
            );
            return false;
        }
        if matches!(code, "date" | "dateTime" | "instant") && !real_day(text) {
            self.error(
                Rule::Format,
                path,
                format!("{:?} is not a valid {code}: no such day", shown(text)),
            );
            return false;
        }
        true
    }

    fn fixed_and_pattern(&mut self, item: &Value, element: &ElementDefinition, path: &str) {
        if let Some((key, fixed)) = element.fixed()
            && item != fixed
        {
            self.error(
                Rule::Fixed,
                path,
                format!("must be exactly {fixed} ({key}), found {item}"),
            );
        }
        if let Some((key, pattern)) = element.pattern()
            && !contains(item, pattern)
        {
            self.error(
                Rule::Pattern,
                path,
                format!("must contain {pattern} ({key}), found {item}"),
            );
        }
    }

    fn binding(&mut self, item: &Value, type_code: &str, element: &ElementDefinition, path: &str) {
        let Some(binding) = &element.binding else {
            return;
        };
        if binding.strength != "required" {
            return;
        }
        let Some(url) = &binding.value_set else {
            return;
        };
        let Some(ValueSetCodes::Codes(codes)) = self.definitions.value_set(url) else {
            return;
        };
        let in_set = |system: Option<&str>, code: &str| codes.contains(system, code);
        let vs = url.split('|').next().unwrap_or(url);
        match type_code {
            "code" => {
                if let Some(code) = item.as_str()
                    && !in_set(None, code)
                {
                    self.error(
                        Rule::Binding,
                        path,
                        format!("{code:?} is not a code of {vs}"),
                    );
                }
            }
            "Coding" => {
                let system = item.get("system").and_then(Value::as_str);
                if let Some(code) = item.get("code").and_then(Value::as_str)
                    && !in_set(system, code)
                {
                    self.error(
                        Rule::Binding,
                        path,
                        format!("{}|{code} is not in {vs}", system.unwrap_or("")),
                    );
                }
            }
            "CodeableConcept" => {
                let codings = item.get("coding").and_then(Value::as_array);
                let any = codings.is_some_and(|codings| {
                    codings.iter().any(|coding| {
                        coding
                            .get("code")
                            .and_then(Value::as_str)
                            .is_some_and(|code| {
                                in_set(coding.get("system").and_then(Value::as_str), code)
                            })
                    })
                });
                if !any {
                    self.error(
                        Rule::Binding,
                        path,
                        format!("no coding of this CodeableConcept is in {vs}, which a required binding demands"),
                    );
                }
            }
            _ => {}
        }
    }
}

/// Whether `value` contains everything `pattern` has (FHIR pattern matching: objects by
/// their properties, arrays by each pattern item matching some value item).
fn contains(value: &Value, pattern: &Value) -> bool {
    match (value, pattern) {
        (Value::Object(value), Value::Object(pattern)) => pattern.iter().all(|(key, expected)| {
            value
                .get(key)
                .is_some_and(|found| contains(found, expected))
        }),
        (Value::Array(values), Value::Array(patterns)) => patterns
            .iter()
            .all(|expected| values.iter().any(|found| contains(found, expected))),
        (value, pattern) => value == pattern,
    }
}

/// The one type of an element that is not a choice (a primitive's value has none).
fn single_type(element: &ElementDefinition, definition: &StructureDefinition) -> Option<String> {
    let only = element.types.first().filter(|_| element.types.len() == 1)?;
    if !only.code.starts_with("http://hl7.org/fhirpath/System.") {
        return Some(only.code.clone());
    }
    // A resource's logical id is an `id` (R4's snapshots say `string`); the other
    // system-typed elements (`Element.id`, `Extension.url`) name their FHIR type in an
    // extension. A primitive's own `value` has none.
    if definition.kind == "resource" && element.path == format!("{}.id", definition.type_name) {
        return Some("id".to_owned());
    }
    only.fhir_type().map(str::to_owned)
}

/// The profile a slice's type names (`Patient.extension:nacionalidad` → the extension's
/// definition).
fn slice_profile(slice: &ElementDefinition) -> Option<&str> {
    slice
        .types
        .iter()
        .find_map(|t| t.profile.first())
        .map(String::as_str)
}

/// The values a discriminator path reaches from `value` (`$this`, or names separated by
/// dots, arrays flattened). Paths with functions (`resolve()`) reach nothing.
fn values_at<'v>(value: &'v Value, path: &str) -> Vec<&'v Value> {
    let mut current = vec![value];
    if path == "$this" {
        return current;
    }
    for segment in path.split('.') {
        if segment.contains('(') {
            return Vec::new();
        }
        let segment = segment.trim_start_matches("$this");
        if segment.is_empty() {
            continue;
        }
        current = current
            .into_iter()
            .filter_map(|node| node.get(segment))
            .flat_map(|found| match found {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            })
            .collect();
    }
    current
}

/// `string` → `String`, as choice-type names spell types.
fn capitalised(code: &str) -> String {
    let mut chars = code.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_uppercase().to_string() + chars.as_str()
    })
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn json_for(code: &str) -> &'static str {
    match code {
        "boolean" => "boolean (true or false)",
        "integer" | "positiveInt" | "unsignedInt" => "number without a fraction",
        "decimal" => "number",
        _ => "string",
    }
}

/// Whether the day of a date, dateTime or instant (`YYYY-MM-DD…`) exists; a value with
/// less precision (`YYYY`, `YYYY-MM`) or of another shape is left to the pattern.
/// The most characters a FHIR `string` or `markdown` may hold (FHIR R4 §2.24.0.1).
pub const MAX_STRING_CHARS: usize = 1024 * 1024;

/// A value as an error message quotes it: whole when short, its first 64 characters and
/// its length otherwise, so that a megabyte of input does not come back in the answer.
fn shown(text: &str) -> String {
    const SHOWN: usize = 64;
    match text.char_indices().nth(SHOWN) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}… ({} characters)", &text[..end], text.chars().count()),
    }
}

fn real_day(text: &str) -> bool {
    let parse = |range: std::ops::Range<usize>| text.get(range).and_then(|t| t.parse::<u32>().ok());
    let (Some(year), Some(month), Some(day)) = (parse(0..4), parse(5..7), parse(8..10)) else {
        return true;
    };
    if text.as_bytes().get(4) != Some(&b'-') || text.as_bytes().get(7) != Some(&b'-') {
        return true;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}
