"""Nothing acknowledged is lost: a real process saving drafts, killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from client.seal.profile import init_profile, load_profile, open_store

WRITER = r"""
import sys, os
from pathlib import Path
from client.seal.profile import load_profile, open_store
from client.declaration.model import Declaration, GoodsItem, Party
profile = load_profile(Path(sys.argv[1]))
store = open_store(profile)
decl = Declaration(type="IM", lrn="KILL-0", declarant=Party(id="GB1"))
store.create(decl, "writer")
print("ID", decl.id, flush=True)
n = 0
while True:
    n += 1
    items = [GoodsItem(sequence=i + 1, description=f"item {i} rev {n}") for i in range(20)]
    decl = decl.model_copy(update={"lrn": f"KILL-{n}", "goods_items": items})
    store.save_draft(decl, "writer")
    other = Declaration(type="EX", lrn=f"NEW-{n}")
    store.create(other, "writer")
    print("ACK", n, other.id, flush=True)
"""


def test_sigkill_mid_save_keeps_every_acknowledged_write(home: Path) -> None:
    init_profile(home)
    for round_ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(home)],
                                stdout=subprocess.PIPE, text=True, env=dict(os.environ))
        assert proc.stdout is not None
        first = proc.stdout.readline().split()
        assert first[0] == "ID", first
        decl_id = first[1]
        acked: list[tuple[int, str]] = []
        deadline = time.monotonic() + 60
        target = 30 + 17 * round_
        while len(acked) < target and time.monotonic() < deadline:
            line = proc.stdout.readline().split()
            if line and line[0] == "ACK":
                acked.append((int(line[1]), line[2]))
        os.kill(proc.pid, signal.SIGKILL)  # in the middle of the next save
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        assert len(acked) == target

        with open_store(load_profile(home)) as store:
            assert store.integrity_check() == "ok"
            last_n = acked[-1][0]
            lrn = store.get(decl_id).declaration.lrn
            assert lrn is not None and int(lrn.split("-")[1]) >= last_n
            for _, other_id in acked:
                assert store.exists(other_id)
