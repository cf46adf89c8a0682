//! The reports of a run: a FHIR `TestReport`, `JUnit` XML for CI systems, and a
//! self-contained HTML page an auditor can file (per criterion: the verdict, the
//! evidence, excerpts of the requests and answers).

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use crate::AccreditError;
use crate::run::{ActionResult, Outcome, TestResult, Verdict};

/// Where a test's criterion is named (the suites' extension, kept in the report).
const CRITERION: &str = "http://renhice.org/fhir/StructureDefinition/accreditation-criterion";
const CRITERIA: &str = "http://renhice.org/fhir/CodeSystem/accreditation-criterion";

/// Writes `testreport.json`, `junit.xml` and `report.html` into `dir` (created).
///
/// # Errors
/// [`AccreditError::Write`] naming the file that cannot be written.
pub fn write_all(outcome: &Outcome, dir: &Path) -> Result<(), AccreditError> {
    std::fs::create_dir_all(dir).map_err(|source| AccreditError::Write {
        path: dir.to_owned(),
        source,
    })?;
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| AccreditError::Write { path, source })
    };
    write(
        "testreport.json",
        serde_json::to_string_pretty(&test_report(outcome)).unwrap_or_default(),
    )?;
    write("junit.xml", junit(outcome))?;
    write("report.html", html(outcome))?;
    Ok(())
}

fn action_json(action: &ActionResult) -> Value {
    let mut detail = json!({"result": action.verdict.code()});
    let mut message = action.message.clone();
    if let Some(evidence) = &action.evidence {
        message = format!(
            "{message}\n\n{} → {}",
            evidence.request,
            evidence
                .status
                .map_or_else(|| "no HTTP answer".to_owned(), |status| status.to_string())
        );
    }
    if !message.is_empty() {
        detail["message"] = json!(message);
    }
    json!({ action.kind: detail })
}

/// The run as a FHIR R4 `TestReport`.
#[must_use]
pub fn test_report(outcome: &Outcome) -> Value {
    let passed = outcome
        .tests
        .iter()
        .filter(|test| test.verdict() == Verdict::Pass)
        .count();
    #[allow(
        clippy::cast_precision_loss,
        reason = "a count of tests, as a percentage"
    )]
    let score = if outcome.tests.is_empty() {
        0.0
    } else {
        (passed as f64 * 100.0 / outcome.tests.len() as f64 * 10.0).round() / 10.0
    };
    let tests: Vec<Value> = outcome
        .tests
        .iter()
        .map(|test| {
            let mut entry = json!({
                "name": format!("{}: {}", test.id, test.name),
                "description": test.description,
                "action": test.actions.iter().map(action_json).collect::<Vec<_>>(),
            });
            if let Some((code, display)) = &test.criterion {
                entry["extension"] = json!([{"url": CRITERION, "valueCoding": {
                    "system": CRITERIA, "code": code, "display": display}}]);
            }
            entry
        })
        .collect();
    let mut report = json!({
        "resourceType": "TestReport",
        "text": {"status": "generated", "div": format!(
            "<div xmlns=\"http://www.w3.org/1999/xhtml\">{}: {passed} of {} tests passed against {}</div>",
            escape(&outcome.title), outcome.tests.len(), escape(&outcome.target))},
        "name": outcome.title,
        "status": "completed",
        "testScript": {"reference": outcome.suite_url, "display": outcome.suite},
        "result": if outcome.passed() { "pass" } else { "fail" },
        "score": score,
        "tester": concat!("renhice accredit ", env!("CARGO_PKG_VERSION")),
        "issued": outcome.issued,
        "participant": [
            {"type": "server", "uri": outcome.target},
            {"type": "client", "uri": "urn:renhice:accredit", "display": "renhice accredit"}
        ],
        "test": tests,
    });
    if !outcome.setup.is_empty() {
        report["setup"] =
            json!({"action": outcome.setup.iter().map(action_json).collect::<Vec<_>>()});
    }
    report
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // XML 1.0 has no place for other control characters.
            c if c.is_control() && !matches!(c, '\n' | '\t' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn seconds(test: &TestResult) -> String {
    format!("{:.3}", test.duration.as_secs_f64())
}

/// The run as `JUnit` XML: one `testcase` per test, its class the criterion.
#[must_use]
pub fn junit(outcome: &Outcome) -> String {
    let count = |verdict: Verdict| {
        outcome
            .tests
            .iter()
            .filter(|test| test.verdict() == verdict)
            .count()
    };
    let total: f64 = outcome
        .tests
        .iter()
        .map(|test| test.duration.as_secs_f64())
        .sum();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"renhice accredit\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{total:.3}\">",
        outcome.tests.len(),
        count(Verdict::Fail),
        count(Verdict::Error)
    );
    let _ = writeln!(
        xml,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\" time=\"{total:.3}\" timestamp=\"{}\">",
        escape(&outcome.suite),
        outcome.tests.len(),
        count(Verdict::Fail),
        count(Verdict::Error),
        escape(&outcome.issued)
    );
    let _ = writeln!(
        xml,
        "    <properties><property name=\"target\" value=\"{}\"/></properties>",
        escape(&outcome.target)
    );
    for test in &outcome.tests {
        let class = test
            .criterion
            .as_ref()
            .map_or("renhice", |(code, _)| code.as_str());
        let _ = writeln!(
            xml,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\">",
            escape(class),
            escape(&format!("{}: {}", test.id, test.name)),
            seconds(test)
        );
        let first_bad = test
            .actions
            .iter()
            .find(|action| action.verdict >= Verdict::Fail);
        if let Some(action) = first_bad {
            let tag = if action.verdict == Verdict::Error {
                "error"
            } else {
                "failure"
            };
            let _ = writeln!(
                xml,
                "      <{tag} message=\"{}\">{}</{tag}>",
                escape(&action.message),
                escape(&action.description)
            );
        }
        let mut log = String::new();
        for action in &test.actions {
            let _ = writeln!(
                log,
                "{} {} {}: {}",
                action.verdict.code(),
                action.kind,
                action.description,
                action.message
            );
        }
        let _ = writeln!(xml, "      <system-out>{}</system-out>", escape(&log));
        xml.push_str("    </testcase>\n");
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

/// The run as one HTML page, with no external resources.
#[must_use]
pub fn html(outcome: &Outcome) -> String {
    let passed = outcome
        .tests
        .iter()
        .filter(|test| test.verdict() == Verdict::Pass)
        .count();
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"es\"><head><meta charset=\"utf-8\"><title>{title}</title>\
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:72em;color:#222}}\
table{{border-collapse:collapse;width:100%;margin:1em 0}}td,th{{border:1px solid #ccc;padding:.4em;vertical-align:top;text-align:left}}\
.pass{{color:#0a6b2b;font-weight:bold}}.fail,.error{{color:#b00020;font-weight:bold}}.warning,.skip{{color:#8a6100;font-weight:bold}}\
pre{{white-space:pre-wrap;word-break:break-all;background:#f6f6f6;padding:.5em;font-size:.85em;max-height:20em;overflow:auto}}\
details{{margin:.3em 0}}</style></head><body>\n\
<h1>{title}</h1>\n<p>Suite <code>{suite}</code> ({url}) run by renhice accredit {version} against <code>{target}</code> at {issued}.</p>\n\
<p>Result: <span class=\"{class}\">{result}</span>: {passed} of {total} tests passed.</p>\n",
        title = escape(&outcome.title),
        suite = escape(&outcome.suite),
        url = escape(&outcome.suite_url),
        version = env!("CARGO_PKG_VERSION"),
        target = escape(&outcome.target),
        issued = escape(&outcome.issued),
        class = if outcome.passed() { "pass" } else { "fail" },
        result = if outcome.passed() { "PASS" } else { "FAIL" },
        total = outcome.tests.len(),
    );
    page.push_str("<h2>By criterion</h2>\n<table><tr><th>Criterion</th><th>Test</th><th>Verdict</th><th>Why</th></tr>\n");
    let mut ordered: Vec<&TestResult> = outcome.tests.iter().collect();
    ordered.sort_by(|a, b| a.criterion.cmp(&b.criterion));
    for test in &ordered {
        let verdict = test.verdict();
        let why = test
            .actions
            .iter()
            .find(|action| action.verdict >= Verdict::Fail)
            .map_or_else(
                || "every assertion holds".to_owned(),
                |action| action.message.clone(),
            );
        let (code, title) = test
            .criterion
            .clone()
            .unwrap_or_else(|| ("—".into(), String::new()));
        let _ = writeln!(
            page,
            "<tr><td><b>{}</b> {}</td><td><a href=\"#{}\">{}</a></td><td class=\"{}\">{}</td><td>{}</td></tr>",
            escape(&code),
            escape(&title),
            escape(&test.id),
            escape(&test.name),
            verdict.code(),
            verdict.code().to_uppercase(),
            escape(&why)
        );
    }
    page.push_str("</table>\n<h2>Evidence</h2>\n");
    for test in &outcome.tests {
        let verdict = test.verdict();
        let _ = writeln!(
            page,
            "<h3 id=\"{}\">{} <span class=\"{}\">{}</span></h3>\n<p>{}</p>\n<table><tr><th>Step</th><th>Verdict</th><th>Detail</th></tr>",
            escape(&test.id),
            escape(&test.name),
            verdict.code(),
            verdict.code().to_uppercase(),
            escape(&test.description)
        );
        for action in &test.actions {
            let mut detail = escape(&action.message);
            if let Some(evidence) = &action.evidence {
                let _ = write!(
                    detail,
                    "<details><summary>{} → {}</summary><pre>{}</pre></details>",
                    escape(&evidence.request),
                    evidence
                        .status
                        .map_or_else(|| "no HTTP answer".to_owned(), |status| status.to_string()),
                    escape(&evidence.excerpt)
                );
            }
            let _ = writeln!(
                page,
                "<tr><td>{} {}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
                action.kind,
                escape(&action.description),
                action.verdict.code(),
                action.verdict.code(),
                detail
            );
        }
        page.push_str("</table>\n");
    }
    page.push_str("</body></html>\n");
    page
}
