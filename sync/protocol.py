"""Protocol v1 between Comptoir and a single window: the wire models.

These pydantic models are the contract: the sandbox serves them (FastAPI generates
``/openapi.json`` from them, committed as ``sync/openapi.json``) and the client's
transport parses every response through them, so a response that does not fit is
refused instead of corrupting local state.  Everything lives under ``/v1``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from client.common.b64 import b64u_decode, b64u_decode_lenient, b64u_encode
from client.common.i18n import ComptoirError

PROTOCOL_VERSION = "1"
API_PREFIX = "/v1"
MAX_BATCH = 500  # envelopes per POST /v1/envelopes
MAX_BODY_BYTES = 16 << 20  # decompressed request body bound
MAX_FEED_LIMIT = 1000
MAX_CHAINS = 8  # certificate chains per batch (one device: its current key, maybe one more)
MAX_CHAIN_TEXT = 32 << 10  # one chain's x5c array text
MAX_CHAIN_CERTS = 10
X5C_MEMBER = '"x5c":'  # how the sealed header spells its chain (client/seal/jws.py)
PREV_MEMBER = '"prev":'  # ... and the hash of the envelope before it in the device chain
PREV_BEFORE = '"-"'  # in protected_json: the hash of the batch's item before this one
PROBLEM_CONTENT_TYPE = "application/problem+json"

Role = Literal["trader", "officer"]
# "withdrawn": a chain link only, never lodged (a transit ended on paper, #14)
SubmissionStatus = Literal["accepted", "duplicate", "rejected", "held", "withdrawn"]
# Modelled on the DMS response types (DMSRCV, DMSACC, DMSREJ, DMSCTL, DMSDOC, DMSTAX,
# DMSCLE, DMSINV; DMSRES "amended" and DMSREQ granted / denied answer a request, #14).
NotificationStatus = Literal[
    "received", "accepted", "rejected", "under_control", "documents_requested",
    "tax_assessed", "released", "invalidated", "decision_conflict",
    "amended", "cancellation_granted", "cancellation_denied", "release_refused",
]

_Id = Field(max_length=128)
_B64 = Field(max_length=4 << 20, pattern=r"^[A-Za-z0-9_-]*$")


class _Wire(BaseModel):
    """Lenient on unknown fields in responses (a newer server may add some)."""

    model_config = ConfigDict(extra="ignore")


class _Request(BaseModel):
    """Requests are strict: unknown fields are a client bug worth hearing about."""

    model_config = ConfigDict(extra="forbid")


class Problem(_Wire):
    """RFC 9457 problem details, plus a stable machine-readable ``code``."""

    type: str = "about:blank"
    title: str
    status: int = Field(ge=100, le=599)
    detail: str | None = None
    instance: str | None = None
    code: str


class HealthResponse(_Wire):
    status: Literal["ok"]
    version: str
    time: str = Field(description="Server time, ISO 8601 UTC")
    training: bool = Field(default=False, description="A training single window (fake MRNs)")
    request_encodings: list[str] = Field(
        default_factory=lambda: ["gzip"], max_length=16,
        description="Content-Encodings accepted on request bodies, preferred first")
    zstd_dictionaries: list[int] = Field(
        default_factory=list, max_length=16,
        description="Ids of the zstd dictionaries a `zstd` body may use (the frame names "
                    "its dictionary)")
    thin_headers: bool = Field(
        default=False, description="Batches may carry `protected_json` and `chains` (the "
                                   "certificate chain once per batch)")
    thin_results: bool = Field(
        default=False, description="A batch sent with `Comptoir-Results: thin` is answered "
                                   "without what the sender already knows of each envelope")


class EnrolRequest(_Request):
    trader_id: str | None = Field(
        default=None, min_length=1, max_length=35,
        description="DE 3/18: declarant EORI the device expects; the code alone names it")
    code: str = Field(min_length=1, max_length=64, description="One-time enrolment code")
    csr_pem: str = Field(min_length=1, max_length=16384, description="PKCS#10 CSR, PEM")
    device_id: str = Field(min_length=1, max_length=64)
    role: Role = "trader"
    chain_seq: int = Field(default=0, ge=0, description="Journal position the device has "
                           "reached before enrolment (signed under its self-signed key)")
    chain_head: str = Field(default="0" * 64, pattern="^[0-9a-f]{64}$",
                            description="Hash of the envelope at chain_seq (genesis: zeros)")


class EnrolResponse(_Wire):
    trader_id: str
    device_id: str
    role: Role
    certificate_chain_pem: list[str] = Field(description="Leaf first, then the CA")
    ca_pem: str
    receipt_certificate_pem: str = Field(description="Certificate whose key signs receipts")
    token: str = Field(description="API bearer token (keep it secret)")
    token_expires_at: str | None = Field(
        default=None, description="When the token expires (refresh it with POST /v1/token)")
    training: bool = Field(default=False, description="A training single window (fake MRNs)")


class TokenResponse(_Wire):
    """A fresh API token bound to the same device and certificate; the old one is gone."""

    token: str = Field(description="API bearer token (keep it secret)")
    expires_at: str = Field(description="When this token expires")


class WireFormError(ValueError):
    """A batch's thin form cannot be turned back into the envelopes as signed.

    ``code`` is a problem code (``sandbox.chain_invalid``, ``sandbox.chain_ref_invalid``);
    ``pointer`` names the batch member at fault.
    """

    def __init__(self, code: str, pointer: str) -> None:
        super().__init__(f"{code} at {pointer}")
        self.code, self.pointer = code, pointer


class JwsEnvelope(_Request):
    """A sealed envelope: JWS JSON flattened serialization (base64url members).

    On the wire the payload may instead travel as ``payload_json``, its canonical JSON
    text: base64 hides the repetition between declarations from the batch's compressor.
    The protected header likewise may travel as ``protected_json``, its exact JSON text,
    in which the x5c array may be replaced by its index in the batch's ``chains`` (the
    certificate chain then crosses the link once per batch, not once per envelope) and
    ``prev`` by ``"-"`` when it is the hash of the batch's item just before (a chain
    link the receiver computes anyway: 32 bytes of entropy less per envelope).  The
    receiver restores both byte for byte and re-encodes them to the base64url members
    that were signed: the JWS, and so its hash, is exactly the sealed one.  Exactly one
    of each pair is present.
    """

    protected: str | None = Field(default=None, max_length=4 << 20,
                                  pattern=r"^[A-Za-z0-9_-]*$")
    protected_json: str | None = Field(
        default=None, max_length=64 << 10,
        description="The protected header's JSON text, in place of its base64url form; "
                    "its x5c array may be an index into the batch's `chains`")
    payload: str | None = Field(default=None, max_length=4 << 20,
                                pattern=r"^[A-Za-z0-9_-]*$")
    payload_json: str | None = Field(default=None, max_length=3 << 20,
                                     description="The payload's canonical JSON text, in "
                                     "place of its base64url form")
    signature: str = Field(max_length=1024, pattern=r"^[A-Za-z0-9_-]*$")

    @model_validator(mode="after")
    def _one_each(self) -> JwsEnvelope:
        if (self.payload is None) == (self.payload_json is None):
            raise ValueError("exactly one of payload and payload_json")
        if (self.protected is None) == (self.protected_json is None):
            raise ValueError("exactly one of protected and protected_json")
        return self

    def protected_b64(self, chains: list[str] | None = None, prev: str | None = None,
                      pointer: str = "") -> str:
        """The protected member as signed, its chain restored from ``chains`` and its
        ``prev`` from ``prev`` (the hash of the batch's item before it)."""
        if self.protected is not None:
            return self.protected
        assert self.protected_json is not None
        text = restore_header(self.protected_json, chains or [], prev, pointer)
        return b64u_encode(text.encode("utf-8"))

    def to_envelope(self, chains: list[str] | None = None,
                    prev: str | None = None) -> dict[str, str]:
        """The sealed envelope as signed: three base64url members."""
        payload = self.payload
        if payload is None:
            assert self.payload_json is not None
            payload = b64u_encode(self.payload_json.encode("utf-8"))
        return {"protected": self.protected_b64(chains, prev), "payload": payload,
                "signature": self.signature}


def restore_header(header_text: str, chains: list[str], prev: str | None,
                   pointer: str = "") -> str:
    """The header text as signed: its chain reference (``"x5c":N``) replaced by
    ``chains[N]`` and a ``"prev":"-"`` by the previous item's hash.

    Textual, not a re-serialisation: parsing and dumping again could change a byte and
    the signature would not verify.  A header with neither reference comes back as is.
    """
    text = restore_chain(header_text, chains, pointer)
    at = text.find(PREV_MEMBER + PREV_BEFORE)
    if at < 0:
        return text
    if text.count(PREV_MEMBER) != 1 or not prev:
        raise WireFormError("sandbox.chain_ref_invalid", pointer)
    start = at + len(PREV_MEMBER)
    return text[:start] + '"' + prev + '"' + text[start + len(PREV_BEFORE):]


def restore_chain(header_text: str, chains: list[str], pointer: str = "") -> str:
    """The header text with its chain reference (``"x5c":N``) replaced by ``chains[N]``."""
    at = header_text.find(X5C_MEMBER)
    if at < 0:
        return header_text
    if header_text.find(X5C_MEMBER, at + 1) >= 0:
        raise WireFormError("sandbox.chain_ref_invalid", pointer)  # ambiguous
    start = at + len(X5C_MEMBER)
    end = start
    while end < len(header_text) and header_text[end].isascii() and header_text[end].isdigit():
        end += 1
    if end == start:
        return header_text  # the array itself, inline
    if end - start > 3 or end >= len(header_text) or header_text[end] not in ",}":
        raise WireFormError("sandbox.chain_ref_invalid", pointer)
    index = int(header_text[start:end])
    if index >= len(chains):
        raise WireFormError("sandbox.chain_ref_invalid", pointer)
    return header_text[:start] + chains[index] + header_text[end:]


def check_chains(chains: list[str]) -> None:
    """Each batch-level chain must be a JSON array of (base64) strings."""
    for i, text in enumerate(chains):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if not (isinstance(value, list) and 0 < len(value) <= MAX_CHAIN_CERTS
                and all(isinstance(c, str) for c in value)):
            raise WireFormError("sandbox.chain_invalid", f"/chains/{i}")


def wire_envelope(envelope: dict[str, str]) -> dict[str, str]:
    """The transfer form of a sealed envelope (``payload_json``), for a batch."""
    raw = envelope["payload"]
    text = b64u_decode_lenient(raw).decode("utf-8")
    return {"protected": envelope["protected"], "payload_json": text,
            "signature": envelope["signature"]}


def thin_batch(items: list[dict[str, Any]],
               hashes: Sequence[str | None] | None = None) -> dict[str, Any]:
    """A batch body with each certificate chain sent once (``protected_json`` + ``chains``)
    and each ``prev`` that names the item before it elided.  ``hashes``: each item's chain
    link where the sender already holds it (the outbox does), so nothing is hashed again.

    An item whose header would not come back byte for byte (not canonical base64url, not
    UTF-8, no single x5c member) keeps its ``protected``: the thin form only ever saves
    bytes, it never changes what was signed.
    """
    chains: list[str] = []
    out: list[dict[str, Any]] = []
    prev: str | None = None
    for i, item in enumerate(items):
        thin = _thin_item(item, chains, prev)
        out.append(thin if thin is not None else item)
        prev = hashes[i] if hashes is not None else _item_hash(item)
    body: dict[str, Any] = {"envelopes": out}
    if chains:
        body["chains"] = chains
    return body


def _item_hash(item: dict[str, Any]) -> str | None:
    """The chain link of a batch item, as the receiver will compute it."""
    from client.seal.envelope import envelope_hash

    if "withdrawn" in item:
        return str(item.get("envelope_hash") or "") or None
    payload = item.get("payload")
    if payload is None and isinstance(item.get("payload_json"), str):
        payload = b64u_encode(item["payload_json"].encode("utf-8"))
    try:
        return envelope_hash({"protected": item.get("protected"), "payload": payload,
                              "signature": item.get("signature")})
    except (ValueError, TypeError, KeyError, ComptoirError):
        return None


def _thin_item(item: dict[str, Any], chains: list[str],
               prev: str | None) -> dict[str, Any] | None:
    protected = item.get("protected")
    if not isinstance(protected, str):
        return None
    try:
        raw = b64u_decode(protected)
        text = raw.decode("utf-8")
        header = json.loads(text)
    except ValueError:
        return None
    if not isinstance(header, dict) or b64u_encode(raw) != protected:
        return None
    thin_text = text
    x5c = header.get("x5c")
    if isinstance(x5c, list):
        array = json.dumps(x5c, separators=(",", ":"), ensure_ascii=False)
        member = X5C_MEMBER + array
        if text.count(X5C_MEMBER) != 1 or member not in text or len(array) > MAX_CHAIN_TEXT:
            return None
        if array not in chains:
            if len(chains) >= MAX_CHAINS:
                return None
            chains.append(array)
        thin_text = text.replace(member, X5C_MEMBER + str(chains.index(array)))
    named = PREV_MEMBER + f'"{prev}"'
    if prev and thin_text.count(PREV_MEMBER) == 1 and named in thin_text:
        thin_text = thin_text.replace(named, PREV_MEMBER + PREV_BEFORE)
    try:
        if restore_header(thin_text, chains, prev) != text:
            return None
    except WireFormError:
        return None
    thin = {k: v for k, v in item.items() if k != "protected"}
    thin["protected_json"] = thin_text
    return thin


class WithdrawnLink(_Request):
    """A chain position whose envelope the declarant withdrew before it was lodged (a
    transit ended on paper, UCC-IA Annex 72-04): only what the device chain needs, never
    the envelope itself, so that nothing of the declaration reaches the single window.
    The next envelope's signed ``prev`` names ``envelope_hash``: that signature vouches
    for the link; until it comes, the device's authenticated session does."""

    withdrawn: Literal["paper_procedure"] = Field(description="Why it is withdrawn")
    device_id: str = Field(min_length=1, max_length=64,
                           description="The device whose chain holds it (the session's)")
    seq: int = Field(ge=1, le=2**62, description="Its position in the device chain")
    prev: str = Field(min_length=64, max_length=64, pattern=r"^[0-9a-f]{64}$",
                      description="The hash of the envelope before it in the chain")
    envelope_hash: str = Field(min_length=64, max_length=64, pattern=r"^[0-9a-f]{64}$",
                               description="SHA-256 of the withdrawn envelope (its chain "
                                           "link), which the next envelope's prev names")


class SubmitRequest(_Request):
    envelopes: list[JwsEnvelope | WithdrawnLink] = Field(min_length=1, max_length=MAX_BATCH)
    chains: list[Annotated[str, Field(max_length=MAX_CHAIN_TEXT)]] = Field(
        default_factory=list, max_length=MAX_CHAINS,
        description="Certificate chains (each the exact text of an x5c array) that the "
                    "envelopes' `protected_json` refer to by index")


class ErrorItem(_Wire):
    code: str
    pointer: str = Field(default="", description="JSON pointer or model path of the field")
    detail: str = ""


LOG_SIZE_HEADER = "Comptoir-Log-Size"  # request: the tree size the client last verified
RESULTS_HEADER = "Comptoir-Results"  # request: "thin" asks for thin results (below)

# What a sender knows of each envelope it sent, and so need not read back: a thin answer
# leaves these out of every result and of every receipt's claims (the log's leaf).  The
# sender puts its own values back before anything is checked; the leaf is still proven
# by the signed tree head, so a value the single window logged differently is caught
# there, as an echoed one would be by comparison.
SENDER_KNOWS_RESULT = ("declaration_id", "version", "envelope_hash")
SENDER_KNOWS_LEAF = ("declaration_id", "device_id", "envelope_hash", "seq", "version")


def thin_results(doc: dict[str, Any]) -> dict[str, Any]:
    """A BatchResponse document without what the sender knows (see SENDER_KNOWS_*)."""
    results = []
    for r in doc.get("results", []):
        r = {k: v for k, v in r.items() if k not in SENDER_KNOWS_RESULT}
        if isinstance(r.get("leaf"), dict):
            r["leaf"] = {k: v for k, v in r["leaf"].items() if k not in SENDER_KNOWS_LEAF}
        results.append(r)
    return {**doc, "results": results}


def fill_results(doc: Any, known: Sequence[dict[str, Any]]) -> None:
    """Put back into a thin BatchResponse document, in place, what the sender knows of
    each envelope (``known[i]`` for the envelope at index i): only where a member is
    absent, so whatever the server did say is still compared."""
    results = doc.get("results") if isinstance(doc, dict) else None
    if not isinstance(results, list) or len(results) != len(known):
        return  # validation and the count check say what is wrong
    for i, (r, mine) in enumerate(zip(results, known, strict=True)):
        if not isinstance(r, dict) or r.get("index") != i:
            continue
        for k in SENDER_KNOWS_RESULT:
            r.setdefault(k, mine[k])
        leaf = r.get("leaf")
        if isinstance(leaf, dict):
            for k in SENDER_KNOWS_LEAF:
                leaf.setdefault(k, mine[k])


_Hash = Field(max_length=64, pattern=r"^[A-Za-z0-9_-]{43}$")


class EnvelopeResult(_Wire):
    index: int = Field(ge=0)
    declaration_id: str | None
    version: int | None
    envelope_hash: str
    status: SubmissionStatus
    mrn: str | None = None
    receipt: str | None = Field(
        default=None, max_length=64 << 10,
        description="A receipt signed on its own (compact JWS): only for envelopes lodged "
                    "before the receipts log existed; others are proven by `log`")
    errors: list[ErrorItem] = Field(default_factory=list)
    log_index: int | None = Field(default=None, ge=0,
                                  description="Position of its receipt in the receipts log")
    leaf: dict[str, Any] | None = Field(
        default=None, description="The receipt's claims: the log entry, whose RFC 8785 "
                                  "canonical JSON is the RFC 9162 leaf")
    path: list[Annotated[str, _Hash]] | None = Field(
        default=None, max_length=64,
        description="Inclusion path to `log.tree_head` for an entry appended by an "
                    "earlier batch (a duplicate); entries of this batch are proven by "
                    "`log.range`")


class LogProof(_Wire):
    """One signed tree head for the whole batch and the proofs that tie its results to
    it (RFC 9162 Merkle tree, SHA-256, hashes base64url)."""

    tree_head: str = Field(max_length=8192, description="Signed tree head, compact JWS")
    size: int = Field(ge=0)
    first: int = Field(ge=0, description="First log index appended by this batch")
    count: int = Field(ge=0, description="Entries appended by this batch")
    range: list[Annotated[str, _Hash]] = Field(
        default_factory=list, max_length=128,
        description="Subtree hashes outside [first, first+count) that, with the batch's "
                    "leaves, give the tree head's root")
    consistency_from: int | None = Field(
        default=None, ge=1, description="The size given in Comptoir-Log-Size, when "
                                        "`consistency` proves the head extends it")
    consistency: list[Annotated[str, _Hash]] = Field(default_factory=list, max_length=128)


class BatchResponse(_Wire):
    results: list[EnvelopeResult]
    log: LogProof | None = None


class TreeHeadResponse(_Wire):
    tree_head: str | None = Field(description="The latest signed tree head (none yet: null)")


class ConsistencyResponse(_Wire):
    first: int = Field(ge=1)
    second: int = Field(ge=1)
    tree_head: str = Field(max_length=8192, description="Signed tree head of size `second`")
    proof: list[Annotated[str, _Hash]] = Field(max_length=128)


class ReceiptClaims(_Wire):
    """What a receipt proves: this envelope was lodged at this time, with this MRN."""

    declaration_id: str
    version: int
    envelope_hash: str
    received_at: str
    mrn: str | None
    device_id: str
    seq: int
    trader_id: str


class Notification(_Wire):
    # Strict numbers: a feed that sends "0" for a version breaks the protocol and is
    # refused whole, rather than coerced into something that was never said.
    cursor: int = Field(ge=1, strict=True)
    declaration_id: str
    version: int = Field(ge=1, strict=True)
    mrn: str | None = None
    status: NotificationStatus
    at: str
    errors: list[ErrorItem] = Field(default_factory=list)
    detail: str | None = None
    decision: str | None = Field(
        default=None, max_length=1 << 20,
        description="An officer's signed control decision (compact JWS envelope) behind "
                    "this status, for the trader to keep and verify")


class NotificationPage(_Wire):
    notifications: list[Notification]
    next: int = Field(ge=0, description="Cursor to pass as `after` next time")
    refdata: int | None = Field(
        default=None, ge=0, le=2**62,
        description="The reference-data version the single window serves now: a client "
                    "that holds it has no need to ask `/refdata` (one round trip fewer "
                    "per sync on a thin link)")


class RefList(_Wire):
    list: str
    version: int = Field(ge=1)
    entries: dict[str, dict[str, str]] = Field(description="code -> {language: text}")


class RefdataResponse(_Wire):
    version: int = Field(ge=0)
    lists: list[RefList]


class RevokedCertificate(_Wire):
    serial: str = Field(max_length=64, description="Certificate serial number, hex")
    revoked_at: str = Field(description="When the single window revoked it, ISO 8601 UTC")
    trader_id: str | None = None
    device_id: str | None = None


class TrustDevice(_Wire):
    """An enrolled device and the last position of its journal known to the single window."""

    trader_id: str = Field(description="DE 3/18 (or the officer's id)")
    device_id: str
    role: Role
    serials: list[str] = Field(default_factory=list, description="Its certificates, hex serials")
    last_seq: int = Field(ge=0)
    last_hash: str
    recent_hashes: dict[str, int] = Field(
        default_factory=dict,
        description="Envelope hash -> seq of its most recent lodged envelopes")


class TrustResponse(_Wire):
    """The trust material an officer keeps for verifying seals offline."""

    generated_at: str = Field(description="Server time of this snapshot, ISO 8601 UTC")
    ca_pems: list[str] = Field(min_length=1, description="CA certificates, PEM")
    revoked: list[RevokedCertificate] = Field(default_factory=list)
    devices: list[TrustDevice] = Field(default_factory=list)
    tree_head: str | None = Field(default=None, max_length=8192,
                                  description="The receipts log's latest signed tree head")
