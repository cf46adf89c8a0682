//! The structural pass: a resource's JSON walked against the snapshot of its definition
//! (and of each element's type), checking cardinality, JSON shape, types and choice
//! types, primitive formats, fixed and pattern values, required bindings, nested
//! resources, and reporting elements no definition declares.

use std::collections::HashMap;
use std::sync::Mutex;

use regex::Regex;
use renhice_model::types::{CodeableConcept, Coding};
use renhice_model::{IssueSeverity, IssueType, OperationOutcomeIssue};
use serde_json::{Map, Value};

use crate::definitions::{
    Constraint, Definitions, ElementDefinition, StructureDefinition, ValueSetCodes,
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
        }
    }

    const fn issue_type(self) -> IssueType {
        match self {
            Self::Structure | Self::Shape | Self::UnknownElement => IssueType::Structure,
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
}

/// Parsed invariants, shared by every validation (`Err`: why one cannot be read).
type Compiled = Result<std::sync::Arc<fhirpath::Expr>, String>;

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
                    let compiled = fhirpath::parse(text)
                        .map(std::sync::Arc::new)
                        .map_err(|error| error.to_string());
                    cache.insert(text.to_owned(), compiled.clone());
                    compiled
                }
            };
            let env = fhirpath::Env {
                resource,
                root,
                context: node,
            };
            let outcome = compiled.and_then(|expr| {
                fhirpath::holds(&expr, node, &env).map_err(|error| error.to_string())
            });
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

    /// Validates a resource (the JSON object at `path`) against its base definition.
    pub(crate) fn resource(&mut self, value: &'v Value, path: &str) {
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
        let definition = std::sync::Arc::clone(definition);
        self.resources.push(value);
        self.complex(object, &definition, type_name, path, true);
        if let Some(root) = definition.root() {
            self.invariants(value, &root.constraint, &[], path);
        }
        self.resources.pop();
    }

    /// Validates the children of a complex value `object` against the element
    /// `element_path` of `definition`.
    fn complex(
        &mut self,
        object: &'v Map<String, Value>,
        definition: &StructureDefinition,
        element_path: &str,
        path: &str,
        is_resource: bool,
    ) {
        let empty = crate::definitions::ChildIndex::default();
        let index = definition.child_index(element_path).unwrap_or(&empty);
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
                self.element(object, name, child, None, definition, path);
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
            self.element(object, name, child, Some(&code), definition, path);
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
    /// `_key` companion).
    fn element(
        &mut self,
        object: &'v Map<String, Value>,
        key: &str,
        element: &ElementDefinition,
        choice: Option<&str>,
        definition: &StructureDefinition,
        parent_path: &str,
    ) {
        let value = object.get(key);
        let companion = object.get(&format!("_{key}"));
        let path = format!("{parent_path}.{key}");
        let repeats = element.max_count() != Some(1) && element.max_count() != Some(0);
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
        let type_code = choice.map(str::to_owned).or_else(|| {
            let only = element.types.first().filter(|_| element.types.len() == 1)?;
            if !only.code.starts_with("http://hl7.org/fhirpath/System.") {
                return Some(only.code.clone());
            }
            // A resource's logical id is an `id` (R4's snapshots say `string`); the
            // other system-typed elements (`Element.id`, `Extension.url`) name their
            // FHIR type in an extension. A primitive's own `value` has none.
            if definition.kind == "resource"
                && element.path == format!("{}.id", definition.type_name)
            {
                return Some("id".to_owned());
            }
            only.fhir_type().map(str::to_owned)
        });
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
            if let Some(reference) = &element.content_reference {
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
            let Some(type_code) = type_code.as_deref() else {
                continue;
            };
            self.typed(item, extra, type_code, element, definition, &item_path);
        }
    }

    /// Validates one value of type `type_code`.
    fn typed(
        &mut self,
        item: Option<&'v Value>,
        extra: Option<&'v Value>,
        type_code: &str,
        element: &ElementDefinition,
        definition: &StructureDefinition,
        path: &str,
    ) {
        if let Some(extra) = extra {
            self.primitive_extension(extra, path);
        }
        let Some(item) = item else { return };
        match type_code {
            "BackboneElement" | "Element" if element.path.contains('.') => match item.as_object() {
                Some(object) => self.backbone(object, definition, &element.path, path),
                None => self.error(
                    Rule::Type,
                    path,
                    format!("{} must be a JSON object", element.path),
                ),
            },
            "Resource" | "DomainResource" => self.resource(item, path),
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
                    self.resource(item, path);
                } else {
                    match item.as_object() {
                        Some(object) => {
                            if object.is_empty() {
                                self.error(
                                    Rule::Empty,
                                    path,
                                    "an element must have a value or children (ele-1)",
                                );
                            }
                            self.complex(
                                object,
                                &type_definition,
                                &type_definition.type_name,
                                path,
                                false,
                            );
                            // The data type's own invariants (`ref-1`, `per-1`…).
                            if let Some(root) = type_definition.root() {
                                self.invariants(item, &root.constraint, &element.constraint, path);
                            }
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
        if !item.is_object() || type_code != "Resource" {
            self.invariants(item, &element.constraint, &[], path);
        }
    }

    fn backbone(
        &mut self,
        object: &'v Map<String, Value>,
        definition: &StructureDefinition,
        element_path: &str,
        path: &str,
    ) {
        if object.is_empty() {
            self.error(
                Rule::Empty,
                path,
                "an element must have a value or children (ele-1)",
            );
        }
        self.complex(object, definition, element_path, path, false);
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
                format!("{text:?} is not a valid {code}"),
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
