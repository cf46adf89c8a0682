"""The FHIR REST conventions a generic client relies on, through fhirpy
(conventions.test.mjs is the same for fhir-kit-client and Medplum)."""

import json
import time
import unittest
import urllib.parse

from fhirpy.base.exceptions import BaseFHIRError

from clients_support import CORS_ORIGIN, FHIR_BASE, IDS, TOKENS, ClientTestCase, fhirpy_client
from fixtures import fresh, patient_fields, push

client, recorder = fhirpy_client(TOKENS["sihce"])


def someone(family, given):
    return patient_fields(fresh("75"), family, [given], "1975-07-07", gender="male")


def create(fields, c=client):
    resource = c.resource("Patient", **fields)
    resource.save()
    return resource


class Conventions(ClientTestCase):
    def assert_absolute_location(self, location):
        self.assertIsNotNone(location, "a Location header")
        self.assertRegex(location, "^" + FHIR_BASE.replace(".", r"\.") + r"/Patient/[^/]+/_history/1$")

    def test_transaction_to_base_with_trailing_slash(self):
        # fhirpy has no transaction call: execute() with a path of "" posts to "[base]/".
        patient = create(someone("Cusi Pyth", "Abraham"))
        answer = client.execute("", method="post", data=push(patient.id, IDS["santa_clara"], [{"loinc": "34133-9", "date": "2026-04-02T08:00:00-05:00"}]))
        self.assertTrue(urllib.parse.urlsplit(recorder.last().url).path.endswith("/fhir/"))
        self.assertEqual(answer["type"], "transaction-response")

    def test_batch_to_base_with_trailing_slash(self):
        answer = client.execute(
            "", method="post", data={"resourceType": "Bundle", "type": "batch", "entry": [{"request": {"method": "GET", "url": f"Patient/{IDS['patient']}"}}]}
        )
        self.assertEqual(answer["type"], "batch-response")

    def test_conditional_create_if_none_exist(self):
        fields = someone("Cusi Pyth", "Benito")
        conditional, rec = fhirpy_client(TOKENS["sihce"], {"If-None-Exist": f"identifier={fields['identifier'][0]['value']}"})
        first = create(fields, conditional)
        self.assertEqual(rec.last().status, 201)
        second = create(fields, conditional)
        self.assertEqual(rec.last().status, 200)
        self.assertEqual(second.id, first.id)
        found = client.resources("Patient").search(identifier=fields["identifier"][0]["value"]).fetch()
        self.assertEqual(len(found), 1, "no duplicate")

    def test_prefer_return_minimal_and_operation_outcome(self):
        minimal, rec = fhirpy_client(TOKENS["sihce"], {"Prefer": "return=minimal"})
        patient = create(someone("Cusi Pyth", "Cirilo"), minimal)
        self.assertEqual(rec.last().status, 201)
        self.assertEqual(rec.last().content, b"")
        self.assertIsNone(patient.id, "nothing came back to fill in")
        self.assert_absolute_location(rec.last().headers.get("location"))

        outcome, rec = fhirpy_client(TOKENS["sihce"], {"Prefer": "return=OperationOutcome"})
        answer = outcome.execute("Patient", method="post", data=dict(someone("Cusi Pyth", "Dámaso"), resourceType="Patient"))
        self.assertEqual(rec.last().status, 201)
        self.assertEqual(answer["resourceType"], "OperationOutcome")

    def test_location_absolute(self):
        create(someone("Cusi Pyth", "Efraín"))
        self.assert_absolute_location(recorder.last().headers.get("location"))

    def test_if_none_match_304(self):
        patient = create(someone("Cusi Pyth", "Fidel"))
        etag = recorder.last().headers.get("etag")
        self.assertTrue(etag)
        conditional, rec = fhirpy_client(TOKENS["sihce"], {"If-None-Match": etag})
        self.assertIsNone(conditional.get("Patient", patient.id))
        self.assertEqual(rec.last().status, 304)

    def test_summary_count(self):
        create(someone("Saavedra Pyth", "Gonzalo"))
        create(someone("Saavedra Pyth", "Hilda"))
        bundle = client.resources("Patient").search(family="saavedra", _summary="count").fetch_raw()
        self.assertEqual(bundle["total"], 2)
        self.assertNotIn("entry", bundle)

    def test_elements_on_read(self):
        patient = create(someone("Cusi Pyth", "Ignacio"))
        subset = client.execute(f"Patient/{patient.id}", method="get", params={"_elements": "identifier"})
        self.assertEqual(subset["identifier"], json.loads(json.dumps(patient["identifier"])))
        self.assertNotIn("name", subset)

    def three_versions(self, given):
        patient = create(someone("Cusi Pyth", given))
        time.sleep(0.02)
        patient["gender"] = "other"
        patient.save()
        second = patient.meta.lastUpdated
        patient["birthDate"] = "1975-07-08"
        patient.save()
        self.assertEqual(patient.meta.versionId, "3")
        return patient, second

    def test_history_count(self):
        patient, _ = self.three_versions("Julián")
        one = client.execute(f"Patient/{patient.id}/_history", method="get", params={"_count": 1})
        self.assertEqual(len(one["entry"]), 1)
        self.assertEqual(one["entry"][0]["resource"]["meta"]["versionId"], "3")
        self.assertTrue(any(link["relation"] == "next" for link in one.get("link", [])))

    def test_history_since(self):
        patient, since = self.three_versions("Justo")
        recent = client.execute(f"Patient/{patient.id}/_history", method="get", params={"_since": since})
        self.assertEqual([e["resource"]["meta"]["versionId"] for e in recent["entry"]], ["3", "2"])

    def test_last_updated_and_sort(self):
        a = create(someone("Valencia Pyth", "Karl"))
        time.sleep(0.02)
        b = create(someone("Valencia Pyth", "Lino"))
        found = (
            client.resources("Patient")
            .search(family="valencia", _lastUpdated__ge=a.meta.lastUpdated)
            .sort("-_lastUpdated")
            .fetch()
        )
        self.assertEqual([p.id for p in found], [b.id, a.id])

    @staticmethod
    def preflight(origin):
        anonymous, rec = fhirpy_client(
            None,
            {"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type"},
        )
        try:
            anonymous.execute("Patient", method="options")
        except BaseFHIRError:
            pass
        return rec.last()

    def test_cors_preflight_configured_origin(self):
        allowed = self.preflight(CORS_ORIGIN)
        # The Fetch standard asks a preflight for an ok status (any 2xx); actix-cors answers 200.
        self.assertTrue(200 <= allowed.status < 300, allowed.status)
        self.assertEqual(allowed.headers.get("access-control-allow-origin"), CORS_ORIGIN)

    def test_cors_preflight_other_origin(self):
        other = self.preflight("https://elsewhere.example")
        self.assertIsNone(other.headers.get("access-control-allow-origin"))

    def test_fhir_version_4_3_not_acceptable(self):
        r43, rec = fhirpy_client(TOKENS["sihce"], {"Accept": "application/fhir+json; fhirVersion=4.3"})
        with self.assertRaises(BaseFHIRError):
            r43.get("Patient", IDS["patient"])
        self.assertEqual(rec.last().status, 406)

    def test_text_plain_unsupported(self):
        plain, rec = fhirpy_client(TOKENS["sihce"], {"Content-Type": "text/plain"})
        with self.assertRaises(BaseFHIRError):
            create(someone("Cusi Pyth", "Manuel"), plain)
        self.assertEqual(rec.last().request_headers.get("content-type"), "text/plain")
        self.assertEqual(rec.last().status, 415)


if __name__ == "__main__":
    unittest.main()
