"""A stateful property test of the outbox (issue #7, item 1).

Hypothesis drives a real device (profile, keyring, encrypted store) against a real
sandbox process behind the fault proxy: create, edit, seal; server down, up and
restarted (SIGKILL, same port, same database); a request dropped before it reaches the
server; an answer dropped after the server committed; a request duplicated (the last
delivered envelopes replayed under a fresh Idempotency-Key); batches reordered (a
second engine with a stale outbox view sends a later batch first); ``comptoir sync
--once`` SIGKILLed at a random moment and the store reopened.  The invariants of
:func:`tests.chaos.common.check_invariants` hold after every step, and after a final
clean sync nothing is lost and nothing is twice.

CI runs a few examples; ``COMPTOIR_CHAOS_EXAMPLES=2000`` is the long run (same test).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from client.declaration import states
from tests.chaos.common import (
    Client,
    World,
    check_invariants,
    final_sync,
    kill_sync_child,
    reopen,
    summary,
)
from tests.chaos.runner import FAST_TIMEOUT, duplicate_last_batch, reorder

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("COMPTOIR_CHAOS_EXAMPLES", "6"))
STEPS = int(os.environ.get("COMPTOIR_CHAOS_STEPS", "12" if EXAMPLES <= 10 else "30"))


class OutboxMachine(RuleBasedStateMachine):
    world: World  # set by the test: one sandbox process for every example

    @initialize(seed=st.integers(0, 2**30))
    def new_device(self, seed: int) -> None:
        self.world.proxy.clear()
        self.world.start_server()
        self.client: Client = self.world.new_client(seed=seed)

    def _sync(self, batch: int = 2) -> object:
        eng = self.client.engine(batch_size=batch, timeout=FAST_TIMEOUT)
        try:
            return eng.sync_once()  # must never raise for network trouble
        finally:
            eng.close()

    # -- the user ---------------------------------------------------------------------
    @rule(n=st.integers(1, 3))
    def create(self, n: int) -> None:
        self.client.create(n)

    @precondition(lambda self: bool(self.client.editable()))
    @rule(pick=st.integers(0, 1000))
    def edit(self, pick: int) -> None:
        ids = self.client.editable()
        self.client.edit(ids[pick % len(ids)])

    @precondition(lambda self: bool(self.client.store.list_ids(statuses=[states.READY])))
    @rule(pick=st.integers(0, 1000))
    def seal(self, pick: int) -> None:
        ids = self.client.store.list_ids(statuses=[states.READY])
        self.client.seal(ids[pick % len(ids)])

    @rule(batch=st.integers(1, 4))
    def sync(self, batch: int) -> None:
        report = self._sync(batch)
        if not self.world.up:
            assert report.error is not None  # type: ignore[attr-defined]

    # -- the server -------------------------------------------------------------------
    @precondition(lambda self: self.world.up)
    @rule()
    def server_down(self) -> None:
        self.world.kill_server()

    @precondition(lambda self: not self.world.up)
    @rule()
    def server_up(self) -> None:
        self.world.start_server()

    @precondition(lambda self: self.world.up)
    @rule()
    def restart_server(self) -> None:
        self.world.kill_server()
        self.world.start_server()

    # -- the network ------------------------------------------------------------------
    @rule(mode=st.sampled_from(["reset", "reset_mid"]))
    def drop_request(self, mode: str) -> None:
        self.world.proxy.set_fault(mode, count=1)
        self._sync()
        self.world.proxy.clear()

    @rule(batch=st.integers(1, 3))
    def drop_response(self, batch: int) -> None:
        self.world.proxy.set_fault("drop_response", count=1)
        self._sync(batch)
        self.world.proxy.clear()

    @precondition(lambda self: self.world.up)
    @rule()
    def duplicate_request(self) -> None:
        duplicate_last_batch(self.client)

    @precondition(lambda self: self.world.up)
    @rule(seed=st.integers(0, 2**30))
    def reorder_batches(self, seed: int) -> None:
        import random

        reorder(self.client, random.Random(seed), own_key=seed % 2 == 0)

    # -- the client process -----------------------------------------------------------
    @rule(after=st.floats(0.6, 2.5))
    def kill_client(self, after: float) -> None:
        _, err = kill_sync_child(self.client, after_s=after)
        assert "Traceback" not in err, err[-2000:]
        self.client = reopen(self.client)

    # -- the promise ------------------------------------------------------------------
    @invariant()
    def nothing_lost_nothing_twice(self) -> None:
        if not hasattr(self, "client"):
            return
        v = check_invariants(self.world, self.client, final=False)
        assert v.ok, summary(v)

    def teardown(self) -> None:
        if not hasattr(self, "client"):
            return
        try:
            self.world.proxy.clear()
            self.world.start_server()
            report = final_sync(self.client)
            assert report.error is None and report.remaining == 0, report
            v = check_invariants(self.world, self.client, final=True)
            assert v.ok, summary(v)
        finally:
            self.client.close()


def test_outbox_state_machine(world: World) -> None:
    OutboxMachine.world = world
    run_state_machine_as_test(OutboxMachine, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, database=None,
        suppress_health_check=list(HealthCheck)))


def test_a_held_batch_is_not_replayed_forever(world: World) -> None:
    """Seq 2 reaches the server before seq 1 (a stale second engine): held.  Seq 1 then
    arrives and the server applies both; the engine resends seq 2 alone to get its
    receipt — it must hear "duplicate" with the receipt, not the stored "held"."""
    c = world.new_client(seed=9)
    for decl_id in c.create(2):
        c.seal(decl_id)
    items = c.store.outbox_pending()
    eng = c.engine(batch_size=1)
    results = eng._submit(items[1:])
    assert [r.outcome for r in results] == ["held"]
    c.store.record_deliveries(results)
    eng.sync_once()
    eng.close()
    assert [r["status"] for r in world.server_rows(c.profile.device_id)] == ["accepted"] * 2
    report = final_sync(c)
    assert report.remaining == 0, "seq 2 stays held in the outbox although the server took it"


def test_resend_after_an_upgrade_changed_the_wire_form(world: World) -> None:
    """An older build sent this batch in the journal's form and lost the answer; the
    upgraded engine resends the same envelopes in its own wire form under the same key."""
    import hashlib

    c = world.new_client(seed=11)
    for decl_id in c.create(2):
        c.seal(decl_id)
    items = c.store.outbox_pending()
    # the previous build: journal form on the wire, key from the envelope hashes
    old_key = "batch-" + hashlib.sha256(
        "".join(it.envelope_hash for it in items).encode("ascii")).hexdigest()
    eng = c.engine()
    eng.client().submit([it.envelope for it in items], old_key)  # its answer was lost
    eng.close()
    report = final_sync(c)
    assert report.remaining == 0, report.error
