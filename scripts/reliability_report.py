#!/usr/bin/env python
"""Run the hardening scenarios and publish their measured numbers in docs/reliability.md.

    .venv/bin/python scripts/reliability_report.py          # full volume (>= 20k objects, ~10-15 min)
    .venv/bin/python scripts/reliability_report.py --ci     # the reduced sizes CI runs (~2 min)

The scenarios are the ones ``integration_tests/test_hardening_volume.py`` asserts on
(``integration_tests/hardening.py``). Raw numbers go to docs/reliability.json. Exit status 1
if any scenario did not pass.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from integration_tests import hardening as h  # noqa: E402 - after the checkout is put on sys.path

SIZES = {
    "full": {
        "source": 20_000,
        "source_page": 50,
        "kills": 5,
        "dest": (1000, 500),
        "dest_kill": (300, 100),
        "dest_kills": 4,
        "first_read": 30_000,
    },
    "ci": {"source": 3_000, "source_page": 20, "kills": 3, "dest": (150, 50), "dest_kill": (60, 20), "dest_kills": 2, "first_read": 5_000},
}
# The kill-point table as measured on main before resumable reads (issue 16), same scenario and data.
BEFORE_RESUMABLE = {0.3: (9134, 0, 9134), 0.7: (21139, 0, 21139), 0.9: (27114, 2, 18316)}


def run_all(size: str):
    s = SIZES[size]
    rows = []
    steps = [
        lambda: [h.source_under_faults(s["source"], 0.10, "pinkconnect", page_size=s["source_page"])],
        lambda: [h.source_under_faults(s["source"], 0.10, "paragon", page_size=s["source_page"])],
        lambda: [h.source_kill_resume(s["source"], kills=s["kills"])],
        lambda: [h.destination_under_faults(*s["dest"], fault_rate=0.10, lost_after_commit=0.03)],
        lambda: [h.destination_kill_rerun(*s["dest_kill"], kills=s["dest_kills"])],
        h.non_healing_errors,
    ]
    for step in steps:
        for row in step():
            print(f"{row['outcome']:>5}  {row.get('seconds', '')!s:>6}s  {row['scenario']}", flush=True)
            rows.append(row)
    return rows


def resume_table(rows) -> str:
    """Kill point, records emitted before the kill, STATE messages before it, records re-read
    after resuming: as measured before resumable reads (30k customers) and now."""
    lines = [
        (
            "| kill point | emitted before the kill | STATEs before the kill | re-read after resuming | before: STATEs | "
            "before: re-read | outcome |"
        ),
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        before = BEFORE_RESUMABLE.get(row["kill_point"]) if row["objects"] == 30_000 else None
        was = (f"{before[1]} | {before[2]} ({before[2] / row['objects']:.0%})") if before else "– | –"
        lines.append(
            f"| {row['kill_point']:.0%} of {row['objects']} | {row['emitted_before_kill']} | {row['states_before_kill']} | "
            f"{row['reread']} ({row['reread'] / row['objects']:.1%}) | {was} | {row['outcome']} |"
        )
    return "\n".join(lines)


def _replace_block(text: str, name: str, block: str) -> str:
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    if begin not in text:
        return text
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head + begin + "\n" + block + "\n" + end + tail


def _faults(row):
    kinds = row.get("fault_kinds")
    if not kinds:
        return str(row["faults"])
    detail = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]))
    return f"{row['faults']} ({detail})"


def table(rows) -> str:
    lines = [
        "| scenario | requests | faults injected | records expected | delivered | duplicated | lost | outcome |",
        "|---|---:|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        outcome = row["outcome"]
        extra = []
        if "reread_overhead" in row:
            extra.append(f"re-read {row['reread']} = {row['reread_overhead']:.2%} overhead")
        if "lost_after_commit_posts" in row:
            extra.append(f"{row['lost_after_commit_posts']} creates lost their response, {row['idempotent_replays']} idempotent replays")
        if row.get("error"):
            extra.append(f"“{row['error'][:110]}…”")
        if row.get("note"):
            extra.append(row["note"])
        if extra:
            outcome += "; " + "; ".join(extra)
        lines.append(
            f"| {row['scenario']} | {row['requests']} | {_faults(row)} | {row['expected']} | {row['delivered']} | "
            f"{row['duplicated']} | {row['lost']} | {outcome} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ci", action="store_true", help="the reduced sizes CI runs")
    parser.add_argument("--out", default=str(ROOT / "docs"), help="directory for reliability.md and reliability.json")
    args = parser.parse_args()
    size = "ci" if args.ci else "full"
    started = time.monotonic()
    rows = run_all(size)
    resume_rows = h.first_read_kill_points(SIZES[size]["first_read"])
    for row in resume_rows:
        print(f"{row['outcome']:>5}  {row['seconds']!s:>6}s  {row['scenario']}", flush=True)
    seconds = time.monotonic() - started
    out = Path(args.out)
    meta = {
        "size": size,
        "sizes": SIZES[size],
        "seconds": round(seconds, 1),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "fault_mix": h.FAULT_MIX,
    }
    (out / "reliability.json").write_text(json.dumps({"meta": meta, "rows": rows, "resume": resume_rows}, indent=2, sort_keys=True) + "\n")
    rendered = table(rows)
    template = (ROOT / "docs" / "reliability.md").read_text() if (ROOT / "docs" / "reliability.md").exists() else ""
    begin, end = "<!-- table:begin -->", "<!-- table:end -->"
    measured = f"_Measured {meta['date']} ({size} sizes, {seconds / 60:.1f} min) by `scripts/reliability_report.py`._"
    block = f"{begin}\n{measured}\n\n{rendered}\n{end}"
    if begin in template:
        head, rest = template.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
        # the closing note repeats the table
        closing = "<!-- closing:begin -->"
        if closing in text:
            head, rest = text.split(closing, 1)
            _, tail = rest.split("<!-- closing:end -->", 1)
            text = head + closing + "\n" + rendered + "\n<!-- closing:end -->" + tail
    else:
        text = f"# Reliability\n\n{block}\n"
    text = _replace_block(text, "resume", resume_table(resume_rows))
    (out / "reliability.md").write_text(text)
    rows = rows + resume_rows
    failed = [r["scenario"] for r in rows if r["outcome"] != "pass"]
    print(f"{len(rows)} scenarios, {len(failed)} failed, {seconds:.0f}s -> {out / 'reliability.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
