"""Validation of a plain dict (what the single window receives) gives exactly the
findings of validation through the pydantic model: on every sample and training
declaration, the published DMS samples, every rule's failing and passing case, the
malformed inputs, and mutated declarations (wrong types, coercible spellings, padded
texts, bounds).  The plain reading must also really be taken for well-formed input, or
this test would compare the model with itself."""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client.common.i18n import ComptoirError
from client.declaration import validation
from client.declaration.plain import plain_declaration
from client.declaration.samples import sample_declaration
from client.services.training import KINDS, _example
from tests.core.test_validation import (
    _IM_LEAVES,
    CASES,
    EX,
    IM,
    MALFORMED,
    _with,
    json_values,
)


@contextmanager
def _model_only() -> Iterator[None]:
    with mock.patch.object(validation, "plain_declaration", lambda _doc: None):
        yield


def _same(doc: Any) -> list[validation.Finding]:
    """Both paths, all findings and errors only: identical, finding by finding."""
    fast = validation.validate(doc)
    fast_errors = validation.validate(doc, errors_only=True)
    with _model_only():
        slow = validation.validate(doc)
        slow_errors = validation.validate(doc, errors_only=True)
    assert [f.to_json("en") for f in fast] == [f.to_json("en") for f in slow]
    assert fast == slow and fast_errors == slow_errors
    return fast


def _samples() -> list[dict[str, Any]]:
    rng = random.Random(16)
    docs = [sample_declaration(rng, n_items=rng.randint(1, 8)).to_json_dict()
            for _ in range(200)]
    docs += [_example(rng, kind, n, "GB123456789000").to_json_dict()
             for n, (kind, _final) in enumerate(KINDS, 1)]
    return docs


def test_samples_and_training_declarations_are_read_plainly_with_the_same_findings() -> None:
    docs = _samples()
    for doc in docs:
        assert plain_declaration(doc) is not None, doc.get("lrn")
        _same(doc)
    assert len({d["type"] for d in docs}) == 3
    assert any(d.get("lrn", "").endswith("-REJECTED") for d in docs)


@pytest.mark.parametrize("code", sorted(CASES))
def test_every_rule_case_gives_the_same_findings(code: str) -> None:
    failing, passing = CASES[code]
    for make, path in failing:
        doc = make()
        findings = _same(doc)
        if isinstance(doc, dict) and plain_declaration(doc) is not None:
            assert [f for f in findings if f.code == code and f.path == path]
    for make in passing:
        _same(make())


@pytest.mark.parametrize("junk", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_input_gives_the_same_findings(junk: Any) -> None:
    if isinstance(junk, dict):
        assert plain_declaration(junk) is None
    _same(junk)


def _mutations() -> list[tuple[list[Any], Any]]:
    """Spellings the model would coerce or refuse, at fields of every kind."""
    item = ["goods_items", 0]
    return [
        (["lrn"], " 26ABC"), (["lrn"], "26ABC\u2003"), (["lrn"], "\x1c26ABC"), (["lrn"], 26),
        (["lrn"], "x" * 36), (["lrn"], None), (["lrn"], ""), (["type"], " IM"),
        (["type"], "im"), (["function"], "amendment"), (["version"], "2"), (["version"], 2.0),
        (["version"], True), (["version"], 0), (["version"], 2), (["id"], 7),
        (["total_items"], 10**6), (["total_items"], "3"), (["total_packages"], -1),
        (["invoice_total"], 5), (["invoice_total"], 5.5), (["invoice_total"], "1e3"),
        (["invoice_total"], " 12.5"), (["invoice_total"], "00012.50"),
        (["invoice_total"], "-0"), (["invoice_total"], "-1"), (["invoice_total"], "NaN"),
        (["exchange_rate"], "1.2000000"), (["exchange_rate"], "0.10000000"),
        (["exchange_rate"], "0"), (["exchange_rate"], "0.0000001"),
        (["exchange_rate"], "1234567890123.12345"), (["exchange_rate"], "123456789012.123456"),
        (["exchange_rate"], "0.000"), (["exchange_rate"], "-0.5"), (["exchange_rate"], "12."),
        (["exchange_rate"], ".5"), (["exchange_rate"], "+5"), (["exchange_rate"], "1_000"),
        (["exchange_rate"], "\u0661\u0662"), (["exchange_rate"], "2\u00b2"),
        (["invoice_total"], "0000000000000000000001.5"), (["invoice_total"], "-0.00"),
        (item + ["net_mass"], "999999.500"), (item + ["gross_mass"], "10.10"),
        (item + ["net_mass"], "10.100"), (item + ["sequence"], "1"),
        (item + ["packages", 0, "number"], 1.0), (item + ["packages", 0, "number"], False),
        (item + ["packages"], {"kind": "CT"}), (item + ["packages"], [None]),
        (item + ["additional_codes"], ["AB12", " AB1"]), (item + ["additional_codes"], "AB12"),
        (item + ["colour"], "red"), (["declarant"], "GB1"), (["declarant", "id"], ["GB1"]),
        (["declarant", "address", "country"], "gb"), (["transport"], {"container": 1}),
        (["transport"], {"container": "true"}), (["transport"], {"container": True}),
        (["transport", "seals"], [{"id": "S1", "equipment": 1}]),
        (["dms"], {"attrs": {"lrn": {"listID": "x"}}, "absent": ["TypeCode"]}),
        (["dms"], {"attrs": {"lrn": {"listID": 5}}}), (["dms"], {"order": {"a": "b"}}),
        (["dms"], {"carried": [{"xml": "<a/>", "index": 1}]}), (["dms"], {"carried": [{}]}),
        (["additional_documents"], [{"type": "N935", "reference": "X", "line": "1"}]),
        (["total_gross_mass"], "1.000"), (["goods_items"], []), (["goods_items"], [{}] * 3),
    ]


@pytest.mark.parametrize(("path", "value"), _mutations(), ids=lambda v: repr(v)[:30])
def test_coercible_and_refused_spellings_give_the_same_findings(path: list[Any],
                                                                value: Any) -> None:
    for base in (IM, EX):
        doc = _with(path, value, base) if path[0] in base or len(path) == 1 \
            else _with(path, value, copy.deepcopy(IM))
        _same(doc)


def test_amounts_are_read_as_the_model_reads_them() -> None:
    doc = _with(["goods_items", 0, "net_mass"], "00099.500")
    plain = plain_declaration(doc)
    assert plain is not None
    assert str(plain.goods_items[0].net_mass) == "99.500"
    assert isinstance(plain.goods_items[0].net_mass, Decimal)
    assert plain.goods_items[0].documents == ()  # left out: the model's default, read-only
    findings = _same(_with(["goods_items", 0, "gross_mass"], "1.50",
                           _with(["goods_items", 0, "net_mass"], "2.500")))
    assert {"net": "2.500", "gross": "1.50"} in [f.message.params for f in findings
                                                   if f.code == "V-MASS-NET-GT-GROSS"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_IM_LEAVES), json_values)
def test_mutated_declarations_give_the_same_findings(path: tuple[Any, ...], value: Any) -> None:
    _same(_with(list(path), value))


_TEXTS = st.text(alphabet=st.sampled_from(" \t\u00a0\u2003\x1cAZaz09.-é"), max_size=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_IM_LEAVES), _TEXTS | st.decimals(allow_nan=True).map(str))
def test_texts_and_numbers_at_any_field_give_the_same_findings(path: tuple[Any, ...],
                                                               value: str) -> None:
    _same(_with(list(path), value))


def test_published_dms_samples_give_the_same_findings(conformance: Path) -> None:
    from client.interchange.dms import import_dms_file

    read = 0
    for path in sorted((conformance / "hmrc-dms" / "samples").glob("*.xml")):
        try:
            decl = import_dms_file(path).declaration
        except ComptoirError:
            continue
        if decl is None:
            continue
        doc = decl.to_json_dict()
        _same(doc)
        read += plain_declaration(doc) is not None
    assert read >= 30  # imported declarations (with their ``dms`` extras) are read plainly


def test_the_mutations_exercise_both_readings() -> None:
    """Some of the spellings above are read plainly, the others go to the model."""
    plain = [plain_declaration(_with(p, v, IM)) is not None for p, v in _mutations()]
    assert sum(plain) >= 15 and plain.count(False) >= 30


def test_the_seal_reads_its_snapshot_once_and_validates_that_reading() -> None:
    """The seal parses its stored document once (read_declaration) and validates what it
    read: a plain reading gives the model's findings, a document the plain reader leaves
    to the model comes back as the model, and a plain reading of something other than a
    declaration is still refused as not a declaration."""
    from client.declaration.model import Declaration, GoodsItem
    from client.declaration.plain import _model_reader, read_declaration

    for doc in _samples()[:40] + [_with(["lrn"], " PADDED ", IM)]:
        read = read_declaration(doc)
        assert isinstance(read, Declaration) == (plain_declaration(doc) is None)
        assert validation.validate(read) == validation.validate(Declaration.model_validate(doc))
    item = _model_reader(GoodsItem)(IM["goods_items"][0])
    assert [f.code for f in validation.validate(item)] == ["V-STRUCTURE"]
