"""Schemathesis against the sandbox's OpenAPI over real HTTPS: no 5xx, no schema violation.

A bounded run (a few dozen generated requests per operation, derandomized) so that it
fits in CI; an enrolled trader's token is sent so the authenticated operations are
exercised past authentication.  Driven through schemathesis' Python API with Hypothesis
(its pytest plugin does not load under pytest 9).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

OPENAPI = Path(__file__).resolve().parents[2] / "sync" / "openapi.json"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
# Every operation of the committed document (new endpoints are fuzzed as they come).
OPERATIONS = sorted(f"{method.upper()} {path}"
                    for path, item in json.loads(OPENAPI.read_text(encoding="utf-8"))["paths"].items()
                    for method in item)


@pytest.fixture(scope="module")
def fuzz(green_sandbox, Traders):
    """The committed schema aimed at the running sandbox, and an authenticated session."""
    t = Traders(green_sandbox)
    session = requests.Session()
    session.verify = str(green_sandbox.ca_pem_path)
    session.headers["Authorization"] = f"Bearer {t.token}"
    schema = schemathesis.openapi.from_dict(json.loads(OPENAPI.read_text(encoding="utf-8")))
    schema.config.update(base_url=green_sandbox.url)
    ops = {op.label: op for op in (r.ok() for r in schema.get_all_operations())}
    yield ops, session, str(green_sandbox.ca_pem_path)
    session.close()


@pytest.mark.parametrize("label", OPERATIONS)
def test_operation_conforms_to_the_openapi(fuzz, label):
    ops, session, ca = fuzz
    assert set(ops) == set(OPERATIONS) >= {"GET /v1/health", "POST /v1/enrol",
                                           "POST /v1/envelopes", "GET /v1/notifications",
                                           "GET /v1/refdata"}
    seen: list[int] = []

    @given(case=ops[label].as_strategy())
    @settings(max_examples=40, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case) -> None:
        response = case.call_and_validate(session=session, checks=CHECKS, timeout=30,
                                            verify=ca)
        seen.append(response.status_code)

    run()
    assert seen and all(s < 500 for s in seen)
