//! PDF signatures (`PAdES`), signed by pyHanko and judged by both pyHanko's validator and
//! this verifier: every verdict compared, each disagreement explained (docs/signatures.md,
//! "`PAdES`").
//!
//! pyHanko and `openssl ts -reply` (the time-stamp authority, over HTTP on loopback) work
//! with the system clock, so the PKI is generated at the time of the run.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use renhice_signature::{
    Certificate, Check, ContentError, Crl, FormatError, Indication, PdfError, PdfSignatureError,
    RevocationStore, SignatureError, SignatureReport, Status, SubIndication, TrustStore, Verifier,
};
use renhice_testing::pki::{TestPki, serve_files, serve_openssl_tsa};
use time::OffsetDateTime;

struct Files {
    pki: TestPki,
    dir: tempfile::TempDir,
    tsa: String,
    /// The authority whose certificate expires first (`TestPki::short_tsa`).
    short_tsa: String,
    /// Commands kept for one `pades.py batch` (Python starts slowly), while batching.
    queue: std::cell::RefCell<Option<Vec<Vec<String>>>>,
}

impl Files {
    fn new() -> Self {
        Self::with(TestPki::generate(OffsetDateTime::now_utc()), None)
    }

    /// The PKI's CRLs served over HTTP at its distribution points, for pyHanko to embed.
    fn serving_crls() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let pki = TestPki::generate_with_crls_at(OffsetDateTime::now_utc(), &base);
        Self::with(pki, Some(listener))
    }

    fn with(pki: TestPki, crls: Option<std::net::TcpListener>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        pki.write_to(dir.path()).unwrap();
        if let Some(listener) = crls {
            let _ = serve_files(listener, dir.path().join("crl"));
        }
        let tsa = serve_openssl_tsa(dir.path(), "tsa");
        let short_tsa = serve_openssl_tsa(dir.path(), "short");
        let files = Self {
            pki,
            dir,
            tsa,
            short_tsa,
            queue: std::cell::RefCell::default(),
        };
        files.pades(&["blank", "blank.pdf"]);
        files
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `pades.py` with `args` in the directory, or keeps it for the batch; its
    /// standard output.
    fn pades(&self, args: &[&str]) -> String {
        if let Some(queue) = self.queue.borrow_mut().as_mut() {
            queue.push(args.iter().map(|arg| (*arg).to_owned()).collect());
            return String::new();
        }
        renhice_testing::pyhanko(
            Path::new(env!("CARGO_TARGET_TMPDIR")),
            self.dir.path(),
            args,
        )
    }

    /// pyHanko signs `input` into `output` as `case` in field `field`, with `extra` options.
    fn sign(&self, input: &str, output: &str, case: &str, field: &str, extra: &[&str]) {
        let key = format!("signers/{case}.key.pem");
        let cert = format!("signers/{case}.pem");
        // The issuing CA (pyHanko adds the signer's own certificate itself).
        let chain = if case == "wrong-ca" {
            "untrusted/other-intermediate.pem".to_owned()
        } else {
            "trust/intermediate.pem".to_owned()
        };
        let mut args = vec![
            "sign", input, output, "--key", &key, "--cert", &cert, "--chain", &chain, "--field",
            field,
        ];
        args.extend_from_slice(extra);
        self.pades(&args);
    }

    /// Keeps the commands that follow for one interpreter, until [`Self::run_batch`].
    fn batch(&self) {
        *self.queue.borrow_mut() = Some(Vec::new());
    }

    /// Runs the commands kept since [`Self::batch`]; their standard output.
    fn run_batch(&self) -> String {
        let commands = self.queue.borrow_mut().take().unwrap_or_default();
        std::fs::write(
            self.path("batch.json"),
            serde_json::to_string(&commands).unwrap(),
        )
        .unwrap();
        self.pades(&["batch", "batch.json"])
    }

    /// pyHanko's verdicts on `files`: per file and field, whether it holds and its
    /// summary.
    fn pyhanko(&self, files: &[&str]) -> Vec<(String, String, bool, String)> {
        self.batch();
        for file in files {
            self.pades(&["validate", file, "--trust", "trust/root.pem"]);
        }
        self.run_batch()
            .lines()
            .map(|line| {
                let verdict: serde_json::Value = serde_json::from_str(line).unwrap();
                (
                    verdict["file"].as_str().unwrap().to_owned(),
                    verdict["field"].as_str().unwrap().to_owned(),
                    verdict["bottom_line"].as_bool().unwrap(),
                    verdict["summary"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// A verifier trusting the PKI's root and time-stamp authority, with its CRLs.
    fn verifier(&self) -> Verifier {
        self.verifier_with(true)
    }

    /// A verifier trusting the PKI's root and time-stamp authority, with its CRLs or
    /// without any revocation information but what a signature carries.
    fn verifier_with(&self, crls: bool) -> Verifier {
        let mut trust = TrustStore::new();
        for pem in [&self.pki.root.pem, &self.pki.intermediate.pem] {
            for cert in Certificate::all_from_pem(pem.as_bytes()).unwrap() {
                trust.add(cert);
            }
        }
        for pem in [&self.pki.tsa.pem, &self.pki.short_tsa.pem] {
            for cert in Certificate::all_from_pem(pem.as_bytes()).unwrap() {
                trust.add_timestamp_authority(cert);
            }
        }
        let mut revocation = RevocationStore::new();
        if crls {
            for der in self.pki.crls.values() {
                revocation.add(Crl::from_der(der).unwrap());
            }
        }
        Verifier::new(trust, revocation)
    }

    fn verify(&self, file: &str) -> Vec<SignatureReport> {
        let bytes = std::fs::read(self.path(file)).unwrap();
        self.verifier()
            .verify_pdf(&bytes, OffsetDateTime::now_utc())
            .unwrap()
    }
}

/// What a case must give: this verifier's indication and sub-indication, the level, and
/// pyHanko's bottom line, for one field of one file.
struct Expect {
    file: &'static str,
    field: &'static str,
    ours: (Indication, Option<SubIndication>),
    level: &'static str,
    pyhanko: bool,
    /// Why the two verdicts differ, when they do (docs/signatures.md says the same).
    departure: Option<&'static str>,
}

const fn expect(
    file: &'static str,
    field: &'static str,
    ours: (Indication, Option<SubIndication>),
    level: &'static str,
    pyhanko: bool,
) -> Expect {
    Expect {
        file,
        field,
        ours,
        level,
        pyhanko,
        departure: None,
    }
}

const PASSED: (Indication, Option<SubIndication>) = (Indication::Passed, None);
const MODIFIED: (Indication, Option<SubIndication>) =
    (Indication::Failed, Some(SubIndication::HashFailure));

/// pyHanko makes every file of the comparison: signed, time-stamped, modified.
fn make_files() -> Files {
    let files = Files::new();
    let tsa = files.tsa.clone();
    files.batch();
    files.sign("blank.pdf", "b-b.pdf", "good", "Firma1", &[]);
    files.sign("blank.pdf", "b-b-adbe.pdf", "good", "Firma1", &["--adbe"]);
    files.sign("blank.pdf", "b-t.pdf", "good", "Firma1", &["--tsa", &tsa]);
    files.sign("blank.pdf", "b-b-rsa.pdf", "good-rsa", "Firma1", &[]);
    files.sign("blank.pdf", "untrusted.pdf", "wrong-ca", "Firma1", &[]);
    files.sign("blank.pdf", "revoked.pdf", "revoked", "Firma1", &[]);
    files.pades(&["timestamp", "b-b.pdf", "doc-timestamp.pdf", "--tsa", &tsa]);
    files.sign("b-b.pdf", "two-signatures.pdf", "good-p384", "Firma2", &[]);
    files.pades(&["alter", "b-b.pdf", "altered.pdf"]);
    files.pades(&["annotate", "b-b.pdf", "annotated.pdf"]);
    for level in ["1", "2", "3"] {
        let certified = format!("certified-p{level}.pdf");
        files.sign(
            "blank.pdf",
            &certified,
            "good",
            "Firma1",
            &["--certify", level],
        );
        files.pades(&[
            "annotate",
            &certified,
            &format!("certified-p{level}-annotated.pdf"),
        ]);
        // pyHanko refuses to sign what level 1 certifies.
        if level != "1" {
            files.sign(
                &certified,
                &format!("certified-p{level}-countersigned.pdf"),
                "good-p384",
                "Firma2",
                &[],
            );
        }
        files.pades(&[
            "timestamp",
            &certified,
            &format!("certified-p{level}-timestamped.pdf"),
            "--tsa",
            &tsa,
        ]);
    }
    let _ = files.run_batch();
    // A byte inside the signed range changed: the page's text, as a forger would.
    let mut forged = std::fs::read(files.path("b-b.pdf")).unwrap();
    let at = find(&forged, b"41234567").unwrap();
    forged[at] = b'9';
    std::fs::write(files.path("byte-changed.pdf"), &forged).unwrap();
    files
}

/// What each file must give.
fn cases() -> Vec<Expect> {
    vec![
        expect("b-b.pdf", "Firma1", PASSED, "B-B", true),
        expect("b-b-adbe.pdf", "Firma1", PASSED, "B-B", true),
        expect("b-b-rsa.pdf", "Firma1", PASSED, "B-B", true),
        expect("b-t.pdf", "Firma1", PASSED, "B-T", true),
        expect(
            "untrusted.pdf",
            "Firma1",
            (
                Indication::Failed,
                Some(SubIndication::NoCertificateChainFound),
            ),
            "B-B",
            false,
        ),
        Expect {
            departure: Some(
                "pyHanko's validation here soft-fails revocation and fetches no CRL; this verifier has the CA's CRL",
            ),
            ..expect(
                "revoked.pdf",
                "Firma1",
                (Indication::Failed, Some(SubIndication::Revoked)),
                "B-B",
                true,
            )
        },
        expect("doc-timestamp.pdf", "Firma1", PASSED, "B-T", true),
        expect("two-signatures.pdf", "Firma1", PASSED, "B-B", true),
        expect("two-signatures.pdf", "Firma2", PASSED, "B-B", true),
        expect("altered.pdf", "Firma1", MODIFIED, "B-B", false),
        Expect {
            departure: Some(
                "ISO 32000-1 lets annotations follow an approval signature; pyHanko's default difference policy has no rule for annotations and calls them OTHER",
            ),
            ..expect("annotated.pdf", "Firma1", PASSED, "B-B", false)
        },
        expect("byte-changed.pdf", "Firma1", MODIFIED, "B-B", false),
        expect("certified-p1.pdf", "Firma1", PASSED, "B-B", true),
        expect("certified-p2.pdf", "Firma1", PASSED, "B-B", true),
        expect("certified-p3.pdf", "Firma1", PASSED, "B-B", true),
        expect(
            "certified-p1-annotated.pdf",
            "Firma1",
            MODIFIED,
            "B-B",
            false,
        ),
        expect(
            "certified-p2-annotated.pdf",
            "Firma1",
            MODIFIED,
            "B-B",
            false,
        ),
        Expect {
            departure: Some(
                "DocMDP level 3 allows annotations; pyHanko's default difference policy has no rule for them",
            ),
            ..expect("certified-p3-annotated.pdf", "Firma1", PASSED, "B-B", false)
        },
        expect(
            "certified-p2-countersigned.pdf",
            "Firma1",
            PASSED,
            "B-B",
            true,
        ),
        expect(
            "certified-p2-countersigned.pdf",
            "Firma2",
            PASSED,
            "B-B",
            true,
        ),
        expect(
            "certified-p3-countersigned.pdf",
            "Firma1",
            PASSED,
            "B-B",
            true,
        ),
        expect(
            "certified-p1-timestamped.pdf",
            "Firma1",
            PASSED,
            "B-T",
            true,
        ),
        expect(
            "certified-p2-timestamped.pdf",
            "Firma1",
            PASSED,
            "B-T",
            true,
        ),
    ]
}

/// Every file pyHanko signs here, verified by both; the verdicts agree but where a
/// departure is stated.
#[test]
fn pades_files_signed_by_pyhanko_agree_with_its_validator() {
    let files = make_files();
    let cases = cases();
    let mut wrong = Vec::new();
    let mut table = String::from(
        "| file | field | renhice | pyHanko | agree |\n| --- | --- | --- | --- | --- |\n",
    );
    let mut names: Vec<&str> = cases.iter().map(|case| case.file).collect();
    names.dedup();
    let verdicts = files.pyhanko(&names);
    for case in &cases {
        let reports = files.verify(case.file);
        let Some(report) = reports.iter().find(|report| report.location == case.field) else {
            wrong.push(format!("{} {}: no report", case.file, case.field));
            continue;
        };
        let ours = (report.indication(), report.sub_indication());
        let Some((_, _, bottom_line, summary)) = verdicts
            .iter()
            .find(|(file, field, _, _)| file == case.file && field == case.field)
        else {
            wrong.push(format!(
                "{} {}: pyHanko found no such field",
                case.file, case.field
            ));
            continue;
        };
        if ours != case.ours || report.level() != case.level {
            wrong.push(format!(
                "{} {}: expected {:?} {}, got {:?} {}:\n{report}",
                case.file,
                case.field,
                case.ours,
                case.level,
                ours,
                report.level()
            ));
        }
        if *bottom_line != case.pyhanko {
            wrong.push(format!(
                "{} {}: pyHanko expected {}, said {bottom_line} ({summary})",
                case.file, case.field, case.pyhanko
            ));
        }
        let agree = (ours.0 == Indication::Passed) == *bottom_line;
        if agree == case.departure.is_some() {
            wrong.push(format!(
                "{} {}: agreement {agree} but departure {:?}",
                case.file, case.field, case.departure
            ));
        }
        let verdict = ours.1.map_or_else(
            || format!("{} ({})", ours.0, report.level()),
            |sub| format!("{}/{sub}", ours.0),
        );
        let _ = writeln!(
            table,
            "| {} | {} | {verdict} | {summary} | {} |",
            case.file,
            case.field,
            if agree { "yes" } else { "no (see below)" }
        );
    }
    println!("{table}");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    reports_say_more(&files);
}

/// What the reports say, beyond the verdicts.
fn reports_say_more(files: &Files) {
    let report = &files.verify("b-t.pdf")[0];
    assert_eq!(report.timestamps.len(), 1);
    assert!(!report.timestamps[0].document);
    assert_eq!(report.best_signature_time, report.timestamps[0].gen_time);
    let report = &files.verify("doc-timestamp.pdf")[0];
    assert_eq!(report.timestamps.len(), 1);
    assert!(report.timestamps[0].document, "{report}");
    let integrity = report.check(Check::ContentIntegrity).unwrap();
    assert!(
        integrity.reason.contains("revision 2 of 3"),
        "{}",
        integrity.reason
    );
    assert!(
        integrity.reason.contains("a document time-stamp"),
        "{}",
        integrity.reason
    );
    let report = &files.verify("altered.pdf")[0];
    assert!(
        matches!(
            report.check(Check::ContentIntegrity).unwrap().error,
            Some(SignatureError::Content(
                ContentError::ModifiedAfterSigning { .. }
            ))
        ),
        "{report}"
    );
    let report = &files.verify("byte-changed.pdf")[0];
    assert!(matches!(
        report.check(Check::ContentIntegrity).unwrap().error,
        Some(SignatureError::Content(ContentError::ByteRangeDigest {
            revision: 2
        }))
    ));
    assert_eq!(report.status(Check::SignatureValue), Status::Passed);
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Any one byte changed inside what a signature covers makes it fail or be unreadable,
/// and no change anywhere makes the verifier panic; a file that is not a PDF, or is cut
/// short, is refused with a reason.
#[test]
fn every_changed_byte_of_a_signed_pdf_is_caught() {
    let files = Files::new();
    files.sign("blank.pdf", "signed.pdf", "good", "Firma1", &[]);
    let signed = std::fs::read(files.path("signed.pdf")).unwrap();
    let verifier = files.verifier();
    let now = OffsetDateTime::now_utc();
    let reports = verifier.verify_pdf(&signed, now).unwrap();
    assert_eq!(
        reports[0].indication(),
        Indication::Passed,
        "{}",
        reports[0]
    );

    // The signature value's hex string is the one part not signed.
    let gap_start = find(&signed, b"/Contents <").unwrap() + 10;
    let gap_end = gap_start + find(&signed[gap_start..], b">").unwrap() + 1;
    let mut passed = Vec::new();
    let step = (signed.len() / 400).max(1);
    for position in (0..signed.len()).step_by(step) {
        if (gap_start..gap_end).contains(&position) {
            continue;
        }
        let mut changed = signed.clone();
        changed[position] ^= 0x01;
        // A Result either way: an unreadable file is an error, never a panic.
        if let Ok(reports) = verifier.verify_pdf(&changed, now)
            && reports
                .iter()
                .any(|report| report.indication() == Indication::Passed)
        {
            passed.push(position);
        }
    }
    assert!(
        passed.is_empty(),
        "changed bytes that still pass: {passed:?}"
    );

    assert_eq!(
        verifier
            .verify_pdf(b"{\"resourceType\": \"Bundle\"}", now)
            .unwrap_err(),
        PdfError::NotPdf
    );
    let cut = &signed[..signed.len() / 2];
    match verifier.verify_pdf(cut, now) {
        Err(PdfError::Unreadable { .. } | PdfError::Repaired) => {}
        Ok(reports) => assert!(
            reports
                .iter()
                .all(|report| report.indication() != Indication::Passed)
        ),
        Err(other) => panic!("{other}"),
    }
    // A /ByteRange that leaves out more than the signature value.
    let range_at = find(&signed, b"/ByteRange [").unwrap() + "/ByteRange [".len();
    let range_end = range_at + find(&signed[range_at..], b"]").unwrap();
    let numbers: Vec<usize> = std::str::from_utf8(&signed[range_at..range_end])
        .unwrap()
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    let shorter = format!("0 {} {} {}", numbers[1] - 1, numbers[2], numbers[3]);
    let mut wrapped = signed.clone();
    let width = range_end - range_at;
    let replacement = format!("{shorter:<width$}");
    wrapped[range_at..range_end].copy_from_slice(replacement.as_bytes());
    let reports = verifier.verify_pdf(&wrapped, now).unwrap();
    assert!(
        matches!(
            reports[0].check(Check::Format).unwrap().error,
            Some(SignatureError::Format(FormatError::Pdf(
                PdfSignatureError::GapNotContents { .. }
            )))
        ),
        "{}",
        reports[0]
    );
}

/// A later revision that points an object's number at new content and files the old
/// object under another number (which a reader keyed on object headers would keep as
/// the unchanged object) is refused as a whole.
#[test]
fn an_object_filed_under_another_number_is_refused() {
    let files = Files::new();
    files.sign("blank.pdf", "signed.pdf", "good", "Firma1", &[]);
    let signed = std::fs::read(files.path("signed.pdf")).unwrap();
    let verifier = files.verifier();
    let now = OffsetDateTime::now_utc();
    // The page's content stream is object 4 (tests/judges/pades.py, `blank`).
    let original = find(&signed, b"\n4 0 obj").unwrap() + 1;
    let previous: usize = {
        let at = signed.len()
            - find(
                &signed.iter().rev().copied().collect::<Vec<_>>(),
                b"ferxtrats",
            )
            .unwrap();
        std::str::from_utf8(&signed[at..])
            .unwrap()
            .split_ascii_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let mut shadowed = signed.clone();
    let evil = b"BT /F1 12 Tf 72 720 Td (Acto clinico: paciente DNI 99999999.) Tj ET";
    let offset = shadowed.len();
    shadowed
        .extend_from_slice(format!("4 0 obj\n<< /Length {} >>\nstream\n", evil.len()).as_bytes());
    shadowed.extend_from_slice(evil);
    shadowed.extend_from_slice(b"\nendstream\nendobj\n");
    let xref = shadowed.len();
    shadowed.extend_from_slice(
        format!(
            "xref\n4 1\n{offset:010} 00000 n \n40 1\n{original:010} 00000 n \ntrailer\n<< /Size 41 /Root 1 0 R /Prev {previous} >>\nstartxref\n{xref}\n%%EOF\n"
        )
        .as_bytes(),
    );
    assert_eq!(
        verifier.verify_pdf(&shadowed, now).unwrap_err(),
        PdfError::Inconsistent { number: 40 }
    );
}

/// Long-term validation: pyHanko embeds the CRLs it fetched from the PKI's distribution
/// points (over HTTP on loopback) in the document security store (`PAdES`) or in Adobe's
/// signed `revocationInfoArchival` attribute (`adbe.pkcs7.detached`), and adds an archive
/// time-stamp over them (B-LTA). A verifier with no revocation information of its own
/// verifies them from what they carry; without that material it cannot.
#[test]
fn long_term_pdf_signatures_verify_from_the_material_they_carry() {
    let files = long_term_files();

    // (pyHanko refuses to sign B-LT for a revoked signer.)
    let names = ["b-t.pdf", "b-lt.pdf", "b-lt-adbe.pdf", "b-lta.pdf"];
    let verdicts = files.pyhanko(&names);
    let now = OffsetDateTime::now_utc();
    let alone = files.verifier_with(false);
    let verify = |file: &str| {
        let bytes = std::fs::read(files.path(file)).unwrap();
        alone.verify_pdf(&bytes, now).unwrap().remove(0)
    };
    let mut wrong = Vec::new();
    let mut table = String::new();
    for (file, indication, level, pyhanko) in [
        ("b-t.pdf", Indication::Indeterminate, "B-B", true),
        ("b-lt.pdf", Indication::Passed, "B-LT", true),
        ("b-lt-adbe.pdf", Indication::Passed, "B-LT", true),
        ("b-lta.pdf", Indication::Passed, "B-LTA", true),
    ] {
        let report = verify(file);
        if report.indication() != indication || report.level() != level {
            wrong.push(format!(
                "{file}: expected {indication} {level}, got {} {}:\n{report}",
                report.indication(),
                report.level()
            ));
        }
        let said = verdicts
            .iter()
            .find(|(name, field, _, _)| name == file && field == "Firma1")
            .map(|(_, _, bottom_line, summary)| (*bottom_line, summary.clone()));
        if said.as_ref().map(|(bottom_line, _)| *bottom_line) != Some(pyhanko) {
            wrong.push(format!("{file}: pyHanko expected {pyhanko}, said {said:?}"));
        }
        let verdict = report.sub_indication().map_or_else(
            || format!("{} ({})", report.indication(), report.level()),
            |sub| format!("{}/{sub} ({})", report.indication(), report.level()),
        );
        let _ = writeln!(
            table,
            "| {file} | Firma1 | {verdict} | {} |",
            said.map(|(_, summary)| summary).unwrap_or_default()
        );
    }
    println!("{table}");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // Without the store's CRLs, a B-T signature's revocation status is unknown; the same
    // signature with its material carried says where the status came from.
    let report = verify("b-t.pdf");
    assert_eq!(
        report.status(Check::Revocation),
        Status::Indeterminate,
        "{report}"
    );
    assert!(!report.validation_data, "{report}");
    let report = verify("b-lt.pdf");
    assert!(report.validation_data, "{report}");
    let json = report.to_json();
    assert_eq!(json["level"], "B-LT");
    assert_eq!(json["validationDataCarried"], true);

    // B-LTA: the archive time-stamp (a document time-stamp over the DSS) is reported as
    // such, and the verdict is the same as of a later time, once the signer's certificate
    // has expired: the time-stamps prove the signature and its material existed before.
    let report = verify("b-lta.pdf");
    assert!(
        report
            .timestamps
            .iter()
            .any(|stamp| stamp.document && stamp.archive),
        "{report}"
    );
    assert_eq!(
        report.to_json()["timestamps"][1]["kind"],
        "archive",
        "{report}"
    );
    let later = now + time::Duration::days(800);
    let bytes = std::fs::read(files.path("b-lta.pdf")).unwrap();
    let report = alone.verify_pdf(&bytes, later).unwrap().remove(0);
    assert_eq!(report.indication(), Indication::Passed, "{report}");
    assert_eq!(report.level(), "B-LTA", "{report}");

    archive_chain_outlives_its_first_authority(&files, &alone, now);
}

/// 450 days on, the first authority's certificate has expired (at 400) and so has the
/// signer's (at 365). Alone, its time-stamps prove nothing any more; renewed by a document
/// time-stamp of the other authority, each is judged as of the time the next proves, down
/// to the signature.
fn archive_chain_outlives_its_first_authority(
    files: &Files,
    alone: &Verifier,
    now: OffsetDateTime,
) {
    let past_first = now + time::Duration::days(450);
    let chain = |file: &str| {
        let bytes = std::fs::read(files.path(file)).unwrap();
        alone.verify_pdf(&bytes, past_first).unwrap().remove(0)
    };
    let report = chain("chain.pdf");
    assert_eq!(report.indication(), Indication::Indeterminate, "{report}");
    let report = chain("chain-renewed.pdf");
    assert_eq!(report.indication(), Indication::Passed, "{report}");
    assert_eq!(report.level(), "B-LTA", "{report}");
    assert_eq!(report.timestamps.len(), 3, "{report}");
    assert!(
        report.timestamps[..2]
            .iter()
            .all(|stamp| stamp.status == Status::Passed && stamp.reason.contains("judged as of")),
        "{report}"
    );
    assert_eq!(report.best_signature_time, report.timestamps[0].gen_time);
}

/// pyHanko signs B-T, B-LT (both sub-filters), B-LTA, and an archive chain.
fn long_term_files() -> Files {
    let files = Files::serving_crls();
    let tsa = files.tsa.clone();
    files.batch();
    let ltv = ["--tsa", &tsa, "--ltv", "--trust", "trust/root.pem"];
    files.sign("blank.pdf", "b-t.pdf", "good", "Firma1", &["--tsa", &tsa]);
    files.sign("blank.pdf", "b-lt.pdf", "good", "Firma1", &ltv);
    files.sign(
        "blank.pdf",
        "b-lt-adbe.pdf",
        "good",
        "Firma1",
        &[&ltv[..], &["--adbe"]].concat(),
    );
    files.sign(
        "blank.pdf",
        "b-lta.pdf",
        "good",
        "Firma1",
        &[&ltv[..], &["--lta"]].concat(),
    );
    // An archive chain: everything stamped by the authority whose certificate expires
    // first, then a document time-stamp by the other, before the first expires.
    let short = files.short_tsa.clone();
    let lta_short = [
        "--tsa",
        &short,
        "--ltv",
        "--trust",
        "trust/root.pem",
        "--lta",
    ];
    files.sign("blank.pdf", "chain.pdf", "good", "Firma1", &lta_short);
    files.pades(&["timestamp", "chain.pdf", "chain-renewed.pdf", "--tsa", &tsa]);
    let _ = files.run_batch();
    files
}
