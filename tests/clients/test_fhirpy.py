"""fhirpy (SyncFHIRClient) drives the registry: every interaction it can express, every
answer validated (clients_support.py). Run by tests/clients/run; alone:
tests/clients/.venv/bin/python -m unittest discover -s tests/clients -p test_fhirpy.py"""

import json
import unittest

from fhirpy.base.exceptions import OperationOutcome, ResourceNotFound

from clients_support import FHIR_BASE, IDS, TOKENS, ClientTestCase, fhirpy_client
from fixtures import (
    IDS_PERSONA,
    MARIA_DNI,
    TWO_DOCS,
    fresh,
    invalid_patient_fields,
    organization_fields,
    patient_fields,
    push,
)

client, recorder = fhirpy_client(TOKENS["sihce"])
admin, _ = fhirpy_client(TOKENS["admin"])
auditor, _ = fhirpy_client(TOKENS["auditor"])

# Two patients of one family, so that a family search has two results to page through.
CARMEN = patient_fields(fresh("73"), "Chávez Quispe", ["Carmen", "Rosa"], "1965-06-30")
PEDRO = patient_fields(fresh("73"), "Quispe Chávez", ["Pedro"], "1968-12-01", gender="male")
ids = {}


def ids_of(resources):
    return [r.id for r in resources]


class Fhirpy(ClientTestCase):
    """In order: later tests use the patients the earlier ones create."""

    @classmethod
    def setUpClass(cls):
        carmen = client.resource("Patient", **CARMEN)
        carmen.save()
        ids["carmen"] = carmen.id
        pedro = client.resource("Patient", **PEDRO)
        pedro.save()
        ids["pedro"] = pedro.id
        answer = client.execute(FHIR_BASE, method="post", data=push(ids["carmen"], IDS["santa_clara"], TWO_DOCS))
        assert answer["type"] == "transaction-response", answer

    def test_01_metadata(self):
        cs = client.execute("metadata", method="get")
        self.assertEqual(cs["resourceType"], "CapabilityStatement")
        self.assertEqual(cs["fhirVersion"], "4.0.1")

    def test_02_create_read_update_vread_history(self):
        patient = client.resource("Patient", **patient_fields(fresh("73"), "Mamani Ríos", ["Eva"], "2001-01-31"))
        patient.save()
        self.assertEqual(recorder.last().status, 201)
        self.assertEqual(recorder.last().method, "POST")
        self.assertEqual(patient.meta.versionId, "1")

        read = client.reference("Patient", patient.id).to_resource()
        self.assertEqual(read["identifier"], patient["identifier"])
        self.assertEqual(client.get("Patient", patient.id)["birthDate"], "2001-01-31")

        patient["telecom"] = [{"system": "email", "value": "eva@example.pe"}]
        patient.save()
        self.assertEqual(recorder.last().method, "PUT")
        self.assertEqual(recorder.last().status, 200)
        self.assertEqual(patient.meta.versionId, "2")

        v1 = client.execute(f"Patient/{patient.id}/_history/1", method="get")
        self.assertEqual(v1["meta"]["versionId"], "1")
        self.assertNotIn("telecom", v1)

        history = client.execute(f"Patient/{patient.id}/_history", method="get")
        self.assertEqual(history["type"], "history")
        self.assertEqual([e["resource"]["meta"]["versionId"] for e in history["entry"]], ["2", "1"])

        # The identity feed's history (type level), newest first.
        feed = client.execute("Patient/_history", method="get", params={"_since": v1["meta"]["lastUpdated"]})
        self.assertEqual(feed["type"], "history")
        mine = [e["resource"]["meta"]["versionId"] for e in feed["entry"] if e["resource"]["id"] == patient.id]
        self.assertEqual(mine, ["2", "1"])

        # refresh() re-reads (with If-None-Match: <versionId>, fhirpy's way) and keeps the latest.
        patient.refresh()
        self.assertEqual(patient.meta.versionId, "2")

    def test_03_search_patient(self):
        value = CARMEN["identifier"][0]["value"]
        patients = client.resources("Patient")
        self.assertEqual(ids_of(patients.search(identifier=value).fetch()), [ids["carmen"]])
        self.assertEqual(
            ids_of(patients.search(identifier__of_type=f"{IDS_PERSONA}|1|{value}").fetch()), [ids["carmen"]]
        )
        self.assertEqual(sorted(ids_of(patients.search(family="CHAVEZ").fetch())), sorted([ids["carmen"], ids["pedro"]]))
        self.assertEqual(ids_of(patients.search(family="chávez", given="rosa").fetch()), [ids["carmen"]])
        self.assertEqual(ids_of(patients.search(family="quispe", birthdate="1968-12-01").fetch()), [ids["pedro"]])
        self.assertEqual(patients.search(family="chavez", given="pedro").get().id, ids["pedro"])

    def test_04_paging(self):
        before = len(recorder.exchanges)
        found = client.resources("Patient").search(family="chavez").limit(1).fetch_all()
        self.assertEqual(sorted(ids_of(found)), sorted([ids["carmen"], ids["pedro"]]))
        pages = [e for e in recorder.exchanges[before:] if e.method == "GET"]
        self.assertGreaterEqual(len(pages), 2, "fetch_all followed the next link")
        self.assertIn("_cursor=", pages[1].url)

    def test_05_organization_by_name(self):
        org = admin.resource("Organization", **organization_fields(fresh("73"), "Policlínico Chosica"))
        org.save()
        for word in ("POLICLINICO", "chosica"):
            found = ids_of(client.resources("Organization").search(name=word).fetch())
            self.assertIn(org.id, found, f"name={word}")

    def test_06_push_and_document_references(self):
        docs = (
            client.resources("DocumentReference")
            .search(patient=ids["carmen"], status="current")
            .limit(1)
            .fetch_all()
        )
        self.assertEqual(len(docs), 2)
        for d in docs:
            self.assertEqual(d["custodian"]["reference"], f"Organization/{IDS['santa_clara']}")
        again = client.execute(FHIR_BASE, method="post", data=push(ids["carmen"], IDS["santa_clara"], TWO_DOCS[:1]))
        self.assertEqual(again["type"], "transaction-response")
        self.assertEqual(recorder.last().url.rstrip("?"), FHIR_BASE)
        self.assertTrue(all(e["response"]["status"].startswith("201") for e in again["entry"]))

    def test_06b_batch(self):
        answer = client.execute(
            FHIR_BASE,
            method="post",
            data={
                "resourceType": "Bundle",
                "type": "batch",
                "entry": [
                    {"request": {"method": "GET", "url": f"Patient/{IDS['patient']}"}},
                    {"request": {"method": "GET", "url": "Patient/no-such-patient"}},
                ],
            },
        )
        self.assertEqual(answer["type"], "batch-response")
        self.assertTrue(answer["entry"][0]["response"]["status"].startswith("200"))
        self.assertTrue(answer["entry"][1]["response"]["status"].startswith("404"))

    def test_07_operations(self):
        locations = client.reference("Patient", ids["carmen"]).execute("$record-locations", method="get")
        self.assertEqual(locations["resourceType"], "Parameters")
        location = next(p for p in locations["parameter"] if p["name"] == "location")
        count = next(p for p in location["part"] if p["name"] == "count")
        self.assertGreaterEqual(count["valueInteger"], 2)

        summary = client.reference("Patient", IDS["patient"]).execute("$summary", method="get")
        self.assertEqual(summary["type"], "document")

        self.assertTrue(client.resource("Patient", **CARMEN).is_valid())
        self.assertEqual(recorder.last().method, "POST")
        self.assertTrue(recorder.last().url.split("?")[0].endswith("/Patient/$validate"))
        bad = client.resource("Patient", **dict(CARMEN, birthDate="1965-13-01"))
        self.assertFalse(bad.is_valid())

        pix = client.resources("Patient").execute("$ihe-pix", method="get", params={"sourceIdentifier": MARIA_DNI})
        target = next(p for p in pix["parameter"] if p["name"] == "targetId")
        self.assertEqual(target["valueReference"]["reference"], f"Patient/{IDS['patient']}")

    def test_08_errors(self):
        with self.assertRaises(ResourceNotFound) as caught:
            client.reference("Patient", "no-such-patient").to_resource()
        self.assertEqual(recorder.last().status, 404)
        self.assert_explains(json.loads(str(caught.exception)), "404 read")

        with self.assertRaises(OperationOutcome) as caught:
            client.resource("Patient", **invalid_patient_fields()).save()
        self.assertIn(recorder.last().status, (400, 422))
        self.assert_explains(caught.exception.resource, "invalid create")

    def test_09_audit_events(self):
        events = auditor.resources("AuditEvent").search(patient=ids["carmen"]).limit(5).fetch()
        self.assertTrue(events)
        again = auditor.get("AuditEvent", events[0].id)
        self.assertEqual(again["id"], events[0].id)


if __name__ == "__main__":
    unittest.main()
