//! Running a suite: its operations against the target, its assertions on the answers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use renhice_model::IssueSeverity;
use renhice_validator::{Validator, fhirpath};
use serde_json::{Value, json};

use crate::suite::text_of;
use crate::{AccreditError, Options, Progress, Suite, TestStart};

/// renhice's own operations (`TestScript.test.action.operation.type`).
const OWN_OPERATIONS: &str = "http://renhice.org/fhir/CodeSystem/testscript-operation";
/// The criterion a test gives evidence for.
const CRITERION: &str = "http://renhice.org/fhir/StructureDefinition/accreditation-criterion";
/// `none`: the operation is sent without the bearer token.
const CREDENTIALS: &str = "http://renhice.org/fhir/StructureDefinition/testscript-credentials";

/// The verdict on one action, or on a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Done, and as required.
    Pass,
    /// An assertion marked `warningOnly` did not hold.
    Warning,
    /// Not run (an earlier step it needs failed).
    Skip,
    /// An assertion did not hold.
    Fail,
    /// The step could not be carried out (the target did not answer, a bad suite).
    Error,
}

impl Verdict {
    /// The `TestReport` code.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Warning => "warning",
            Self::Skip => "skip",
            Self::Fail => "fail",
            Self::Error => "error",
        }
    }
}

/// What was sent and what came back, for the reports.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// `GET https://…/Patient/1`.
    pub request: String,
    /// The HTTP status, if an answer came.
    pub status: Option<u16>,
    /// The start of the answer's body.
    pub excerpt: String,
}

/// One step of a test.
#[derive(Debug, Clone)]
pub struct ActionResult {
    /// `operation` or `assert`.
    pub kind: &'static str,
    /// The suite's description of it.
    pub description: String,
    /// How it went.
    pub verdict: Verdict,
    /// Why (for failures, what was found).
    pub message: String,
    /// For operations, the exchange.
    pub evidence: Option<Evidence>,
}

/// One test of the suite.
#[derive(Debug, Clone)]
pub struct TestResult {
    /// Its id in the suite.
    pub id: String,
    /// Its name.
    pub name: String,
    /// What it checks.
    pub description: String,
    /// The accreditation criterion it evidences: (code, title).
    pub criterion: Option<(String, String)>,
    /// Its steps.
    pub actions: Vec<ActionResult>,
    /// How long it took.
    pub duration: Duration,
}

impl TestResult {
    /// The worst verdict of its steps (a test of warnings only passes).
    #[must_use]
    pub fn verdict(&self) -> Verdict {
        match self
            .actions
            .iter()
            .map(|action| action.verdict)
            .max()
            .unwrap_or(Verdict::Pass)
        {
            Verdict::Warning | Verdict::Skip => Verdict::Pass,
            other => other,
        }
    }
}

/// A run of a suite.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The suite's name.
    pub suite: String,
    /// Its canonical URL.
    pub suite_url: String,
    /// Its title.
    pub title: String,
    /// The target's base URL.
    pub target: String,
    /// When the run started (RFC 3339).
    pub issued: String,
    /// The setup's steps, if any.
    pub setup: Vec<ActionResult>,
    /// The tests.
    pub tests: Vec<TestResult>,
}

impl Outcome {
    /// Whether every test passed.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.tests
            .iter()
            .all(|test| test.verdict() == Verdict::Pass)
            && self
                .setup
                .iter()
                .all(|action| action.verdict <= Verdict::Skip)
    }
}

/// An answer kept under its `responseId` (and as the last one).
#[derive(Debug, Clone)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Option<Value>,
}

struct Runner<'a> {
    options: &'a Options,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    fixtures: HashMap<String, Value>,
    profiles: HashMap<String, String>,
    variables: HashMap<String, Value>,
    overrides: HashMap<String, String>,
    responses: HashMap<String, Response>,
    last: Option<Response>,
    /// The operation before the assertions being evaluated failed to run.
    broken: bool,
}

/// Runs `suite` against `options.target`, telling `progress` as it goes.
///
/// The suite's variables, the target's URL and the CA certificates are checked first:
/// a refusal sends nothing. Once started, a run always ends with an [`Outcome`]: a
/// target that does not answer fails its tests, it does not stop the run.
///
/// # Errors
/// What makes the suite unusable with these options ([`AccreditError`]).
pub fn run(
    suite: &Suite,
    options: &Options,
    progress: &mut dyn Progress,
) -> Result<Outcome, AccreditError> {
    suite.check_variables(&options.variables)?;
    let target =
        reqwest::Url::parse(&options.target).map_err(|error| AccreditError::BadTarget {
            target: options.target.clone(),
            reason: error.to_string(),
        })?;
    if !matches!(target.scheme(), "http" | "https") || target.host_str().is_none() {
        return Err(AccreditError::BadTarget {
            target: options.target.clone(),
            reason: "a SIHCE's FHIR base is http(s)://host/path".into(),
        });
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| AccreditError::Client(error.to_string()))?;
    let mut builder = reqwest::Client::builder()
        .timeout(options.timeout)
        .user_agent(concat!("renhice-accredit/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = &options.ca_pem {
        let certificates = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|error| AccreditError::BadCa(error.to_string()))?;
        if certificates.is_empty() {
            return Err(AccreditError::BadCa("no PEM certificate in them".into()));
        }
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    let client = builder
        .build()
        .map_err(|error| AccreditError::Client(error.to_string()))?;
    let script = suite.script();
    let mut runner = Runner::new(options, suite, client, runtime)?;
    let issued = now_rfc3339();
    let tests = script["test"].as_array().cloned().unwrap_or_default();
    let total = tests.len();
    progress.started(suite, total);
    let setup = match script["setup"]["action"].as_array() {
        Some(actions) => runner.actions(actions),
        None => Vec::new(),
    };
    let mut results = Vec::with_capacity(total);
    for (index, test) in tests.iter().enumerate() {
        let started = Instant::now();
        let criterion = test["extension"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|extension| extension["url"] == CRITERION)
            .map(|extension| {
                (
                    text_of(&extension["valueCoding"], "code"),
                    text_of(&extension["valueCoding"], "display"),
                )
            });
        let name = text_of(test, "name");
        progress.test_started(
            index,
            total,
            &TestStart {
                name: &name,
                criterion: criterion.as_ref(),
            },
        );
        let actions = runner.actions(test["action"].as_array().map_or(&[][..], Vec::as_slice));
        let result = TestResult {
            id: text_of(test, "id"),
            name,
            description: text_of(test, "description"),
            criterion,
            actions,
            duration: started.elapsed(),
        };
        progress.test_finished(index, total, &result);
        results.push(result);
    }
    Ok(Outcome {
        suite: suite.name().to_owned(),
        suite_url: suite.url(),
        title: suite.title(),
        target: options.target.clone(),
        issued,
        setup,
        tests: results,
    })
}

/// An error and its causes, `outer: inner: …` (reqwest's own message is only the outer).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl<'a> Runner<'a> {
    fn new(
        options: &'a Options,
        suite: &Suite,
        client: reqwest::Client,
        runtime: tokio::runtime::Runtime,
    ) -> Result<Self, AccreditError> {
        let script = suite.script();
        let contained: HashMap<String, Value> = script["contained"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|resource| Some((resource["id"].as_str()?.to_owned(), resource.clone())))
            .collect();
        let mut fixtures = HashMap::new();
        for fixture in script["fixture"].as_array().into_iter().flatten() {
            let id = text_of(fixture, "id");
            let reference = text_of(&fixture["resource"], "reference");
            let Some(resource) = reference
                .strip_prefix('#')
                .and_then(|local| contained.get(local))
            else {
                return Err(AccreditError::BadSuite {
                    name: suite.name().to_owned(),
                    reason: format!(
                        "fixture {id}: only contained fixtures (#id) are supported, found {reference:?}"
                    ),
                });
            };
            let mut resource = resource.clone();
            // A contained resource's id is the suite's, not something to send.
            if let Some(object) = resource.as_object_mut() {
                object.remove("id");
            }
            fixtures.insert(id, resource);
        }
        let profiles = script["profile"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|profile| (text_of(profile, "id"), text_of(profile, "reference")))
            .collect();
        let variables: HashMap<String, Value> = script["variable"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|variable| (text_of(variable, "name"), variable.clone()))
            .collect();
        // Empty values are not given: a form's blank field keeps the suite's default.
        let overrides: HashMap<String, String> = options
            .variables
            .iter()
            .filter(|(_, value)| !value.is_empty())
            .cloned()
            .collect();
        Ok(Self {
            options,
            client,
            runtime,
            fixtures,
            profiles,
            variables,
            overrides,
            responses: HashMap::new(),
            last: None,
            broken: false,
        })
    }

    fn actions(&mut self, actions: &[Value]) -> Vec<ActionResult> {
        actions
            .iter()
            .map(|action| {
                if let Some(operation) = action.get("operation") {
                    self.operation(operation)
                } else if let Some(assertion) = action.get("assert") {
                    self.assertion(assertion)
                } else {
                    ActionResult {
                        kind: "operation",
                        description: String::new(),
                        verdict: Verdict::Error,
                        message: "an action with neither operation nor assert".into(),
                        evidence: None,
                    }
                }
            })
            .collect()
    }

    /// The value of `${name}` in the suite.
    fn variable(&self, name: &str) -> Result<String, String> {
        if let Some(value) = self.overrides.get(name) {
            return Ok(value.clone());
        }
        let variable = self
            .variables
            .get(name)
            .ok_or_else(|| format!("the suite has no variable {name}"))?;
        let source = variable["sourceId"]
            .as_str()
            .and_then(|id| self.responses.get(id));
        if let (Some(field), Some(response)) = (variable["headerField"].as_str(), source) {
            return response
                .headers
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(field))
                .map(|(_, value)| value.clone())
                .ok_or_else(|| format!("variable {name}: no {field} header in the answer"));
        }
        if let (Some(expression), Some(body)) = (
            variable["expression"].as_str(),
            source.and_then(|response| response.body.as_ref()),
        ) {
            let parsed = fhirpath::parse(expression).map_err(|error| error.to_string())?;
            let env = fhirpath::Env {
                resource: body,
                root: body,
                context: body,
            };
            let items = fhirpath::evaluate(&parsed, &[fhirpath::Item::Node(body, None)], &env)
                .map_err(|error| error.to_string())?;
            return items
                .first()
                .map(ToString::to_string)
                .ok_or_else(|| format!("variable {name}: {expression} found nothing"));
        }
        variable["defaultValue"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("variable {name} has no value: give --var {name}=VALUE"))
    }

    /// `text` with every `${name}` replaced.
    fn substitute(&self, text: &str) -> Result<String, String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("unclosed ${{ in {text:?}"))?;
            out.push_str(&self.variable(&after[..end])?);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn operation(&mut self, operation: &Value) -> ActionResult {
        let description = text_of(operation, "description");
        let system = text_of(&operation["type"], "system");
        let code = text_of(&operation["type"], "code");
        let result = if system == OWN_OPERATIONS {
            match code.as_str() {
                "verify-signature" => self.verify_signature(operation),
                "tls-handshake" => self.tls_handshake(),
                other => Err((None, format!("renhice has no operation {other:?}"))),
            }
        } else {
            self.http(operation, &code)
        };
        match result {
            Ok((response, evidence)) => {
                if let Some(id) = operation["responseId"].as_str() {
                    self.responses.insert(id.to_owned(), response.clone());
                }
                self.last = Some(response);
                self.broken = false;
                ActionResult {
                    kind: "operation",
                    description,
                    verdict: Verdict::Pass,
                    message: format!(
                        "{} → {}",
                        evidence.request,
                        evidence
                            .status
                            .map_or_else(|| "done".to_owned(), |s| s.to_string())
                    ),
                    evidence: Some(evidence),
                }
            }
            Err((evidence, message)) => {
                self.broken = true;
                self.last = None;
                ActionResult {
                    kind: "operation",
                    description,
                    verdict: Verdict::Error,
                    message,
                    evidence,
                }
            }
        }
    }

    /// The URL an operation is sent to: its `url` (absolute, or relative to the
    /// target), or `{target}/{resource}{params}`.
    fn url_of(&self, operation: &Value) -> Result<String, String> {
        let target = self.options.target.trim_end_matches('/');
        if let Some(url) = operation["url"].as_str() {
            let url = self.substitute(url)?;
            return Ok(if url.contains("://") {
                url
            } else {
                format!("{target}/{}", url.trim_start_matches('/'))
            });
        }
        let resource = text_of(operation, "resource");
        let params = self.substitute(operation["params"].as_str().unwrap_or_default())?;
        Ok(format!("{target}/{resource}{params}"))
    }

    /// An HTTP request of the suite.
    fn http(
        &self,
        operation: &Value,
        code: &str,
    ) -> Result<(Response, Evidence), (Option<Evidence>, String)> {
        let fail = |message: String| (None, message);
        let url = self.url_of(operation).map_err(fail)?;
        let method = method_of(operation, code);
        let request_line = format!("{method} {url}");
        let body = match operation["sourceId"].as_str() {
            Some(id) => Some(
                self.fixtures
                    .get(id)
                    .cloned()
                    .or_else(|| self.responses.get(id).and_then(|r| r.body.clone()))
                    .ok_or_else(|| fail(format!("no fixture or response {id:?}")))?,
            ),
            None => None,
        };
        let parsed_method =
            reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| fail(e.to_string()))?;
        let mut request = self
            .client
            .request(parsed_method, &url)
            .header("accept", "application/fhir+json");
        let anonymous = operation["extension"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|extension| extension["url"] == CREDENTIALS && extension["valueCode"] == "none");
        if let (Some(token), false) = (&self.options.token, anonymous) {
            request = request.bearer_auth(token);
        }
        for header in operation["requestHeader"].as_array().into_iter().flatten() {
            let value = self
                .substitute(header["value"].as_str().unwrap_or_default())
                .map_err(fail)?;
            request = request.header(text_of(header, "field"), value);
        }
        if let Some(body) = &body {
            request = request
                .header("content-type", "application/fhir+json")
                .body(body.to_string());
        }
        let answer = self.runtime.block_on(async {
            let response = request.send().await?;
            let status = response.status().as_u16();
            let headers: Vec<(String, String)> = response
                .headers()
                .iter()
                .map(|(key, value)| {
                    (
                        key.as_str().to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let bytes = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, bytes))
        });
        let (status, headers, bytes) = answer.map_err(|error| {
            (
                Some(Evidence {
                    request: request_line.clone(),
                    status: None,
                    excerpt: String::new(),
                }),
                format!("{request_line}: no answer: {}", chain(&error)),
            )
        })?;
        let text = String::from_utf8_lossy(&bytes);
        let evidence = Evidence {
            request: request_line,
            status: Some(status),
            excerpt: excerpt(&text),
        };
        Ok((
            Response {
                status,
                headers,
                body: serde_json::from_slice(&bytes).ok(),
            },
            evidence,
        ))
    }

    /// `verify-signature`: the signatures of an earlier answer, verified now against
    /// `--trust` (and `--crl`), as a `Parameters` (`indication`, one `reason` per
    /// signature).
    fn verify_signature(
        &self,
        operation: &Value,
    ) -> Result<(Response, Evidence), (Option<Evidence>, String)> {
        let fail = |message: String| (None, message);
        let source = text_of(operation, "sourceId");
        let body = self
            .responses
            .get(&source)
            .and_then(|response| response.body.clone())
            .ok_or_else(|| fail(format!("no FHIR answer {source:?} to verify")))?;
        let (verifier, trust) = self.options.verifier.as_ref().ok_or_else(|| {
            fail(
                "verifying a firma digital needs trust anchors (renhice accredit --trust DIR)"
                    .into(),
            )
        })?;
        let resource =
            renhice_model::resources::Resource::from_json(body.to_string().as_bytes())
                .map_err(|error| fail(format!("the answer {source:?} is not FHIR: {error}")))?;
        let reports = verifier.verify_resource(&resource, &[], time::OffsetDateTime::now_utc());
        let indication = match renhice_signature::overall(&reports) {
            None => "UNSIGNED".to_owned(),
            Some(indication) => format!("{indication:?}").to_uppercase(),
        };
        let mut parameter = vec![json!({"name": "indication", "valueCode": indication})];
        parameter.extend(
            reports
                .iter()
                .map(|report| json!({"name": "reason", "valueString": report.to_string()})),
        );
        let parameters = json!({"resourceType": "Parameters", "parameter": parameter});
        let evidence = Evidence {
            request: format!("verify the signatures of {source} against {trust}"),
            status: None,
            excerpt: excerpt(&serde_json::to_string_pretty(&parameters).unwrap_or_default()),
        };
        Ok((
            Response {
                status: 200,
                headers: Vec::new(),
                body: Some(parameters),
            },
            evidence,
        ))
    }

    /// `tls-handshake`: the target's scheme and, for https, the TLS version it agrees
    /// to, as a `Parameters` (`scheme`, `protocol`).
    fn tls_handshake(&self) -> Result<(Response, Evidence), (Option<Evidence>, String)> {
        let fail = |message: String| (None, message);
        let url = reqwest::Url::parse(&self.options.target)
            .map_err(|error| fail(format!("--target is not a URL: {error}")))?;
        let scheme = url.scheme().to_owned();
        let mut parameter = vec![json!({"name": "scheme", "valueCode": scheme})];
        let mut request = format!("connect to {}", self.options.target);
        if scheme == "https" {
            let host = url.host_str().unwrap_or_default().to_owned();
            let port = url.port_or_known_default().unwrap_or(443);
            request = format!("TLS handshake with {host}:{port}");
            let protocol = handshake(&host, port, self.options.timeout)
                .map_err(|error| (None, format!("{request}: {error}")))?;
            parameter.push(json!({"name": "protocol", "valueCode": protocol}));
        }
        let parameters = json!({"resourceType": "Parameters", "parameter": parameter});
        Ok((
            Response {
                status: 200,
                headers: Vec::new(),
                body: Some(parameters.clone()),
            },
            Evidence {
                request,
                status: None,
                excerpt: excerpt(&parameters.to_string()),
            },
        ))
    }

    #[allow(
        clippy::too_many_lines,
        reason = "one branch per kind of assertion TestScript defines"
    )]
    fn assertion(&self, assertion: &Value) -> ActionResult {
        let description = text_of(assertion, "description");
        let warning_only = assertion["warningOnly"].as_bool() == Some(true);
        let result = |verdict: Verdict, message: String| ActionResult {
            kind: "assert",
            description: description.clone(),
            verdict,
            message,
            evidence: None,
        };
        let response = match assertion["sourceId"].as_str() {
            Some(id) => self.responses.get(id),
            None => self.last.as_ref(),
        };
        let Some(response) = response else {
            let why = if self.broken {
                "the operation before it did not run".to_owned()
            } else {
                "there is no answer to check".to_owned()
            };
            return result(Verdict::Skip, why);
        };
        let outcome: Result<(), String> = if let Some(expected) = assertion["response"].as_str() {
            let code = match expected {
                "okay" => 200,
                "created" => 201,
                "noContent" => 204,
                "notModified" => 304,
                "bad" => 400,
                "forbidden" => 403,
                "notFound" => 404,
                "methodNotAllowed" => 405,
                "conflict" => 409,
                "gone" => 410,
                "preconditionFailed" => 412,
                "unprocessable" => 422,
                _ => 0,
            };
            if response.status == code {
                Ok(())
            } else {
                Err(format!(
                    "expected {expected} ({code}), got {}",
                    response.status
                ))
            }
        } else if let Some(expected) = assertion["responseCode"].as_str() {
            let codes: Vec<&str> = expected.split(',').map(str::trim).collect();
            let found = response.status.to_string();
            let holds = match assertion["operator"].as_str().unwrap_or("equals") {
                "in" => codes.contains(&found.as_str()),
                "notIn" => !codes.contains(&found.as_str()),
                "notEquals" => found != expected,
                _ => found == expected,
            };
            if holds {
                Ok(())
            } else {
                Err(format!("expected HTTP {expected}, got {found}"))
            }
        } else if let Some(expected) = assertion["resource"].as_str() {
            let found = response
                .body
                .as_ref()
                .and_then(|body| body["resourceType"].as_str())
                .unwrap_or("no FHIR resource");
            if found == expected {
                Ok(())
            } else {
                Err(format!("expected a {expected}, got {found}"))
            }
        } else if let Some(expression) = assertion["expression"].as_str() {
            match &response.body {
                None => Err("the answer is not JSON".to_owned()),
                Some(body) => match fhirpath::parse(expression) {
                    Err(error) => Err(format!("the suite's expression does not parse: {error}")),
                    Ok(parsed) => {
                        let env = fhirpath::Env {
                            resource: body,
                            root: body,
                            context: body,
                        };
                        // Unlike an invariant, an assertion holds only when it is true:
                        // an empty result (the element is missing) fails it.
                        match fhirpath::evaluate(&parsed, &[fhirpath::Item::Node(body, None)], &env)
                        {
                            Ok(items) if is_true(&items) => Ok(()),
                            Ok(items) if items.is_empty() => {
                                Err(format!("{expression} is empty (false)"))
                            }
                            Ok(_) => Err(format!("{expression} is false")),
                            Err(error) => Err(format!("{expression}: {error}")),
                        }
                    }
                },
            }
        } else if let Some(id) = assertion["validateProfileId"].as_str() {
            match (self.profiles.get(id), &response.body) {
                (None, _) => Err(format!("the suite has no profile {id:?}")),
                (_, None) => Err("the answer is not JSON".to_owned()),
                (Some(url), Some(body)) => conforms(body, url),
            }
        } else if let Some(field) = assertion["headerField"].as_str() {
            let found = response
                .headers
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(field))
                .map(|(_, value)| value.as_str());
            let expected = assertion["value"].as_str();
            match (
                assertion["operator"].as_str().unwrap_or("equals"),
                found,
                expected,
            ) {
                ("notEmpty", Some(_), _) | ("empty", None, _) => Ok(()),
                ("contains", Some(value), Some(part)) if value.contains(part) => Ok(()),
                ("equals", Some(value), Some(expected)) if value == expected => Ok(()),
                (operator, found, expected) => Err(format!(
                    "header {field} {operator} {}: found {}",
                    expected.unwrap_or(""),
                    found.unwrap_or("none")
                )),
            }
        } else {
            Err("an assertion renhice does not support (it checks response, responseCode, resource, expression, validateProfileId, headerField)".to_owned())
        };
        match outcome {
            Ok(()) => result(Verdict::Pass, "holds".into()),
            Err(why) if warning_only => result(Verdict::Warning, why),
            Err(why) => result(Verdict::Fail, why),
        }
    }
}

/// Whether `body` conforms to the profile `url`; a search result (a Bundle, checked
/// against a profile of another type) conforms when it has resources of that type and
/// every one of them does.
fn conforms(body: &Value, url: &str) -> Result<(), String> {
    let validator = Validator::renhice();
    let profile_type = validator
        .definitions()
        .by_url(url)
        .map(|definition| definition.type_name.clone())
        .unwrap_or_default();
    let targets: Vec<(String, &Value)> =
        if body["resourceType"] == "Bundle" && profile_type != "Bundle" {
            body["entry"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
                .filter(|(_, entry)| entry["resource"]["resourceType"] == profile_type.as_str())
                .map(|(index, entry)| {
                    (
                        format!("Bundle.entry[{index}].resource: "),
                        &entry["resource"],
                    )
                })
                .collect()
        } else {
            vec![(String::new(), body)]
        };
    if targets.is_empty() {
        return Err(format!(
            "the Bundle holds no {profile_type} to check against {url}"
        ));
    }
    let mut errors = Vec::new();
    for (at, resource) in &targets {
        errors.extend(
            validator
                .validate_against(resource, &[url.to_owned()])
                .into_iter()
                .filter(|issue| {
                    matches!(issue.severity, IssueSeverity::Error | IssueSeverity::Fatal)
                })
                .map(|issue| {
                    format!(
                        "{at}{}: {}",
                        issue.expression.join(","),
                        issue.diagnostics.unwrap_or_default()
                    )
                }),
        );
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} error(s) against {url}: {}",
            errors.len(),
            errors
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        ))
    }
}

/// The HTTP method of an operation: its `method`, or the one its type implies.
fn method_of(operation: &Value, code: &str) -> &'static str {
    operation["method"].as_str().map_or_else(
        || match code {
            "create" | "transaction" | "batch" => "POST",
            "update" | "updateCreate" => "PUT",
            "delete" => "DELETE",
            "patch" => "PATCH",
            _ => "GET",
        },
        |method| match method {
            "post" => "POST",
            "put" => "PUT",
            "delete" => "DELETE",
            "patch" => "PATCH",
            "head" => "HEAD",
            "options" => "OPTIONS",
            _ => "GET",
        },
    )
}

/// Whether a FHIRPath result is the single value `true`.
fn is_true(items: &[fhirpath::Item<'_>]) -> bool {
    matches!(
        items,
        [fhirpath::Item::Bool(true) | fhirpath::Item::Node(Value::Bool(true), _)]
    )
}

/// The start of an answer, for the reports.
fn excerpt(text: &str) -> String {
    const LIMIT: usize = 1200;
    if text.len() <= LIMIT {
        return text.to_owned();
    }
    let mut end = LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Connects to `host:port` and reports the TLS version the server agrees to. The
/// certificate is not judged here (the suite's requests judge it against the trusted
/// roots): the handshake only learns the protocol.
fn handshake(host: &str, port: u16, timeout: Duration) -> Result<String, String> {
    use std::net::ToSocketAddrs as _;
    let address = (host, port)
        .to_socket_addrs()
        .map_err(|error| error.to_string())?
        .next()
        .ok_or_else(|| format!("{host} has no address"))?;
    let mut socket =
        std::net::TcpStream::connect_timeout(&address, timeout).map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let config = rustls::ClientConfig::builder()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate))
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|error| error.to_string())?;
    let mut connection =
        rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    while connection.is_handshaking() {
        connection
            .complete_io(&mut socket)
            .map_err(|error| format!("the handshake failed: {error}"))?;
    }
    let version = connection
        .protocol_version()
        .map_or_else(|| "unknown".to_owned(), |version| format!("{version:?}"));
    // rustls names them TLSv1_2, TLSv1_3.
    Ok(version.replace('_', "."))
}

/// Accepts any certificate: the handshake probe learns the protocol version only.
#[derive(Debug)]
struct AnyCertificate;

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &rustls::pki_types::CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &rustls::pki_types::CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
