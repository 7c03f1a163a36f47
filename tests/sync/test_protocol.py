"""Protocol v1: the committed OpenAPI document is the one served, and models hold the contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from pydantic import ValidationError

from sync.protocol import (
    MAX_BATCH,
    BatchResponse,
    EnrolRequest,
    NotificationPage,
    Problem,
    SubmitRequest,
)
from sync.sandbox.app import openapi_document

COMMITTED = Path(__file__).resolve().parents[2] / "sync" / "openapi.json"


def test_committed_openapi_equals_the_served_one(sandbox):
    served = requests.get(f"{sandbox.url}/openapi.json", verify=str(sandbox.ca_pem_path),
                          timeout=10).json()
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert served == committed, (
        "sync/openapi.json is stale: regenerate with "
        "`python -m sync.sandbox.app > sync/openapi.json`")
    assert committed == openapi_document()


def test_openapi_is_3_1_with_every_endpoint_and_problem_errors():
    doc = openapi_document()
    assert doc["openapi"].startswith("3.1")
    paths = doc["paths"]
    assert set(paths) >= {"/v1/health", "/v1/enrol", "/v1/envelopes", "/v1/notifications",
                          "/v1/refdata"}
    assert all(p.startswith("/v1/") for p in paths)
    for item in paths.values():
        for op in item.values():
            for status, resp in op["responses"].items():
                if int(status) >= 400:
                    assert list(resp["content"]) == ["application/problem+json"]
    params = {p["name"] for p in paths["/v1/envelopes"]["post"]["parameters"]}
    assert "Idempotency-Key" in params
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_requests_are_strict_and_bounded():
    with pytest.raises(ValidationError):
        EnrolRequest.model_validate({"trader_id": "GB1", "code": "x", "csr_pem": "p",
                                     "device_id": "d", "role": "admin"})
    with pytest.raises(ValidationError):
        EnrolRequest.model_validate({"trader_id": "GB1", "code": "x", "csr_pem": "p",
                                     "device_id": "d", "extra": 1})
    env = {"protected": "a", "payload": "b", "signature": "c"}
    assert len(SubmitRequest.model_validate({"envelopes": [env] * MAX_BATCH}).envelopes) == 500
    with pytest.raises(ValidationError):
        SubmitRequest.model_validate({"envelopes": [env] * (MAX_BATCH + 1)})
    with pytest.raises(ValidationError):
        SubmitRequest.model_validate({"envelopes": [dict(env, payload="not base64url!")]})


def test_responses_tolerate_new_fields_but_not_wrong_types():
    ok = {"results": [{"index": 0, "declaration_id": "d", "version": 1, "envelope_hash": "h",
                       "status": "accepted", "mrn": "m", "receipt": "r", "errors": [],
                       "future_field": True}]}
    assert BatchResponse.model_validate(ok).results[0].status == "accepted"
    with pytest.raises(ValidationError):
        BatchResponse.model_validate({"results": [dict(ok["results"][0], status="lost")]})
    with pytest.raises(ValidationError):
        NotificationPage.model_validate({"notifications": [{"cursor": "x"}], "next": 0})
    p = Problem.model_validate({"title": "t", "status": 409, "code": "c"})
    assert p.type == "about:blank"
