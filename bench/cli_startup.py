"""Start-up time of the `gridbot` command: `gridbot --help` (target < 0.5 s) and
`gridbot intents classify "楼道灯坏了"` (target < 1.5 s).

Run: ``python bench/cli_startup.py [--runs N]``. Uses hyperfine (Debian package ``hyperfine``)
when installed — warm-up run, mean ± σ, min/max — else times ``--runs`` subprocess runs
itself after one warm-up (which also writes jieba's tokenizer cache, see intents/segment.py).
Prints the load average (1/5/15 min) before and after: the figures move with machine load.
Exit status 0 always: figures, not assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRIDBOT = Path(sys.executable).with_name("gridbot")
COMMANDS = {
    "gridbot --help": ([str(GRIDBOT), "--help"], 0.5),
    "gridbot intents classify 楼道灯坏了": ([str(GRIDBOT), "intents", "classify", "楼道灯坏了"], 1.5),
}
"""Label → (argv, target seconds)."""


def _hyperfine(argv: list[str], runs: int) -> list[float]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(["hyperfine", "--warmup", "1", "--runs", str(runs), "-N", "--style", "none",
                        "--export-json", out.name, " ".join(argv)],
                       check=True, stdout=subprocess.DEVNULL)
        return json.loads(Path(out.name).read_text())["results"][0]["times"]


def _subprocess(argv: list[str], runs: int) -> list[float]:
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    tool = "hyperfine" if shutil.which("hyperfine") else "subprocess"
    print(f"tool: {tool}; {os.cpu_count()} CPUs; load average before "
          + "/".join(f"{x:.2f}" for x in os.getloadavg()))
    for label, (argv, target_s) in COMMANDS.items():
        times = (_hyperfine if tool == "hyperfine" else _subprocess)(argv, args.runs)
        mean = statistics.mean(times)
        verdict = "OK" if mean < target_s else "OVER TARGET"
        print(f"{label:<38} mean {mean:.3f} s ± {statistics.pstdev(times):.3f}  "
              f"min {min(times):.3f}  max {max(times):.3f}  ({len(times)} runs; "
              f"target < {target_s} s: {verdict})")
    print("load average after " + "/".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
