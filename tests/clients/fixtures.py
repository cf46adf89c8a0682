"""What the Python tests write to the registry (lib/fixtures.mjs is the same for Node):
PacientePe patients with a DNI, OrganizacionPe IPRESS, ITI-65 pushes, shaped as
web/tests/harness.mjs seeds them."""

import random
import uuid

IDS_PERSONA = "https://www.gob.pe/minsa/RENHICE/fhir/CodeSystem/IdspersonaPeru"
IPRESSCS = "https://www.gob.pe/minsa/RENHICE/fhir/CodeSystem/IPRESSCS"
PE_PAIS = "https://www.gob.pe/minsa/RENHICE/fhir/StructureDefinition/pe-pais"

# The patient web/tests/harness.mjs seeds (with a summary by Santa Clara).
MARIA_DNI = "45678912"


def fresh(prefix):
    """A fresh 8-digit number starting with the two digits `prefix` (one per test file)."""
    return f"{prefix}{random.randrange(1_000_000):06d}"


def dni(value):
    return {
        "use": "official",
        "type": {
            "extension": [
                {
                    "url": PE_PAIS,
                    "valueCodeableConcept": {
                        "coding": [{"system": "urn:iso:std:iso:3166", "code": "PER", "display": "Peru"}]
                    },
                }
            ],
            "coding": [{"system": IDS_PERSONA, "code": "1", "display": "DNI"}],
        },
        "value": value,
    }


def patient_fields(dni_value, family, given, birth_date, gender="female"):
    """A PacientePe patient's elements (without resourceType, as fhirpy's resource() takes them)."""
    return {
        "identifier": [dni(dni_value)],
        "active": True,
        "name": [{"use": "official", "family": family, "given": list(given)}],
        "gender": gender,
        "birthDate": birth_date,
    }


def invalid_patient_fields():
    """A Patient the registry must refuse: no identity document."""
    return {"name": [{"family": "Sin Documento", "given": ["Nadie"]}], "gender": "unknown"}


def organization_fields(code, name):
    return {
        "identifier": [
            {"use": "official", "type": {"coding": [{"system": IPRESSCS, "code": code}]}, "value": code}
        ],
        "active": True,
        "name": name,
    }


TWO_DOCS = [
    {"loinc": "34133-9", "date": "2026-01-20T09:15:00-05:00"},
    {"loinc": "11502-2", "date": "2026-03-14T10:20:00-05:00"},
]


def push(patient_id, org_id, docs):
    """An ITI-65 push: a transaction Bundle with a SubmissionSet List and DocumentReferences."""
    entries = [dict(d, uuid=f"urn:uuid:{uuid.uuid4()}") for d in docs]
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": {
                    "resourceType": "List",
                    "identifier": [
                        {"use": "official", "system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"}
                    ],
                    "status": "current",
                    "mode": "working",
                    "subject": {"reference": f"Patient/{patient_id}"},
                    "entry": [{"item": {"reference": d["uuid"]}} for d in entries],
                },
                "request": {"method": "POST", "url": "List"},
            },
            *(
                {
                    "fullUrl": d["uuid"],
                    "resource": {
                        "resourceType": "DocumentReference",
                        "masterIdentifier": {
                            "system": "urn:ietf:rfc:3986",
                            "value": f"urn:oid:1.2.604.77.{random.randrange(1, 2**47)}",
                        },
                        "identifier": [{"system": "urn:ietf:rfc:3986", "value": d["uuid"]}],
                        "status": "current",
                        "type": {"coding": [{"system": "http://loinc.org", "code": d["loinc"]}]},
                        "subject": {"reference": f"Patient/{patient_id}"},
                        "date": d["date"],
                        "custodian": {"reference": f"Organization/{org_id}"},
                        "content": [
                            {
                                "attachment": {
                                    "contentType": "application/pdf",
                                    "url": f"https://sihce.example/docs/{uuid.uuid4()}",
                                }
                            }
                        ],
                    },
                    "request": {"method": "POST", "url": "DocumentReference"},
                }
                for d in entries
            ),
        ],
    }
