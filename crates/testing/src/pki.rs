//! A test public-key infrastructure in the shape of Peru's IOFE: a root (as RENIEC's
//! ECERNEP), an accredited intermediate CA, and signer certificates for every case the
//! signature verifier must judge: valid (P-256, P-384, RSA), expired, not yet valid,
//! revoked, revoked after the signing time, wrong key usage, issued under a root that is
//! not trusted, and a path longer than a CA allows. With the CRLs of each CA, an OCSP
//! responder certificate the intermediate delegates to, and one it does not authorise.
//!
//! Everything is generated afresh from the system's randomness and the reference time
//! given (the signing time of the tests), with `rcgen` for certificates and CRLs and the
//! `rsa` crate for RSA keys (which `ring` cannot generate).

use std::collections::BTreeMap;
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    CustomExtension, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod,
    KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams, SerialNumber,
};
use time::{Duration, OffsetDateTime};

/// `documentSigning` (RFC 9336), as rcgen writes custom OIDs.
const DOCUMENT_SIGNING: [u64; 9] = [1, 3, 6, 1, 5, 5, 7, 3, 36];
/// `authorityInfoAccess` (1.3.6.1.5.5.7.1.1).
const AUTHORITY_INFO_ACCESS: [u64; 9] = [1, 3, 6, 1, 5, 5, 7, 1, 1];
/// `id-ad-ocsp` (1.3.6.1.5.5.7.48.1), DER.
const AD_OCSP: [u8; 10] = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01];
/// `extKeyUsage` (2.5.29.37).
const EXTENDED_KEY_USAGE: [u64; 4] = [2, 5, 29, 37];
/// `id-kp-timeStamping` (1.3.6.1.5.5.7.3.8), DER.
const ID_KP_TIME_STAMPING: [u8; 10] = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08];
/// `serialNumber` (2.5.4.5).
const SERIAL_NUMBER: [u64; 4] = [2, 5, 4, 5];

/// A key algorithm for a generated key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// ECDSA P-256 (ES256).
    P256,
    /// ECDSA P-384 (ES384).
    P384,
    /// RSA 2048 (RS256, PS256).
    Rsa2048,
}

/// A generated key pair.
pub struct Key {
    pair: KeyPair,
    /// PKCS #8 PEM of the private key.
    pub pem: String,
}

impl Key {
    /// A fresh key.
    ///
    /// # Panics
    /// When the system's random source fails.
    #[must_use]
    pub fn generate(kind: KeyKind) -> Self {
        let pair = match kind {
            KeyKind::P256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
            KeyKind::P384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
            KeyKind::Rsa2048 => {
                use rsa::pkcs8::EncodePrivateKey as _;
                let key =
                    rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).expect("RSA key generation");
                let pem = key
                    .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
                    .expect("PKCS #8 encoding");
                KeyPair::from_pkcs8_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256)
            }
        }
        .expect("key generation");
        let pem = pair.serialize_pem();
        Self { pair, pem }
    }
}

/// A certificate with its key.
pub struct Issued {
    /// The certificate parameters (to issue under it).
    params: CertificateParams,
    /// The key.
    pub key: Key,
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// The certificate, PEM.
    pub pem: String,
    /// The serial number bytes.
    pub serial: Vec<u8>,
}

impl Issued {
    /// The serial number in upper-case hexadecimal, as an OpenSSL CA index writes it.
    #[must_use]
    pub fn serial_hex(&self) -> String {
        use std::fmt::Write as _;
        self.serial.iter().fold(String::new(), |mut hex, byte| {
            let _ = write!(hex, "{byte:02X}");
            hex
        })
    }

    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key.pair)
    }
}

/// A signer of the test PKI: its certificate and key, the chain to send with a signature
/// (signer first, without the root), and the verdict a verifier must reach on its
/// certification path.
pub struct Signer {
    /// The case name (`good`, `expired`, …).
    pub name: &'static str,
    /// The signer's certificate and key.
    pub cert: Issued,
    /// PEM of the signer certificate followed by its intermediates.
    pub chain_pem: String,
    /// The DNI in the certificate subject (`serialNumber` `PNOPE-<dni>`).
    pub dni: String,
}

/// Whether a certificate is a CA's, and its path length constraint.
#[derive(Clone, Copy)]
enum Ca {
    No,
    Unconstrained,
    PathLen(u8),
}

/// Options for a certificate.
struct Spec {
    common_name: String,
    kind: KeyKind,
    ca: Ca,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    key_usages: Vec<KeyUsagePurpose>,
    extended: Vec<ExtendedKeyUsagePurpose>,
    dni: Option<String>,
    crl: Option<String>,
    ocsp: Option<String>,
    /// A time-stamping certificate: a critical extended key usage with
    /// `id-kp-timeStamping` alone (RFC 3161 §2.3), which rcgen does not mark critical.
    time_stamping: bool,
}

/// The generated PKI.
pub struct TestPki {
    /// The reference (signing) time everything is relative to.
    pub at: OffsetDateTime,
    /// The trusted root.
    pub root: Issued,
    /// The accredited intermediate CA (pathLen 0).
    pub intermediate: Issued,
    /// A root that is not trusted, and its intermediate.
    pub other_root: Issued,
    /// The untrusted root's intermediate.
    pub other_intermediate: Issued,
    /// An intermediate allowing no CA below it, and the CA wrongly issued below it.
    pub limited: Issued,
    /// The CA under `limited`, which breaks its path length.
    pub sub_ca: Issued,
    /// Signers by case name.
    pub signers: BTreeMap<&'static str, Signer>,
    /// CRLs current at `at`, DER, by file name: the root's (`root.crl`), the
    /// intermediate's (`intermediate.crl`, listing `revoked`), and those of the other CAs.
    pub crls: BTreeMap<&'static str, Vec<u8>>,
    /// A CRL of the intermediate issued two hours after `at`, listing `revoked-later` as
    /// revoked one hour after `at` (and `revoked` too).
    pub later_crl: Vec<u8>,
    /// A CRL of the intermediate issued two hours after `at`, listing the time-stamp
    /// authority as revoked half an hour before `at` (and `revoked` too).
    pub tsa_revoked_crl: Vec<u8>,
    /// An OCSP responder the intermediate delegates to (`id-kp-OCSPSigning`).
    pub responder: Issued,
    /// A certificate of the intermediate without `id-kp-OCSPSigning`, which must not be
    /// believed when it signs OCSP responses.
    pub impostor_responder: Issued,
    /// A time-stamp authority under the intermediate (critical extended key usage
    /// `id-kp-timeStamping`), valid ten years.
    pub tsa: Issued,
    /// A time-stamp authority under the root that is not trusted.
    pub untrusted_tsa: Issued,
    /// A trusted time-stamp authority under the intermediate whose certificate expires
    /// 400 days after `at` (before `tsa`'s), for archive time-stamp chains.
    pub short_tsa: Issued,
}

/// Every signer case, with what a verifier must conclude about its certificate at the
/// reference time (path, validity, key usage and revocation together): `true` when the
/// certificate is acceptable.
pub const CASES: [(&str, bool); 10] = [
    ("good", true),
    ("good-p384", true),
    ("good-rsa", true),
    ("expired", false),
    ("not-yet-valid", false),
    ("revoked", false),
    ("revoked-later", true),
    ("wrong-key-usage", false),
    ("wrong-ca", false),
    ("path-too-long", false),
];

impl TestPki {
    /// Generates the PKI for signatures made at `at`.
    ///
    /// # Panics
    /// When generation fails (a bug in the parameters here, or a broken RNG).
    #[must_use]
    pub fn generate(at: OffsetDateTime) -> Self {
        Self::generate_with_crls_at(at, "http://crl.renhice.test")
    }

    /// Generates the PKI with CRL distribution points under `crl_base`
    /// (`{crl_base}/root.crl`, `{crl_base}/intermediate.crl`, …) and the signers' OCSP
    /// responder at `{crl_base}/ocsp`, for tests that serve them over HTTP.
    ///
    /// # Panics
    /// When generation fails.
    #[must_use]
    pub fn generate_with_crls_at(at: OffsetDateTime, crl_base: &str) -> Self {
        Self::generate_full(at, crl_base, KeyKind::P256)
    }

    /// Generates the PKI with RSA 2048 keys for every CA (the signers keep their
    /// algorithms), for measuring RS256 over an all-RSA path.
    ///
    /// # Panics
    /// When generation fails.
    #[must_use]
    pub fn generate_rsa(at: OffsetDateTime) -> Self {
        Self::generate_full(at, "http://crl.renhice.test", KeyKind::Rsa2048)
    }

    #[expect(
        clippy::too_many_lines,
        reason = "one list of every certificate and CRL, read top to bottom"
    )]
    fn generate_full(at: OffsetDateTime, crl_base: &str, ca_kind: KeyKind) -> Self {
        let dp = |name: &str| format!("{crl_base}/{name}");
        let day = Duration::days(1);
        let ca_spec = |name: &str, ca: Ca, crl: Option<&str>| Spec {
            common_name: name.to_owned(),
            kind: ca_kind,
            ca,
            not_before: at - day * 365,
            not_after: at + day * 3650,
            key_usages: vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign],
            extended: Vec::new(),
            dni: None,
            crl: crl.map(str::to_owned),
            ocsp: None,
            time_stamping: false,
        };
        let root = issue(
            &ca_spec("ECERNEP Prueba Raiz", Ca::Unconstrained, None),
            None,
            1,
        );
        let intermediate = issue(
            &ca_spec(
                "EREP Prueba Entidad Acreditada",
                Ca::PathLen(0),
                Some(dp("root.crl").as_str()),
            ),
            Some(&root),
            2,
        );
        let other_root = issue(
            &ca_spec("Otra Raiz No Confiable", Ca::Unconstrained, None),
            None,
            3,
        );
        let other_intermediate = issue(
            &ca_spec("Otra Entidad No Acreditada", Ca::PathLen(0), None),
            Some(&other_root),
            4,
        );
        let limited = issue(
            &ca_spec(
                "EREP Prueba Limitada",
                Ca::PathLen(0),
                Some(dp("root.crl").as_str()),
            ),
            Some(&root),
            5,
        );
        let sub_ca = issue(
            &ca_spec(
                "EREP Prueba Subordinada",
                Ca::Unconstrained,
                Some(dp("limited.crl").as_str()),
            ),
            Some(&limited),
            6,
        );

        let signer_spec = |name: &str, kind: KeyKind, dni: &str| Spec {
            common_name: format!("MEDICO PRUEBA {name}"),
            kind,
            ca: Ca::No,
            not_before: at - day * 30,
            not_after: at + day * 365,
            key_usages: vec![
                KeyUsagePurpose::ContentCommitment,
                KeyUsagePurpose::DigitalSignature,
            ],
            extended: vec![
                ExtendedKeyUsagePurpose::EmailProtection,
                ExtendedKeyUsagePurpose::Other(DOCUMENT_SIGNING.to_vec()),
            ],
            dni: Some(dni.to_owned()),
            crl: Some(dp("intermediate.crl")),
            ocsp: Some(dp("ocsp")),
            time_stamping: false,
        };
        let mut signers = BTreeMap::new();
        let mut serial = 100;
        let mut add = |name: &'static str, spec: Spec, issuer: &Issued, chain: &[&Issued]| {
            serial += 1;
            let dni = spec.dni.clone().unwrap_or_default();
            let cert = issue(&spec, Some(issuer), serial);
            let mut chain_pem = cert.pem.clone();
            for ca in chain {
                chain_pem.push_str(&ca.pem);
            }
            signers.insert(
                name,
                Signer {
                    name,
                    cert,
                    chain_pem,
                    dni,
                },
            );
        };
        add(
            "good",
            signer_spec("VALIDO", KeyKind::P256, "41234567"),
            &intermediate,
            &[&intermediate],
        );
        add(
            "good-p384",
            signer_spec("P384", KeyKind::P384, "41234568"),
            &intermediate,
            &[&intermediate],
        );
        add(
            "good-rsa",
            signer_spec("RSA", KeyKind::Rsa2048, "41234569"),
            &intermediate,
            &[&intermediate],
        );
        let mut expired = signer_spec("VENCIDO", KeyKind::P256, "41234570");
        expired.not_before = at - day * 400;
        expired.not_after = at - day;
        add("expired", expired, &intermediate, &[&intermediate]);
        let mut future = signer_spec("FUTURO", KeyKind::P256, "41234571");
        future.not_before = at + day;
        add("not-yet-valid", future, &intermediate, &[&intermediate]);
        add(
            "revoked",
            signer_spec("REVOCADO", KeyKind::P256, "41234572"),
            &intermediate,
            &[&intermediate],
        );
        add(
            "revoked-later",
            signer_spec("REVOCADO DESPUES", KeyKind::P256, "41234573"),
            &intermediate,
            &[&intermediate],
        );
        let mut wrong_usage = signer_spec("USO INCORRECTO", KeyKind::P256, "41234574");
        wrong_usage.key_usages = vec![KeyUsagePurpose::KeyEncipherment];
        wrong_usage.extended = vec![ExtendedKeyUsagePurpose::ServerAuth];
        add(
            "wrong-key-usage",
            wrong_usage,
            &intermediate,
            &[&intermediate],
        );
        add(
            "wrong-ca",
            signer_spec("OTRA CA", KeyKind::P256, "41234575"),
            &other_intermediate,
            &[&other_intermediate],
        );
        let mut long = signer_spec("RUTA LARGA", KeyKind::P256, "41234576");
        long.crl = Some(dp("sub.crl"));
        add("path-too-long", long, &sub_ca, &[&sub_ca, &limited]);

        let responder_spec = |name: &str, extended: Vec<ExtendedKeyUsagePurpose>| Spec {
            common_name: name.to_owned(),
            kind: KeyKind::P256,
            ca: Ca::No,
            not_before: at - day * 365,
            not_after: at + day * 3650,
            key_usages: vec![KeyUsagePurpose::DigitalSignature],
            extended,
            dni: None,
            crl: None,
            ocsp: None,
            time_stamping: false,
        };
        let responder = issue(
            &responder_spec(
                "EREP Prueba OCSP",
                vec![ExtendedKeyUsagePurpose::OcspSigning],
            ),
            Some(&intermediate),
            90,
        );
        let impostor_responder = issue(
            &responder_spec(
                "EREP Prueba Sin Delegacion OCSP",
                vec![ExtendedKeyUsagePurpose::EmailProtection],
            ),
            Some(&intermediate),
            91,
        );

        let tsa_spec = |name: &str, crl: Option<String>| Spec {
            time_stamping: true,
            crl,
            ..responder_spec(name, Vec::new())
        };
        let tsa = issue(
            &tsa_spec(
                "EREP Prueba Sellado de Tiempo",
                Some(dp("intermediate.crl")),
            ),
            Some(&intermediate),
            92,
        );
        let untrusted_tsa = issue(
            &tsa_spec("Otra Entidad Sellado de Tiempo", None),
            Some(&other_intermediate),
            93,
        );
        let short_tsa = issue(
            &Spec {
                not_after: at + day * 400,
                ..tsa_spec(
                    "EREP Prueba Sellado de Tiempo Breve",
                    Some(dp("intermediate.crl")),
                )
            },
            Some(&intermediate),
            94,
        );

        let revoked_serial = signers["revoked"].cert.serial.clone();
        let later_serial = signers["revoked-later"].cert.serial.clone();
        let revoked = |serial: &[u8], when: OffsetDateTime| RevokedCertParams {
            serial_number: SerialNumber::from_slice(serial),
            revocation_time: when,
            reason_code: Some(RevocationReason::KeyCompromise),
            invalidity_date: None,
        };
        let this_update = at - Duration::hours(1);
        let mut crls = BTreeMap::new();
        // A root publishes its CRL (the ARL) rarely and for long: a year, as national
        // roots do. The CAs' CRLs last a week.
        crls.insert(
            "root.crl",
            crl_for(&root, this_update, Duration::days(365), Vec::new()),
        );
        crls.insert(
            "intermediate.crl",
            crl(
                &intermediate,
                this_update,
                vec![revoked(&revoked_serial, at - day)],
            ),
        );
        crls.insert("limited.crl", crl(&limited, this_update, Vec::new()));
        crls.insert("sub.crl", crl(&sub_ca, this_update, Vec::new()));
        crls.insert("other-root.crl", crl(&other_root, this_update, Vec::new()));
        crls.insert(
            "other-intermediate.crl",
            crl(&other_intermediate, this_update, Vec::new()),
        );
        let later_crl = crl(
            &intermediate,
            at + Duration::hours(2),
            vec![
                revoked(&revoked_serial, at - day),
                revoked(&later_serial, at + Duration::hours(1)),
            ],
        );
        let tsa_revoked_crl = crl(
            &intermediate,
            at + Duration::hours(2),
            vec![
                revoked(&revoked_serial, at - day),
                revoked(&tsa.serial, at - Duration::minutes(30)),
            ],
        );
        Self {
            at,
            root,
            intermediate,
            other_root,
            other_intermediate,
            limited,
            sub_ca,
            signers,
            crls,
            later_crl,
            tsa_revoked_crl,
            responder,
            impostor_responder,
            tsa,
            untrusted_tsa,
            short_tsa,
        }
    }

    /// A signer by case name.
    ///
    /// # Panics
    /// When there is no such case.
    #[must_use]
    pub fn signer(&self, name: &str) -> &Signer {
        &self.signers[name]
    }

    /// Writes the PKI to `dir`: `trust/` (the trusted root and intermediate, PEM, as a
    /// registry's trust directory, with the trusted time-stamp authority in `trust/tsa/`), `untrusted/` (the other CAs), `crl/` (the CRLs, DER),
    /// `ocsp/` (the certificates and keys that may sign OCSP responses for the
    /// intermediate: `intermediate`, `responder`, `impostor`, each `.pem` and `.key.pem`)
    /// and `signers/<case>.key.pem` / `signers/<case>.chain.pem`.
    ///
    /// # Errors
    /// When a file cannot be written.
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        for sub in ["trust", "untrusted", "crl", "signers"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        std::fs::write(dir.join("trust/root.pem"), &self.root.pem)?;
        std::fs::write(dir.join("trust/intermediate.pem"), &self.intermediate.pem)?;
        std::fs::write(dir.join("untrusted/other-root.pem"), &self.other_root.pem)?;
        std::fs::write(
            dir.join("untrusted/other-intermediate.pem"),
            &self.other_intermediate.pem,
        )?;
        std::fs::write(dir.join("untrusted/limited.pem"), &self.limited.pem)?;
        std::fs::write(dir.join("untrusted/sub-ca.pem"), &self.sub_ca.pem)?;
        for (name, der) in &self.crls {
            std::fs::write(dir.join("crl").join(name), der)?;
        }
        std::fs::write(dir.join("crl/intermediate-later.crl"), &self.later_crl)?;
        std::fs::create_dir_all(dir.join("ocsp"))?;
        for (name, issued) in [
            ("intermediate", &self.intermediate),
            ("responder", &self.responder),
            ("impostor", &self.impostor_responder),
        ] {
            std::fs::write(dir.join(format!("ocsp/{name}.pem")), &issued.pem)?;
            std::fs::write(dir.join(format!("ocsp/{name}.key.pem")), &issued.key.pem)?;
        }
        // The trusted time-stamp authority, as a registry's trust directory lists it.
        std::fs::create_dir_all(dir.join("trust/tsa"))?;
        std::fs::write(dir.join("trust/tsa/tsa.pem"), &self.tsa.pem)?;
        std::fs::write(dir.join("trust/tsa/short.pem"), &self.short_tsa.pem)?;
        std::fs::create_dir_all(dir.join("tsa"))?;
        for (name, issued, chain) in [
            ("tsa", &self.tsa, &self.intermediate),
            ("untrusted", &self.untrusted_tsa, &self.other_intermediate),
            ("short", &self.short_tsa, &self.intermediate),
        ] {
            std::fs::write(dir.join(format!("tsa/{name}.pem")), &issued.pem)?;
            std::fs::write(dir.join(format!("tsa/{name}.key.pem")), &issued.key.pem)?;
            std::fs::write(dir.join(format!("tsa/{name}.chain.pem")), &chain.pem)?;
        }
        for signer in self.signers.values() {
            std::fs::write(
                dir.join(format!("signers/{}.key.pem", signer.name)),
                &signer.cert.key.pem,
            )?;
            std::fs::write(
                dir.join(format!("signers/{}.chain.pem", signer.name)),
                &signer.chain_pem,
            )?;
            std::fs::write(
                dir.join(format!("signers/{}.pem", signer.name)),
                &signer.cert.pem,
            )?;
        }
        Ok(())
    }
}

/// What an OCSP responder of the test PKI says of a signer.
#[derive(Debug, Clone, Copy)]
pub enum OcspStatus {
    /// Not revoked.
    Good,
    /// Revoked at this time (reason key compromise).
    Revoked(OffsetDateTime),
}

impl TestPki {
    /// An OpenSSL CA index (`index.txt`) of the intermediate with `signers`, for
    /// `openssl ocsp -index`; a signer not listed is unknown to the responder.
    #[must_use]
    pub fn ocsp_index(&self, signers: &[(&str, OcspStatus)]) -> String {
        let date = |at: OffsetDateTime| {
            format!(
                "{:02}{:02}{:02}{:02}{:02}{:02}Z",
                at.year() % 100,
                u8::from(at.month()),
                at.day(),
                at.hour(),
                at.minute(),
                at.second()
            )
        };
        let expiry = date(self.at + Duration::days(365));
        signers
            .iter()
            .map(|(case, status)| {
                let serial = self.signer(case).cert.serial_hex();
                match status {
                    OcspStatus::Good => format!("V\t{expiry}\t\t{serial}\tunknown\t/CN={case}\n"),
                    OcspStatus::Revoked(when) => format!(
                        "R\t{expiry}\t{},keyCompromise\t{serial}\tunknown\t/CN={case}\n",
                        date(*when)
                    ),
                }
            })
            .collect()
    }
}

/// OpenSSL's OCSP responder, offline: answers `request` (DER) from the CA index
/// `dir/index.txt` of the PKI written to `dir` ([`TestPki::write_to`]), signed by
/// `signer` (`intermediate`, `responder` or `impostor`, as in `dir/ocsp/`), the
/// response valid for a day. `extra` arguments go to `openssl ocsp`.
///
/// # Panics
/// When OpenSSL is not installed or fails: tests that need it must fail, not skip.
#[must_use]
pub fn openssl_ocsp_response(dir: &Path, request: &[u8], signer: &str, extra: &[&str]) -> Vec<u8> {
    let request_file = format!("request-{}.der", std::process::id());
    let response_file = format!("response-{}.der", std::process::id());
    std::fs::write(dir.join(&request_file), request).expect("write the OCSP request");
    let (cert, key) = (
        format!("ocsp/{signer}.pem"),
        format!("ocsp/{signer}.key.pem"),
    );
    let output = std::process::Command::new("openssl")
        .args([
            "ocsp",
            "-index",
            "index.txt",
            "-CA",
            "trust/intermediate.pem",
            "-rsigner",
            &cert,
            "-rkey",
            &key,
            "-reqin",
            &request_file,
            "-respout",
            &response_file,
            "-ndays",
            "1",
        ])
        .args(extra)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|error| panic!("openssl must be installed for these tests: {error}"));
    assert!(
        output.status.success(),
        "openssl ocsp: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::read(dir.join(&response_file)).expect("read the OCSP response")
}

fn issue(spec: &Spec, issuer: Option<&Issued>, serial: u64) -> Issued {
    let key = Key::generate(spec.kind);
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CountryName, "PE");
    name.push(DnType::OrganizationName, "RENHICE Pruebas");
    name.push(DnType::CommonName, spec.common_name.as_str());
    if let Some(dni) = &spec.dni {
        name.push(
            DnType::CustomDnType(SERIAL_NUMBER.to_vec()),
            format!("PNOPE-{dni}"),
        );
    }
    params.distinguished_name = name;
    params.not_before = spec.not_before;
    params.not_after = spec.not_after;
    // Serials are positive, distinct and start with a non-zero byte.
    let serial_bytes = [&[0x10_u8][..], &serial.to_be_bytes()].concat();
    params.serial_number = Some(SerialNumber::from_slice(&serial_bytes));
    params.is_ca = match spec.ca {
        Ca::PathLen(limit) => IsCa::Ca(BasicConstraints::Constrained(limit)),
        Ca::Unconstrained => IsCa::Ca(BasicConstraints::Unconstrained),
        Ca::No => IsCa::ExplicitNoCa,
    };
    params.key_usages.clone_from(&spec.key_usages);
    params.extended_key_usages.clone_from(&spec.extended);
    params.use_authority_key_identifier_extension = issuer.is_some();
    params.key_identifier_method = KeyIdMethod::Sha256;
    if let Some(uri) = &spec.crl {
        params.crl_distribution_points = vec![CrlDistributionPoint {
            uris: vec![uri.clone()],
        }];
    }
    if let Some(uri) = &spec.ocsp {
        // rcgen writes no authority information access: encode it (RFC 5280 §4.2.2.1).
        let location = tlv(0x86, uri.as_bytes());
        let description = tlv(0x30, &[&AD_OCSP[..], &location].concat());
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(
                &AUTHORITY_INFO_ACCESS,
                tlv(0x30, &description),
            ));
    }
    if spec.time_stamping {
        let mut usage =
            CustomExtension::from_oid_content(&EXTENDED_KEY_USAGE, tlv(0x30, &ID_KP_TIME_STAMPING));
        usage.set_criticality(true);
        params.custom_extensions.push(usage);
    }
    let cert = match issuer {
        Some(issuer) => params.signed_by(&key.pair, &issuer.issuer()),
        None => params.self_signed(&key.pair),
    }
    .expect("certificate generation");
    Issued {
        der: cert.der().to_vec(),
        pem: cert.pem(),
        serial: serial_bytes.clone(),
        params,
        key,
    }
}

/// A DER tag-length-value: `tag`, the definite length of `content`, `content`.
#[must_use]
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap_or(0));
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|byte| *byte == 0)
            .collect();
        out.push(0x80 | u8::try_from(bytes.len()).unwrap_or(0));
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

fn crl(issuer: &Issued, this_update: OffsetDateTime, revoked: Vec<RevokedCertParams>) -> Vec<u8> {
    crl_for(issuer, this_update, Duration::days(7), revoked)
}

fn crl_for(
    issuer: &Issued,
    this_update: OffsetDateTime,
    validity: Duration,
    revoked: Vec<RevokedCertParams>,
) -> Vec<u8> {
    let params = CertificateRevocationListParams {
        this_update,
        next_update: this_update + validity,
        crl_number: SerialNumber::from_slice(&[1]),
        issuing_distribution_point: None,
        revoked_certs: revoked,
        key_identifier_method: KeyIdMethod::Sha256,
    };
    params
        .signed_by(&issuer.issuer())
        .expect("CRL generation")
        .der()
        .to_vec()
}

/// OpenSSL as a time-stamp authority (`openssl ts -reply`): answers the DER
/// `TimeStampReq` `request` with a DER `TimeStampResp` signed by the authority `tsa`
/// (`tsa` or `untrusted`, as in `dir/tsa/`) of the PKI written to `dir`
/// ([`TestPki::write_to`]). Its `genTime` is the system clock's, to the second, with an
/// ESS `signingCertificateV2` and the issuing CA in the token.
///
/// # Panics
/// When OpenSSL is not installed or fails: tests that need it must fail, not skip.
#[must_use]
pub fn openssl_tsa_reply(dir: &Path, request: &[u8], tsa: &str) -> Vec<u8> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let config = dir.join(format!("tsa/{tsa}.cnf"));
    if !config.exists() {
        std::fs::write(dir.join(format!("tsa/{tsa}.serial")), "01\n").expect("write the serial");
        std::fs::write(
            &config,
            format!(
                "[ tsa ]\ndefault_tsa = tsa_config\n\n[ tsa_config ]\ndir = .\n\
                 serial = ./tsa/{tsa}.serial\ncrypto_device = builtin\n\
                 signer_cert = ./tsa/{tsa}.pem\ncerts = ./tsa/{tsa}.chain.pem\n\
                 signer_key = ./tsa/{tsa}.key.pem\nsigner_digest = sha256\n\
                 default_policy = 1.3.6.1.4.1.59685.3.1\n\
                 digests = sha256, sha384, sha512\naccuracy = secs:1\nordering = yes\n\
                 tsa_name = yes\ness_cert_id_chain = no\ness_cert_id_alg = sha256\n"
            ),
        )
        .expect("write the TSA configuration");
    }
    let request_file = format!("tsq-{}-{n}.der", std::process::id());
    let response_file = format!("tsr-{}-{n}.der", std::process::id());
    std::fs::write(dir.join(&request_file), request).expect("write the time-stamp request");
    let output = std::process::Command::new("openssl")
        .args(["ts", "-reply", "-config"])
        .arg(&config)
        .args(["-queryfile", &request_file, "-out", &response_file])
        .current_dir(dir)
        .output()
        .unwrap_or_else(|error| panic!("openssl must be installed for these tests: {error}"));
    assert!(
        output.status.success(),
        "openssl ts -reply: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::read(dir.join(&response_file)).expect("read the time-stamp response")
}

/// [`openssl_tsa_reply`] over HTTP on loopback (RFC 3161 §3.4: a POST of
/// `application/timestamp-query`, answered with `application/timestamp-reply`), for
/// `renhice sign --tsa`. Each connection is answered once, then closed; a request that is
/// not a POST with a body gets 400. Gives the URL; the server lives as long as the process.
///
/// # Panics
/// When no loopback port can be had.
#[must_use]
pub fn serve_openssl_tsa(dir: &Path, tsa: &str) -> String {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let url = format!("http://{}/tsa", listener.local_addr().expect("its address"));
    let dir = dir.to_owned();
    let tsa = tsa.to_owned();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
            let mut line = String::new();
            let mut post = false;
            let mut length = 0_usize;
            let mut first = true;
            while reader.read_line(&mut line).is_ok_and(|read| read > 0) {
                let header = line.trim_end().to_ascii_lowercase();
                if first {
                    post = header.starts_with("post ");
                    first = false;
                } else if header.is_empty() {
                    break;
                } else if let Some(value) = header.strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; length];
            let answer = if post && length > 0 && reader.read_exact(&mut body).is_ok() {
                let reply = openssl_tsa_reply(&dir, &body, &tsa);
                let mut head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    reply.len()
                )
                .into_bytes();
                head.extend(reply);
                head
            } else {
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec()
            };
            let _ = stream.write_all(&answer);
        }
    });
    url
}

/// A plain HTTP server on `listener` serving the files of `dir` (CRLs at the distribution
/// points of a PKI generated with [`TestPki::generate_with_crls_at`] and the listener's
/// address); 404 for any other path. Gives the count of files served; the server lives as
/// long as the process.
#[must_use]
pub fn serve_files(
    listener: std::net::TcpListener,
    dir: std::path::PathBuf,
) -> std::sync::Arc<std::sync::atomic::AtomicUsize> {
    use std::io::{BufRead as _, Write as _};
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = std::sync::Arc::clone(&served);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Ok(clone) = stream.try_clone() else {
                continue;
            };
            let mut reader = std::io::BufReader::new(clone);
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            // Skip the headers.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/')
                .to_owned();
            let response = match std::fs::read(dir.join(&path)) {
                Ok(body) => {
                    count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/pkix-crl\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    [head.into_bytes(), body].concat()
                }
                Err(_) => {
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        .to_vec()
                }
            };
            let _ = stream.write_all(&response);
        }
    });
    served
}
