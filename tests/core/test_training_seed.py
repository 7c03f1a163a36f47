"""The training seed: declarations in every state, once, and only in a training profile."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client.common.i18n import ComptoirError
from client.declaration import states
from client.seal.profile import init_profile, open_store, secret_store
from client.seal.sealing import Sealer
from client.services.rejections import rejection_reasons_for
from client.services.training import KINDS, seed_training
from client.store import history_notes as notes


class Opened:
    def __init__(self, home: Path, *, training: bool) -> None:
        self.home = home
        self.profile = init_profile(home, training=training, key_alg="ES256")
        self.secrets = secret_store(self.profile)
        self.store = open_store(self.profile, secrets=self.secrets)
        self.sealer = Sealer(self.profile, self.store, self.secrets)

    def seed(self) -> Any:
        return seed_training(self.home, self.store, self.sealer, self.profile.actor())


@pytest.fixture
def training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Opened]:
    monkeypatch.setenv("COMPTOIR_PASSPHRASE", "training-seed-passphrase")
    o = Opened(tmp_path / "home-training", training=True)
    yield o
    o.store.close()


def test_seed_writes_every_state_once(training: Opened) -> None:
    made = training.seed()
    store = training.store
    assert {k for k, _s in KINDS} == set(made.by_kind)
    for kind, status in KINDS:
        for decl_id in made.by_kind[kind]:
            assert store.get(decl_id).status == status, kind
    counts = store.counts_by_status()
    for status in (states.DRAFT, states.READY, states.SEALED, states.REGISTERED,
                   states.UNDER_CONTROL, states.RELEASED, states.REJECTED):
        assert counts.get(status, 0) >= 1, status
    # lodged ones carry an MRN (DE 2/5's answer); the sealed one is really in the outbox
    for kind in ("registered", "under_control", "released"):
        st = store.get(made.by_kind[kind][0])
        assert st.mrn and len(st.mrn) == 18
    queued, _oldest = store.outbox_stats()
    assert queued == 1
    printed = store.get(made.by_kind["fallback_printed"][0])
    assert printed.fallback_printed_at
    assert made.fallback_paths[0].read_bytes().startswith(b"%PDF")
    # the rejection is explained in the user's words, pointing at the field
    reasons = rejection_reasons_for(store, made.by_kind["rejected"][0], training.home, "fr")
    assert reasons and reasons[0].code == "CDS12119" and reasons[0].de == "2/3"
    assert "document" in reasons[0].explanation
    history = store.history(made.by_kind["released"][0])
    assert history[0].note == notes.TRAINING_EXAMPLE().code
    # the journal the sealed example went into still verifies
    from client.services.sealing import check_journal

    assert check_journal(store).ok


def test_seed_twice_writes_nothing_more(training: Opened) -> None:
    first = training.seed()
    before = training.store.count()
    again = training.seed()
    assert again.already and not again.ids
    assert training.store.count() == before == len(first.ids)


def test_seed_refuses_a_trader_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPTOIR_PASSPHRASE", "training-seed-passphrase")
    real = Opened(tmp_path / "home", training=False)
    try:
        with pytest.raises(ComptoirError) as err:
            real.seed()
        assert err.value.code == "training.not_training_profile"
        assert real.store.count() == 0
    finally:
        real.store.close()


def test_seed_refuses_a_folder_without_a_profile(tmp_path: Path) -> None:
    with pytest.raises(ComptoirError) as err:
        seed_training(tmp_path / "nothing-training", None, None, "nobody")  # type: ignore[arg-type]
    assert err.value.code == "training.not_training_profile"
