"""The test run's Redis claim: a database abandoned by a killed run of this host is taken
over; nobody else's ever is (tests/conftest.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from tests.conftest import _abandoned


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_claim_of_a_dead_run_of_this_host_is_abandoned():
    assert _abandoned(f"{socket.gethostname()}:{_dead_pid()}:abc".encode())


def test_a_live_run_another_host_or_an_unknown_owner_is_never_taken():
    host = socket.gethostname()
    assert not _abandoned(f"{host}:{os.getpid()}:abc".encode())  # alive
    assert not _abandoned(f"elsewhere-{host}:{_dead_pid()}:abc".encode())  # other host
    assert not _abandoned(f"{_dead_pid()}-abc".encode())  # older token format: unknown
    assert not _abandoned(b"somebody's data")
    assert not _abandoned(None)
