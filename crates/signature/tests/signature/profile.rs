//! Every rule of the certificate profile and of name constraints, each with a certificate
//! set that breaks it and one that keeps it, generated here (rcgen, and DER edits re-signed
//! by the issuer for what rcgen cannot write) and judged three times: by the verifier
//! (`Verifier::verify_certificate`, naming the rule), by OpenSSL (`openssl verify
//! -x509_strict -purpose smimesign -crl_check_all -policy_check -policy anyPolicy`) and by
//! pyca/cryptography (`tests/judges/pyca_verify.py`, in a virtual environment made from
//! its hashed requirements). They must agree on every case but those listed in
//! `OPENSSL_DEPARTURES` and `PYCA_DEPARTURES`, each with its reason (docs/signatures.md
//! explains them).

use std::path::Path;
use std::process::Command;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CustomExtension,
    DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber, SigningKey as _,
};
use renhice_signature::{
    Certificate, Check, Crl, Indication, PathError, RevocationStore, SignatureError, Status,
    TrustStore, Verifier,
};
use time::{Duration, OffsetDateTime, macros::datetime};
use x509_cert::der::{Decode as _, Encode as _};

const AT: OffsetDateTime = datetime!(2026-06-15 12:00:00 UTC);

/// A certificate with its key and parameters (to issue below it).
struct Node {
    der: Vec<u8>,
    key: KeyPair,
    params: CertificateParams,
}

impl Node {
    fn pem(&self) -> String {
        pem::encode(&pem::Pem::new("CERTIFICATE", self.der.clone()))
    }

    fn certificate(&self) -> Certificate {
        Certificate::from_der(&self.der).unwrap()
    }
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    assert!(content.len() < 128, "short forms only");
    let mut out = vec![tag, u8::try_from(content.len()).unwrap()];
    out.extend_from_slice(content);
    out
}

fn params(common_name: &str, organization: &str, serial: u8, ca: bool) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CountryName, "PE");
    name.push(DnType::OrganizationName, organization);
    name.push(DnType::CommonName, common_name);
    params.distinguished_name = name;
    params.not_before = AT - Duration::days(365);
    params.not_after = AT + Duration::days(365);
    params.serial_number = Some(SerialNumber::from_slice(&[0x10, serial]));
    params.key_identifier_method = KeyIdMethod::Sha256;
    params.use_authority_key_identifier_extension = true;
    if ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    } else {
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::ContentCommitment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::EmailProtection];
    }
    params
}

fn issue(params: CertificateParams, issuer: Option<&Node>) -> Node {
    let key = KeyPair::generate().unwrap();
    let cert = match issuer {
        Some(issuer) => params
            .signed_by(&key, &Issuer::from_params(&issuer.params, &issuer.key))
            .unwrap(),
        None => params.self_signed(&key).unwrap(),
    };
    Node {
        der: cert.der().to_vec(),
        key,
        params,
    }
}

/// `der` with its signed part edited, re-signed by `issuer`.
fn resign(
    der: &[u8],
    issuer: &KeyPair,
    edit: impl FnOnce(&mut x509_cert::TbsCertificate),
) -> Vec<u8> {
    let mut cert = x509_cert::Certificate::from_der(der).unwrap();
    edit(&mut cert.tbs_certificate);
    let tbs = cert.tbs_certificate.to_der().unwrap();
    let signature = issuer.sign(&tbs).unwrap();
    cert.signature = x509_cert::der::asn1::BitString::from_bytes(&signature).unwrap();
    cert.to_der().unwrap()
}

fn crl(issuer: &Node) -> Vec<u8> {
    CertificateRevocationListParams {
        this_update: AT - Duration::days(1),
        next_update: AT + Duration::days(6),
        crl_number: SerialNumber::from_slice(&[1]),
        issuing_distribution_point: None,
        revoked_certs: Vec::new(),
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&Issuer::from_params(&issuer.params, &issuer.key))
    .unwrap()
    .der()
    .to_vec()
}

fn extension(oid: &[u64], critical: bool, content: Vec<u8>) -> CustomExtension {
    let mut extension = CustomExtension::from_oid_content(oid, content);
    extension.set_criticality(critical);
    extension
}

const BASIC_CONSTRAINTS: [u64; 4] = [2, 5, 29, 19];
const NAME_CONSTRAINTS: [u64; 4] = [2, 5, 29, 30];
const POLICY_CONSTRAINTS: [u64; 4] = [2, 5, 29, 36];
const CERTIFICATE_POLICIES: [u64; 4] = [2, 5, 29, 32];
/// A certificate policy (2.16.604.1.1.1), as `certificatePolicies` carries it.
const POLICY: [u8; 8] = [0x06, 0x06, 0x60, 0x84, 0x5c, 0x01, 0x01, 0x01];
/// `anyPolicy`.
const ANY_POLICY: [u8; 6] = [0x06, 0x04, 0x55, 0x1d, 0x20, 0x00];
const SUBJECT_ALT_NAME: [u64; 4] = [2, 5, 29, 17];
const AUTHORITY_INFO_ACCESS: [u64; 9] = [1, 3, 6, 1, 5, 5, 7, 1, 1];

/// A `nameConstraints` extension with one subtree (`base`, a `GeneralSubtree`), permitted
/// (`0xa0`) or excluded (`0xa1`).
fn name_constraint(critical: bool, kind: u8, base: &[u8]) -> CustomExtension {
    extension(&NAME_CONSTRAINTS, critical, tlv(0x30, &tlv(kind, base)))
}

/// The subtree of directory names under C=PE, O=RENHICE Pruebas (the organisation as a
/// `UTF8String`, where the certificates have a `PrintableString`).
fn directory_base() -> Vec<u8> {
    let attribute = |oid: u8, tag: u8, value: &[u8]| {
        tlv(
            0x31,
            &tlv(
                0x30,
                &[&[0x06, 0x03, 0x55, 0x04, oid][..], &tlv(tag, value)].concat(),
            ),
        )
    };
    let name = tlv(
        0x30,
        &[
            attribute(0x06, 0x13, b"PE"),
            attribute(0x0a, 0x0c, b"RENHICE Pruebas"),
        ]
        .concat(),
    );
    tlv(0x30, &tlv(0xa4, &name))
}

/// A CA whose requireExplicitPolicy is 0 (every certificate below must assert a policy)
/// and which asserts anyPolicy itself.
fn explicit_policy_ca(p: &mut CertificateParams) {
    p.custom_extensions.push(extension(
        &POLICY_CONSTRAINTS,
        true,
        tlv(0x30, &[0x80, 0x01, 0x00]),
    ));
    p.custom_extensions.push(extension(
        &CERTIFICATE_POLICIES,
        false,
        tlv(0x30, &tlv(0x30, &ANY_POLICY)),
    ));
}

/// An authority information access naming an OCSP responder.
fn aia() -> Vec<u8> {
    let method = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01];
    let location = tlv(0x86, b"http://ocsp.example.pe");
    tlv(0x30, &tlv(0x30, &[&method[..], &location].concat()))
}

/// What a case changes, and what the verifier must say.
struct Case {
    name: &'static str,
    /// Edits the intermediate CA's parameters.
    ca: fn(&mut CertificateParams),
    /// Edits the signer's parameters.
    leaf: fn(&mut CertificateParams),
    /// Edits the intermediate's signed part after rcgen wrote it (re-signed by the root).
    ca_der: Option<fn(&mut x509_cert::TbsCertificate)>,
    /// Edits the signer's signed part (re-signed by the intermediate).
    leaf_der: Option<fn(&mut x509_cert::TbsCertificate)>,
    /// `None`: the set must pass; else the check that fails and the rule or error code.
    refused: Option<(Check, &'static str)>,
}

const fn keep(_: &mut CertificateParams) {}

fn case(name: &'static str, refused: Option<(Check, &'static str)>) -> Case {
    Case {
        name,
        ca: keep,
        leaf: keep,
        ca_der: None,
        leaf_der: None,
        refused,
    }
}

#[allow(clippy::too_many_lines, reason = "one case per rule, read as a table")]
fn cases() -> Vec<Case> {
    use Check::{CertificatePath as Path, CertificateProfile as Profile};
    vec![
        case("conforming", None),
        Case {
            ca: |p| {
                // cA=FALSE after rcgen's cA=TRUE: two basicConstraints.
                p.custom_extensions
                    .push(extension(&BASIC_CONSTRAINTS, true, tlv(0x30, &[])));
            },
            ..case(
                "two basicConstraints",
                Some((Profile, "duplicate-extension")),
            )
        },
        Case {
            leaf: |p| {
                p.custom_extensions.push(extension(
                    &SUBJECT_ALT_NAME,
                    false,
                    vec![0x30, 0x03, 0x82],
                ));
            },
            ..case(
                "non-critical SAN that does not decode",
                Some((Profile, "malformed-extension")),
            )
        },
        Case {
            leaf: |p| {
                p.custom_extensions
                    .push(extension(&AUTHORITY_INFO_ACCESS, true, aia()));
            },
            ..case(
                "critical authorityInfoAccess",
                Some((Profile, "must-not-be-critical")),
            )
        },
        Case {
            leaf: |p| {
                p.custom_extensions
                    .push(extension(&AUTHORITY_INFO_ACCESS, false, aia()));
            },
            ..case("non-critical authorityInfoAccess", None)
        },
        Case {
            leaf: |p| {
                p.custom_extensions.push(extension(
                    &AUTHORITY_INFO_ACCESS,
                    false,
                    tlv(0x30, &tlv(0x30, &[0x06, 0x01, 0x2b])),
                ));
            },
            ..case(
                "malformed authorityInfoAccess",
                Some((Profile, "malformed-extension")),
            )
        },
        Case {
            ca: |p| {
                p.custom_extensions.push(extension(
                    &POLICY_CONSTRAINTS,
                    false,
                    tlv(0x30, &[0x81, 0x01, 0x00]),
                ));
            },
            ..case(
                "non-critical policyConstraints",
                Some((Profile, "must-be-critical")),
            )
        },
        Case {
            ca: |p| {
                p.custom_extensions.push(extension(
                    &POLICY_CONSTRAINTS,
                    true,
                    tlv(0x30, &[0x80, 0x01, 0x05]),
                ));
            },
            ..case("critical policyConstraints", None)
        },
        Case {
            ca: |p| {
                p.is_ca = IsCa::NoCa;
                p.custom_extensions.push(extension(
                    &BASIC_CONSTRAINTS,
                    false,
                    tlv(0x30, &[0x01, 0x01, 0xff]),
                ));
            },
            ..case(
                "CA with non-critical basicConstraints",
                Some((Profile, "ca-basic-constraints-not-critical")),
            )
        },
        Case {
            ca: explicit_policy_ca,
            ..case(
                "explicit policy required, signer asserts none",
                Some((Path, "no-valid-policy")),
            )
        },
        Case {
            ca: explicit_policy_ca,
            leaf: |p| {
                p.custom_extensions.push(extension(
                    &CERTIFICATE_POLICIES,
                    false,
                    tlv(0x30, &tlv(0x30, &POLICY)),
                ));
            },
            ..case("explicit policy required, signer asserts one", None)
        },
        Case {
            ca: |p| p.key_usages = Vec::new(),
            ..case(
                "CA without key usage",
                Some((Profile, "ca-without-key-usage")),
            )
        },
        Case {
            ca_der: Some(|tbs| {
                if let Some(extensions) = tbs.extensions.as_mut() {
                    extensions.retain(|e| e.extn_id.to_string() != "2.5.29.14");
                }
            }),
            ..case(
                "CA without subject key identifier",
                Some((Profile, "ca-without-subject-key-id")),
            )
        },
        Case {
            leaf_der: Some(|tbs| {
                for extension in tbs.extensions.iter_mut().flatten() {
                    if extension.extn_id.to_string() == "2.5.29.14" {
                        extension.critical = true;
                    }
                }
            }),
            ..case(
                "critical subject key identifier",
                Some((Profile, "must-not-be-critical")),
            )
        },
        Case {
            leaf: |p| p.use_authority_key_identifier_extension = false,
            ..case(
                "signer without authority key identifier",
                Some((Profile, "missing-authority-key-id")),
            )
        },
        Case {
            leaf: |p| p.key_usages.push(KeyUsagePurpose::KeyCertSign),
            ..case(
                "signer with keyCertSign",
                Some((Profile, "key-cert-sign-without-ca")),
            )
        },
        Case {
            leaf: |p| {
                p.is_ca = IsCa::NoCa;
                p.custom_extensions.push(extension(
                    &BASIC_CONSTRAINTS,
                    true,
                    tlv(0x30, &[0x02, 0x01, 0x00]),
                ));
            },
            ..case(
                "pathLenConstraint without cA",
                Some((Profile, "path-len-without-ca")),
            )
        },
        Case {
            leaf: |p| p.serial_number = Some(SerialNumber::from_slice(&[0])),
            ..case("serial number zero", Some((Profile, "serial-not-positive")))
        },
        Case {
            leaf: |p| p.serial_number = Some(SerialNumber::from_slice(&[0x7f; 21])),
            ..case(
                "serial number of 21 octets",
                Some((Profile, "serial-too-long")),
            )
        },
        Case {
            leaf: |p| p.serial_number = Some(SerialNumber::from_slice(&[0x7f; 20])),
            ..case("serial number of 20 octets", None)
        },
        Case {
            leaf_der: Some(|tbs| tbs.version = x509_cert::Version::V2),
            ..case(
                "version 2 with extensions",
                Some((Profile, "extensions-before-v3")),
            )
        },
        Case {
            leaf_der: Some(|tbs| {
                // ecdsa-with-SHA384 inside, ecdsa-with-SHA256 outside.
                tbs.signature.oid = "1.2.840.10045.4.3.3".parse().unwrap();
            }),
            ..case(
                "signature algorithm inside differs",
                Some((Profile, "signature-algorithm-mismatch")),
            )
        },
        Case {
            ca: |p| {
                // Non-critical name constraints: permitted DNS minsa.gob.pe.
                p.custom_extensions.push(name_constraint(
                    false,
                    0xa0,
                    &tlv(0x30, &tlv(0x82, b"minsa.gob.pe")),
                ));
            },
            leaf: |p| {
                p.subject_alt_names =
                    vec![SanType::DnsName("x.essalud.gob.pe".try_into().unwrap())];
            },
            ..case(
                "DNS name outside non-critical permitted subtree",
                Some((Path, "name-constraint")),
            )
        },
        Case {
            ca: |p| {
                p.custom_extensions.push(name_constraint(
                    false,
                    0xa0,
                    &tlv(0x30, &tlv(0x82, b"minsa.gob.pe")),
                ));
            },
            leaf: |p| {
                p.subject_alt_names = vec![SanType::DnsName("x.minsa.gob.pe".try_into().unwrap())];
            },
            ..case("DNS name inside non-critical permitted subtree", None)
        },
        Case {
            ca: |p| {
                // Critical: excluded 10.0.0.0/8.
                p.custom_extensions.push(name_constraint(
                    true,
                    0xa1,
                    &tlv(0x30, &tlv(0x87, &[10, 0, 0, 0, 255, 0, 0, 0])),
                ));
            },
            leaf: |p| p.subject_alt_names = vec![SanType::IpAddress([10, 1, 2, 3].into())],
            ..case(
                "IP address in excluded subtree",
                Some((Path, "name-constraint")),
            )
        },
        Case {
            ca: |p| {
                p.custom_extensions.push(name_constraint(
                    true,
                    0xa1,
                    &tlv(0x30, &tlv(0x87, &[10, 0, 0, 0, 255, 0, 0, 0])),
                ));
            },
            leaf: |p| p.subject_alt_names = vec![SanType::IpAddress([192, 168, 2, 3].into())],
            ..case("IP address outside excluded subtree", None)
        },
        Case {
            ca: |p| {
                // Critical: permitted directory name C=PE, O=RENHICE Pruebas.
                p.custom_extensions
                    .push(name_constraint(true, 0xa0, &directory_base()));
            },
            leaf: |p| {
                let mut name = DistinguishedName::new();
                name.push(DnType::CountryName, "PE");
                name.push(DnType::OrganizationName, "Otra Entidad");
                name.push(DnType::CommonName, "Firmante");
                p.distinguished_name = name;
            },
            ..case(
                "directory name outside permitted subtree",
                Some((Path, "name-constraint")),
            )
        },
        Case {
            ca: |p| {
                // Critical: permitted directory name C=PE, O=RENHICE Pruebas.
                p.custom_extensions
                    .push(name_constraint(true, 0xa0, &directory_base()));
            },
            ..case(
                "directory name inside permitted subtree (other string type)",
                None,
            )
        },
        Case {
            ca: |p| {
                p.custom_extensions.push(name_constraint(
                    true,
                    0xa0,
                    &tlv(0x30, &tlv(0x81, b"minsa.gob.pe")),
                ));
            },
            leaf: |p| {
                p.subject_alt_names = vec![SanType::Rfc822Name(
                    "ana@essalud.gob.pe".try_into().unwrap(),
                )];
            },
            ..case(
                "e-mail address outside permitted subtree",
                Some((Path, "name-constraint")),
            )
        },
        Case {
            ca: |p| {
                p.custom_extensions.push(name_constraint(
                    true,
                    0xa1,
                    &tlv(0x30, &tlv(0x86, b".minsa.gob.pe")),
                ));
            },
            leaf: |p| {
                p.subject_alt_names = vec![SanType::URI(
                    "https://sihce.minsa.gob.pe/fhir".try_into().unwrap(),
                )];
            },
            ..case("URI in excluded subtree", Some((Path, "name-constraint")))
        },
    ]
}

/// Cases where OpenSSL's verdict differs from the verifier's, and why.
const OPENSSL_DEPARTURES: &[(&str, &str)] = &[
    (
        "malformed authorityInfoAccess",
        "OpenSSL decodes a non-critical authorityInfoAccess only to fetch from it, never to judge the certificate",
    ),
    (
        "non-critical policyConstraints",
        "OpenSSL's -x509_strict does not check the criticality of policyConstraints (RFC 5280 §4.2.1.11: MUST be critical)",
    ),
    (
        "serial number zero",
        "OpenSSL does not check serial numbers (RFC 5280 §4.1.2.2: positive); pyca/cryptography refuses them too",
    ),
    (
        "serial number of 21 octets",
        "OpenSSL does not check serial numbers (RFC 5280 §4.1.2.2: at most 20 octets); pyca/cryptography refuses them too",
    ),
];

/// Cases where pyca/cryptography's verdict differs from the verifier's, and why.
const PYCA_DEPARTURES: &[(&str, &str)] = &[
    (
        "non-critical policyConstraints",
        "pyca does not process policies, so a non-critical policyConstraints is ignored, whatever its criticality should be",
    ),
    (
        "critical policyConstraints",
        "pyca does not process policies and refuses every critical extension it does not process",
    ),
    (
        "explicit policy required, signer asserts one",
        "pyca does not process policies and refuses every critical extension it does not process",
    ),
    (
        "critical subject key identifier",
        "pyca does not look at a signer's subject key identifier (RFC 5280 §4.2.1.2: MUST NOT be critical)",
    ),
    (
        "CA without subject key identifier",
        "pyca does not require a subject key identifier in CA certificates (RFC 5280 §4.2.1.2: MUST)",
    ),
    (
        "pathLenConstraint without cA",
        "pyca does not check that a pathLenConstraint comes with cA (RFC 5280 §4.2.1.9)",
    ),
    (
        "serial number zero",
        "pyca accepts a zero serial number with a deprecation warning (its trust stores hold roots with serial 0)",
    ),
    (
        "serial number of 21 octets",
        "pyca allows 21 octets, room for a sign octet before 20 octets of value; the profile counts the encoded octets",
    ),
    (
        "directory name outside permitted subtree",
        "pyca applies name constraints to subject alternative names only, never to the subject (RFC 5280 §4.2.1.10 applies directoryName constraints to it)",
    ),
];

/// The code a failed check's cause is known by.
fn code(error: &SignatureError) -> String {
    match error {
        SignatureError::Profile(profile) => profile.rule.code().to_owned(),
        SignatureError::Path(PathError::NameConstraint { .. }) => "name-constraint".to_owned(),
        SignatureError::Path(PathError::NoValidPolicy { .. }) => "no-valid-policy".to_owned(),
        other => format!("{other:?}"),
    }
}

struct Built {
    root: Node,
    ca: Node,
    leaf: Node,
}

fn build(case: &Case) -> Built {
    let root = issue(
        {
            let mut p = params("Raíz de Pruebas", "RENHICE Pruebas", 1, true);
            p.use_authority_key_identifier_extension = false;
            p
        },
        None,
    );
    let mut ca_params = params("CA Acreditada", "RENHICE Pruebas", 2, true);
    (case.ca)(&mut ca_params);
    let mut ca = issue(ca_params, Some(&root));
    if let Some(edit) = case.ca_der {
        ca.der = resign(&ca.der, &root.key, edit);
    }
    let mut leaf_params = params("Médico Firmante", "RENHICE Pruebas", 3, false);
    (case.leaf)(&mut leaf_params);
    let mut leaf = issue(leaf_params, Some(&ca));
    if let Some(edit) = case.leaf_der {
        leaf.der = resign(&leaf.der, &ca.key, edit);
    }
    Built { root, ca, leaf }
}

fn ours(built: &Built) -> (Indication, Option<(Check, String)>) {
    let mut trust = TrustStore::new();
    trust.add_anchor(built.root.certificate());
    let mut revocation = RevocationStore::new();
    for node in [&built.root, &built.ca] {
        revocation.add(Crl::from_der(&crl(node)).unwrap());
    }
    let verifier = Verifier::new(trust, revocation);
    let report =
        verifier.verify_certificate(&built.leaf.certificate(), &[built.ca.certificate()], AT);
    let failed = report
        .checks
        .iter()
        .find(|check| check.status != Status::Passed)
        .map(|check| {
            (
                check.check,
                check
                    .error
                    .as_ref()
                    .map_or_else(|| check.reason.clone(), code),
            )
        });
    (report.indication(), failed)
}

fn openssl(built: &Built, dir: &Path) -> (bool, String) {
    openssl_with_crls(built, dir, &[crl(&built.root), crl(&built.ca)])
}

fn openssl_with_crls(built: &Built, dir: &Path, crls: &[Vec<u8>]) -> (bool, String) {
    std::fs::write(dir.join("root.pem"), built.root.pem()).unwrap();
    std::fs::write(dir.join("ca.pem"), built.ca.pem()).unwrap();
    std::fs::write(dir.join("leaf.pem"), built.leaf.pem()).unwrap();
    let crls: String = crls
        .iter()
        .map(|der| pem::encode(&pem::Pem::new("X509 CRL", der.clone())))
        .collect();
    std::fs::write(dir.join("crls.pem"), crls).unwrap();
    let output = Command::new("openssl")
        .args([
            "verify",
            "-x509_strict",
            "-purpose",
            "smimesign",
            "-crl_check_all",
            "-policy_check",
            "-policy",
            "anyPolicy",
            "-attime",
            &AT.unix_timestamp().to_string(),
            "-CAfile",
            "root.pem",
            "-untrusted",
            "ca.pem",
            "-CRLfile",
            "crls.pem",
            "leaf.pem",
        ])
        .current_dir(dir)
        .output()
        .unwrap_or_else(|error| panic!("openssl must be installed for these tests: {error}"));
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text.replace('\n', " "))
}

/// Each rule refused by the verifier with its own code, each passing variant accepted,
/// and OpenSSL of the same opinion but for the documented departures.
#[test]
fn each_rule_refused_and_its_passing_variant_accepted_as_openssl_and_pyca_judge() {
    let dir = tempfile::tempdir().unwrap();
    let openssl_departures: std::collections::BTreeMap<&str, &str> =
        OPENSSL_DEPARTURES.iter().copied().collect();
    let pyca_departures: std::collections::BTreeMap<&str, &str> =
        PYCA_DEPARTURES.iter().copied().collect();
    let mut wrong = Vec::new();
    let mut disagreements = Vec::new();
    let mut judge =
        |judge: &str, name: &str, agree: bool, departure: Option<&&str>, text: &str| match (
            agree, departure,
        ) {
            (true, None) | (false, Some(_)) => {}
            (false, None) => disagreements.push(format!("{name}: {judge} says {text}")),
            (true, Some(_)) => disagreements.push(format!(
                "{name}: now agrees with {judge}: remove the departure"
            )),
        };
    let mut ours_passed = Vec::new();
    let cases = cases();
    for (index, case) in cases.iter().enumerate() {
        let built = build(case);
        let (indication, failed) = ours(&built);
        match (&case.refused, &failed) {
            (None, None) => {}
            (Some((check, rule)), Some((got_check, got_rule)))
                if check == got_check && rule == got_rule => {}
            _ => wrong.push(format!(
                "{}: expected {:?}, got {indication:?} {failed:?}",
                case.name, case.refused
            )),
        }
        let case_dir = dir.path().join(format!("case-{index}"));
        std::fs::create_dir(&case_dir).unwrap();
        let (openssl_ok, text) = openssl(&built, &case_dir);
        let passed = indication == Indication::Passed;
        judge(
            "OpenSSL",
            case.name,
            openssl_ok == passed,
            openssl_departures.get(case.name),
            &text,
        );
        ours_passed.push(passed);
    }
    // pyca/cryptography judges every set in one run (it checks no CRL).
    let dirs: Vec<String> = (0..cases.len())
        .map(|index| {
            dir.path()
                .join(format!("case-{index}"))
                .display()
                .to_string()
        })
        .collect();
    let verdicts = pyca(&dirs);
    for ((case, passed), (ok, text)) in cases.iter().zip(&ours_passed).zip(&verdicts) {
        judge(
            "pyca/cryptography",
            case.name,
            ok == passed,
            pyca_departures.get(case.name),
            text,
        );
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

/// The Python of a virtual environment with pyca/cryptography from
/// `tests/judges/requirements.txt`.
fn pyca_python() -> std::path::PathBuf {
    crate::fixture::judge_python("pyca-judge-venv", "requirements.txt")
}

/// pyca/cryptography's verdict on each directory (root.pem, ca.pem, leaf.pem) at `AT`.
fn pyca(dirs: &[String]) -> Vec<(bool, String)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/judges/pyca_verify.py");
    let output = Command::new(pyca_python())
        .arg(script)
        .arg(AT.unix_timestamp().to_string())
        .args(dirs)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "pyca_verify.py: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let verdicts: Vec<(bool, String)> = text
        .lines()
        .map(|line| {
            let mut fields = line.splitn(3, '\t');
            let _dir = fields.next();
            let verdict = fields.next().unwrap_or_default();
            (
                verdict == "OK",
                fields.next().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(verdicts.len(), dirs.len(), "one line per set: {text}");
    verdicts
}

/// A CA certified by another, configured as the trust anchor on its own (as a trusted
/// list names an accredited CA): paths end at it. Added as a mere certificate it is an
/// intermediate, and nothing is trusted.
#[test]
fn an_anchor_need_not_be_self_issued() {
    let built = build(&case("conforming", None));
    let check = |trust: TrustStore| {
        let mut revocation = RevocationStore::new();
        revocation.add(Crl::from_der(&crl(&built.ca)).unwrap());
        Verifier::new(trust, revocation)
            .verify_certificate(&built.leaf.certificate(), &[], AT)
            .indication()
    };
    let mut anchored = TrustStore::new();
    anchored.add_anchor(built.ca.certificate());
    assert_eq!(check(anchored), Indication::Passed);
    let mut added = TrustStore::new();
    added.add(built.ca.certificate());
    assert_ne!(check(added), Indication::Passed);

    // The same from a trust directory: certificates in anchors/ are anchors.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), built.ca.pem()).unwrap();
    assert!(matches!(
        TrustStore::load_dir(dir.path()),
        Err(renhice_signature::TrustError::NoAnchor(_))
    ));
    std::fs::create_dir(dir.path().join("anchors")).unwrap();
    std::fs::rename(dir.path().join("ca.pem"), dir.path().join("anchors/ca.pem")).unwrap();
    let store = TrustStore::load_dir(dir.path()).unwrap();
    assert_eq!(store.anchors().len(), 1);
    assert_eq!(check(store), Indication::Passed);
}

/// An edit of a CRL's signed part.
type CrlEdit = fn(&mut x509_cert::crl::TbsCertList);

/// A CRL edited after rcgen wrote it, re-signed by its issuer.
fn resign_crl(
    der: &[u8],
    issuer: &KeyPair,
    edit: impl FnOnce(&mut x509_cert::crl::TbsCertList),
) -> Vec<u8> {
    let mut crl = x509_cert::crl::CertificateList::from_der(der).unwrap();
    edit(&mut crl.tbs_cert_list);
    let tbs = crl.tbs_cert_list.to_der().unwrap();
    let signature = issuer.sign(&tbs).unwrap();
    crl.signature = x509_cert::der::asn1::BitString::from_bytes(&signature).unwrap();
    crl.to_der().unwrap()
}

/// The CRL profile (RFC 5280 §5.2.3): a CRL without cRLNumber, or with it critical, is
/// set aside and the report says why; the same CRL untouched counts. OpenSSL agrees but
/// for the missing number, which it does not require (docs/signatures.md).
#[test]
fn a_crl_without_its_number_or_with_it_critical_is_set_aside() {
    use renhice_signature::{CrlDefect, RevocationError};
    let built = build(&case("conforming", None));
    let number = |crl: &x509_cert::crl::TbsCertList| {
        crl.crl_extensions.as_ref().is_some_and(|extensions| {
            extensions
                .iter()
                .any(|e| e.extn_id.to_string() == "2.5.29.20")
        })
    };
    // (variant, edit, the defect the verifier finds, whether OpenSSL accepts the path)
    let variants: [(&str, CrlEdit, Option<CrlDefect>, bool); 3] = [
        ("untouched", |_| {}, None, true),
        (
            "no cRLNumber",
            |tbs| {
                if let Some(extensions) = tbs.crl_extensions.as_mut() {
                    extensions.retain(|e| e.extn_id.to_string() != "2.5.29.20");
                }
            },
            Some(CrlDefect::NoCrlNumber),
            true,
        ),
        (
            "critical cRLNumber",
            |tbs| {
                for extension in tbs.crl_extensions.iter_mut().flatten() {
                    if extension.extn_id.to_string() == "2.5.29.20" {
                        extension.critical = true;
                    }
                }
            },
            Some(CrlDefect::CriticalCrlNumber),
            false,
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (name, edit, defect, openssl_accepts) in variants {
        let crl_der = resign_crl(&crl(&built.ca), &built.ca.key, edit);
        let tbs = x509_cert::crl::CertificateList::from_der(&crl_der)
            .unwrap()
            .tbs_cert_list;
        assert_eq!(
            number(&tbs),
            !matches!(defect, Some(CrlDefect::NoCrlNumber)),
            "{name}"
        );
        let mut trust = TrustStore::new();
        trust.add_anchor(built.root.certificate());
        let mut revocation = RevocationStore::new();
        revocation.add(Crl::from_der(&crl(&built.root)).unwrap());
        revocation.add(Crl::from_der(&crl_der).unwrap());
        let report = Verifier::new(trust, revocation).verify_certificate(
            &built.leaf.certificate(),
            &[built.ca.certificate()],
            AT,
        );
        let check = report.check(Check::Revocation).unwrap();
        match &defect {
            None => assert_eq!(check.status, Status::Passed, "{name}: {}", check.reason),
            Some(defect) => {
                assert_eq!(
                    check.status,
                    Status::Indeterminate,
                    "{name}: {}",
                    check.reason
                );
                let Some(SignatureError::Revocation { causes }) = &check.error else {
                    panic!("{name}: {:?}", check.error);
                };
                assert!(
                    causes.iter().any(|cause| matches!(
                        cause,
                        RevocationError::CrlSetAside { why, .. } if why == defect
                    )),
                    "{name}: {causes:?}"
                );
                assert!(
                    check.reason.contains("was set aside"),
                    "{name}: {}",
                    check.reason
                );
            }
        }
        let (openssl_ok, text) =
            openssl_with_crls(&built, dir.path(), &[crl(&built.root), crl_der]);
        assert_eq!(openssl_ok, openssl_accepts, "{name}: OpenSSL says {text}");
    }
}

/// A trusted list (ETSI TS 119 612) naming the accredited CA — not self-issued — as a
/// granted CA/QC service and another CA as withdrawn, signed by `xmlsec1` (the XML
/// Security Library, an independent XML-DSig implementation) with the operator's key.
fn trusted_list(ca: &Node, withdrawn: &Node) -> String {
    let service = |node: &Node, name: &str, status: &str| {
        format!(
            r#"<tsl:TSPService><tsl:ServiceInformation>
          <tsl:ServiceTypeIdentifier>http://uri.etsi.org/TrstSvc/Svctype/CA/QC</tsl:ServiceTypeIdentifier>
          <tsl:ServiceName><tsl:Name xml:lang="es">{name}</tsl:Name></tsl:ServiceName>
          <tsl:ServiceDigitalIdentity><tsl:DigitalId><tsl:X509Certificate>{}</tsl:X509Certificate></tsl:DigitalId></tsl:ServiceDigitalIdentity>
          <tsl:ServiceStatus>http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/{status}</tsl:ServiceStatus>
        </tsl:ServiceInformation></tsl:TSPService>"#,
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &node.der)
        )
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<tsl:TrustServiceStatusList xmlns:tsl="http://uri.etsi.org/02231/v2#" Id="lista" TSLTag="http://uri.etsi.org/19612/TSLTag">
  <tsl:SchemeInformation>
    <tsl:TSLVersionIdentifier>5</tsl:TSLVersionIdentifier>
    <tsl:TSLSequenceNumber>7</tsl:TSLSequenceNumber>
    <tsl:SchemeTerritory>PE</tsl:SchemeTerritory>
    <tsl:ListIssueDateTime>2026-06-01T00:00:00Z</tsl:ListIssueDateTime>
    <tsl:NextUpdate><tsl:dateTime>2026-12-01T00:00:00Z</tsl:dateTime></tsl:NextUpdate>
  </tsl:SchemeInformation>
  <!-- comments are not signed, and change nothing -->
  <tsl:TrustServiceProviderList>
    <tsl:TrustServiceProvider>
      <tsl:TSPInformation><tsl:TSPName><tsl:Name xml:lang="es">Entidad de Registro de Pruebas</tsl:Name></tsl:TSPName></tsl:TSPInformation>
      <tsl:TSPServices>
        {}
        {}
      </tsl:TSPServices>
    </tsl:TrustServiceProvider>
  </tsl:TrustServiceProviderList>
  <ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="firma">
    <ds:SignedInfo>
      <ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
      <ds:SignatureMethod Algorithm="{{method}}"/>
      <ds:Reference URI="">
        <ds:Transforms>
          <ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
          <ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
        </ds:Transforms>
        <ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
        <ds:DigestValue/>
      </ds:Reference>
    </ds:SignedInfo>
    <ds:SignatureValue/>
    <ds:KeyInfo><ds:X509Data/></ds:KeyInfo>
  </ds:Signature>
</tsl:TrustServiceStatusList>
"#,
        service(ca, "CA Acreditada", "granted"),
        service(withdrawn, "CA Retirada", "withdrawn"),
    )
}

fn xmlsec1(args: &[&str], dir: &Path) -> (bool, String) {
    let output = Command::new("xmlsec1")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|error| {
            panic!("xmlsec1 must be installed for these tests (Debian: apt-get install xmlsec1): {error}")
        });
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text.replace('\n', " "))
}

/// Trusted lists signed by xmlsec1 with an ECDSA and an RSA operator key: read, their
/// anchors trusted (a CA that is not self-issued validates a path), a withdrawn service
/// not; a list changed after signing, verified with another operator's certificate,
/// carrying a DOCTYPE or a second signature is refused — and xmlsec1 judges the same
/// signatures the same way.
#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one journey per operator key, every step asserted in order"
)]
fn trusted_lists_signed_by_xmlsec1_anchor_paths() {
    use renhice_signature::{TrustedList, TrustedListError};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    let built = build(&case("conforming", None));
    let other = issue(
        params("CA Retirada", "Otra Entidad", 9, true),
        Some(&built.root),
    );
    // The operators: ECDSA P-256 (rcgen) and RSA 2048 (OpenSSL).
    let ecdsa = issue(
        params("Operador de la Lista", "INDECOPI Pruebas", 20, true),
        None,
    );
    std::fs::write(path.join("ecdsa.key"), ecdsa.key.serialize_pem()).unwrap();
    std::fs::write(path.join("ecdsa.pem"), ecdsa.pem()).unwrap();
    let openssl = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "rsa.key",
            "-out",
            "rsa.pem",
            "-days",
            "3650",
            "-subj",
            "/C=PE/O=INDECOPI Pruebas/CN=Operador RSA",
        ])
        .current_dir(path)
        .output()
        .unwrap();
    assert!(
        openssl.status.success(),
        "{}",
        String::from_utf8_lossy(&openssl.stderr)
    );
    let rsa = Certificate::all_from_pem(&std::fs::read(path.join("rsa.pem")).unwrap()).unwrap()[0]
        .clone();
    let template = trusted_list(&built.ca, &other);
    for (operator, method, pinned) in [
        (
            "ecdsa",
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
            ecdsa.certificate(),
        ),
        (
            "rsa",
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            rsa.clone(),
        ),
    ] {
        std::fs::write(
            path.join("template.xml"),
            template.replace("{method}", method),
        )
        .unwrap();
        let key = format!("{operator}.key,{operator}.pem");
        let (signed_ok, text) = xmlsec1(
            &[
                "--sign",
                "--privkey-pem",
                &key,
                "--output",
                "signed.xml",
                "template.xml",
            ],
            path,
        );
        assert!(signed_ok, "xmlsec1 --sign: {text}");
        let signed = std::fs::read_to_string(path.join("signed.xml")).unwrap();

        let list = TrustedList::from_xml(signed.as_bytes(), std::slice::from_ref(&pinned))
            .unwrap_or_else(|error| panic!("{operator}: {error}"));
        assert_eq!(list.territory, "PE");
        assert_eq!(list.sequence_number, Some(7));
        assert_eq!(list.services.len(), 2);
        assert_eq!(list.anchors().count(), 1, "{operator}: the granted CA only");
        assert!(list.is_current(AT) && !list.is_current(datetime!(2026-12-02 00:00:00 UTC)));
        let mut trust = TrustStore::new();
        assert_eq!(trust.add_trusted_list(list), 1);
        let mut revocation = RevocationStore::new();
        revocation.add(Crl::from_der(&crl(&built.ca)).unwrap());
        let report =
            Verifier::new(trust, revocation).verify_certificate(&built.leaf.certificate(), &[], AT);
        assert_eq!(
            report.indication(),
            Indication::Passed,
            "{operator}: {:?}",
            report.checks
        );

        // xmlsec1 agrees that the signature verifies with the operator's certificate.
        let cert = format!("{operator}.pem");
        let verify = |file: &str, cert: &str| {
            xmlsec1(
                &[
                    "--verify",
                    "--pubkey-cert-pem",
                    cert,
                    "--enabled-reference-uris",
                    "empty",
                    file,
                ],
                path,
            )
            .0
        };
        assert!(verify("signed.xml", &cert), "{operator}: xmlsec1 --verify");

        // Changed after signing: the withdrawn CA made granted.
        let changed = signed.replace("Svcstatus/withdrawn", "Svcstatus/granted");
        std::fs::write(path.join("changed.xml"), &changed).unwrap();
        let error =
            TrustedList::from_xml(changed.as_bytes(), std::slice::from_ref(&pinned)).unwrap_err();
        assert!(
            matches!(&error, TrustedListError::Signature { detail } if detail.contains("changed after it was signed")),
            "{operator}: {error}"
        );
        assert!(
            !verify("changed.xml", &cert),
            "{operator}: xmlsec1 accepts the changed list"
        );

        // A comment added after signing changes nothing signed.
        let commented = signed.replace(
            "<tsl:SchemeInformation>",
            "<!-- nota --><tsl:SchemeInformation>",
        );
        assert!(
            TrustedList::from_xml(commented.as_bytes(), std::slice::from_ref(&pinned)).is_ok(),
            "{operator}"
        );

        // Verified with another operator's certificate.
        let (wrong, wrong_file) = if operator == "ecdsa" {
            (rsa.clone(), "rsa.pem")
        } else {
            (ecdsa.certificate(), "ecdsa.pem")
        };
        let error = TrustedList::from_xml(signed.as_bytes(), &[wrong]).unwrap_err();
        assert!(
            matches!(error, TrustedListError::Signature { .. }),
            "{operator}: {error}"
        );
        assert!(
            !verify("signed.xml", wrong_file),
            "{operator}: xmlsec1 accepts another key"
        );

        // No pinned certificate; a DOCTYPE; a second signature.
        assert_eq!(
            TrustedList::from_xml(signed.as_bytes(), &[]).unwrap_err(),
            TrustedListError::NoSigner
        );
        let doctype = signed.replacen(
            "<tsl:TrustServiceStatusList",
            "<!DOCTYPE x [<!ENTITY a \"b\">]><tsl:TrustServiceStatusList",
            1,
        );
        assert_eq!(
            TrustedList::from_xml(doctype.as_bytes(), std::slice::from_ref(&pinned)).unwrap_err(),
            TrustedListError::Doctype
        );
        let start = signed.find("<ds:Signature").unwrap();
        let end = signed.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
        let twice = signed.replacen(
            "</tsl:SchemeInformation>",
            &format!("</tsl:SchemeInformation>{}", &signed[start..end]),
            1,
        );
        assert_eq!(
            TrustedList::from_xml(twice.as_bytes(), std::slice::from_ref(&pinned)).unwrap_err(),
            TrustedListError::SignatureCount { count: 2 }
        );

        // From a trust directory: trusted-lists/ with the operator in signers/.
        let trust_dir = path.join(format!("trust-{operator}"));
        std::fs::create_dir_all(trust_dir.join("trusted-lists/signers")).unwrap();
        std::fs::write(trust_dir.join("trusted-lists/pe.xml"), &signed).unwrap();
        std::fs::copy(
            path.join(&cert),
            trust_dir.join("trusted-lists/signers/operador.pem"),
        )
        .unwrap();
        let store = TrustStore::load_dir(&trust_dir).unwrap();
        assert_eq!(store.anchors().len(), 1);
        assert_eq!(store.trusted_lists().len(), 1);
        std::fs::write(trust_dir.join("trusted-lists/pe.xml"), &changed).unwrap();
        assert!(matches!(
            TrustStore::load_dir(&trust_dir),
            Err(renhice_signature::TrustError::TrustedList { .. })
        ));
    }
}

/// Twenty certificates a signature might bring, all named alike and without key
/// identifiers, each a candidate issuer of every other: path building stays within its
/// budget (without one, the search is exponential) and finds no path to an anchor.
#[test]
fn path_building_is_bounded_whatever_a_signature_brings() {
    let built = build(&case("conforming", None));
    let alike: Vec<Node> = (0..20)
        .map(|serial| {
            let mut p = params("X", "Y", 30 + serial, true);
            p.use_authority_key_identifier_extension = false;
            p.key_identifier_method = KeyIdMethod::PreSpecified(Vec::new());
            issue(p, None)
        })
        .collect();
    let mut leaf = params("Firmante", "Y", 60, false);
    leaf.use_authority_key_identifier_extension = false;
    let mut issuer_params = params("X", "Y", 61, true);
    issuer_params.use_authority_key_identifier_extension = false;
    let issuer = issue(issuer_params, None);
    let leaf = issue(leaf, Some(&issuer));
    let extra: Vec<Certificate> = alike.iter().map(Node::certificate).collect();
    let mut trust = TrustStore::new();
    trust.add_anchor(built.root.certificate());
    let report = Verifier::new(trust, RevocationStore::new()).verify_certificate(
        &leaf.certificate(),
        &extra,
        AT,
    );
    assert_eq!(
        report.check(Check::CertificatePath).unwrap().status,
        Status::Failed
    );
}

/// A trust anchor whose name constraints cannot be read (a subtree with a maximum, which
/// RFC 5280 forbids) constrains every name rather than none: the anchor is exempt from
/// the profile, so its constraints must not vanish for being unreadable.
#[test]
fn an_anchors_unreadable_name_constraints_constrain_everything() {
    let built = build(&Case {
        ca: |p| {
            // permitted DNS minsa.gob.pe with maximum 5.
            let subtree = tlv(
                0x30,
                &[tlv(0x82, b"minsa.gob.pe"), tlv(0x81, &[5])].concat(),
            );
            p.custom_extensions.push(extension(
                &NAME_CONSTRAINTS,
                true,
                tlv(0x30, &tlv(0xa0, &subtree)),
            ));
        },
        ..case("unreadable anchor constraints", None)
    });
    let mut trust = TrustStore::new();
    trust.add_anchor(built.ca.certificate());
    let mut revocation = RevocationStore::new();
    revocation.add(Crl::from_der(&crl(&built.ca)).unwrap());
    let report =
        Verifier::new(trust, revocation).verify_certificate(&built.leaf.certificate(), &[], AT);
    let path = report.check(Check::CertificatePath).unwrap();
    assert_eq!(path.status, Status::Failed, "{}", path.reason);
    assert!(
        matches!(
            &path.error,
            Some(SignatureError::Path(PathError::NameConstraint { .. }))
        ),
        "{:?}",
        path.error
    );
}

/// `certificateIssuer` means something in indirect CRLs only: in the CA's own CRL an
/// entry carrying one still revokes the CA's certificate with that serial number.
#[test]
fn a_certificate_issuer_entry_in_a_direct_crl_does_not_hide_a_revocation() {
    let built = build(&case("conforming", None));
    let revoked = CertificateRevocationListParams {
        this_update: AT - Duration::days(1),
        next_update: AT + Duration::days(6),
        crl_number: SerialNumber::from_slice(&[2]),
        issuing_distribution_point: None,
        revoked_certs: vec![rcgen::RevokedCertParams {
            serial_number: SerialNumber::from_slice(&[0x10, 3]),
            revocation_time: AT - Duration::days(2),
            reason_code: Some(rcgen::RevocationReason::KeyCompromise),
            invalidity_date: None,
        }],
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&Issuer::from_params(&built.ca.params, &built.ca.key))
    .unwrap()
    .der()
    .to_vec();
    let edited = resign_crl(&revoked, &built.ca.key, |tbs| {
        // certificateIssuer: CN=Otra.
        let name = tlv(
            0x30,
            &tlv(
                0x31,
                &tlv(
                    0x30,
                    &[&[0x06, 0x03, 0x55, 0x04, 0x03][..], &tlv(0x0c, b"Otra")].concat(),
                ),
            ),
        );
        let value = tlv(0x30, &tlv(0xa4, &name));
        for entry in tbs.revoked_certificates.iter_mut().flatten() {
            entry
                .crl_entry_extensions
                .get_or_insert_with(Vec::new)
                .push(x509_cert::ext::Extension {
                    extn_id: "2.5.29.29".parse().unwrap(),
                    critical: true,
                    extn_value: x509_cert::der::asn1::OctetString::new(value.clone()).unwrap(),
                });
        }
    });
    let mut trust = TrustStore::new();
    trust.add_anchor(built.root.certificate());
    let mut revocation = RevocationStore::new();
    revocation.add(Crl::from_der(&crl(&built.root)).unwrap());
    revocation.add(Crl::from_der(&edited).unwrap());
    let report = Verifier::new(trust, revocation).verify_certificate(
        &built.leaf.certificate(),
        &[built.ca.certificate()],
        AT,
    );
    let check = report.check(Check::Revocation).unwrap();
    assert_eq!(check.status, Status::Failed, "{}", check.reason);
}
