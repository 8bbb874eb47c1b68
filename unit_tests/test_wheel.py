"""The wheel carries what the connectors read at run time, and not the generated files only the
tests and the emulator read (``stream_examples.json``, ``write_parameters.json``)."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LEFT_OUT = ("source_stripe_proxy/data/generated/stream_examples.json", "source_stripe_proxy/data/generated/write_parameters.json")


def test_the_wheel_has_the_run_time_data_and_not_the_test_only_files(tmp_path):
    source = tmp_path / "src"  # a copy: building in the checkout would leave build/ behind
    source.mkdir()
    for name in ("setup.py", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "source_stripe_proxy", source / "source_stripe_proxy", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "dist"), str(source)],
        check=True,
        capture_output=True,
        text=True,
    )
    [wheel] = (tmp_path / "dist").glob("source_stripe_proxy-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in LEFT_OUT:
        assert (REPO / name).exists() and name not in names
    assert "source_stripe_proxy/data/provenance.json" not in names
    for needed in (
        "source_stripe_proxy/data/generated/streams.json",
        "source_stripe_proxy/data/generated/endpoints.json",
        "source_stripe_proxy/data/generated/list_parameters.json",
        "source_stripe_proxy/data/generated/event_types.json",
        "source_stripe_proxy/data/generated/operations_index.json",
        "source_stripe_proxy/data/generated/operations/customer.json",
        "source_stripe_proxy/data/schemas/customers.json",
        "source_stripe_proxy/source/spec.yaml",
        "source_stripe_proxy/destination/spec.yaml",
    ):
        assert needed in names, needed
    schemas = [n for n in names if n.startswith("source_stripe_proxy/data/schemas/")]
    assert len(schemas) == len(list((REPO / "source_stripe_proxy/data/schemas").glob("*.json")))
