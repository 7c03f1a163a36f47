"""``comptoir sandbox serve | enrolment | stats`` as real subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import requests

from client.declaration.mrn import is_valid_mrn


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "client.cli", *args], capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, COMPTOIR_LANG="en"))


def test_serve_enrol_submit_and_stats_across_processes(sandbox_process, Traders):
    home = sandbox_process["home"]
    url, ca = sandbox_process["url"], sandbox_process["ca_pem_path"]
    assert sandbox_process["pid"] == sandbox_process["proc"].pid
    assert requests.get(f"{url}/v1/health", verify=ca, timeout=5).json()["status"] == "ok"
    # An enrolment code written by another process while the server runs.
    out = run("sandbox", "enrolment", "--home", str(home), "--trader", "GB123456789000",
              "--json")
    assert out.returncode == 0, out.stderr
    enrol = json.loads(out.stdout)
    assert enrol["ca_pem_path"] == ca and len(enrol["code"]) == 19

    class Remote:  # what Trader needs of a sandbox handle
        pass

    remote = Remote()
    remote.url, remote.ca_pem_path = url, ca
    remote.new_enrolment_code = lambda trader_id, role="trader": enrol["code"]
    t = Traders(remote, "GB123456789000")
    results = t.post([t.seal() for _ in range(3)]).json()["results"]
    assert [r["status"] for r in results] == ["accepted"] * 3
    assert all(is_valid_mrn(r["mrn"]) for r in results)
    t.post([t.seal(seq=1, prev="0" * 64, advance=False)])  # a fork: counted, not lodged
    out = run("sandbox", "stats", "--home", str(home), "--json")
    assert out.returncode == 0, out.stderr
    stats = json.loads(out.stdout)
    core = {k: stats[k] for k in ("declarations", "distinct_ids", "submissions", "by_status")}
    assert core == {"declarations": 3, "distinct_ids": 3, "submissions": 4,
                    "by_status": {"accepted": 3}}
    # SIGTERM stops it cleanly.
    proc = sandbox_process["proc"]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    assert not (home / "server.json").exists()


def test_enrolment_works_without_a_server_and_errors_are_one_line(tmp_path):
    home = tmp_path / "cold"
    out = run("sandbox", "enrolment", "--home", str(home), "--trader", "GB1", "--json")
    assert out.returncode == 0, out.stderr
    assert (home / "ca.pem").exists() and (home / "sandbox.db").exists()
    out = run("sandbox", "serve", "--home", str(home), "--refdata", str(tmp_path / "none"))
    assert out.returncode == 2
    assert out.stderr.startswith("comptoir: Reference data folder not found")
    assert "Traceback" not in out.stderr
    out = run("sandbox", "stats", "--home", str(home))
    assert out.returncode == 0 and "0 declarations" in out.stdout
