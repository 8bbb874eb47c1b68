"""Where each generated file came from: the one helper the generators share to record it.

``source_stripe_proxy/data/provenance.json`` says, for each generator, the sha256 of the spec it
read (Stripe's ``spec3.json``) and every file it wrote, each with its own sha256. So a reader
can tell which spec a file describes, and ``check`` (run by ``unit_tests/test_provenance.py``,
without the spec) finds a file edited by hand, one no generator recorded, or one left behind.
``make check-generated`` regenerates everything and fails on any difference from the commit.

The manifest is not package data: nothing reads it at run time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
MANIFEST = REPO_ROOT / "source_stripe_proxy" / "data" / "provenance.json"
# Every file under these is generated: each must be in the manifest.
GENERATED_ROOTS = ("source_stripe_proxy/data/generated", "source_stripe_proxy/data/schemas")
GENERATED_FILES = ("docs/streams.md",)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def record_outputs(generator: str, spec_path: Path, outputs: Iterable[Path]) -> None:
    """Record ``outputs`` (just written by ``generator``, e.g. "scripts/generate_schemas.py")
    as made from the spec at ``spec_path``; the generator's earlier record is replaced."""
    generators = _load()
    generators[generator] = {
        "spec_sha256": sha256_of(spec_path),
        "files": {_relative(path): sha256_of(path) for path in sorted(outputs)},
    }
    document = {"generators": dict(sorted(generators.items()))}
    MANIFEST.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def generated_files() -> list[str]:
    """Every file that must have come from a generator, relative to the repository."""
    found = [p for root in GENERATED_ROOTS for p in (REPO_ROOT / root).rglob("*") if p.is_file() and p.suffix == ".json"]
    return sorted([_relative(p) for p in found] + [name for name in GENERATED_FILES if (REPO_ROOT / name).exists()])


def check() -> list[str]:
    """What is wrong with the generated files, in words (empty when nothing is)."""
    generators = _load()
    recorded = {name: (generator, digest) for generator, entry in generators.items() for name, digest in entry["files"].items()}
    problems = []
    for name in generated_files():
        if name not in recorded:
            problems.append(f"{name}: no generator recorded it (pass it to provenance.record_outputs)")
        elif sha256_of(REPO_ROOT / name) != recorded[name][1]:
            problems.append(f"{name}: changed since {recorded[name][0]} wrote it; regenerate instead of editing")
    for name in sorted(set(recorded) - set(generated_files())):
        problems.append(f"{name}: recorded but missing")
    specs = {entry["spec_sha256"] for entry in generators.values()}
    if len(specs) > 1:
        problems.append(f"the generators read {len(specs)} different specs: regenerate everything from one")
    return problems


def _load() -> dict[str, dict[str, Any]]:
    if not MANIFEST.exists():
        return {}
    return json.loads(MANIFEST.read_text(encoding="utf-8"))["generators"]


def _relative(path: Path) -> str:
    return Path(path).resolve().relative_to(REPO_ROOT).as_posix()


if __name__ == "__main__":
    import sys

    trouble = check()
    print("\n".join(trouble) or f"every generated file matches {MANIFEST.relative_to(REPO_ROOT)}")
    sys.exit(1 if trouble else 0)
