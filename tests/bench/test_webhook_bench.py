"""bench/webhook.py: its request lists have the issue's mix, its figures are refused when the
client is the limit, and a --quick run against real PostgreSQL and Redis (bench servers, a
worker and the WeChat sandbox in their own processes) ends with one ticket per report, retries
answered like their original and one push per ticket, sent once. No timing is asserted:
figures depend on the machine."""

from __future__ import annotations

import importlib.util
import os
import random
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "webhook.py"
NEEDS_SERVERS = pytest.mark.skipif(os.environ.get("GRIDBOT_TEST_BACKEND") == "sqlite",
                                   reason="the servers run in their own processes: needs "
                                          "PostgreSQL and Redis")


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    """bench/webhook.py as a module (bench/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("gridbot_bench_webhook", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_lists_have_the_mix_unique_msgids_and_one_connection_per_resident(bench):
    from bot.devtools.simulator import WeChatSimulator

    sim = WeChatSimulator("token", "wxapp")
    lists = bench.build_lists(sim, 4, 1000, 500, random.Random(3), tag="t")
    items = [item for items in lists for item in items]
    kinds = Counter(item.kind for item in items)

    assert len(items) == 4000
    assert 0.45 < kinds["report"] / 4000 < 0.55 and 0.08 < kinds["retry"] / 4000 < 0.12
    assert 0.17 < kinds["query"] / 4000 < 0.23 and 0.17 < kinds["greeting"] / 4000 < 0.23
    msg_ids = [item.delivery.plain_xml.split("<MsgId><![CDATA[")[1].split("]")[0]
               for item in items if item.kind != "retry"]
    assert len(set(msg_ids)) == len(msg_ids)
    owners = {}
    for k, items_k in enumerate(lists):
        for i, item in enumerate(items_k):
            assert owners.setdefault(item.openid, k) == k  # a resident talks over one connection
            if item.retry_of is not None:
                original = items_k[item.retry_of]
                assert item.retry_of < i and original.kind == "report"
                assert item.delivery.plain_xml == original.delivery.plain_xml
                assert item.delivery.params["nonce"] != original.delivery.params["nonce"]
    assert len(owners) == 500


def test_figures_are_refused_when_the_client_is_the_limit(bench):
    busy = bench.LoadPoint("bare", "16 conn", 16, duration_s=10.0, client_cpu_s=8.5)
    idle = bench.LoadPoint("bare", "16 conn", 16, duration_s=10.0, client_cpu_s=2.0)
    bench.judge_client(busy)
    bench.judge_client(idle)

    assert busy.refused and "85%" in busy.refused
    assert idle.refused is None


def test_the_lua_script_paces_only_at_half_load(bench):
    assert "function delay()" in bench.lua_script(12.5)
    assert "function delay()" not in bench.lua_script(0)
    assert "function request()" in bench.lua_script(0)


def _assert_clean(report, out: str) -> None:
    assert report.checks, out
    for checks in report.checks.values():
        assert checks.reports_sent > 0, out
        assert checks.tickets == checks.reports_sent, out
        assert checks.retries_checked > 0 and not checks.retries_mismatched, out
        assert not checks.unopened and not checks.non_200, out
    assert report.pushes is not None and report.pushes.ok, out
    assert report.pushes.sent == sum(c.tickets for c in report.checks.values()), out
    assert report.ok
    assert "ratio g/b" in out and "-> OK" in out and "load average" in out


@NEEDS_SERVERS
def test_quick_run_with_the_python_client(bench, redis_url, redis, capsys):
    report = bench.main(["--quick", "--client", "python", "--redis-url", redis_url])
    out = capsys.readouterr().out

    _assert_clean(report, out)
    assert {mode for mode, _, _ in report.points} == {"plain", "safe"}


@NEEDS_SERVERS
@pytest.mark.skipif(not BENCH.with_name("webhook.lua").exists() or not __import__("shutil").which("wrk"),
                    reason="wrk is not installed (Debian package wrk)")
def test_quick_run_with_wrk(bench, redis_url, redis, capsys):
    report = bench.main(["--quick", "--client", "wrk", "--modes", "plain", "--redis-url", redis_url])
    out = capsys.readouterr().out

    _assert_clean(report, out)
    assert all(p.completed > 0 and p.client_cpu_s > 0 for _, _, p in report.points), out
