"""The thin wire form's two halves (sync/protocol.py) without a server: whatever header
a batch carries, what the receiver restores from ``thin_batch``'s output is the header
byte for byte, or the item stays in its full form — never a third thing."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from client.common.b64 import b64u_encode
from client.seal.envelope import envelope_hash
from sync.protocol import (
    MAX_CHAINS,
    JwsEnvelope,
    WithdrawnLink,
    restore_header,
    thin_batch,
)


def _header_text(header: dict[str, Any]) -> str:  # as client/seal/jws.py writes it
    return json.dumps(header, separators=(",", ":"), ensure_ascii=False)


def _item(header: dict[str, Any] | str, payload: str = '{"id":"x"}') -> dict[str, str]:
    text = header if isinstance(header, str) else _header_text(header)
    return {"protected": b64u_encode(text.encode("utf-8")), "payload_json": payload,
            "signature": "c2ln"}


def _restored(body: dict[str, Any]) -> list[dict[str, str]]:
    """What the sandbox's intake rebuilds, item by item (sync/sandbox/intake.py)."""
    out, prev = [], None
    for raw in body["envelopes"]:
        if "withdrawn" in raw:
            link = WithdrawnLink.model_validate(raw)
            out.append({"withdrawn": link.envelope_hash})
            prev = link.envelope_hash
            continue
        env = JwsEnvelope.model_validate(raw).to_envelope(body.get("chains", []), prev)
        prev = envelope_hash(env)
        out.append(env)
    return out


def _signed(items: list[dict[str, Any]]) -> list[dict[str, str]]:
    out = []
    for it in items:
        if "withdrawn" in it:
            out.append({"withdrawn": it["envelope_hash"]})
        else:
            out.append({"protected": it["protected"],
                        "payload": b64u_encode(it["payload_json"].encode("utf-8")),
                        "signature": it["signature"]})
    return out


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_value = st.one_of(_text, st.integers(-5, 10**6), st.just('"x5c":0'), st.just('"prev":"-"'))
_headers = st.dictionaries(st.sampled_from(["alg", "kid", "sigT", "x5c", "prev", "seq",
                                            'a"x5c', "x5c\"", "p", "did"]),
                           st.one_of(_value, st.lists(_text, max_size=3)), max_size=7)


@settings(max_examples=300, deadline=None)
@given(st.lists(_headers, min_size=1, max_size=6))
def test_whatever_the_headers_the_receiver_gets_the_signed_bytes(headers):
    items = [_item(h) for h in headers]
    body = thin_batch(items)
    assert _restored(body) == _signed(items)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=8))
def test_a_chain_of_the_real_shape_goes_once_and_prev_is_elided(chain_names):
    items: list[dict[str, Any]] = []
    prev = "0" * 64
    for seq, name in enumerate(chain_names, 1):
        header = {"alg": "ES256", "kid": name, "x5c": [name * 40, "CA" * 40], "seq": seq,
                  "prev": prev, "crit": ["seq", "prev"]}
        item = _item(header, f'{{"seq":{seq}}}')
        items.append(item)
        prev = envelope_hash(_signed([item])[0])
    body = thin_batch(items)
    assert len(body["chains"]) == len(set(chain_names))
    thin = body["envelopes"]
    assert all("protected_json" in i and '"x5c":[' not in i["protected_json"] for i in thin)
    assert all('"prev":"-"' in i["protected_json"] for i in thin[1:])
    assert _restored(body) == _signed(items)
    # The sender's own chain links (the outbox holds them) give the same body unhashed.
    assert thin_batch(items, [envelope_hash(e) for e in _signed(items)]) == body


def test_what_cannot_come_back_exactly_keeps_its_full_header():
    odd = b64u_encode(b'{"alg":"ES256"}')[:-1] + "x"  # not the canonical spelling
    latin = {"protected": b64u_encode(b"\xff\xfe"), "payload_json": "{}", "signature": "c2ln"}
    doubled = _item('{"x5c":["a"],"b":{"x5c":["a"]}}')
    items = [{"protected": odd, "payload_json": "{}", "signature": "c2ln"}, latin, doubled]
    body = thin_batch(items)
    assert body["envelopes"] == items and "chains" not in body


def test_past_the_chain_bound_an_item_keeps_its_chain_inline():
    items = [_item({"alg": "ES256", "x5c": [f"cert{i}"]}) for i in range(MAX_CHAINS + 2)]
    body = thin_batch(items)
    assert len(body["chains"]) == MAX_CHAINS
    assert all("protected_json" in i for i in body["envelopes"][:MAX_CHAINS])
    assert all("protected" in i for i in body["envelopes"][MAX_CHAINS:])
    assert _restored(body) == _signed(items)


def test_restore_refuses_what_it_cannot_resolve():
    import pytest

    from sync.protocol import WireFormError

    for text, chains, prev in [('{"x5c":3}', ["[\"a\"]"], None),
                               ('{"x5c":0,"x5c":0}', ["[\"a\"]"], None),
                               ('{"x5c":0x}', ["[\"a\"]"], None),
                               ('{"prev":"-"}', [], None),
                               ('{"prev":"-","a":{"prev":"b"}}', [], "ab" * 32)]:
        with pytest.raises(WireFormError) as exc:
            restore_header(text, chains, prev, "/envelopes/0/protected_json")
        assert exc.value.code == "sandbox.chain_ref_invalid"
        assert exc.value.pointer == "/envelopes/0/protected_json"
