"""Training content: a training profile opens on declarations in every state, not on nothing.

A newcomer learns more from a list that already shows a draft, declarations ready to seal,
one sealed and waiting with its fallback document printed, and lodged ones that were
registered, put under control, released and rejected (with the single window's reasons)
than from an empty table.  :func:`seed_training` writes them once, through the store's own
calls: the sealed one is sealed for real (journal, envelope, outbox); the lodged ones are
recorded as the single window's feed would have moved them (received, accepted with an
MRN, under control, released, rejected with its error codes), each marked in its history
as a training example.  It refuses any profile that is not a training profile, so a
trader's own declarations can never be mixed with examples.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from client.common.i18n import ComptoirError
from client.declaration import states
from client.declaration.model import Declaration, Document
from client.declaration.mrn import allocate_mrn, procedure_letter
from client.declaration.samples import sample_declaration
from client.seal.profile import load_profile, profile_exists
from client.services.continuity import fallback_file_name
from client.services.exports import render_fallback_pdf, write_file
from client.store import Changes, Store
from client.store import history_notes as notes
from client.store import settings_keys as keys

TRAINING_SEED = 1726  # the same examples in every training profile
FEED_ACTOR = "single-window (training)"
FALLBACK_FOLDER = "training-fallback"
# Far above the sandbox's own MRN serials (it counts up from 0), so none is ever shared.
_MRN_SERIAL_BASE = 35 * 36**11
# The rejection the example carries: a document the procedure does not allow (DE 2/3
# with DE 1/10), the kind of error only the single window's rules find.
REJECTION_CODE = "CDS12119"
REJECTION_POINTER = "/goods_items/0/documents/0"

#: the examples in the order written: (kind, the status it ends in)
KINDS: tuple[tuple[str, str], ...] = (
    ("draft", states.DRAFT),
    ("ready", states.READY), ("ready", states.READY), ("ready", states.READY),
    ("ready", states.READY), ("ready", states.READY),
    ("fallback_printed", states.SEALED),
    ("registered", states.REGISTERED),
    ("under_control", states.UNDER_CONTROL),
    ("released", states.RELEASED),
    ("rejected", states.REJECTED),
)
_FEED: dict[str, tuple[str, ...]] = {
    "registered": ("received", "accepted"),
    "under_control": ("received", "accepted", "under_control"),
    "released": ("received", "accepted", "released"),
    "rejected": ("received", "rejected"),
}


@dataclass(frozen=True)
class TrainingSeed:
    """What :func:`seed_training` wrote (nothing when the profile was seeded before)."""

    by_kind: dict[str, list[str]] = field(default_factory=dict)
    fallback_paths: list[Path] = field(default_factory=list)
    already: bool = False

    @property
    def ids(self) -> list[str]:
        return [i for ids in self.by_kind.values() for i in ids]

    @property
    def changes(self) -> Changes:
        return Changes(declarations=tuple(self.ids), outbox=bool(self.ids),
                       statuses=bool(self.ids))


def require_training_home(home: Path) -> None:
    """Refuse (exit code 2) unless ``home`` holds a training profile."""
    if not profile_exists(home) or not load_profile(home).training:
        raise ComptoirError("training.not_training_profile", 2, home=str(home))


def example_lrn(n: int, kind: str) -> str:
    """The LRN (DE 2/5) of the ``n``-th example: says it is one, and which."""
    return f"TRAIN-{n:02d}-{kind.upper().replace('_', '-')}"[:22]


REJECTED_LRN = example_lrn(next(i for i, (k, _s) in enumerate(KINDS, 1) if k == "rejected"),
                           "rejected")


def _example(rng: random.Random, kind: str, n: int, declarant_id: str) -> Declaration:
    decl = sample_declaration(rng, n_items=rng.randint(1, 3), declarant_id=declarant_id)
    decl.lrn = example_lrn(n, kind)
    if kind == "rejected":
        decl.goods_items[0].documents.insert(0, Document(type="C505", reference="GBCGU000001",
                                                         status="AE"))
    return decl


def _feed(decl: Declaration, statuses: tuple[str, ...], serial: int,
          cursor: int) -> list[dict[str, Any]]:
    """The single window's notifications that would have moved ``decl`` there."""
    mrn = allocate_mrn("GB", datetime.now(UTC).year, _MRN_SERIAL_BASE + serial,
                       procedure_letter(decl.model_dump(mode="json")))
    out: list[dict[str, Any]] = []
    for status in statuses:
        n: dict[str, Any] = {"declaration_id": decl.id, "version": decl.version,
                             "status": status, "cursor": cursor}
        if status != "received" and status != "rejected":
            n["mrn"] = mrn
        if status == "rejected":
            n["errors"] = [{"code": REJECTION_CODE, "pointer": REJECTION_POINTER,
                            "detail": "document C505 is not allowed with procedure "
                                      f"{decl.goods_items[0].procedure_code}"}]
        out.append(n)
    return out


def seed_training(home: Path, store: Store, sealer: Any, actor: str, *,
                  lang: str | None = None) -> TrainingSeed:
    """Write the training examples into the training profile at ``home``.

    Idempotent by LRN (DE 2/5): an example already there is passed over, so a second call
    writes nothing and a call cut short by a crash is completed by the next.  ``sealer``
    seals the example that waits in the outbox; its fallback document is written under
    ``home/training-fallback`` and recorded."""
    require_training_home(home)
    rng = random.Random(TRAINING_SEED)
    declarant = load_profile(home).declarant_id or "GB123456789000"
    cursor = int(store.get_setting(keys.FEED_CURSOR) or 0)
    by_kind: dict[str, list[str]] = {}
    paths: list[Path] = []
    for n, (kind, _final) in enumerate(KINDS, 1):
        decl = _example(rng, kind, n, declarant)
        if store.lrn_taken(decl.declarant.id if decl.declarant else None, decl.lrn or ""):
            continue
        lodged = kind in _FEED
        store.create(decl, actor, status=states.SEALED if lodged else states.DRAFT,
                     note=notes.TRAINING_EXAMPLE())
        if kind in ("ready", "fallback_printed"):
            store.transition(decl.id, states.READY, actor, note=notes.CHECKED())
        if kind == "fallback_printed":
            entry = sealer.seal(decl.id)
            folder = home / FALLBACK_FOLDER
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / fallback_file_name(decl)
            write_file(path, render_fallback_pdf(decl, entry, lang=lang))
            store.mark_fallback_printed(decl.id, actor)
            paths.append(path)
        if lodged:
            store.apply_notifications(_feed(decl, _FEED[kind], n, cursor), cursor,
                                      actor=FEED_ACTOR)
        by_kind.setdefault(kind, []).append(decl.id)
    return TrainingSeed(by_kind=by_kind, fallback_paths=paths, already=not by_kind)


@dataclass(frozen=True)
class TourFacts:
    """What the guided tour's checks look at: they compare these before and after a step."""

    sealed: int  # envelopes in the device journal
    queued: int  # envelopes waiting in the outbox
    fallback_printed: int  # declarations whose fallback document was printed
    rejection_fixed: bool  # the rejected example was corrected and sealed again


def tour_facts(store: Store) -> TourFacts:
    """The facts now (a training profile holds a few dozen declarations: read them all)."""
    queued, _oldest = store.outbox_stats()
    sealed = sum(1 for _e in store.journal())
    printed = sum(1 for i in store.list_ids() if store.get(i).fallback_printed_at)
    fixed = False
    try:
        st = store.get(store.resolve_id(REJECTED_LRN))
    except ComptoirError:
        st = None
    if st is not None:
        fixed = st.declaration.version > 1 and st.status not in (
            states.REJECTED, states.DRAFT, states.READY)
    return TourFacts(sealed=sealed, queued=queued, fallback_printed=printed,
                     rejection_fixed=fixed)
