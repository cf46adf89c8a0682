//! Search plans on a loaded PostgreSQL: every search shape the registry runs (MHD ITI-67
//! and ITI-66, PDQm ITI-78, PCF ITI-108, as the server narrows them to what a caller may
//! see) must read a handful of rows, planned without its values (as every connection
//! plans them, `force_generic_plan`) and with them. A plan that starts from a parameter
//! most resources share (every `status=current` entry, every entry an IPRESS holds) or
//! scans a table reads thousands of rows here and fails.

use std::fmt::Write as _;

use diesel::connection::SimpleConnection;
use renhice_store::search::{self, Criterion, Cursor, DateComparator, Match, Order};
use renhice_store::{DatabaseConfig, Store};

/// Patients, each with [`ENTRIES`] index entries, one SubmissionSet and (one in ten) a
/// consent; IPRESS; so that any scan of a whole parameter reads thousands of rows.
const PATIENTS: i64 = 5_000;
const ENTRIES: i64 = 10;
const IPRESS: i64 = 50;
/// The most rows any step of a plan may read (or read and discard) for a page of ten.
const MAX_ROWS: f64 = 400.0;

/// The registry's tables as its writes fill them, in bulk. IPRESS `org-1` holds a fifth
/// of all entries (a national hospital); statuses are 90 % `current`.
fn load(conn: &mut renhice_store::DbConnection) {
    conn.batch_execute(&format!(
        "INSERT INTO resources (resource_type, id, version_id, last_updated)
           SELECT 'Organization', 'org-' || g, 1, 1700000000000000 + g FROM generate_series(1, {IPRESS}) g;
         -- Patients, entries, SubmissionSets and consents interleaved in key order, as
         -- they arrive in a live registry.
         INSERT INTO resources (resource_type, id, version_id, last_updated)
           SELECT t, t || '-' || g, 1, 1700000000000000 + g
           FROM generate_series(1, {PATIENTS}) p,
                LATERAL (SELECT 'Patient' AS t, p AS g
                         UNION ALL SELECT 'DocumentReference', (p - 1) * {ENTRIES} + e
                                   FROM generate_series(1, {ENTRIES}) e
                         UNION ALL SELECT 'List', p
                         UNION ALL SELECT 'Consent', p WHERE p % 10 = 0) x
           ORDER BY p;
         CREATE TEMP TABLE n AS
           SELECT pk, resource_type AS t, split_part(id, '-', 2)::int AS n FROM resources;
         INSERT INTO search_tokens (resource_pk, param, system, code)
           SELECT pk, 'identifier', 'urn:oid:2.16.604.1.1', lpad((n * 7919 % 100000000)::text, 8, '0')
           FROM n WHERE t = 'Patient';
         INSERT INTO search_tokens (resource_pk, param, system, code)
           SELECT pk, 'gender', 'http://hl7.org/fhir/administrative-gender',
                  CASE WHEN n % 2 = 0 THEN 'female' ELSE 'male' END FROM n WHERE t = 'Patient';
         INSERT INTO search_strings (resource_pk, param, value)
           SELECT pk, 'family', (ARRAY['garcia','rodriguez','quispe','flores','sanchez',
                  'huaman','mamani','rojas','perez','torres'])[1 + n % 10] || ' ' || (n % 97)
           FROM n WHERE t = 'Patient';
         INSERT INTO search_strings (resource_pk, param, value)
           SELECT pk, 'given', (ARRAY['maria','jose','juan','rosa','luis','ana','carlos','carmen'])[1 + n % 8]
           FROM n WHERE t = 'Patient';
         INSERT INTO search_dates (resource_pk, param, low, high)
           SELECT pk, 'birthdate', (n % 30000) * 86400000000::bigint,
                  (n % 30000) * 86400000000::bigint + 86399999999 FROM n WHERE t = 'Patient';
         CREATE TEMP TABLE d AS
           SELECT pk, n, 'Patient-' || ((n - 1) / {ENTRIES} + 1) AS patient,
                  'org-' || CASE WHEN n % 5 = 0 THEN 1 ELSE n % {IPRESS} + 1 END AS custodian,
                  CASE WHEN n % 10 = 0 THEN 'superseded' ELSE 'current' END AS status
           FROM n WHERE t = 'DocumentReference';
         INSERT INTO search_references (resource_pk, param, target_type, target_id)
           SELECT pk, 'patient', 'Patient', patient FROM d
           UNION ALL SELECT pk, 'custodian', 'Organization', custodian FROM d;
         INSERT INTO search_tokens (resource_pk, param, system, code)
           SELECT pk, 'status', NULL, status FROM d
           UNION ALL SELECT pk, 'type', 'http://loinc.org',
                  (ARRAY['11506-3','18842-5','34117-2','11488-4','57133-1'])[1 + n % 5] FROM d
           UNION ALL SELECT pk, 'identifier', 'urn:ietf:rfc:3986', 'urn:oid:1.2.3.' || n FROM d;
         INSERT INTO search_dates (resource_pk, param, low, high)
           SELECT pk, 'date', 1700000000000000 + n * 1000000::bigint,
                  1700000000000000 + n * 1000000::bigint FROM d;
         INSERT INTO record_entries (resource_pk, patient_id, custodian_id, status, date, types, sensitive)
           SELECT pk, patient, custodian, status, 1700000000000000 + n * 1000000::bigint, '[]', n % 7 = 0
           FROM d;
         INSERT INTO search_references (resource_pk, param, target_type, target_id)
           SELECT pk, 'patient', 'Patient', 'Patient-' || n FROM n WHERE t IN ('List', 'Consent')
           UNION ALL SELECT pk, 'party', 'Organization', 'org-' || (n % {IPRESS} + 1)
                     FROM n WHERE t = 'Consent';
         INSERT INTO search_tokens (resource_pk, param, system, code)
           SELECT pk, 'status', NULL, CASE WHEN t = 'List' THEN 'current' ELSE 'active' END
           FROM n WHERE t IN ('List', 'Consent');
         INSERT INTO resource_versions (resource_pk, version_id, last_updated, body)
           SELECT pk, 1, last_updated, '{{}}' FROM resources;
         ANALYZE;"
    ))
    .unwrap();
}

fn token(param: &str, system: Option<&str>, code: &str) -> Criterion {
    Criterion {
        param: param.to_owned(),
        values: vec![Match::Token {
            system: system.map(str::to_owned),
            code: code.to_owned(),
        }],
        narrow: matches!(param, "_id" | "identifier"),
    }
}

fn patient(ids: &[&str]) -> Criterion {
    Criterion::references("patient", "Patient", ids.iter().map(|s| (*s).to_owned()))
}

fn prefix(param: &str, value: &str) -> Criterion {
    Criterion {
        param: param.to_owned(),
        values: vec![Match::StringPrefix(value.to_owned())],
        narrow: false,
    }
}

fn date(param: &str, comparator: DateComparator, low: i64, high: i64) -> Criterion {
    Criterion {
        param: param.to_owned(),
        values: vec![Match::Date {
            comparator,
            low,
            high,
        }],
        narrow: false,
    }
}

/// A search as the server runs it, with what its answer must hold.
struct Shape {
    name: &'static str,
    resource_type: &'static str,
    criteria: Vec<Criterion>,
    order: Order,
    after: Cursor,
}

fn shapes() -> Vec<Shape> {
    let day = 86_400_000_000_i64;
    let shape = |name, resource_type, criteria| Shape {
        name,
        resource_type,
        criteria,
        order: Order::Key,
        after: Cursor::Start,
    };
    let current = || token("status", None, "current");
    let custodian =
        |org: &str| Criterion::references("custodian", "Organization", [org.to_owned()]);
    vec![
        shape(
            "ITI-67, a SIHCE: the patient's current entries its IPRESS holds",
            "DocumentReference",
            vec![patient(&["Patient-77"]), current(), custodian("org-1")],
        ),
        shape(
            "ITI-67 under a consent: held here, or not sensitive",
            "DocumentReference",
            vec![
                patient(&["Patient-77"]),
                current(),
                Criterion {
                    param: "custodian".to_owned(),
                    values: vec![Match::HeldOrUnlabelled("org-1".to_owned())],
                    narrow: false,
                },
            ],
        ),
        shape(
            "ITI-67 by type and date",
            "DocumentReference",
            vec![
                current(),
                token("type", Some("http://loinc.org"), "11506-3"),
                date(
                    "date",
                    DateComparator::Ge,
                    1_700_000_000_000_000,
                    1_700_000_000_000_000,
                ),
                patient(&["Patient-1234"]),
            ],
        ),
        shape(
            "ITI-67 by a patient for their own (and merged) records",
            "DocumentReference",
            vec![
                patient(&["Patient-42"]),
                current(),
                patient(&["Patient-42", "Patient-43"]),
            ],
        ),
        Shape {
            order: Order::Date {
                param: "date",
                descending: true,
            },
            ..shape(
                "ITI-67 newest first",
                "DocumentReference",
                vec![patient(&["Patient-900"]), current(), custodian("org-1")],
            )
        },
        Shape {
            after: Cursor::Key(1),
            ..shape(
                "ITI-67, a next page",
                "DocumentReference",
                vec![patient(&["Patient-900"]), current()],
            )
        },
        shape(
            "ITI-66: the patient's SubmissionSets",
            "List",
            vec![patient(&["Patient-77"]), current()],
        ),
        shape(
            "ITI-108: the patient's consents involving the IPRESS",
            "Consent",
            vec![
                patient(&["Patient-70"]),
                Criterion::references("party", "Organization", ["org-21".to_owned()]),
            ],
        ),
        shape(
            "PDQm by identity document",
            "Patient",
            vec![token(
                "identifier",
                Some("urn:oid:2.16.604.1.1"),
                "00609763",
            )],
        ),
        shape(
            "PDQm by logical id",
            "Patient",
            vec![token("_id", None, "Patient-3")],
        ),
        shape(
            "PDQm by family name prefix",
            "Patient",
            vec![prefix("family", "quispe 1")],
        ),
        shape(
            "PDQm by family, given and birth date",
            "Patient",
            vec![
                prefix("given", "jo"),
                prefix("family", "flores 69"),
                date(
                    "birthdate",
                    DateComparator::Eq,
                    1_233 * day,
                    1_234 * day - 1,
                ),
            ],
        ),
        shape(
            "PDQm by birth date",
            "Patient",
            vec![date(
                "birthdate",
                DateComparator::Eq,
                4_321 * day,
                4_322 * day - 1,
            )],
        ),
        shape(
            "PDQm by gender alone: walks the patients in key order",
            "Patient",
            vec![token("gender", None, "female")],
        ),
    ]
}

/// Every node of a plan, depth first.
fn nodes<'a>(plan: &'a serde_json::Value, out: &mut Vec<&'a serde_json::Value>) {
    out.push(plan);
    for child in plan["Plans"].as_array().into_iter().flatten() {
        nodes(child, out);
    }
}

/// A plan as indented lines: each step, what it reads and how many rows.
fn outline(plan: &serde_json::Value, depth: usize, out: &mut String) {
    let s = |k: &str| plan[k].as_str().unwrap_or("");
    let _ = writeln!(
        out,
        "{:indent$}{} {} {} {}: {} rows",
        "",
        s("Node Type"),
        s("Relation Name"),
        s("Index Name"),
        [s("Index Cond"), s("Recheck Cond"), s("Filter")].concat(),
        rows_read(plan),
        indent = depth * 2
    );
    for child in plan["Plans"].as_array().into_iter().flatten() {
        outline(child, depth + 1, out);
    }
}

/// Rows a node produced or discarded, over all its loops.
fn rows_read(node: &serde_json::Value) -> f64 {
    let n = |k: &str| node[k].as_f64().unwrap_or(0.0);
    (n("Actual Rows") + n("Rows Removed by Filter") + n("Rows Removed by Index Recheck"))
        * n("Actual Loops").max(1.0)
}

#[test]
fn every_search_shape_reads_a_handful_of_rows_in_any_plan_mode() {
    renhice_testing::block_on(async {
        let db = renhice_testing::TestDb::postgres();
        let store = Store::connect(&DatabaseConfig {
            url: db.url().to_owned(),
            ..DatabaseConfig::default()
        })
        .await
        .unwrap();
        store
            .run(|conn| {
                load(conn);
                Ok::<_, renhice_store::StoreError>(())
            })
            .await
            .unwrap();
        let mut failures = Vec::new();
        for shape in shapes() {
            for generic in [true, false] {
                let Shape {
                    name,
                    resource_type,
                    criteria,
                    order,
                    after,
                } = &shape;
                let (resource_type, criteria, order, after) =
                    (*resource_type, criteria.clone(), *order, *after);
                let (plan, found) = store
                    .run(move |conn| {
                        let plan = search::explain(
                            conn,
                            resource_type,
                            &criteria,
                            order,
                            after,
                            10,
                            generic,
                        )?;
                        let found =
                            search::search(conn, resource_type, &criteria, order, after, 10)?;
                        Ok::<_, renhice_store::StoreError>((plan, found))
                    })
                    .await
                    .unwrap();
                let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
                let root = &plan[0]["Plan"];
                let mut all = Vec::new();
                nodes(root, &mut all);
                let mode = if generic { "generic" } else { "custom" };
                let worst = all
                    .iter()
                    .map(|n| (rows_read(n), n["Node Type"].as_str().unwrap_or("?")))
                    .fold((0.0, ""), |a, b| if b.0 > a.0 { b } else { a });
                let scans: Vec<_> = all
                    .iter()
                    .filter(|n| n["Node Type"] == "Seq Scan")
                    .map(|n| n["Relation Name"].as_str().unwrap_or("?").to_owned())
                    .collect();
                // Shown with `--no-capture`: what each shape reads at worst.
                eprintln!("{name} ({mode} plan): at most {} rows in one step", worst.0);
                if worst.0 > MAX_ROWS || !scans.is_empty() {
                    let mut text = String::new();
                    outline(root, 1, &mut text);
                    failures.push(format!(
                        "{name} ({mode} plan): a step reads {} rows ({}), sequential scans of {scans:?}\n{text}",
                        worst.0, worst.1,
                    ));
                }
                // A plan that reads nothing passes trivially: each shape finds entries.
                assert!(!found.rows.is_empty(), "{name}: the search finds nothing");
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    });
}
