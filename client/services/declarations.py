"""Declarations as the user makes them: new, new from previous, ready, new version, demo.

Each function writes through the store in the store's own transactions and returns what
it made (so that the caller can select, open or print it) with the store's
:class:`~client.store.Changes` (so that the desktop refreshes only what concerns it).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.common.i18n import ComptoirError, Message
from client.declaration import states
from client.declaration.model import Declaration, Party, new_declaration_id, new_lrn
from client.declaration.samples import sample_declaration
from client.declaration.validation import has_errors
from client.seal.sealing import validation_findings
from client.store import Changes, Store
from client.store import history_notes as notes

MAX_DEMO_COUNT = 1_000_000
DEMO_BATCH = 500
DEMO_DECLARANT = "GB123456789000"


class ReadyRefused(ComptoirError):
    """Validation found errors in a draft: it stays a draft (nothing was moved)."""

    exit_code = 1

    def __init__(self, findings: list[Any], decl_id: str, lrn: str | None) -> None:
        super().__init__("ready.refused", 1, id=decl_id, lrn=lrn or decl_id[:8],
                         count=sum(1 for f in findings if f.severity == "error"))
        self.findings = findings
        self.declaration_id = decl_id


@dataclass(frozen=True)
class Made:
    """A declaration made or started, and what changed in the store."""

    declaration: Declaration
    changes: Changes

    @property
    def id(self) -> str:
        return self.declaration.id


@dataclass(frozen=True)
class MarkedReady:
    """The declarations moved to ready (none when all were passed over)."""

    ids: list[str]
    changes: Changes


def find_declaration(store: Store, ref: str) -> str:
    """The id of the declaration a user names by id, unique id prefix, LRN (DE 2/5) or MRN."""
    return store.resolve_id(ref)


def create_declaration(store: Store, actor: str, *, type: str | None = None,
                       lrn: str | None = None, declarant_id: str | None = None) -> Made:
    """A new draft with a fresh LRN (DE 2/5) unless one is given, the profile's declarant
    (DE 3/18) filled in."""
    decl = Declaration(lrn=lrn or new_lrn(), **({"type": type} if type else {}))
    if declarant_id:
        decl.declarant = Party(id=declarant_id)
    return Made(decl, store.create(decl, actor))


def copy_declaration(store: Store, actor: str, source_id: str, *,
                     lrn: str | None = None) -> Made:
    """"New from previous": a draft with the source's data, a new id and LRN, version 1,
    no MRN, an original (not an amendment of anything)."""
    src = store.get(source_id).declaration
    copy = src.model_copy(update={"id": new_declaration_id(), "version": 1,
                                  "lrn": lrn or new_lrn(), "mrn": None,
                                  "function": "original", "amends": None}, deep=True)
    return Made(copy, store.create(copy, actor, note=notes.COPIED_FROM(source=src.id)))


def amend_declaration(store: Store, actor: str, decl_id: str, *,
                      cancel: bool = False, post_release: bool = False) -> Made:
    """Version n+1 of a sealed declaration as a draft: an amendment (UCC Art. 173), a
    post-release amendment with ``post_release`` (Art. 173(3)), an invalidation request
    with ``cancel`` (Art. 174); refused with the Code's reason where it forbids it."""
    function = (states.INVALIDATION if cancel
                else states.POST_RELEASE_AMENDMENT if post_release else None)
    decl = store.new_version(decl_id, actor, function=function)
    return Made(decl, Changes(declarations=(decl_id,), statuses=True))


def mark_ready(store: Store, actor: str, decl_ids: Sequence[str], *, home: Path | None = None,
               note: Message | None = None, drafts_only: bool = False) -> MarkedReady:
    """Draft -> ready for each, only when none has a validation error.

    All are checked before any moves, so a refusal (:class:`ReadyRefused`, carrying the
    findings) leaves every one as it was.  ``home`` adds the reference data the last sync
    brought; ``drafts_only`` passes over declarations that are not drafts (a selection in
    the desktop) instead of refusing them.
    """
    ready: list[str] = []
    for decl_id in decl_ids:
        st = store.get(decl_id)
        if drafts_only and st.status != states.DRAFT:
            continue
        findings = validation_findings(st.declaration, store, decl_id, home=home)
        if has_errors(findings):
            raise ReadyRefused(findings, decl_id, st.declaration.lrn)
        ready.append(decl_id)
    for decl_id in ready:
        store.transition(decl_id, states.READY, actor, note=note or notes.CHECKED())
    return MarkedReady(ready, Changes(declarations=tuple(ready), statuses=bool(ready)))


def check_demo_count(count: int) -> None:
    """Refuse a count of demo declarations out of range (before anything is opened)."""
    if count < 0 or count > MAX_DEMO_COUNT:
        raise ComptoirError("demo.bad_count", 2, count=count)


def seed_demo(store: Store, actor: str, count: int, *, seed: int | None = None,
              declarant_id: str | None = None,
              on_progress: Callable[[int, int], None] | None = None) -> int:
    """Store ``count`` realistic declarations, ready to seal, in batches of one transaction
    each; the same ``seed`` gives the same declarations.  Returns the count stored."""
    check_demo_count(count)
    rng = random.Random(seed)
    declarant = declarant_id or DEMO_DECLARANT
    made = 0
    while made < count:
        n = min(DEMO_BATCH, count - made)
        batch = []
        for _ in range(n):
            d = sample_declaration(rng, n_items=rng.randint(1, 6), declarant_id=declarant)
            d.lrn = (new_lrn(rng) + f"{made:06d}"[-6:])[:22]
            batch.append(d)
            made += 1
        store.create_many(batch, actor, status=states.READY, note=notes.DEMO_SEED())
        if on_progress is not None:
            on_progress(made, count)
    return made
