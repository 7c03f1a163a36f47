"""The README's headless flow, run as written: the one-time code alone enrols a device.

The commands are read from README.md's "Using it without the desktop" block, so the test
follows the documentation rather than a copy of it.  Only three things are substituted: the
sandbox runs on a free port instead of 8443 (other servers may hold it), ``CODE`` becomes the
code ``sandbox enrolment`` printed, and ``SB`` is a folder of the test.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from client.declaration.mrn import is_valid_mrn
from tests.sync.helpers import REPO, SandboxProcess, comptoir, ok

FLOW = ("init", "demo", "seal", "journal", "sandbox", "enrol", "sync", "list")


def readme_commands() -> list[list[str]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split("## Using it without the desktop", 1)[1].split("```sh", 1)[1]
    block = block.split("```", 1)[0]
    cmds = []
    for line in block.splitlines():
        line = line.split("  #", 1)[0].strip()
        if line.startswith("comptoir "):
            argv = shlex.split(line)[1:]
            if argv[0] in FLOW:
                cmds.append(argv)
    return cmds


def test_readme_headless_flow_exactly_as_written(tmp_path: Path) -> None:
    cmds = readme_commands()
    assert [c[0] for c in cmds][:8] == ["init", "demo", "seal", "journal", "sandbox", "sandbox",
                                        "enrol", "sync"], cmds
    home, sb_dir = tmp_path / "profile", tmp_path / "SB"
    sandbox: SandboxProcess | None = None
    code = ""
    try:
        for argv in cmds:
            argv = [a.replace("SB/", f"{sb_dir}/") if a.startswith("SB/") else
                    (str(sb_dir) if a == "SB" else a) for a in argv]
            if argv[:2] == ["sandbox", "serve"]:
                sandbox = SandboxProcess(sb_dir).start()
                continue
            if argv[0] == "enrol":
                assert sandbox is not None and code
                argv = [sandbox.url if a == "https://127.0.0.1:8443" else
                        (code if a == "CODE" else a) for a in argv]
                assert "--trader" not in argv
            out = comptoir(home, *argv)
            if argv[0] == "sync":
                assert out.returncode == 0, out.stderr
            else:
                ok(out)
            if argv[:2] == ["sandbox", "enrolment"]:
                code = json.loads(out.stdout)["code"]
            if argv[0] == "list":
                rows = json.loads(out.stdout)
        assert len(rows) == 100
        assert not [r for r in rows if r["status"] == "rejected"], rows[:3]
        assert all(is_valid_mrn(r["mrn"]) for r in rows)
        ok(comptoir(home, "journal", "verify"))
    finally:
        if sandbox is not None:
            sandbox.stop()


def test_a_trader_given_against_the_code_is_one_clear_line(tmp_path: Path) -> None:
    sandbox = SandboxProcess(tmp_path / "SB").start()
    try:
        home = tmp_path / "p"
        ok(comptoir(home, "init"))
        code = sandbox.code("GB123456789000")
        out = comptoir(home, "enrol", "--server", sandbox.url, "--code", code, "--ca",
                       str(sandbox.ca), "--trader", "GB999999999000")
        assert out.returncode == 2
        assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
        assert "GB123456789000" in out.stderr and "GB999999999000" in out.stderr
        assert "403" not in out.stderr
        # The code was not spent by the mistake: without --trader it enrols.
        out = ok(comptoir(home, "enrol", "--server", sandbox.url, "--code", code, "--ca",
                          str(sandbox.ca)))
        assert "GB123456789000" in out.stdout
        # An officer code on a trader profile: a clear line too.
        home2 = tmp_path / "p2"
        ok(comptoir(home2, "init"))
        out = comptoir(home2, "enrol", "--server", sandbox.url, "--code",
                       sandbox.code("GB123456789000", role="officer"), "--ca", str(sandbox.ca))
        assert out.returncode == 2 and re.search(r"officer", out.stderr), out.stderr
    finally:
        sandbox.stop()
