"""Generated files record the spec they came from (scripts/provenance.py), and none is edited by
hand, left unrecorded or missing. Regenerating and comparing is `make check-generated`'s job
(it needs Stripe's spec, which tests never read)."""

import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SPEC = importlib.util.spec_from_file_location("provenance", REPO / "scripts" / "provenance.py")
provenance = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(provenance)


def test_every_generated_file_matches_its_record_and_one_spec():
    assert provenance.check() == []
    generators = json.loads(provenance.MANIFEST.read_text())["generators"]
    assert set(generators) == {"scripts/generate_schemas.py", "scripts/generate_operations.py"}
    for entry in generators.values():
        assert re.fullmatch(r"[0-9a-f]{64}", entry["spec_sha256"])
    recorded = {name for entry in generators.values() for name in entry["files"]}
    assert "source_stripe_proxy/data/generated/endpoints.json" in recorded and "docs/streams.md" in recorded
    assert len(recorded) == len(provenance.generated_files()) > 250


@pytest.fixture
def repo_copy(tmp_path, monkeypatch):
    """The generated files and the manifest in a scratch repository, for the checker to judge."""
    for root in (*provenance.GENERATED_ROOTS, "docs"):
        shutil.copytree(REPO / root, tmp_path / root)
    shutil.copy(provenance.MANIFEST, tmp_path / "source_stripe_proxy" / "data" / "provenance.json")
    monkeypatch.setattr(provenance, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(provenance, "MANIFEST", tmp_path / "source_stripe_proxy" / "data" / "provenance.json")
    return tmp_path


def test_a_hand_edit_an_unrecorded_file_and_a_missing_one_are_each_named(repo_copy):
    endpoints = repo_copy / "source_stripe_proxy/data/generated/endpoints.json"
    endpoints.write_text(endpoints.read_text().replace("/v1/customers", "/v1/clients", 1))
    (repo_copy / "source_stripe_proxy/data/generated/extra.json").write_text("{}")
    (repo_copy / "source_stripe_proxy/data/schemas/customers.json").unlink()
    problems = provenance.check()
    assert len(problems) == 3
    assert any(
        p.startswith("source_stripe_proxy/data/generated/endpoints.json: changed since scripts/generate_schemas.py") for p in problems
    )
    assert any(p.startswith("source_stripe_proxy/data/generated/extra.json: no generator recorded it") for p in problems)
    assert any(p.startswith("source_stripe_proxy/data/schemas/customers.json: recorded but missing") for p in problems)


def test_recording_replaces_one_generators_entry_with_the_spec_hash(repo_copy):
    spec = repo_copy / "spec3.json"
    spec.write_text('{"openapi": "3.0.0"}')
    output = repo_copy / "source_stripe_proxy/data/generated/endpoints.json"
    provenance.record_outputs("scripts/generate_operations.py", spec, [output])
    generators = json.loads(provenance.MANIFEST.read_text())["generators"]
    assert generators["scripts/generate_operations.py"] == {
        "spec_sha256": provenance.sha256_of(spec),
        "files": {"source_stripe_proxy/data/generated/endpoints.json": provenance.sha256_of(output)},
    }
    assert "docs/streams.md" in generators["scripts/generate_schemas.py"]["files"]  # the other generator's stays
    assert any("different specs" in p for p in provenance.check())
