"""``comptoir cds-emulator serve | stats | requests`` as a user runs them."""

from __future__ import annotations

import random
from pathlib import Path

import requests

from client.declaration.samples import sample_declaration
from client.interchange.dms import export_dms

from .conftest import api_headers, schema_dir, user_token
from .helpers import EmulatorProcess, comptoir


def test_serve_writes_its_ca_then_stats_and_requests_read_its_record(tmp_path: Path) -> None:
    emu = EmulatorProcess(tmp_path / "emu", schema_dir()).start()
    try:
        assert (tmp_path / "emu" / "ca.pem").read_text().startswith("-----BEGIN CERTIFICATE")
        token = user_token(emu)["access_token"]
        d = sample_declaration(random.Random(4), n_items=1, declarant_id="GB123456789000")
        d.lrn = "G0CLI1"
        r = requests.post(f"{emu.url}/customs/declarations/", data=export_dms(d),
                          headers=api_headers(token), verify=str(emu.ca), timeout=20)
        assert r.status_code == 202
        stats = emu.stats()
        assert stats == {"lrns": {"G0CLI1": 1}, "conversations": 1, "notifications": 1,
                         "duplicates_caught": 0}
        reqs = emu.requests()
        assert [(q["method"], q["path"].split("?")[0]) for q in reqs] == [
            ("GET", "/oauth/authorize"), ("POST", "/oauth/token"),
            ("POST", "/customs/declarations/")]
        assert set(reqs[2]) == {"method", "path", "headers", "body", "status"}
        assert "<FunctionalReferenceID>G0CLI1</FunctionalReferenceID>" in reqs[2]["body"]
    finally:
        emu.stop()
    assert emu.proc is not None and emu.proc.returncode == 0


def test_restart_keeps_the_record_and_can_advance_its_clock(tmp_path: Path) -> None:
    emu = EmulatorProcess(tmp_path / "emu", schema_dir()).start()
    emu.kill()
    emu.start("--advance-clock", "49h")
    try:
        cfg = emu.admin("config", {})
        assert cfg["auto_consent"] is True
        from sync.cds_emulator.state import EmulatorState

        st = EmulatorState(tmp_path / "emu")
        try:
            assert 49 * 3600 - 5 < st.get("clock_offset") < 49 * 3600 + 5
        finally:
            st.close()
    finally:
        emu.stop()


def test_stats_without_an_emulator_home_is_one_clear_line(tmp_path: Path) -> None:
    p = comptoir(None, "cds-emulator", "stats", "--home", str(tmp_path / "none"), "--json")
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "No CDS emulator in" in p.stderr and len(p.stderr.strip().splitlines()) == 1
