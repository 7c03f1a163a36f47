"""Schedule steps beyond "seal and sync" (#12, #14): amendments, invalidations, transit
declarations sent to the paper procedure, the server killed inside its commit, and the
client killed at crash points spread through its run.

Each step records what it did on the :class:`~tests.chaos.common.Client` (``amended``,
``cancelled``, ``paper``): the ground truth the final checks compare the server with.
A step the Code forbids at that moment (an amendment after an examination was notified,
an invalidation after release) is refused locally with the Code's reason: that is the
product working, recorded as ``refused``, never an error of the schedule.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from client.common.i18n import ComptoirError
from tests.chaos.common import Client, World, kill_sync_child, reopen
from tests.chaos.crashhook import POINTS
from tests.sync.helpers import REPO

# Statuses a lodged declaration may be in for a request about it to be tried.
LODGED = ("registered", "under_control", "documents_requested", "released")


def _lodged(client: Client) -> list[str]:
    return client.store.list_ids(statuses=list(LODGED))


def request(client: Client, rng: random.Random, *, cancel: bool) -> str:
    """Amend (Art. 173, post-release when released) or invalidate (Art. 174) one lodged
    declaration, then seal the request.  Returns what happened."""
    from client.declaration import states
    from client.services.declarations import amend_declaration

    ids = _lodged(client)
    if not ids:
        return "none"
    decl_id = rng.choice(ids)
    status = client.store.get(decl_id).status
    try:
        made = amend_declaration(client.store, "chaos", decl_id, cancel=cancel,
                                 post_release=status == states.RELEASED and not cancel)
    except ComptoirError:
        client.refused += 1
        return "refused"
    decl = made.declaration
    if decl.function == states.AMENDMENT:  # why and where (DMS: function 13, type COR)
        from client.declaration.model import Amendment, Pointer

        decl.amendments = [Amendment(reason="16", pointers=[
            Pointer(section="42A"), Pointer(sequence=1, section="67A"), Pointer(tag="114")])]
    client.store.save_draft(decl, "chaos")
    client.store.transition(decl_id, states.READY, "chaos")
    try:
        client.seal(decl_id)
    except ComptoirError:  # the request's own rules refused it: stays a local draft
        client.refused += 1
        return "refused"
    (client.cancelled if cancel else client.amended).add((decl_id, made.declaration.version))
    return "sealed"


def _transit(client: Client) -> str:
    from client.declaration import states
    from client.declaration.samples import sample_declaration
    from tests.sync.helpers import TRADER

    d = sample_declaration(client.rng, n_items=1, declarant_id=TRADER)
    d.lrn = "TP" + uuid.uuid4().hex[:18].upper()
    d.transit_type = "T1"
    client.store.create_many([d], "chaos", status=states.READY)
    client.created.append(d.id)
    return d.id


def transit_paper(client: Client, rng: random.Random, *, sealed: bool = False) -> str:
    """A transit declaration made during an outage goes to the paper procedure (UCC-IA
    Annex 72-04) before it was lodged: it must never reach the single window.

    ``sealed``: sealed and queued first, then withdrawn from the outbox.  Its envelope
    never goes out: only its chain position and hash, so that the device's later
    envelopes are not held behind a gap; the single window records that and nothing else.
    """
    from client.services.continuity import send_to_paper_procedure

    decl_id = _transit(client)
    if sealed:
        client.sealer.seal(decl_id)  # not "acknowledged": it is to go on paper
    send_to_paper_procedure(client.store, client.sealer, "chaos", decl_id)
    client.paper.add(decl_id)
    return "paper"


def transit_withdraw(client: Client, rng: random.Random) -> str:
    """A transit lodged online, then continued on paper: its withdrawal (an invalidation
    request, Art. 174) is sealed and queued, and must be decided by the single window."""
    from client.services.continuity import send_to_paper_procedure
    from tests.chaos.runner import _sync

    decl_id = _transit(client)
    try:
        client.seal(decl_id)
    except ComptoirError:
        return "refused"
    for _ in range(3):  # the harness's short timeouts can cut a sync on a loaded machine
        _sync(client, batch=4)
        st = client.store.get(decl_id)
        if st.status in LODGED:
            break
    else:
        return "queued"  # not lodged yet: it stays an ordinary queued declaration
    try:
        done = send_to_paper_procedure(client.store, client.sealer, "chaos", decl_id)
    except ComptoirError:
        client.refused += 1
        return "refused"
    if done.withdrawal is not None:
        client.acknowledged.add(decl_id)
        client.cancelled.add((decl_id, client.store.get(decl_id).declaration.version))
    return "withdrawal" if done.withdrawal is not None else "paper"


def server_crash_in_commit(world: World, client: Client, rng: random.Random) -> None:
    """Restart the server armed to SIGKILL itself inside the COMMIT of its next batch,
    sync into it, then start it again unarmed."""
    from sync.sandbox.store import CRASH_IN_COMMIT_ENV
    from tests.chaos.runner import _sync

    world.kill_server()
    world.sandbox.start({CRASH_IN_COMMIT_ENV: str(rng.randint(1, 2))})
    for _ in range(2):
        _sync(client, batch=rng.randint(1, 3))
    world.kill_server()
    world.start_server()


def client_kill_at_point(client: Client, rng: random.Random) -> Client:
    """``comptoir sync --once`` SIGKILLed at a crash point reached some way into its run
    (sending, recording receipts, applying the feed), not during Python start-up."""
    point = rng.choice([p for p in POINTS if p.startswith(("sync.", "feed."))])
    env = {"COMPTOIR_CRASH_POINT": point, "COMPTOIR_CRASH_AT": str(rng.randint(1, 3)),
           "PYTHONPATH": str(REPO / "tests" / "chaos" / "hook")}
    code, err = kill_sync_child(client, after_s=60, extra_env=env)
    if "Traceback" in err:
        raise AssertionError(f"comptoir sync printed a traceback: {err[-2000:]}")
    return reopen(client)


def old_build_resend(client: Client) -> None:
    """An older build sent the queued envelopes in the journal's form under its own key and
    lost the answer; the upgraded engine then resends them in its wire form."""
    import hashlib

    from sync.transport import TransportError

    items = client.store.outbox_pending(20)
    if not items:
        return
    old_key = "batch-" + hashlib.sha256(
        "".join(it.envelope_hash for it in items).encode("ascii")).hexdigest()
    eng = client.engine(timeout=(1.0, 2.0))
    try:
        eng.client().submit([it.envelope for it in items], old_key)  # its answer was lost
    except TransportError:
        pass
    finally:
        eng.close()


def step(world: World, client: Client, fault: str, rng: random.Random) -> Client | None:
    """The lifecycle steps by name; None when ``fault`` is not one of them."""
    if fault == "amend":
        request(client, rng, cancel=False)
    elif fault == "cancel":
        request(client, rng, cancel=True)
    elif fault == "transit_paper":
        transit_paper(client, rng, sealed=rng.random() < 0.5)
    elif fault == "transit_withdraw":
        transit_withdraw(client, rng)
    elif fault == "server_crash_in_commit":
        server_crash_in_commit(world, client, rng)
    elif fault == "old_build_resend":
        old_build_resend(client)
    elif fault == "client_kill_point":
        return client_kill_at_point(client, rng)
    else:
        return None
    return client


def payload_function(entry: Any) -> str:
    """The document function (original, amendment, cancellation…) a journal entry seals."""
    import json

    from client.common.b64 import b64u_decode_lenient

    try:
        return str(json.loads(b64u_decode_lenient(entry.envelope["payload"]))
                   .get("function") or "original")
    except (ValueError, KeyError, TypeError):
        return "original"
