//! The part of FHIRPath (N1, as FHIR R4 uses it) that the invariants of FHIR R4 and of
//! our profiles need, evaluated over the JSON of a resource.
//!
//! Supported: paths (with choice elements: `value` finds `valueQuantity`), indexers,
//! `$this`, `%resource`, `%rootResource`, `%context`, string, number, boolean and date
//! literals, `{}`; the operators `.`, `[]`, unary `-`, `*`, `/`, `div`, `mod`, `+`, `-`,
//! `&`, `is`, `as`, `|`, `<`, `<=`, `>`, `>=`, `=`, `!=`, `~`, `!~`, `in`, `contains`,
//! `and`, `or`, `xor`, `implies` (with three-valued logic); and the functions `empty`,
//! `exists`, `all`, `allTrue`, `anyTrue`, `where`, `select`, `count`, `first`, `last`,
//! `tail`, `distinct`, `isDistinct`, `intersect`, `exclude`, `union`, `combine`, `not`,
//! `hasValue`, `children`, `descendants`, `is`, `as`, `ofType`, `trace`, `iif`,
//! `startsWith`, `endsWith`, `contains`, `matches`, `length`, `substring`, `lower`,
//! `upper`, `toString`, `toInteger`, `extension`, `htmlChecks`.
//!
//! Types come from the JSON alone: a property's FHIR type is known where the JSON says it
//! (a choice suffix, a `resourceType`); elsewhere `is`/`as` on a primitive type accept
//! any string (so `descendants().as(uri)` reads every string: a superset).
//! `htmlChecks()` is true (the narrative's XHTML is not checked).

use std::fmt;

use serde_json::Value;

/// Why an expression could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("FHIRPath: {0}")]
pub struct FhirPathError(pub String);

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// An empty collection (`{}`).
    Empty,
    /// A string literal.
    Str(String),
    /// A number literal.
    Num(f64),
    /// An integer literal.
    Int(i64),
    /// A boolean literal.
    Bool(bool),
    /// A date, date-time or time literal (without the `@`).
    Date(String),
    /// `$this`.
    This,
    /// `%name`.
    Var(String),
    /// A name at the start of a path (navigation from the focus) or a type name.
    Ident(String),
    /// `left.name`.
    Member(Box<Expr>, String),
    /// `left.f(args)` or `f(args)` (focus `None`).
    Call(Option<Box<Expr>>, String, Vec<Expr>),
    /// `left[index]`.
    Index(Box<Expr>, Box<Expr>),
    /// A unary minus.
    Neg(Box<Expr>),
    /// A binary operator.
    Binary(Box<Expr>, String, Box<Expr>),
}

/// One item of a collection.
#[derive(Debug, Clone)]
pub enum Item<'v> {
    /// A node of the resource: its JSON and, when known, its FHIR type.
    Node(&'v Value, Option<String>),
    /// A computed string.
    Str(String),
    /// A computed integer.
    Int(i64),
    /// A computed decimal.
    Num(f64),
    /// A computed boolean.
    Bool(bool),
    /// A date literal.
    Date(String),
}

impl fmt::Display for Item<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Node(value, _) => write!(f, "{value}"),
            Self::Str(s) | Self::Date(s) => write!(f, "{s}"),
            Self::Int(n) => write!(f, "{n}"),
            Self::Num(n) => write!(f, "{n}"),
            Self::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// A primitive view of an item, for comparison.
#[derive(Debug, Clone, PartialEq)]
enum Prim {
    Str(String),
    Num(f64),
    Bool(bool),
}

impl Item<'_> {
    fn prim(&self) -> Option<Prim> {
        match self {
            Self::Node(Value::String(s), _) | Self::Str(s) | Self::Date(s) => {
                Some(Prim::Str(s.clone()))
            }
            Self::Node(Value::Number(n), _) => n.as_f64().map(Prim::Num),
            Self::Node(Value::Bool(b), _) | Self::Bool(b) => Some(Prim::Bool(*b)),
            #[allow(clippy::cast_precision_loss, reason = "FHIRPath integers are 32-bit")]
            Self::Int(n) => Some(Prim::Num(*n as f64)),
            Self::Num(n) => Some(Prim::Num(*n)),
            Self::Node(..) => None,
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Self::Node(Value::String(s), _) | Self::Str(s) | Self::Date(s) => Some(s),
            _ => None,
        }
    }

    fn json(&self) -> Option<&Value> {
        match self {
            Self::Node(value, _) => Some(value),
            _ => None,
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Self::Node(Value::Number(n), _) => n.as_f64(),
            #[allow(clippy::cast_precision_loss, reason = "FHIRPath integers are 32-bit")]
            Self::Int(n) => Some(*n as f64),
            Self::Num(n) => Some(*n),
            _ => None,
        }
    }

    fn boolean(&self) -> Option<bool> {
        match self {
            Self::Node(Value::Bool(b), _) | Self::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Equality without copying (invariants compare many strings).
    #[allow(clippy::float_cmp, reason = "FHIRPath equality of numbers is exact")]
    fn equals(&self, other: &Self) -> bool {
        if let (Self::Node(a, _), Self::Node(b, _)) = (self, other)
            && (a.is_object() || b.is_object())
        {
            return a == b;
        }
        if let (Some(a), Some(b)) = (self.as_str(), other.as_str()) {
            return a == b;
        }
        if let (Some(a), Some(b)) = (self.number(), other.number()) {
            return a == b;
        }
        matches!((self.boolean(), other.boolean()), (Some(a), Some(b)) if a == b)
    }

    /// A key equal for equal primitives (`None` for objects), to deduplicate quickly.
    fn key(&self) -> Option<String> {
        if let Some(s) = self.as_str() {
            return Some(format!("s{s}"));
        }
        if let Some(n) = self.number() {
            return Some(format!("n{n}"));
        }
        self.boolean().map(|b| format!("b{b}"))
    }
}

/// The variables an evaluation sees.
#[derive(Debug, Clone, Copy)]
pub struct Env<'v> {
    /// `%resource`: the resource the focus is in.
    pub resource: &'v Value,
    /// `%rootResource`: the outermost resource.
    pub root: &'v Value,
    /// `%context`: where the evaluation started.
    pub context: &'v Value,
}

type Collection<'v> = Vec<Item<'v>>;

/// Parses an expression.
pub fn parse(text: &str) -> Result<Expr, FhirPathError> {
    let tokens = lex(text)?;
    let mut parser = Parser { tokens, at: 0 };
    let expr = parser.expression(0)?;
    if parser.at < parser.tokens.len() {
        return Err(FhirPathError(format!(
            "unexpected {:?} in {text:?}",
            parser.tokens[parser.at]
        )));
    }
    Ok(expr)
}

/// Evaluates `expr` with `focus` as the input collection.
pub fn evaluate<'v>(
    expr: &Expr,
    focus: &[Item<'v>],
    env: &Env<'v>,
) -> Result<Vec<Item<'v>>, FhirPathError> {
    eval(expr, focus, None, env)
}

/// Whether an invariant holds on `node`: true, or an empty result (nothing to check).
pub fn holds<'v>(expr: &Expr, node: &'v Value, env: &Env<'v>) -> Result<bool, FhirPathError> {
    let result = evaluate(expr, &[Item::Node(node, None)], env)?;
    // Empty (nothing to check) holds; so does a collection of something other than a
    // boolean (FHIRPath's singleton evaluation of collections).
    Ok(match result.as_slice() {
        [Item::Bool(b) | Item::Node(Value::Bool(b), _)] => *b,
        _ => true,
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Num(String),
    Date(String),
    Var(String),
    Op(String),
}

#[allow(clippy::too_many_lines, reason = "one loop over the token kinds")]
fn lex(text: &str) -> Result<Vec<Token>, FhirPathError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '\'' || c == '`' {
            let quote = c;
            let mut s = String::new();
            i += 1;
            while i < chars.len() && chars[i] != quote {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                    s.push(match chars[i] {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        other => other,
                    });
                } else {
                    s.push(chars[i]);
                }
                i += 1;
            }
            if i >= chars.len() {
                return Err(FhirPathError(format!("unterminated string in {text:?}")));
            }
            i += 1;
            tokens.push(if quote == '`' {
                Token::Ident(s)
            } else {
                Token::Str(s)
            });
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                if chars[i] == '.' && !chars.get(i + 1).is_some_and(char::is_ascii_digit) {
                    break;
                }
                i += 1;
            }
            tokens.push(Token::Num(chars[start..i].iter().collect()));
        } else if c == '@' {
            let start = i + 1;
            i += 1;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric()
                    || matches!(chars[i], '-' | ':' | '.' | '+' | 'T' | 'Z'))
            {
                i += 1;
            }
            tokens.push(Token::Date(chars[start..i].iter().collect()));
        } else if c == '%' || c == '$' {
            let start = i + 1;
            i += 1;
            if chars.get(i) == Some(&'`') || chars.get(i) == Some(&'\'') {
                let quote = chars[i];
                i += 1;
                let begin = i;
                while i < chars.len() && chars[i] != quote {
                    i += 1;
                }
                tokens.push(Token::Var(chars[begin..i].iter().collect()));
                i += 1;
                continue;
            }
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '-')
            {
                i += 1;
            }
            let name: String = chars[start..i].iter().collect();
            tokens.push(if c == '$' {
                Token::Ident(format!("${name}"))
            } else {
                Token::Var(name)
            });
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Token::Ident(chars[start..i].iter().collect()));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            if matches!(two.as_str(), "<=" | ">=" | "!=" | "!~") {
                tokens.push(Token::Op(two));
                i += 2;
            } else if "()[]{}.,+-*/&|<>=~".contains(c) {
                tokens.push(Token::Op(c.to_string()));
                i += 1;
            } else {
                return Err(FhirPathError(format!("unexpected {c:?} in {text:?}")));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

/// Binary operators by precedence, loosest first.
const LEVELS: [&[&str]; 9] = [
    &["implies"],
    &["or", "xor"],
    &["and"],
    &["in", "contains"],
    &["=", "~", "!=", "!~"],
    &["<", ">", "<=", ">="],
    &["|"],
    &["+", "-", "&"],
    &["*", "/", "div", "mod"],
];

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Token::Op(o)) if o == op)
    }

    fn expect(&mut self, op: &str) -> Result<(), FhirPathError> {
        if self.is_op(op) {
            self.at += 1;
            Ok(())
        } else {
            Err(FhirPathError(format!(
                "expected {op:?}, found {:?}",
                self.peek()
            )))
        }
    }

    fn operator_at(&self, level: usize) -> Option<String> {
        let token = self.peek()?;
        let text = match token {
            Token::Op(op) => op.as_str(),
            Token::Ident(name) => name.as_str(),
            _ => return None,
        };
        LEVELS[level].contains(&text).then(|| text.to_owned())
    }

    fn expression(&mut self, level: usize) -> Result<Expr, FhirPathError> {
        if level == LEVELS.len() {
            return self.type_expression();
        }
        let mut left = self.expression(level + 1)?;
        while let Some(op) = self.operator_at(level) {
            self.at += 1;
            let right = self.expression(level + 1)?;
            left = Expr::Binary(Box::new(left), op, Box::new(right));
        }
        Ok(left)
    }

    /// `is` / `as` bind tighter than `|` and looser than `+`; here they follow the
    /// arithmetic, which is where the invariants use them.
    fn type_expression(&mut self) -> Result<Expr, FhirPathError> {
        let mut left = self.unary()?;
        while let Some(Token::Ident(op)) = self.peek()
            && (op == "is" || op == "as")
        {
            let op = op.clone();
            self.at += 1;
            let Some(Token::Ident(type_name)) = self.peek().cloned() else {
                return Err(FhirPathError(format!("a type name must follow {op}")));
            };
            self.at += 1;
            left = Expr::Call(Some(Box::new(left)), op, vec![Expr::Ident(type_name)]);
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, FhirPathError> {
        if self.is_op("-") {
            self.at += 1;
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        if self.is_op("+") {
            self.at += 1;
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Expr, FhirPathError> {
        let mut expr = self.term()?;
        loop {
            if self.is_op(".") {
                self.at += 1;
                let Some(Token::Ident(name)) = self.peek().cloned() else {
                    return Err(FhirPathError(format!(
                        "a name must follow '.', found {:?}",
                        self.peek()
                    )));
                };
                self.at += 1;
                if self.is_op("(") {
                    let args = self.arguments()?;
                    expr = Expr::Call(Some(Box::new(expr)), name, args);
                } else {
                    expr = Expr::Member(Box::new(expr), name);
                }
            } else if self.is_op("[") {
                self.at += 1;
                let index = self.expression(0)?;
                self.expect("]")?;
                expr = Expr::Index(Box::new(expr), Box::new(index));
            } else {
                return Ok(expr);
            }
        }
    }

    fn arguments(&mut self) -> Result<Vec<Expr>, FhirPathError> {
        self.expect("(")?;
        let mut args = Vec::new();
        if self.is_op(")") {
            self.at += 1;
            return Ok(args);
        }
        loop {
            args.push(self.expression(0)?);
            if self.is_op(",") {
                self.at += 1;
            } else {
                self.expect(")")?;
                return Ok(args);
            }
        }
    }

    fn term(&mut self) -> Result<Expr, FhirPathError> {
        let Some(token) = self.peek().cloned() else {
            return Err(FhirPathError("the expression ends too early".to_owned()));
        };
        self.at += 1;
        match token {
            Token::Str(s) => Ok(Expr::Str(s)),
            Token::Num(n) => {
                if n.contains('.') {
                    n.parse()
                        .map(Expr::Num)
                        .map_err(|_| FhirPathError(format!("bad number {n}")))
                } else {
                    n.parse()
                        .map(Expr::Int)
                        .map_err(|_| FhirPathError(format!("bad number {n}")))
                }
            }
            Token::Date(d) => Ok(Expr::Date(d)),
            Token::Var(v) => Ok(Expr::Var(v)),
            Token::Op(op) if op == "(" => {
                let inner = self.expression(0)?;
                self.expect(")")?;
                Ok(inner)
            }
            Token::Op(op) if op == "{" => {
                self.expect("}")?;
                Ok(Expr::Empty)
            }
            Token::Ident(name) => match name.as_str() {
                "true" => Ok(Expr::Bool(true)),
                "false" => Ok(Expr::Bool(false)),
                "$this" => Ok(Expr::This),
                _ if self.is_op("(") => {
                    let args = self.arguments()?;
                    Ok(Expr::Call(None, name, args))
                }
                _ => Ok(Expr::Ident(name)),
            },
            Token::Op(op) => Err(FhirPathError(format!("unexpected {op:?}"))),
        }
    }
}

fn boolean<'v>(value: bool) -> Collection<'v> {
    vec![Item::Bool(value)]
}

/// The singleton boolean of a collection: `None` for empty.
fn truth(collection: &[Item<'_>]) -> Result<Option<bool>, FhirPathError> {
    match collection {
        [] => Ok(None),
        [Item::Bool(b) | Item::Node(Value::Bool(b), _)] => Ok(Some(*b)),
        [_] => Ok(Some(true)),
        _ => Err(FhirPathError(format!(
            "a boolean was expected, found {} items",
            collection.len()
        ))),
    }
}

/// The children of a node named `name` (a choice `name` finds `name[Type]`).
fn navigate<'v>(item: &Item<'v>, name: &str, out: &mut Collection<'v>) {
    let Item::Node(Value::Object(object), _) = item else {
        return;
    };
    let mut push = |value: &'v Value, type_name: Option<String>| match value {
        Value::Array(items) => {
            for item in items {
                if !item.is_null() {
                    out.push(Item::Node(item, type_name.clone()));
                }
            }
        }
        Value::Null => {}
        other => out.push(Item::Node(other, type_name)),
    };
    if let Some(value) = object.get(name) {
        let type_name = value
            .get("resourceType")
            .and_then(Value::as_str)
            .map(str::to_owned);
        push(value, type_name);
        return;
    }
    // Only a choice element's name finds `name[Type]`: `response` must not find
    // `TestScript…assert.responseCode`, which is an element of its own.
    if !choice_stems().contains(name) {
        return;
    }
    for (key, value) in object {
        if let Some(suffix) = key.strip_prefix(name)
            && suffix.starts_with(|c: char| c.is_ascii_uppercase())
        {
            push(value, Some(suffix.to_owned()));
        }
    }
}

/// The names of R4's choice elements (`value` for `value[x]`, `deceased`, `onset`…).
fn choice_stems() -> &'static std::collections::HashSet<String> {
    static STEMS: std::sync::OnceLock<std::collections::HashSet<String>> =
        std::sync::OnceLock::new();
    STEMS.get_or_init(|| {
        crate::Definitions::r4()
            .structure_definitions()
            .flat_map(|definition| &definition.elements)
            .filter_map(|element| element.name().strip_suffix("[x]").map(str::to_owned))
            .collect()
    })
}

fn children_of<'v>(item: &Item<'v>, out: &mut Collection<'v>) {
    if let Item::Node(Value::Object(object), _) = item {
        for (key, value) in object {
            if key == "resourceType" || key.starts_with('_') {
                continue;
            }
            match value {
                Value::Array(items) => out.extend(items.iter().map(|v| Item::Node(v, None))),
                other => out.push(Item::Node(other, None)),
            }
        }
    }
}

/// Whether an item is of the type `name` (as far as the JSON tells).
fn is_type(item: &Item<'_>, name: &str) -> bool {
    let name = name
        .trim_start_matches("FHIR.")
        .trim_start_matches("System.");
    match item {
        Item::Node(value, hint) => {
            if let Some(resource_type) = value.get("resourceType").and_then(Value::as_str) {
                return resource_type == name || matches!(name, "Resource" | "DomainResource");
            }
            if let Some(hint) = hint {
                return hint.eq_ignore_ascii_case(name);
            }
            match value {
                Value::String(_) => {
                    name.chars().next().is_some_and(char::is_lowercase) || name == "String"
                }
                Value::Bool(_) => name.eq_ignore_ascii_case("boolean"),
                Value::Number(_) => matches!(
                    name,
                    "integer" | "decimal" | "positiveInt" | "unsignedInt" | "Integer" | "Decimal"
                ),
                _ => name.chars().next().is_some_and(char::is_uppercase),
            }
        }
        Item::Str(_) => matches!(name, "String" | "string"),
        Item::Bool(_) => matches!(name, "Boolean" | "boolean"),
        Item::Int(_) => matches!(name, "Integer" | "integer"),
        Item::Num(_) => matches!(name, "Decimal" | "decimal"),
        Item::Date(_) => matches!(name, "Date" | "DateTime" | "date" | "dateTime"),
    }
}

fn type_name_of(expr: &Expr) -> Result<String, FhirPathError> {
    match expr {
        Expr::Ident(name) => Ok(name.clone()),
        Expr::Member(left, name) => Ok(format!("{}.{name}", type_name_of(left)?)),
        other => Err(FhirPathError(format!("{other:?} is not a type name"))),
    }
}

#[allow(
    clippy::too_many_lines,
    reason = "one match over the operators and functions"
)]
fn eval<'v>(
    expr: &Expr,
    focus: &[Item<'v>],
    this: Option<&Item<'v>>,
    env: &Env<'v>,
) -> Result<Collection<'v>, FhirPathError> {
    Ok(match expr {
        Expr::Empty => Vec::new(),
        Expr::Str(s) => vec![Item::Str(s.clone())],
        Expr::Int(n) => vec![Item::Int(*n)],
        Expr::Num(n) => vec![Item::Num(*n)],
        Expr::Bool(b) => boolean(*b),
        Expr::Date(d) => vec![Item::Date(d.clone())],
        Expr::This => this.cloned().into_iter().collect(),
        Expr::Var(name) => match name.as_str() {
            "resource" => vec![Item::Node(env.resource, None)],
            "rootResource" => vec![Item::Node(env.root, None)],
            "context" => vec![Item::Node(env.context, None)],
            "ucum" => vec![Item::Str("http://unitsofmeasure.org".to_owned())],
            "sct" => vec![Item::Str("http://snomed.info/sct".to_owned())],
            "loinc" => vec![Item::Str("http://loinc.org".to_owned())],
            other => return Err(FhirPathError(format!("unknown variable %{other}"))),
        },
        Expr::Ident(name) => {
            // A type name at the start of a path (`Patient.name`) selects the focus
            // when it is of that type.
            let mut out = Vec::new();
            for item in focus {
                if name.chars().next().is_some_and(char::is_uppercase)
                    && item
                        .json()
                        .and_then(|v| v.get("resourceType"))
                        .and_then(Value::as_str)
                        == Some(name.as_str())
                {
                    out.push(item.clone());
                } else {
                    navigate(item, name, &mut out);
                }
            }
            out
        }
        Expr::Member(left, name) => {
            let base = eval(left, focus, this, env)?;
            let mut out = Vec::new();
            for item in &base {
                navigate(item, name, &mut out);
            }
            out
        }
        Expr::Index(left, index) => {
            let base = eval(left, focus, this, env)?;
            let index = eval(index, focus, this, env)?;
            match index.first().and_then(Item::prim) {
                Some(Prim::Num(n)) if n >= 0.0 => {
                    #[allow(
                        clippy::cast_possible_truncation,
                        clippy::cast_sign_loss,
                        reason = "checked non-negative index"
                    )]
                    let n = n as usize;
                    base.get(n).cloned().into_iter().collect()
                }
                _ => Vec::new(),
            }
        }
        Expr::Neg(inner) => eval(inner, focus, this, env)?
            .into_iter()
            .filter_map(|item| match item.prim() {
                Some(Prim::Num(n)) => Some(Item::Num(-n)),
                _ => None,
            })
            .collect(),
        Expr::Binary(left, op, right) => binary(left, op, right, focus, this, env)?,
        Expr::Call(target, name, args) => {
            let input = match target {
                Some(target) => eval(target, focus, this, env)?,
                None => focus.to_vec(),
            };
            call(name, &input, args, focus, this, env)?
        }
    })
}

#[allow(clippy::too_many_lines, reason = "one match over the operators")]
fn binary<'v>(
    left: &Expr,
    op: &str,
    right: &Expr,
    focus: &[Item<'v>],
    this: Option<&Item<'v>>,
    env: &Env<'v>,
) -> Result<Collection<'v>, FhirPathError> {
    let l = eval(left, focus, this, env)?;
    // `and`/`or`/`implies` short-circuit where the left side decides.
    match op {
        "and" => {
            let a = truth(&l)?;
            if a == Some(false) {
                return Ok(boolean(false));
            }
            let b = truth(&eval(right, focus, this, env)?)?;
            return Ok(match (a, b) {
                (_, Some(false)) => boolean(false),
                (Some(true), Some(true)) => boolean(true),
                _ => Vec::new(),
            });
        }
        "or" => {
            let a = truth(&l)?;
            if a == Some(true) {
                return Ok(boolean(true));
            }
            let b = truth(&eval(right, focus, this, env)?)?;
            return Ok(match (a, b) {
                (_, Some(true)) => boolean(true),
                (Some(false), Some(false)) => boolean(false),
                _ => Vec::new(),
            });
        }
        "implies" => {
            let a = truth(&l)?;
            if a == Some(false) {
                return Ok(boolean(true));
            }
            let b = truth(&eval(right, focus, this, env)?)?;
            return Ok(match (a, b) {
                (_, Some(true)) => boolean(true),
                (Some(true), Some(false)) => boolean(false),
                _ => Vec::new(),
            });
        }
        _ => {}
    }
    let r = eval(right, focus, this, env)?;
    Ok(match op {
        "xor" => match (truth(&l)?, truth(&r)?) {
            (Some(a), Some(b)) => boolean(a != b),
            _ => Vec::new(),
        },
        "|" => union(l, r),
        "=" | "!=" | "~" | "!~" => {
            if l.is_empty() || r.is_empty() {
                if op.starts_with('~') || op == "!~" {
                    boolean((l.is_empty() && r.is_empty()) == (op == "~"))
                } else {
                    Vec::new()
                }
            } else {
                let same = l.len() == r.len()
                    && l.iter().zip(&r).all(|(a, b)| {
                        if op.contains('~') {
                            equivalent(a, b)
                        } else {
                            a.equals(b)
                        }
                    });
                boolean(same == (op == "=" || op == "~"))
            }
        }
        "<" | ">" | "<=" | ">=" => match (l.as_slice(), r.as_slice()) {
            ([a], [b]) => match compare(a, b) {
                Some(ordering) => boolean(match op {
                    "<" => ordering.is_lt(),
                    ">" => ordering.is_gt(),
                    "<=" => ordering.is_le(),
                    _ => ordering.is_ge(),
                }),
                None => Vec::new(),
            },
            _ => Vec::new(),
        },
        "in" => match l.as_slice() {
            [] => Vec::new(),
            [item] => boolean(r.iter().any(|other| item.equals(other))),
            _ => {
                return Err(FhirPathError(
                    "'in' needs a single item on its left".to_owned(),
                ));
            }
        },
        "contains" => match r.as_slice() {
            [] => Vec::new(),
            [item] => boolean(l.iter().any(|other| item.equals(other))),
            _ => {
                return Err(FhirPathError(
                    "'contains' needs a single item on its right".to_owned(),
                ));
            }
        },
        "&" => {
            // Concatenation treats an empty side as the empty string.
            let text = |c: &[Item<'_>]| {
                c.first().map_or_else(String::new, |item| {
                    item.as_str()
                        .map_or_else(|| item.to_string(), str::to_owned)
                })
            };
            vec![Item::Str(format!("{}{}", text(&l), text(&r)))]
        }
        "+" | "-" | "*" | "/" | "div" | "mod" => match (l.as_slice(), r.as_slice()) {
            ([a], [b]) => arithmetic(a, op, b).into_iter().collect(),
            _ => Vec::new(),
        },
        other => return Err(FhirPathError(format!("unknown operator {other}"))),
    })
}

fn arithmetic<'v>(a: &Item<'v>, op: &str, b: &Item<'v>) -> Option<Item<'v>> {
    match (a.prim()?, b.prim()?) {
        (Prim::Str(x), Prim::Str(y)) if op == "+" => Some(Item::Str(x + &y)),
        (Prim::Num(x), Prim::Num(y)) => {
            let value = match op {
                "+" => x + y,
                "-" => x - y,
                "*" => x * y,
                "/" if y != 0.0 => x / y,
                "div" if y != 0.0 => (x / y).trunc(),
                "mod" if y != 0.0 => x % y,
                _ => return None,
            };
            Some(Item::Num(value))
        }
        _ => None,
    }
}

fn compare(a: &Item<'_>, b: &Item<'_>) -> Option<std::cmp::Ordering> {
    match (a.prim()?, b.prim()?) {
        (Prim::Num(x), Prim::Num(y)) => x.partial_cmp(&y),
        // Dates and times in ISO 8601 compare as text; at different precisions, only
        // where the common part already differs (else FHIRPath says: unknown, empty).
        (Prim::Str(x), Prim::Str(y)) => {
            let date = |s: &str| s.len() >= 4 && s.as_bytes()[..4].iter().all(u8::is_ascii_digit);
            if !(date(&x) && date(&y)) || x.len() == y.len() {
                return Some(x.cmp(&y));
            }
            let common = x.len().min(y.len());
            let ordering = x.as_bytes()[..common].cmp(&y.as_bytes()[..common]);
            (!ordering.is_eq()).then_some(ordering)
        }
        _ => None,
    }
}

fn equivalent(a: &Item<'_>, b: &Item<'_>) -> bool {
    match (a.prim(), b.prim()) {
        (Some(Prim::Str(x)), Some(Prim::Str(y))) => {
            x.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
                == y.split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .to_lowercase()
        }
        _ => a.equals(b),
    }
}

fn union<'v>(mut left: Collection<'v>, right: Collection<'v>) -> Collection<'v> {
    let mut out: Collection<'v> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut objects: Vec<usize> = Vec::new();
    left.extend(right);
    for item in left {
        match item.key() {
            Some(key) => {
                if seen.insert(key) {
                    out.push(item);
                }
            }
            None => {
                if !objects.iter().any(|index| out[*index].equals(&item)) {
                    objects.push(out.len());
                    out.push(item);
                }
            }
        }
    }
    out
}

/// `matches()`: a partial match, each expression compiled once per process.
fn matches(pattern: &str, text: &str) -> Result<bool, FhirPathError> {
    static CACHE: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<String, regex::Regex>>,
    > = std::sync::OnceLock::new();
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !cache.contains_key(pattern) {
        let compiled = regex::Regex::new(pattern)
            .map_err(|error| FhirPathError(format!("matches(): {error}")))?;
        cache.insert(pattern.to_owned(), compiled);
    }
    Ok(cache.get(pattern).is_some_and(|regex| regex.is_match(text)))
}

fn string_arg<'v>(
    args: &[Expr],
    index: usize,
    focus: &[Item<'v>],
    this: Option<&Item<'v>>,
    env: &Env<'v>,
) -> Result<Option<String>, FhirPathError> {
    let Some(arg) = args.get(index) else {
        return Err(FhirPathError("a function argument is missing".to_owned()));
    };
    Ok(eval(arg, focus, this, env)?
        .first()
        .and_then(|item| item.as_str().map(str::to_owned)))
}

#[allow(clippy::too_many_lines, reason = "one match over the functions")]
fn call<'v>(
    name: &str,
    input: &[Item<'v>],
    args: &[Expr],
    focus: &[Item<'v>],
    this: Option<&Item<'v>>,
    env: &Env<'v>,
) -> Result<Collection<'v>, FhirPathError> {
    // Arguments of iterating functions are evaluated per item, with `$this`.
    let per_item =
        |item: &Item<'v>, arg: &Expr| eval(arg, std::slice::from_ref(item), Some(item), env);
    let single_string = || match input {
        [item] => item.as_str().map(str::to_owned),
        _ => None,
    };
    Ok(match name {
        "empty" => boolean(input.is_empty()),
        "exists" => match args.first() {
            None => boolean(!input.is_empty()),
            Some(criteria) => {
                let mut any = false;
                for item in input {
                    if truth(&per_item(item, criteria)?)? == Some(true) {
                        any = true;
                        break;
                    }
                }
                boolean(any)
            }
        },
        "all" => {
            let criteria = args
                .first()
                .ok_or_else(|| FhirPathError("all() needs criteria".to_owned()))?;
            let mut all = true;
            for item in input {
                if truth(&per_item(item, criteria)?)? != Some(true) {
                    all = false;
                    break;
                }
            }
            boolean(all)
        }
        "allTrue" => boolean(
            input
                .iter()
                .all(|item| matches!(item.prim(), Some(Prim::Bool(true)))),
        ),
        "anyTrue" => boolean(
            input
                .iter()
                .any(|item| matches!(item.prim(), Some(Prim::Bool(true)))),
        ),
        "where" => {
            let criteria = args
                .first()
                .ok_or_else(|| FhirPathError("where() needs criteria".to_owned()))?;
            let mut out = Vec::new();
            for item in input {
                if truth(&per_item(item, criteria)?)? == Some(true) {
                    out.push(item.clone());
                }
            }
            out
        }
        "select" => {
            let projection = args
                .first()
                .ok_or_else(|| FhirPathError("select() needs a projection".to_owned()))?;
            let mut out = Vec::new();
            for item in input {
                out.extend(per_item(item, projection)?);
            }
            out
        }
        "count" => {
            #[allow(
                clippy::cast_possible_wrap,
                reason = "a collection is far below i64::MAX"
            )]
            let count = input.len() as i64;
            vec![Item::Int(count)]
        }
        "first" => input.first().cloned().into_iter().collect(),
        "last" => input.last().cloned().into_iter().collect(),
        "tail" => input.iter().skip(1).cloned().collect(),
        "distinct" => union(input.to_vec(), Vec::new()),
        "isDistinct" => boolean(union(input.to_vec(), Vec::new()).len() == input.len()),
        "intersect" | "exclude" | "union" | "combine" => {
            let other = eval(
                args.first()
                    .ok_or_else(|| FhirPathError(format!("{name}() needs an argument")))?,
                focus,
                this,
                env,
            )?;
            match name {
                "intersect" => union(
                    input
                        .iter()
                        .filter(|item| other.iter().any(|o| o.equals(item)))
                        .cloned()
                        .collect(),
                    Vec::new(),
                ),
                "exclude" => input
                    .iter()
                    .filter(|item| !other.iter().any(|o| o.equals(item)))
                    .cloned()
                    .collect(),
                "union" => union(input.to_vec(), other),
                _ => input.iter().cloned().chain(other).collect(),
            }
        }
        "not" => match truth(input)? {
            Some(value) => boolean(!value),
            None => Vec::new(),
        },
        "hasValue" => boolean(matches!(
            input,
            [Item::Node(
                Value::String(_) | Value::Number(_) | Value::Bool(_),
                _
            )]
        )),
        "children" => {
            let mut out = Vec::new();
            for item in input {
                children_of(item, &mut out);
            }
            out
        }
        "descendants" => {
            let mut out = Vec::new();
            let mut frontier = input.to_vec();
            while !frontier.is_empty() {
                let mut next = Vec::new();
                for item in &frontier {
                    children_of(item, &mut next);
                }
                out.extend(next.iter().cloned());
                frontier = next;
            }
            out
        }
        "is" | "as" | "ofType" => {
            let type_name = type_name_of(
                args.first()
                    .ok_or_else(|| FhirPathError(format!("{name}() needs a type")))?,
            )?;
            if name == "is" {
                match input {
                    [] => Vec::new(),
                    [item] => boolean(is_type(item, &type_name)),
                    _ => return Err(FhirPathError("is() needs a single item".to_owned())),
                }
            } else {
                input
                    .iter()
                    .filter(|item| is_type(item, &type_name))
                    .cloned()
                    .collect()
            }
        }
        "trace" => input.to_vec(),
        "iif" => {
            let condition = eval(
                args.first()
                    .ok_or_else(|| FhirPathError("iif() needs a condition".to_owned()))?,
                input,
                this,
                env,
            )?;
            if truth(&condition)? == Some(true) {
                eval(&args[1], focus, this, env)?
            } else if let Some(otherwise) = args.get(2) {
                eval(otherwise, focus, this, env)?
            } else {
                Vec::new()
            }
        }
        "startsWith" | "endsWith" | "contains" | "matches" => {
            let (Some(text), Some(arg)) = (single_string(), string_arg(args, 0, focus, this, env)?)
            else {
                return Ok(Vec::new());
            };
            boolean(match name {
                "startsWith" => text.starts_with(&arg),
                "endsWith" => text.ends_with(&arg),
                "contains" => text.contains(&arg),
                _ => matches(&arg, &text)?,
            })
        }
        "length" => single_string().map_or_else(Vec::new, |text| {
            #[allow(clippy::cast_possible_wrap, reason = "a string is far below i64::MAX")]
            let length = text.chars().count() as i64;
            vec![Item::Int(length)]
        }),
        "substring" => {
            let Some(text) = single_string() else {
                return Ok(Vec::new());
            };
            let number = |index: usize| -> Result<Option<usize>, FhirPathError> {
                let Some(arg) = args.get(index) else {
                    return Ok(None);
                };
                Ok(
                    match eval(arg, focus, this, env)?.first().and_then(Item::prim) {
                        #[allow(
                            clippy::cast_possible_truncation,
                            clippy::cast_sign_loss,
                            reason = "checked non-negative"
                        )]
                        Some(Prim::Num(n)) if n >= 0.0 => Some(n as usize),
                        _ => None,
                    },
                )
            };
            let Some(start) = number(0)? else {
                return Ok(Vec::new());
            };
            let chars: Vec<char> = text.chars().collect();
            if start >= chars.len() {
                return Ok(Vec::new());
            }
            let end = number(1)?.map_or(chars.len(), |length| (start + length).min(chars.len()));
            vec![Item::Str(chars[start..end].iter().collect())]
        }
        "lower" => single_string()
            .map(|s| Item::Str(s.to_lowercase()))
            .into_iter()
            .collect(),
        "upper" => single_string()
            .map(|s| Item::Str(s.to_uppercase()))
            .into_iter()
            .collect(),
        "toString" => input
            .first()
            .map(|item| {
                Item::Str(
                    item.as_str()
                        .map_or_else(|| item.to_string(), str::to_owned),
                )
            })
            .into_iter()
            .collect(),
        "toInteger" => match input.first().and_then(Item::prim) {
            #[allow(
                clippy::cast_possible_truncation,
                reason = "FHIRPath integers are 32-bit"
            )]
            Some(Prim::Num(n)) if n.fract() == 0.0 => vec![Item::Int(n as i64)],
            Some(Prim::Str(s)) => s.parse().map(Item::Int).into_iter().collect(),
            _ => Vec::new(),
        },
        "extension" => {
            let url = string_arg(args, 0, focus, this, env)?;
            let mut extensions = Vec::new();
            for item in input {
                navigate(item, "extension", &mut extensions);
            }
            extensions
                .into_iter()
                .filter(|extension| {
                    url.as_deref().is_none_or(|url| {
                        extension
                            .json()
                            .and_then(|e| e.get("url"))
                            .and_then(Value::as_str)
                            == Some(url)
                    })
                })
                .collect()
        }
        "htmlChecks" => boolean(true),
        "today" | "now" => {
            return Err(FhirPathError(format!(
                "{name}() reads the clock, which invariants here must not"
            )));
        }
        other => {
            return Err(FhirPathError(format!(
                "function {other}() is not supported"
            )));
        }
    })
}
