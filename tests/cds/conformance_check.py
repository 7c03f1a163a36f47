"""Check recorded requests against the published documents, read in place: the OpenAPI
documents of ``hmrc-api/`` for the headers, the WCO schemas for the bodies.

Written from the documents alone (not from the connector's code), so that a connector
that drifts from what HMRC publishes fails here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from lxml import etree

NS_MD = "urn:wco:datamodel:WCO:DocumentMetaData-DMS:2"
NS_DEC = "urn:wco:datamodel:WCO:DEC-DMS:2"


def _operations(conformance: Path) -> list[tuple[re.Pattern[str], str, dict[str, Any]]]:
    ops = []
    for doc in ("customs-declarations", "notification-pull"):
        spec = yaml.safe_load((conformance / "hmrc-api" / doc / "application.yaml").read_text())
        for template, methods in spec["paths"].items():
            rx = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
            for method, op in methods.items():
                ops.append((rx, method.upper(), op))
    return ops


def _schema(base: Path, meta: str, body: str) -> etree.XMLSchema:
    wrapper = ('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
               f'<xs:import namespace="{NS_MD}" schemaLocation="{(base / meta).as_uri()}"/>'
               f'<xs:import namespace="{NS_DEC}" schemaLocation="{(base / body).as_uri()}"/>'
               "</xs:schema>")
    return etree.XMLSchema(etree.fromstring(wrapper.encode()))


def identifier_rules(conformance: Path) -> dict[str, re.Pattern[str]]:
    """The X-Badge-Identifier / X-Submitter-Identifier rules, read from their descriptions."""
    spec = yaml.safe_load((conformance / "hmrc-api" / "customs-declarations" /
                           "application.yaml").read_text())
    params = {p["name"]: p for p in spec["paths"]["/customs/declarations/"]["post"]["parameters"]}
    badge = re.search(r"Must be (\d+) to (\d+) characters, consisting of any combination of "
                      r"numeric digits and/or upper-case letters",
                      params["X-Badge-Identifier"]["description"])
    submitter = re.search(r"maximum length of (\d+) characters, consisting of any combination "
                          r"of numeric digits and/or letters",
                          params["X-Submitter-Identifier"]["description"])
    assert badge and submitter, "the OpenAPI document's header rules changed wording"
    return {"X-Badge-Identifier": re.compile(f"[0-9A-Z]{{{badge[1]},{badge[2]}}}"),
            "X-Submitter-Identifier": re.compile(f"[0-9A-Za-z]{{1,{submitter[1]}}}")}


def check_requests(requests: list[dict[str, Any]], conformance: Path) -> dict[str, int]:
    """Assert every API request conforms; returns how many of each kind were checked."""
    ops = _operations(conformance)
    rules = identifier_rules(conformance)
    schemas = conformance / "hmrc-dms" / "schemas" / "declaration"
    submit = _schema(schemas, "DocumentMetaData_2_DMS.xsd", "WCO_DEC_2_DMS.xsd")
    cancel = _schema(schemas, "CANCEL_METADATA.xsd", "CANCEL.xsd")
    counts = {"submissions": 0, "pulls": 0}
    for req in requests:
        path = req["path"].split("?")[0]
        if not path.startswith(("/customs/declarations", "/notifications")):
            continue  # OAuth: RFC 6749, not these documents
        found = [op for rx, method, op in ops if rx.match(path) and method == req["method"]]
        assert found, f"{req['method']} {path} is not in the published documents"
        op = found[0]
        headers = {k.lower(): v for k, v in req["headers"].items()}
        for p in op.get("parameters", []):
            if p.get("in") != "header":
                continue
            name = p["name"].lower()
            if p.get("required"):
                assert name in headers, f"{path}: header {p['name']} missing"
            if name == "accept":
                assert headers[name] == p["schema"]["example"], headers[name]
            if name == "content-type":
                must = re.search(r'Must be "([^"]+)"', p["description"])
                assert must and headers[name] == must[1], headers[name]
        if op.get("security"):
            assert headers.get("authorization", "").startswith("Bearer "), path
        if path.startswith("/customs/declarations"):
            ids = [h for h in ("X-Badge-Identifier", "X-Submitter-Identifier")
                   if h.lower() in headers]
            assert ids, f"{path}: neither X-Badge-Identifier nor X-Submitter-Identifier"
            for h in ids:
                assert rules[h].fullmatch(headers[h.lower()]), (h, headers[h.lower()])
            schema = cancel if path.endswith("cancellation-requests") else submit
            doc = etree.fromstring(req["body"].encode("utf-8"))
            assert schema.validate(doc), (path, str(schema.error_log)[:500])
            counts["submissions"] += 1
        else:
            counts["pulls"] += 1
    return counts
