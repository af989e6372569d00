"""bench/webhook.py: its plan has the issue's mix, and a --quick run against real PostgreSQL
and Redis ends with no errors, one ticket per report conversation and retries answered like
their original. No timing is asserted: figures depend on the machine."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "webhook.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    """bench/webhook.py as a module (bench/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("gridbot_bench_webhook", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_plan_has_the_mix_and_keeps_each_conversation_in_order(bench):
    plan = bench.build_plan(2000, seed=7, tag="t")
    kinds = Counter(step.kind for script in plan.scripts for step in script.steps)

    assert plan.requests == 2000
    assert kinds["report"] == 700
    assert kinds["report_then_address"] == kinds["address"] == 150
    assert (kinds["query"], kinds["greeting"], kinds["service"]) == (300, 200, 200)
    assert (kinds["subscribe"], kinds["retry"], kinds["unclassifiable"]) == (100, 100, 100)
    assert len({script.openid for script in plan.scripts}) == len(plan.scripts)
    for script in plan.scripts:
        steps = script.steps
        assert [s.kind for s in steps].count("subscribe") <= 1
        assert "subscribe" not in [s.kind for s in steps[1:]]
        for i, step in enumerate(steps):
            if step.kind == "report_then_address":  # answered next (WeChat's retries aside)
                assert [s.kind for s in steps[i + 1:] if s.kind != "retry"][0] == "address"
            if step.retry_of is not None:
                assert step.retry_of in steps[:i]
                assert step.retry_of.kind in ("report", "report_then_address", "address")


@pytest.mark.skipif(os.environ.get("GRIDBOT_TEST_BACKEND") == "sqlite",
                    reason="the servers run in their own processes: needs PostgreSQL and Redis")
def test_quick_run_has_no_errors_and_a_ticket_per_report(bench, redis_url, redis, capsys):
    report = bench.main(["--quick", "--concurrency", "8", "--redis-url", redis_url])
    out = capsys.readouterr().out

    assert report.baseline.error_count == 0, out
    assert report.gridbot.error_count == 0, out
    assert not report.gridbot.truncated, out
    assert report.gridbot.requests >= bench.QUICK_REQUESTS
    assert report.tickets_ok, out
    assert report.retries_checked > 0 and report.retries_ok, out
    assert report.ok
    assert "gridbot/baseline" in out and "-> OK" in out
