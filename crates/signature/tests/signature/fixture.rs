//! The test PKI (generated once per test binary) and signed clinical acts.

use std::sync::OnceLock;

use renhice_model::resources::{Bundle, Provenance, Resource};
use renhice_model::types::Reference;
use renhice_signature::sign::{self, SignOptions, SignatureFormat, SigningKey};
use renhice_signature::{Crl, RevocationStore, SignatureReport, Target, TrustStore, Verifier};
use renhice_testing::pki::TestPki;
use serde_json::json;
use time::{Duration, OffsetDateTime, macros::datetime};

/// The signing time of the test acts.
pub(crate) const SIGNED_AT: OffsetDateTime = datetime!(2026-06-15 15:00:00 UTC);

/// The verification time: a day after signing.
pub(crate) fn verified_at() -> OffsetDateTime {
    SIGNED_AT + Duration::days(1)
}

/// The PKI, generated once.
pub(crate) fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| TestPki::generate(SIGNED_AT))
}

/// A verifier trusting the PKI's root (and knowing its intermediate), with the CRLs
/// current at the signing time.
pub(crate) fn verifier() -> Verifier {
    verifier_with(true, &[])
}

/// A verifier with or without the base CRLs, plus `extra` CRLs (DER).
pub(crate) fn verifier_with(base_crls: bool, extra: &[&[u8]]) -> Verifier {
    let pki = pki();
    let mut trust = TrustStore::new();
    for pem in [&pki.root.pem, &pki.intermediate.pem] {
        for cert in renhice_signature::Certificate::all_from_pem(pem.as_bytes()).unwrap() {
            trust.add(cert);
        }
    }
    let mut revocation = RevocationStore::new();
    if base_crls {
        for der in pki.crls.values() {
            revocation.add(Crl::from_der(der).unwrap());
        }
    }
    for der in extra {
        revocation.add(Crl::from_der(der).unwrap());
    }
    Verifier::new(trust, revocation)
}

/// The signing key of a case.
pub(crate) fn key(case: &str) -> SigningKey {
    let signer = pki().signer(case);
    SigningKey::from_pem(signer.cert.key.pem.as_bytes(), signer.chain_pem.as_bytes()).unwrap()
}

/// The practitioner who signs: identified by the DNI of the case's certificate.
pub(crate) fn practitioner(dni: &str) -> Resource {
    Resource::from_json(
        json!({
            "resourceType": "Practitioner",
            "id": "med-1",
            "identifier": [{"system": "https://www.gob.pe/minsa/RENHICE/fhir/sid/dni", "value": dni}],
            "name": [{"family": "Prueba", "given": ["Juan"]}]
        })
        .to_string()
        .as_bytes(),
    )
    .unwrap()
}

/// A DocumentReference index entry (the signed act).
pub(crate) fn document(id: &str, description: &str) -> Resource {
    Resource::from_json(
        json!({
            "resourceType": "DocumentReference",
            "id": id,
            "meta": {"versionId": "1", "lastUpdated": "2026-06-15T14:59:00Z"},
            "status": "current",
            "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4", "display": "Consult note"}]},
            "subject": {"identifier": {"system": "https://www.gob.pe/minsa/RENHICE/fhir/sid/dni", "value": "45678912"}},
            "date": "2026-06-15T14:58:00Z",
            "description": description,
            "content": [{"attachment": {"contentType": "application/pdf", "url": "https://sihce.ipress.test/Binary/1", "size": 1024, "hash": "AAECAw=="}}]
        })
        .to_string()
        .as_bytes(),
    )
    .unwrap()
}

/// Signing options for `case` at the signing time.
pub(crate) fn options(format: SignatureFormat, algorithm: Option<&str>) -> SignOptions {
    SignOptions {
        format,
        algorithm: algorithm.map(str::to_owned),
        signing_time: SIGNED_AT,
        who: Reference::to("Practitioner", "med-1"),
        commitment: None,
        canonicalization: None,
    }
}

/// A Provenance over `targets`, signed by `case`.
pub(crate) fn provenance(
    case: &str,
    targets: &[(&str, &Resource)],
    options: &SignOptions,
) -> Provenance {
    let mut provenance = Provenance {
        target: targets
            .iter()
            .map(|(reference, _)| Reference::url(reference))
            .collect(),
        ..Provenance::default()
    };
    let targets: Vec<_> = targets
        .iter()
        .map(|(reference, resource)| Target {
            reference,
            resource,
        })
        .collect();
    sign::sign_provenance(&mut provenance, &targets, &key(case), options).unwrap();
    provenance
}

/// A collection Bundle with the signed act: the document, the practitioner and the
/// Provenance signed by `case`.
pub(crate) fn signed_act(case: &str, format: SignatureFormat, algorithm: Option<&str>) -> Bundle {
    let document = document("doc-1", "Consulta externa");
    let provenance = provenance(
        case,
        &[("DocumentReference/doc-1", &document)],
        &options(format, algorithm),
    );
    bundle(vec![
        document,
        practitioner(&pki().signer(case).dni),
        Resource::Provenance(Box::new(provenance)),
    ])
}

/// A collection Bundle of `resources`.
pub(crate) fn bundle(resources: Vec<Resource>) -> Bundle {
    let mut bundle = Bundle {
        r#type: Some(renhice_model::Primitive::new("collection".to_owned())),
        ..Bundle::default()
    };
    for resource in resources {
        bundle.entry.push(renhice_model::resources::BundleEntry {
            resource: Some(resource),
            ..Default::default()
        });
    }
    bundle
}

/// Verifies every signature of a Bundle with `verifier` and returns the one report.
pub(crate) fn verify_one(verifier: &Verifier, bundle: &Bundle) -> SignatureReport {
    let resource = Resource::Bundle(Box::new(bundle.clone()));
    let mut reports = verifier.verify_resource(&resource, &[], verified_at());
    assert_eq!(reports.len(), 1, "one signature expected: {reports:#?}");
    reports.remove(0)
}

/// The Provenance of a signed act, for editing.
pub(crate) fn provenance_mut(bundle: &mut Bundle) -> &mut Provenance {
    bundle
        .entry
        .iter_mut()
        .find_map(|entry| match &mut entry.resource {
            Some(Resource::Provenance(provenance)) => Some(provenance.as_mut()),
            _ => None,
        })
        .unwrap()
}

/// The DocumentReference of a signed act, for editing.
pub(crate) fn document_mut(
    bundle: &mut Bundle,
) -> &mut renhice_model::resources::DocumentReference {
    bundle
        .entry
        .iter_mut()
        .find_map(|entry| match &mut entry.resource {
            Some(Resource::DocumentReference(document)) => Some(document.as_mut()),
            _ => None,
        })
        .unwrap()
}

/// The Python of a virtual environment with the pinned, hashed requirements
/// `tests/judges/{requirements}` ([`renhice_testing::judge_python`]).
pub(crate) fn judge_python(venv: &str, requirements: &str) -> std::path::PathBuf {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/judges")
        .join(requirements);
    renhice_testing::judge_python(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")),
        venv,
        &file,
    )
}
