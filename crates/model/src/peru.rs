//! Peruvian identifiers and codes of MINSA's FHIR guide (`HL7.FHIR.PE.COREPE`, canonical
//! base [`BASE`]), with format checks and normalisation.
//!
//! - [`PersonId`]: a person's identity document (code system `IdspersonaPeru`: `1` DNI,
//!   `2` carné de extranjería, `3` pasaporte, `4` foreign document) with its issuing
//!   country. PacientePe fixes no `Identifier.system`: the kind is
//!   `Identifier.type` and the country the `pe-pais` extension on `Identifier.type`.
//!   [`PersonId::key`] is the normalised form the registry indexes and searches by.
//! - [`dni_check_digit`]: the verification character printed on a DNI card. It is not
//!   part of the number and never stored; a client may ask for it to catch typos.
//! - [`Renipress`]: the 8-digit code of a health facility (IPRESS) in SUSALUD's
//!   registry, code system `IPRESSCS`.
//! - [`Colegio`]: the professional colleges (code system `ColegiosProfesionalesSaludCS`)
//!   and [`Colegiatura`], a professional's registration number in one.
//! - [`Ubigeo`]: INEI's 6-digit code of a district (department, province, district), the
//!   value of the `pe-ubigeo` extension.
//!
//! Every parser trims surrounding whitespace and answers a [`PeruError`] that says what
//! is wrong, so an API can hand it to the client unchanged.

use std::fmt;

use isocountry::CountryCode;

use crate::Primitive;
use crate::types::{Address, CodeableConcept, Coding, Extension, ExtensionValue, Identifier};

/// The canonical base of MINSA's FHIR guide.
pub const BASE: &str = "https://www.gob.pe/minsa/RENHICE/fhir/";

/// Canonical URLs of the guide's profiles, extensions and code systems.
pub mod url {
    /// Profile of Patient.
    pub const PACIENTE_PE: &str =
        "https://www.gob.pe/minsa/RENHICE/fhir/StructureDefinition/PacientePe";
    /// Profile of Practitioner.
    pub const PRACTITIONER_PE: &str =
        "https://www.gob.pe/minsa/RENHICE/fhir/StructureDefinition/PractitionerPe";
    /// Profile of Organization (an IPRESS).
    pub const ORGANIZACION_PE: &str =
        "https://www.gob.pe/minsa/RENHICE/fhir/StructureDefinition/OrganizacionPe";
    /// Profile of the Composition of the basic clinical information document.
    pub const COMPOSITION_PE: &str =
        "https://www.gob.pe/minsa/RENHICE/fhir/StructureDefinition/CompositionPe";
    /// Profile of the document Bundle.
    pub const BUNDLE_PE: &str =
        "https://www.gob.pe/minsa/RENHICE/fhir/StructureDefinition/BundlePe";
    /// Profile of Condition (CIE-10).
    pub const CONDITION_PE: &str =
        "https://www.gob.pe/minsa/RENHICE/fhir/StructureDefinition/ConditionPe";
    /// Extension: the country that issued an identity document (on `Identifier.type`).
    pub const EXT_PAIS: &str = "https://www.gob.pe/minsa/RENHICE/fhir/StructureDefinition/pe-pais";
    /// Extension: the ubigeo of an address (`valueString`).
    pub const EXT_UBIGEO: &str =
        "https://www.gob.pe/minsa/RENHICE/fhir/StructureDefinition/pe-ubigeo";
    /// Extension: a third surname (`valueString`).
    pub const EXT_TERCER_APELLIDO: &str =
        "https://www.gob.pe/minsa/RENHICE/fhir/StructureDefinition/pe-tercerapellido";
    /// Code system of the kinds of identity document.
    pub const CS_IDS_PERSONA: &str =
        "https://www.gob.pe/minsa/RENHICE/fhir/CodeSystem/IdspersonaPeru";
    /// Code system of the health facilities (RENIPRESS codes).
    pub const CS_IPRESS: &str = "https://www.gob.pe/minsa/RENHICE/fhir/CodeSystem/IPRESSCS";
    /// Code system of the professional colleges.
    pub const CS_COLEGIOS: &str =
        "https://www.gob.pe/minsa/RENHICE/fhir/CodeSystem/ColegiosProfesionalesSaludCS";
    /// ISO 3166 country codes, as FHIR names them.
    pub const ISO_3166: &str = "urn:iso:std:iso:3166";
    /// HL7's extension for the father's family name, on `HumanName.family`.
    pub const EXT_FATHERS_FAMILY: &str =
        "http://hl7.org/fhir/StructureDefinition/humanname-fathers-family";
    /// HL7's extension for the mother's family name, on `HumanName.family`.
    pub const EXT_MOTHERS_FAMILY: &str =
        "http://hl7.org/fhir/StructureDefinition/humanname-mothers-family";
}

/// Why a Peruvian identifier or code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeruError {
    /// The value does not have the form the kind requires.
    #[error("{what} {value:?} is invalid: {expected}")]
    Format {
        /// What was being read ("DNI", "RENIPRESS code", …).
        what: &'static str,
        /// The value as given.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A code that is not in its code system.
    #[error("{code:?} is not a code of {system}")]
    UnknownCode {
        /// The code system.
        system: &'static str,
        /// The code as given.
        code: String,
    },
    /// A country code that is not ISO 3166-1 alpha-2 or alpha-3.
    #[error("{0:?} is not an ISO 3166-1 country code (alpha-2 such as PE or alpha-3 such as PER)")]
    UnknownCountry(String),
    /// A passport or foreign document without the country that issued it.
    #[error("a {0} needs the issuing country (the pe-pais extension on Identifier.type)")]
    MissingCountry(&'static str),
    /// An identifier of an IdspersonaPeru kind without a value.
    #[error("the identifier has no value")]
    MissingValue,
}

fn format_error(what: &'static str, value: &str, expected: &'static str) -> PeruError {
    PeruError::Format {
        what,
        value: value.to_owned(),
        expected,
    }
}

/// The kind of an identity document (code system `IdspersonaPeru`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DocumentKind {
    /// `1`: Documento Nacional de Identidad, issued by RENIEC.
    Dni,
    /// `2`: carné de extranjería, issued by Migraciones to resident foreigners.
    CarneExtranjeria,
    /// `3`: passport of any country.
    Pasaporte,
    /// `4`: an identity document issued abroad.
    DocumentoExtranjero,
}

impl DocumentKind {
    /// Every kind, in code order.
    pub const ALL: [Self; 4] = [
        Self::Dni,
        Self::CarneExtranjeria,
        Self::Pasaporte,
        Self::DocumentoExtranjero,
    ];

    /// The code in `IdspersonaPeru`.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::Dni => "1",
            Self::CarneExtranjeria => "2",
            Self::Pasaporte => "3",
            Self::DocumentoExtranjero => "4",
        }
    }

    /// The kind with the given code.
    pub fn from_code(code: &str) -> Result<Self, PeruError> {
        Self::ALL
            .into_iter()
            .find(|k| k.code() == code.trim())
            .ok_or_else(|| PeruError::UnknownCode {
                system: url::CS_IDS_PERSONA,
                code: code.to_owned(),
            })
    }

    /// The display text, in Spanish.
    #[must_use]
    pub const fn display(self) -> &'static str {
        match self {
            Self::Dni => "DNI",
            Self::CarneExtranjeria => "Carné de extranjería",
            Self::Pasaporte => "Pasaporte",
            Self::DocumentoExtranjero => "Documento de identidad extranjero",
        }
    }

    /// Documents issued in Peru need no country; the others do.
    const fn issued_in_peru(self) -> bool {
        matches!(self, Self::Dni | Self::CarneExtranjeria)
    }
}

/// A person's identity document: kind, normalised number and issuing country.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersonId {
    kind: DocumentKind,
    value: String,
    country: CountryCode,
}

impl PersonId {
    /// A DNI: exactly 8 digits (leading zeros are part of the number).
    pub fn dni(value: &str) -> Result<Self, PeruError> {
        Self::new(DocumentKind::Dni, value, None)
    }

    /// A document of `kind` issued by `country` (ISO 3166-1 alpha-2 or alpha-3; `None`
    /// means Peru and is only allowed for a DNI or a carné de extranjería).
    ///
    /// Normalisation: surrounding whitespace is removed and letters are upper-cased.
    /// Checks: a DNI is 8 digits; a carné de extranjería 1 to 12 letters or digits (9
    /// digits today, older ones alphanumeric); a passport or foreign document 1 to 20
    /// letters, digits or `-`.
    pub fn new(kind: DocumentKind, value: &str, country: Option<&str>) -> Result<Self, PeruError> {
        let trimmed = value.trim();
        let normalised = trimmed.to_ascii_uppercase();
        let ok = match kind {
            DocumentKind::Dni => {
                normalised.len() == 8 && normalised.bytes().all(|b| b.is_ascii_digit())
            }
            DocumentKind::CarneExtranjeria => {
                (1..=12).contains(&normalised.len())
                    && normalised.bytes().all(|b| b.is_ascii_alphanumeric())
            }
            DocumentKind::Pasaporte | DocumentKind::DocumentoExtranjero => {
                (1..=20).contains(&normalised.len())
                    && normalised
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }
        };
        if !ok {
            let expected = match kind {
                DocumentKind::Dni => "a DNI is exactly 8 digits",
                DocumentKind::CarneExtranjeria => {
                    "a carné de extranjería is 1 to 12 letters or digits"
                }
                DocumentKind::Pasaporte | DocumentKind::DocumentoExtranjero => {
                    "1 to 20 letters, digits or '-'"
                }
            };
            return Err(format_error(kind.display(), value, expected));
        }
        let country = match country {
            Some(code) => country_code(code)?,
            None if kind.issued_in_peru() => CountryCode::PER,
            None => return Err(PeruError::MissingCountry(kind.display())),
        };
        Ok(Self {
            kind,
            value: normalised,
            country,
        })
    }

    /// The kind of document.
    #[must_use]
    pub const fn kind(&self) -> DocumentKind {
        self.kind
    }

    /// The normalised number.
    #[must_use]
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The issuing country's ISO 3166-1 alpha-3 code (`PER`).
    #[must_use]
    pub fn country(&self) -> &'static str {
        self.country.alpha3()
    }

    /// The key the registry indexes a person by: `kind|country|number`, for example
    /// `1|PER|45678912`. Two identifiers denote the same document exactly when their
    /// keys are equal, however they were spelled.
    #[must_use]
    pub fn key(&self) -> String {
        format!("{}|{}|{}", self.kind.code(), self.country(), self.value)
    }

    /// The identifier as PacientePe writes it: `type` coded in `IdspersonaPeru` with the
    /// issuing country in `pe-pais`, `use` official, and the number. No `system`: the
    /// guide fixes none.
    #[must_use]
    pub fn to_identifier(&self) -> Identifier {
        let mut kind = CodeableConcept::from(
            Coding::new(url::CS_IDS_PERSONA, self.kind.code()).with_display(self.kind.display()),
        );
        kind.extension.push(Extension::new(
            url::EXT_PAIS,
            ExtensionValue::CodeableConcept(Box::new(CodeableConcept::from(
                Coding::new(url::ISO_3166, self.country.alpha3()).with_display(self.country.name()),
            ))),
        ));
        Identifier {
            r#use: Some("official".into()),
            r#type: Some(Box::new(kind)),
            value: Some(self.value.as_str().into()),
            ..Identifier::default()
        }
    }

    /// Reads a person's identity document from an identifier.
    ///
    /// `Ok(None)` when the identifier's type is not coded in `IdspersonaPeru` (a medical
    /// record number, say). The country is taken from `pe-pais` on `Identifier.type`
    /// (where the guide puts it) or, failing that, on the `Identifier` itself; any
    /// coding whose code is an ISO 3166-1 alpha-2 or alpha-3 code is accepted.
    pub fn from_identifier(identifier: &Identifier) -> Result<Option<Self>, PeruError> {
        let Some(kind_concept) = identifier.r#type.as_deref() else {
            return Ok(None);
        };
        let Some(code) = kind_concept
            .coding
            .iter()
            .find(|c| c.system.as_ref().and_then(Primitive::as_str) == Some(url::CS_IDS_PERSONA))
            .and_then(|c| c.code.as_ref().and_then(Primitive::as_str))
        else {
            return Ok(None);
        };
        let kind = DocumentKind::from_code(code)?;
        let value = identifier
            .value
            .as_ref()
            .and_then(Primitive::as_str)
            .ok_or(PeruError::MissingValue)?;
        let country = pais(&kind_concept.extension).or_else(|| pais(&identifier.extension));
        Self::new(kind, value, country).map(Some)
    }
}

impl fmt::Display for PersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} ({})",
            self.kind.display(),
            self.value,
            self.country()
        )
    }
}

/// The country code in a `pe-pais` extension among `extensions`, if any.
fn pais(extensions: &[Extension]) -> Option<&str> {
    let ext = extensions
        .iter()
        .find(|e| e.url.as_deref() == Some(url::EXT_PAIS))?;
    match ext.value.as_ref()? {
        ExtensionValue::CodeableConcept(cc) => cc
            .coding
            .iter()
            .filter_map(|c| c.code.as_ref().and_then(Primitive::as_str))
            .find(|code| country_code(code).is_ok()),
        ExtensionValue::Coding(c) => c.code.as_ref().and_then(Primitive::as_str),
        ExtensionValue::Code(c) | ExtensionValue::String(c) => c.as_str(),
        _ => None,
    }
}

/// An ISO 3166-1 alpha-2 or alpha-3 code, any case.
fn country_code(code: &str) -> Result<CountryCode, PeruError> {
    let code = code.trim();
    match code.len() {
        2 => CountryCode::for_alpha2_caseless(code),
        3 => CountryCode::for_alpha3_caseless(code),
        _ => return Err(PeruError::UnknownCountry(code.to_owned())),
    }
    .map_err(|_| PeruError::UnknownCountry(code.to_owned()))
}

/// The verification character of a DNI, as printed after the number on the card: the
/// digit form and the letter form (cards show one or the other).
///
/// Weights 3, 2, 7, 6, 5, 4, 3, 2 over the eight digits; `11 − (sum mod 11)`, with 11
/// read as 0, indexes `67890112345` for digits and `KABCDEFGHIJ` for letters.
pub fn dni_check_digit(dni: &str) -> Result<(char, char), PeruError> {
    const WEIGHTS: [u32; 8] = [3, 2, 7, 6, 5, 4, 3, 2];
    const DIGITS: &[u8; 11] = b"67890112345";
    const LETTERS: &[u8; 11] = b"KABCDEFGHIJ";
    let id = PersonId::dni(dni)?;
    let sum: u32 = id
        .value
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let index = match 11 - sum % 11 {
        11 => 0,
        k => k as usize,
    };
    Ok((char::from(DIGITS[index]), char::from(LETTERS[index])))
}

/// The RENIPRESS code of a health facility (IPRESS): 8 digits, zero-padded.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Renipress(String);

impl Renipress {
    /// Exactly 8 digits, as the code system `IPRESSCS` spells codes.
    pub fn parse(code: &str) -> Result<Self, PeruError> {
        let trimmed = code.trim();
        if trimmed.len() == 8 && trimmed.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(trimmed.to_owned()))
        } else {
            Err(format_error(
                "RENIPRESS code",
                code,
                "exactly 8 digits, zero-padded (00012345)",
            ))
        }
    }

    /// 1 to 8 digits, zero-padded to 8: for search input, where people drop the
    /// leading zeros SUSALUD's registry shows.
    pub fn normalise(code: &str) -> Result<Self, PeruError> {
        let trimmed = code.trim();
        if (1..=8).contains(&trimmed.len()) && trimmed.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(format!("{trimmed:0>8}")))
        } else {
            Err(format_error("RENIPRESS code", code, "1 to 8 digits"))
        }
    }

    /// The 8-digit code.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The facility as a coding in `IPRESSCS`.
    #[must_use]
    pub fn to_coding(&self) -> Coding {
        Coding::new(url::CS_IPRESS, &self.0)
    }

    /// The facility's identifier as OrganizacionPe writes it: `type` coded in
    /// `IPRESSCS`, the code as value, `use` official.
    #[must_use]
    pub fn to_identifier(&self) -> Identifier {
        Identifier {
            r#use: Some("official".into()),
            r#type: Some(Box::new(CodeableConcept::from(self.to_coding()))),
            value: Some(self.0.as_str().into()),
            ..Identifier::default()
        }
    }
}

impl fmt::Display for Renipress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A professional college of the health professions (`ColegiosProfesionalesSaludCS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Colegio {
    /// `00`: health staff without a college registration.
    SinColegiatura,
    /// `01`: Colegio Médico del Perú (CMP).
    Medico,
    /// `02`: Colegio Químico Farmacéutico del Perú.
    QuimicoFarmaceutico,
    /// `03`: Colegio Odontológico del Perú.
    Odontologico,
    /// `04`: Colegio de Biólogos del Perú.
    Biologos,
    /// `05`: Colegio de Obstetras del Perú.
    Obstetras,
    /// `06`: Colegio de Enfermeros del Perú.
    Enfermeros,
    /// `07`: Colegio de Trabajadores Sociales del Perú.
    TrabajadoresSociales,
    /// `08`: Colegio de Psicólogos del Perú.
    Psicologos,
    /// `09`: Colegio Tecnólogo Médico del Perú.
    TecnologoMedico,
    /// `1O` (sic) or `10`: Colegio de Nutricionistas del Perú.
    Nutricionistas,
}

impl Colegio {
    /// Every college, in code order.
    pub const ALL: [Self; 11] = [
        Self::SinColegiatura,
        Self::Medico,
        Self::QuimicoFarmaceutico,
        Self::Odontologico,
        Self::Biologos,
        Self::Obstetras,
        Self::Enfermeros,
        Self::TrabajadoresSociales,
        Self::Psicologos,
        Self::TecnologoMedico,
        Self::Nutricionistas,
    ];

    /// The code as the official list spells it. Nutritionists are `1O` (letter O) there;
    /// writing the official spelling keeps resources valid against the guide's value set.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::SinColegiatura => "00",
            Self::Medico => "01",
            Self::QuimicoFarmaceutico => "02",
            Self::Odontologico => "03",
            Self::Biologos => "04",
            Self::Obstetras => "05",
            Self::Enfermeros => "06",
            Self::TrabajadoresSociales => "07",
            Self::Psicologos => "08",
            Self::TecnologoMedico => "09",
            Self::Nutricionistas => "1O",
        }
    }

    /// The college's number, `0` to `10`; the normalised form for indexing.
    #[must_use]
    pub const fn number(self) -> u8 {
        self as u8
    }

    /// The college with the given code: `00`–`10`, with nutritionists as `1O` or `10`
    /// (a single digit is accepted too, `1` for `01`).
    pub fn from_code(code: &str) -> Result<Self, PeruError> {
        let trimmed = code.trim();
        let number = if trimmed.eq_ignore_ascii_case("1O") {
            Some(10)
        } else if (1..=2).contains(&trimmed.len()) && trimmed.bytes().all(|b| b.is_ascii_digit()) {
            trimmed.parse::<usize>().ok()
        } else {
            None
        };
        number
            .and_then(|n| Self::ALL.get(n).copied())
            .ok_or_else(|| PeruError::UnknownCode {
                system: url::CS_COLEGIOS,
                code: code.to_owned(),
            })
    }

    /// The college's name.
    #[must_use]
    pub const fn display(self) -> &'static str {
        match self {
            Self::SinColegiatura => "Personal de salud sin colegiatura",
            Self::Medico => "Colegio Médico del Perú",
            Self::QuimicoFarmaceutico => "Colegio Químico Farmacéutico del Perú",
            Self::Odontologico => "Colegio Odontológico del Perú",
            Self::Biologos => "Colegio de Biólogos del Perú",
            Self::Obstetras => "Colegio de Obstetras del Perú",
            Self::Enfermeros => "Colegio de Enfermeros del Perú",
            Self::TrabajadoresSociales => "Colegio de Trabajadores Sociales del Perú",
            Self::Psicologos => "Colegio de Psicólogos del Perú",
            Self::TecnologoMedico => "Colegio Tecnólogo Médico del Perú",
            Self::Nutricionistas => "Colegio de Nutricionistas del Perú",
        }
    }
}

/// A professional's registration in a college: the college and the number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Colegiatura {
    colegio: Colegio,
    number: String,
}

impl Colegiatura {
    /// A registration number: 1 to 10 letters or digits, upper-cased.
    pub fn new(colegio: Colegio, number: &str) -> Result<Self, PeruError> {
        let normalised = number.trim().to_ascii_uppercase();
        if colegio == Colegio::SinColegiatura {
            return Err(format_error(
                "colegiatura",
                number,
                "code 00 means no registration, so it has no number",
            ));
        }
        if !(1..=10).contains(&normalised.len())
            || !normalised.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(format_error(
                "colegiatura",
                number,
                "1 to 10 letters or digits",
            ));
        }
        Ok(Self {
            colegio,
            number: normalised,
        })
    }

    /// The college.
    #[must_use]
    pub const fn colegio(&self) -> Colegio {
        self.colegio
    }

    /// The normalised number.
    #[must_use]
    pub fn number(&self) -> &str {
        &self.number
    }

    /// The key the registry indexes a professional by: `college|number`, the college
    /// as its two-digit number (`10|00123` for a nutritionist however the code was
    /// spelled).
    #[must_use]
    pub fn key(&self) -> String {
        format!("{:02}|{}", self.colegio.number(), self.number)
    }

    /// The identifier as PractitionerPe writes it: `type` coded in
    /// `ColegiosProfesionalesSaludCS`, the number as value.
    #[must_use]
    pub fn to_identifier(&self) -> Identifier {
        Identifier {
            r#use: Some("official".into()),
            r#type: Some(Box::new(CodeableConcept::from(
                Coding::new(url::CS_COLEGIOS, self.colegio.code())
                    .with_display(self.colegio.display()),
            ))),
            value: Some(self.number.as_str().into()),
            ..Identifier::default()
        }
    }

    /// Reads a registration from an identifier whose type is coded in
    /// `ColegiosProfesionalesSaludCS`; `Ok(None)` for any other identifier.
    pub fn from_identifier(identifier: &Identifier) -> Result<Option<Self>, PeruError> {
        let Some(code) = identifier
            .r#type
            .as_deref()
            .into_iter()
            .flat_map(|t| &t.coding)
            .find(|c| c.system.as_ref().and_then(Primitive::as_str) == Some(url::CS_COLEGIOS))
            .and_then(|c| c.code.as_ref().and_then(Primitive::as_str))
        else {
            return Ok(None);
        };
        let value = identifier
            .value
            .as_ref()
            .and_then(Primitive::as_str)
            .ok_or(PeruError::MissingValue)?;
        Self::new(Colegio::from_code(code)?, value).map(Some)
    }
}

/// The departments of Peru in INEI's ubigeo order (`01` Amazonas … `25` Ucayali).
const DEPARTMENTS: [&str; 25] = [
    "Amazonas",
    "Áncash",
    "Apurímac",
    "Arequipa",
    "Ayacucho",
    "Cajamarca",
    "Callao",
    "Cusco",
    "Huancavelica",
    "Huánuco",
    "Ica",
    "Junín",
    "La Libertad",
    "Lambayeque",
    "Lima",
    "Loreto",
    "Madre de Dios",
    "Moquegua",
    "Pasco",
    "Piura",
    "Puno",
    "San Martín",
    "Tacna",
    "Tumbes",
    "Ucayali",
];

/// INEI's geographic code of a district: `DDPPdd`, department `01`–`25`, province and
/// district `01`–`99`.
///
/// RENIEC numbers districts differently; the guide's `pe-ubigeo` uses INEI's codes, and
/// so does this type. Whether a province or district with that number exists is not
/// checked here (that needs INEI's table, which changes as districts are created).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ubigeo([u8; 6]);

impl Ubigeo {
    /// Parses a 6-digit code.
    pub fn parse(code: &str) -> Result<Self, PeruError> {
        let trimmed = code.trim();
        let bytes: [u8; 6] = trimmed
            .as_bytes()
            .try_into()
            .ok()
            .filter(|b: &[u8; 6]| b.iter().all(u8::is_ascii_digit))
            .ok_or_else(|| format_error("ubigeo", code, "exactly 6 digits (DDPPdd)"))?;
        let pair = |i: usize| (bytes[i] - b'0') * 10 + (bytes[i + 1] - b'0');
        if !(1..=25).contains(&pair(0)) {
            return Err(format_error(
                "ubigeo",
                code,
                "the department (first two digits) must be 01 to 25",
            ));
        }
        if pair(2) == 0 || pair(4) == 0 {
            return Err(format_error(
                "ubigeo",
                code,
                "province and district (digits 3-4 and 5-6) start at 01",
            ));
        }
        Ok(Self(bytes))
    }

    /// The six digits.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The department's two digits (`15` for Lima).
    #[must_use]
    pub fn department_code(&self) -> &str {
        &self.as_str()[..2]
    }

    /// The department's two digits followed by the province's (`1501`).
    #[must_use]
    pub fn province_code(&self) -> &str {
        &self.as_str()[..4]
    }

    /// The department's name.
    #[must_use]
    pub fn department(&self) -> &'static str {
        let index = usize::from((self.0[0] - b'0') * 10 + (self.0[1] - b'0')) - 1;
        DEPARTMENTS[index]
    }

    /// The `pe-ubigeo` extension of an address.
    #[must_use]
    pub fn to_extension(&self) -> Extension {
        Extension::new(
            url::EXT_UBIGEO,
            ExtensionValue::String(self.as_str().into()),
        )
    }

    /// The ubigeo of an address (from `pe-ubigeo`, as `valueString`, `valueCode` or a
    /// coded value), `Ok(None)` if it has none.
    pub fn from_address(address: &Address) -> Result<Option<Self>, PeruError> {
        let Some(ext) = address
            .extension
            .iter()
            .find(|e| e.url.as_deref() == Some(url::EXT_UBIGEO))
        else {
            return Ok(None);
        };
        let code = match ext.value.as_ref() {
            Some(ExtensionValue::String(s) | ExtensionValue::Code(s)) => s.as_str(),
            Some(ExtensionValue::CodeableConcept(cc)) => cc
                .coding
                .iter()
                .find_map(|c| c.code.as_ref().and_then(Primitive::as_str)),
            Some(ExtensionValue::Coding(c)) => c.code.as_ref().and_then(Primitive::as_str),
            _ => None,
        };
        code.map(Self::parse).transpose()
    }
}

impl fmt::Display for Ubigeo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dni_is_eight_digits_and_its_check_character_follows_reniec() {
        assert_eq!(PersonId::dni(" 01234567 ").unwrap().value(), "01234567");
        for bad in ["1234567", "123456789", "1234567A", ""] {
            assert!(PersonId::dni(bad).is_err(), "{bad}");
        }
        // 1·3 + 2·2 + 3·7 + 4·6 + 5·5 + 6·4 + 7·3 + 8·2 = 138; 138 mod 11 = 6; 11 − 6 = 5.
        assert_eq!(dni_check_digit("12345678"), Ok(('1', 'E')));
        // 0 sum: 11 − 0 = 11, read as index 0.
        assert_eq!(dni_check_digit("00000000"), Ok(('6', 'K')));
        // 4·3 + 5·2 + 6·7 + 7·6 + 8·5 + 9·4 + 1·3 + 2·2 = 189; 189 mod 11 = 2; 11 − 2 = 9.
        assert_eq!(dni_check_digit("45678912"), Ok(('4', 'I')));
    }

    #[test]
    fn person_ids_normalise_to_one_key() {
        let a = PersonId::new(DocumentKind::Pasaporte, " ve1234567 ", Some("ve")).unwrap();
        let b = PersonId::new(DocumentKind::Pasaporte, "VE1234567", Some("VEN")).unwrap();
        assert_eq!(a.key(), "3|VEN|VE1234567");
        assert_eq!(a, b);
        assert_eq!(
            PersonId::new(DocumentKind::Pasaporte, "X1", None),
            Err(PeruError::MissingCountry("Pasaporte"))
        );
        assert!(matches!(
            PersonId::new(DocumentKind::Pasaporte, "X1", Some("XX")),
            Err(PeruError::UnknownCountry(_))
        ));
        assert_eq!(PersonId::dni("45678912").unwrap().key(), "1|PER|45678912");
    }

    #[test]
    fn person_ids_round_trip_through_identifiers() {
        for id in [
            PersonId::dni("45678912").unwrap(),
            PersonId::new(DocumentKind::CarneExtranjeria, "001234567", None).unwrap(),
            PersonId::new(DocumentKind::DocumentoExtranjero, "AB-12", Some("CO")).unwrap(),
        ] {
            let identifier = id.to_identifier();
            assert_eq!(PersonId::from_identifier(&identifier), Ok(Some(id)));
        }
        let record = Identifier::new("https://hce.example/sid/hc", "HC-1");
        assert_eq!(PersonId::from_identifier(&record), Ok(None));
    }

    #[test]
    fn renipress_codes_are_eight_digits() {
        assert_eq!(Renipress::parse("00012345").unwrap().as_str(), "00012345");
        assert!(Renipress::parse("12345").is_err());
        assert_eq!(Renipress::normalise("12345").unwrap().as_str(), "00012345");
        assert!(Renipress::normalise("123456789").is_err());
        assert!(Renipress::normalise("12a45").is_err());
    }

    #[test]
    fn colegios_accept_both_spellings_of_nutritionists() {
        assert_eq!(Colegio::from_code("1O"), Ok(Colegio::Nutricionistas));
        assert_eq!(Colegio::from_code("10"), Ok(Colegio::Nutricionistas));
        assert_eq!(Colegio::from_code("01"), Ok(Colegio::Medico));
        assert!(Colegio::from_code("11").is_err());
        assert!(Colegio::from_code("O1").is_err());
        for colegio in Colegio::ALL {
            assert_eq!(Colegio::from_code(colegio.code()), Ok(colegio));
        }
        let a = Colegiatura::new(Colegio::from_code("1O").unwrap(), "00123").unwrap();
        let b = Colegiatura::new(Colegio::from_code("10").unwrap(), " 00123").unwrap();
        assert_eq!(a.key(), "10|00123");
        assert_eq!(a, b);
        assert_eq!(
            Colegiatura::from_identifier(&a.to_identifier()),
            Ok(Some(a))
        );
        assert!(Colegiatura::new(Colegio::SinColegiatura, "1").is_err());
    }

    #[test]
    fn ubigeo_checks_department_province_and_district() {
        let lima = Ubigeo::parse("150101").unwrap();
        assert_eq!(lima.department(), "Lima");
        assert_eq!(lima.province_code(), "1501");
        assert_eq!(Ubigeo::parse("250101").unwrap().department(), "Ucayali");
        for bad in ["260101", "000101", "150001", "150100", "15010", "15010a"] {
            assert!(Ubigeo::parse(bad).is_err(), "{bad}");
        }
        let address = Address {
            extension: vec![lima.to_extension()],
            ..Address::default()
        };
        assert_eq!(Ubigeo::from_address(&address), Ok(Some(lima)));
    }
}
