"""Secrets: every command (source spec/check/discover/read, destination spec/check/write, the
`stripe-connection` actions) in success and failure paths, debug logging on, with recognisable
fake secrets in all three modes. stdout and stderr are grepped: the count must be zero. Secrets
never travel in a URL (path or query string) and are never written to any file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from integration_tests import hardening as h
from integration_tests.harness import REPO_ROOT, configured_catalog, run_connector
from stripe_emulator import StripeEmulator

# pinkconnect (a token plus extra header values) runs in CI; each mode takes about a minute of
# subprocesses, so the other two run with the slow suite (bash scripts/test.sh -m slow).
MODES = [pytest.param("api_key", marks=pytest.mark.slow), pytest.param("paragon", marks=pytest.mark.slow), "pinkconnect"]


def _actions(config, args, env, tmp):
    path = tmp / "actions-config.json"
    path.write_text(json.dumps(config))
    completed = subprocess.run(
        [sys.executable, "-c", "import sys, source_stripe_proxy.actions.cli as m; sys.exit(m.main())", "--config", str(path), *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        timeout=120,
    )
    path.unlink()
    return completed.returncode, completed.stdout + completed.stderr


def _actions_env(config, env):
    """The same connection as environment variables (the actions' other config path)."""
    credentials = config["credentials"]
    extra = {}
    if credentials["auth_type"] == "api_key":
        extra = {"STRIPE_API_KEY": credentials["api_key"], "STRIPE_API_BASE": config["api_base"]}
    elif credentials["auth_type"] == "paragon":
        extra = {
            "PARAGON_PROJECT_ID": credentials["project_id"],
            "PARAGON_USER_TOKEN": credentials["user_token"],
            "PARAGON_PROXY_HOST": credentials["proxy_host"],
        }
    else:
        extra = {
            "PINKCONNECT_PROXY_URL": credentials["proxy_url"],
            "PINKCONNECT_TOKEN": credentials["token"],
            "PINKCONNECT_EXTRA_HEADERS": json.dumps(credentials["extra_headers"]),
        }
    return {**env, **extra}


@pytest.mark.parametrize("mode", MODES)
def test_no_secret_in_any_output_url_or_file(mode, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "TMPDIR": str(home), "LOG_LEVEL": "DEBUG"}
    started = time.time()
    outputs = []  # (what, text)
    with StripeEmulator(api_key=h.UPSTREAM_KEY, seed=1) as emulator:
        h.seed_account(emulator, 200, int(time.time()) - 60)
        proxy = None if mode == "api_key" else h.start_proxy(mode, emulator)
        target = emulator if proxy is None else proxy
        try:
            good = h.source_config(target, mode, max_retries=1)
            debug = ["--debug"]
            source_catalog = configured_catalog(["customers", "plans"], sync_mode="incremental")
            dest_catalog = h.destination_catalog()
            dest_input = h.destination_input(3, 2)

            def connector(which, command, config=None, catalog=None, stdin=""):
                result = run_connector(
                    which,
                    command,
                    config,
                    catalog,
                    stdin=stdin,
                    extra_args=debug if (which == "source" and command != "spec") else (),
                    env=env,
                )
                outputs.append((f"{which} {command}", result.stdout + result.stderr))
                return result

            def actions(args, config=good, use_env=False):
                if use_env:
                    completed = subprocess.run(
                        [sys.executable, "-c", "import sys, source_stripe_proxy.actions.cli as m; sys.exit(m.main())", *args],
                        capture_output=True,
                        text=True,
                        cwd=REPO_ROOT,
                        env=_actions_env(config, env),
                        timeout=120,
                    )
                    code, text = completed.returncode, completed.stdout + completed.stderr
                else:
                    code, text = _actions(config, args, env, tmp_path)
                outputs.append((f"actions {' '.join(args[:2])}", text))
                return code

            # success paths
            assert connector("source", "spec").returncode == 0
            assert '"SUCCEEDED"' in connector("source", "check", good).stdout
            assert connector("source", "discover", good).returncode == 0
            assert connector("source", "read", good, source_catalog).returncode == 0
            assert connector("destination", "spec").returncode == 0
            assert '"SUCCEEDED"' in connector("destination", "check", good).stdout
            assert connector("destination", "write", good, dest_catalog, stdin=dest_input).returncode == 0
            assert actions(["create", "customer", "email=ada@example.com", "name=Ada"]) == 0
            assert actions(["list", "customers", "limit=2"], use_env=True) == 0
            # failure paths: bad config, expired proxy token / key, 5xx storm, refused call
            bad = json.loads(json.dumps(good))
            bad["page_size"] = "many"
            assert connector("source", "read", bad, source_catalog).returncode != 0
            assert '"FAILED"' in connector("source", "check", bad).stdout
            target.faults.set_rates({"401_proxy": 1.0})
            assert '"FAILED"' in connector("source", "check", good).stdout
            assert connector("source", "read", good, source_catalog).returncode != 0
            assert connector("destination", "write", good, dest_catalog, stdin=dest_input).returncode != 0
            assert '"FAILED"' in connector("destination", "check", good).stdout
            assert actions(["get", "customer", "customer_id=cus_missing"]) != 0
            assert actions(["list", "customers"], use_env=True) != 0
            target.faults.set_rates({"500": 1.0})
            assert connector("source", "discover", good).returncode == 0  # discover needs no request
            assert connector("source", "read", good, source_catalog).returncode != 0
            assert actions(["list", "customers"]) != 0  # max_retries 1: the env form would retry 8 times
            target.faults.clear()
            assert actions(["get", "customer", "customer_id=cus_missing"]) != 0  # Stripe's own 404
            revoked = json.loads(json.dumps(good))
            field = {"api_key": "api_key", "paragon": "user_token", "pinkconnect": "token"}[mode]
            revoked["credentials"][field] = revoked["credentials"][field][:-3] + "XYZ"
            assert '"FAILED"' in connector("source", "check", revoked).stdout
            # every URL any server saw
            urls = [r["path"] + "?" + json.dumps(r["query"]) for r in emulator.requests.snapshot()]
            if proxy is not None:
                urls += [r["path"] + "?" + json.dumps(r["query"]) for r in proxy.requests.snapshot()]
        finally:
            if proxy is not None:
                proxy.stop()
    secrets = (*h.SECRETS, revoked["credentials"][field])
    leaks = [(what, secret) for what, text in outputs for secret in secrets if secret in text]
    assert len(outputs) >= 20
    assert leaks == [], f"{len(leaks)} secrets in the output of: {sorted({w for w, _ in leaks})}"
    assert all("Traceback" not in text for what, text in outputs if what.startswith("actions")), "an action dumped a traceback"
    in_urls = [u for u in urls for s in secrets if s in u]
    assert urls and in_urls == []
    # nothing written anywhere holds a secret: the child's HOME/TMPDIR and the repository
    written = [p for p in home.rglob("*") if p.is_file()]
    for root, dirs, files in os.walk(REPO_ROOT):
        dirs[:] = [d for d in dirs if d not in (".git", ".venv", ".venv-pyairbyte", "node_modules")]
        for name in files:
            path = Path(root) / name
            try:
                if path.stat().st_mtime >= started:
                    written.append(path)
            except OSError:
                pass
    leaked_files = []
    for path in written:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if any(s.encode() in data for s in secrets):
            leaked_files.append(str(path))
    assert leaked_files == []
