#!/usr/bin/env python3
"""Start-up of the actions' CLI: a `--dry-run` call against `python -c "import requests"`.

An agent or a workflow calls `stripe-connection` once per action, so its start-up is paid on
every call. Both commands run in the same loop, interleaved, so a busy machine slows both
alike; the figure is their ratio of medians (and the medians themselves for the README).

    .venv/bin/python benchmarks/startup.py [--runs 30]

Writes benchmarks/results-startup.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
COMMANDS = {
    "baseline": [sys.executable, "-c", "import requests"],
    "dry_run": [str(BIN / "stripe-connection"), "--dry-run", "get", "customer", "customer_id=cus_1234567890"],
    "source_spec": [str(BIN / "source-stripe-proxy"), "spec"],
}


def wall(command) -> float:
    started = time.perf_counter()
    subprocess.run(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    for command in COMMANDS.values():
        wall(command)  # warm the page cache and the .pyc files
    times = {name: [] for name in COMMANDS}
    for _ in range(args.runs):
        for name, command in COMMANDS.items():
            times[name].append(wall(command))
    median = {name: statistics.median(values) for name, values in times.items()}
    ratio = median["dry_run"] / median["baseline"]
    lines = [
        "# Start-up of `stripe-connection` (benchmarks/startup.py)",
        "",
        (
            f"{args.runs} runs of each command, interleaved; median wall time on {os.cpu_count()} cores, "
            f"Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}."
        ),
        "",
        "| command | median | p90 |",
        "|---|---|---|",
    ]
    labels = {
        "baseline": '`python -c "import requests"`',
        "dry_run": "`stripe-connection --dry-run get customer customer_id=cus_1234567890`",
        "source_spec": "`source-stripe-proxy spec` (loads the Airbyte CDK)",
    }
    for name, values in times.items():
        p90 = sorted(values)[int(0.9 * (len(values) - 1))]
        lines.append(f"| {labels[name]} | {median[name]:.3f} s | {p90:.3f} s |")
    lines += ["", f"Dry run / `import requests`: **{ratio:.2f}x**."]
    text = "\n".join(lines) + "\n"
    (HERE / "results-startup.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
