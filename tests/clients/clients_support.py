"""fhirpy's SyncFHIRClient pointed at the registry, with every answer it receives validated
by the same independent validator as the Node tests (lib/validator.mjs, @medplum/core's
validateResource over the FHIR R4 definitions), in a Node process of its own spoken to
over stdin/stdout.

The answers are caught at the HTTP layer, through fhirpy's own `requests_config`: a
`requests` response hook validates each JSON body and records each exchange (status,
headers) for the tests that look at them.

The registry: tests/clients/run starts it (tests/clients/registry.mjs) and passes where
it is and the tokens in RENHICE_TEST_* variables. Without them (a test file run on its
own) this module starts one the same way, for the process, and stops it at exit.
"""

import atexit
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from fhirpy import SyncFHIRClient

HERE = Path(__file__).resolve().parent
LIBRARY = "fhirpy"


def _start_registry():
    """A registry of this process's (tests/clients/registry.mjs), stopped at exit."""
    backend = "postgres" if os.environ.get("RENHICE_TEST_BACKEND") == "postgres" else "sqlite"
    tmp = Path(tempfile.mkdtemp(prefix="renhice-clients-"))
    env_file = tmp / "registry.env"
    env = dict(os.environ)
    env.setdefault("RENHICE_CORS_ALLOWED_ORIGINS", '["https://app.example"]')
    proc = subprocess.Popen(
        ["node", str(HERE / "registry.mjs"), backend, str(env_file)], stdin=subprocess.PIPE, env=env
    )

    def stop():
        if proc.stdin:
            proc.stdin.close()
        proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)

    atexit.register(stop)
    deadline = time.monotonic() + 90
    while not env_file.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"tests/clients/registry.mjs exited ({proc.returncode}) before the registry was up")
        if time.monotonic() > deadline:
            raise RuntimeError("the registry did not come up within 90 s")
        time.sleep(0.1)
    for line in env_file.read_text().splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        os.environ[name] = value.strip("'")


if not os.environ.get("RENHICE_TEST_FHIR_BASE"):
    _start_registry()


def _need(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set (tests/clients/run sets it)")
    return value


BACKEND = _need("RENHICE_TEST_BACKEND")
BASE = _need("RENHICE_TEST_BASE")
FHIR_BASE = _need("RENHICE_TEST_FHIR_BASE")
TOKENS = {
    "sihce": _need("RENHICE_TEST_TOKEN_SIHCE"),
    "sihce_ica": _need("RENHICE_TEST_TOKEN_SIHCE_ICA"),
    "admin": _need("RENHICE_TEST_TOKEN_ADMIN"),
    "auditor": _need("RENHICE_TEST_TOKEN_AUDITOR"),
}
IDS = {
    "patient": _need("RENHICE_TEST_PATIENT_ID"),
    "santa_clara": _need("RENHICE_TEST_SANTA_CLARA_ID"),
    "ica": _need("RENHICE_TEST_ICA_ID"),
}
CORS_ORIGIN = os.environ.get("RENHICE_TEST_CORS_ORIGIN") or "https://app.example"


class _Validator:
    """lib/validator.mjs --stdio: one JSON line out, one JSON line back."""

    def __init__(self):
        self.proc = subprocess.Popen(
            ["node", str(HERE / "lib" / "validator.mjs"), "--stdio"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            cwd=HERE,
        )
        ready = self.proc.stdout.readline()
        if not ready or not json.loads(ready).get("ready"):
            raise RuntimeError(f"the validator did not start: {ready!r}")
        self.count = 0
        atexit.register(self.close)

    def issues(self, resource, where):
        self.proc.stdin.write(json.dumps({"library": LIBRARY, "where": where, "resource": resource}) + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        self.count += 1
        return [] if answer["ok"] else answer["issues"]

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


VALIDATOR = _Validator()
# Every failure, kept also for tearDown: a failure in a response hook is raised out of
# the fhirpy call, but the tests must not be able to swallow it by expecting an error.
FAILURES = []


class Exchange:
    """A request fhirpy made and what it was answered."""

    def __init__(self, response):
        self.method = response.request.method
        self.url = response.request.url
        self.request_headers = response.request.headers
        self.status = response.status_code
        self.headers = response.headers
        self.content = response.content


class ValidationFailure(AssertionError):
    pass


class Recorder:
    """The response hook: validates each JSON body and records each exchange."""

    def __init__(self):
        self.exchanges = []

    def __call__(self, response, *args, **kwargs):
        self.exchanges.append(Exchange(response))
        content_type = response.headers.get("content-type", "")
        if response.content and "json" in content_type:
            where = f"{response.request.method} {response.request.url} -> {response.status_code}"
            try:
                body = json.loads(response.content)
            except ValueError:
                body = {"notJson": response.text[:300]}
            issues = VALIDATOR.issues(body, where)
            if issues:
                message = f"fhirpy received an invalid {body.get('resourceType', 'answer')} ({where}):\n  " + "\n  ".join(issues)
                FAILURES.append(message)
                raise ValidationFailure(message)
        return response

    def last(self):
        if not self.exchanges:
            raise AssertionError("fhirpy has made no request yet")
        return self.exchanges[-1]


def fhirpy_client(token, extra_headers=None):
    """A SyncFHIRClient acting with `token` (None: no Authorization), and its Recorder."""
    recorder = Recorder()
    client = SyncFHIRClient(
        FHIR_BASE,
        authorization=f"Bearer {token}" if token else None,
        extra_headers=extra_headers,
        requests_config={"hooks": {"response": [recorder]}, "timeout": 30},
    )
    return client, recorder


def _print_count():
    # The validator process writes the count for tests/clients/run when its input ends.
    print(f"fhirpy: resources received and validated: {VALIDATOR.count}")


atexit.register(_print_count)


class ClientTestCase(unittest.TestCase):
    """Fails a test in which an answer did not validate, whatever the test expected."""

    def setUp(self):
        FAILURES.clear()

    def tearDown(self):
        failures = list(FAILURES)
        FAILURES.clear()
        self.assertEqual(failures, [], "answers that did not validate")

    def assert_explains(self, outcome, what):
        """The OperationOutcome of an error says what is wrong: issue[0].expression or diagnostics."""
        self.assertEqual(outcome.get("resourceType"), "OperationOutcome", f"{what}: {outcome}")
        issue = (outcome.get("issue") or [None])[0]
        self.assertIsNotNone(issue, f"{what}: no issue")
        self.assertTrue(issue.get("expression") or issue.get("diagnostics"), f"{what}: issue[0] says nothing: {issue}")
