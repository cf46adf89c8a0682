//! The intermediate representation: what the model is, independent of how the
//! definitions spell it and of how Rust code is written.

/// How a field's value is typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FieldType {
    /// A FHIR primitive with `_field` element data: the Rust value type (`String`,
    /// `bool`, `Date`, …).
    Primitive(&'static str),
    /// A plain value without element data (`Element.id`, `Extension.url`, `Narrative.div`).
    Plain(&'static str),
    /// A complex type, backbone element or resource struct, by Rust name.
    Complex(String),
    /// Any resource (`contained`, `Bundle.entry.resource`).
    AnyResource,
    /// A choice element: the name of its enum.
    Choice(String),
}

/// One property of a struct.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    /// JSON property name (`birthDate`; the base name for a choice, `deceased`).
    pub(crate) json: String,
    /// Rust field name.
    pub(crate) rust: String,
    /// Type of the value(s).
    pub(crate) ty: FieldType,
    /// `max` is `*` (or more than one).
    pub(crate) list: bool,
    /// Stored behind a `Box` to break a containment cycle.
    pub(crate) boxed: bool,
    /// Documentation (the definition's `short`).
    pub(crate) doc: String,
    /// `min` of the definition, for documentation and `_summary`.
    pub(crate) min: u64,
    /// `isSummary` of the definition: kept by `_summary=true`.
    pub(crate) summary: bool,
}

/// A struct: a data type, a resource, or a backbone element inside one.
#[derive(Debug, Clone)]
pub(crate) struct Struct {
    /// Rust name (`Patient`, `PatientContact`).
    pub(crate) name: String,
    /// FHIR path of the definition (`Patient`, `Patient.contact`).
    pub(crate) path: String,
    /// `Some(resourceType)` for resources.
    pub(crate) resource_type: Option<String>,
    /// Documentation.
    pub(crate) doc: String,
    /// Properties in definition order.
    pub(crate) fields: Vec<Field>,
}

/// One type a choice element can take.
#[derive(Debug, Clone)]
pub(crate) struct Variant {
    /// Rust variant name (`DateTime`).
    pub(crate) name: String,
    /// JSON property name (`valueDateTime`).
    pub(crate) json: String,
    /// Primitive or complex.
    pub(crate) ty: FieldType,
}

/// A choice element's enum.
#[derive(Debug, Clone)]
pub(crate) struct Choice {
    /// Rust name (`ObservationValue`).
    pub(crate) name: String,
    /// FHIR path (`Observation.value[x]`).
    pub(crate) path: String,
    /// Base JSON name (`value`).
    pub(crate) base: String,
    /// The types it can take, in definition order.
    pub(crate) variants: Vec<Variant>,
}

/// What one generated file holds.
#[derive(Debug, Clone, Default)]
pub(crate) struct Module {
    /// Structs, the definition's own first.
    pub(crate) structs: Vec<Struct>,
    /// Choice enums.
    pub(crate) choices: Vec<Choice>,
}

/// The whole model.
#[derive(Debug, Clone, Default)]
pub(crate) struct Model {
    /// All data types, in one module.
    pub(crate) types: Module,
    /// One module per resource, by resource name.
    pub(crate) resources: Vec<(String, Module)>,
}
