"""Run the Stripe emulator (and optionally the proxies) in the foreground, or in the background.

    python -m stripe_emulator --port 12111 --api-key sk_test_x --seed-customers 1000 \
        [--paragon-port 12112] [--pinkconnect-port 12113] [--fault 429=0.05 --fault reset=0.01]
    python -m stripe_emulator --load .demo/stripe-emulator.json --detach   # the demo's account, in the background

``--load FILE`` serves an account saved by ``persistence.save_to_file`` (the demo saves its
stand-in as .demo/stripe-emulator.json); ``--save FILE`` writes the account back when the
emulator stops (Ctrl-C, or ``kill PID``). ``--detach`` returns once the emulator answers and
prints how to stop it. ``--port 0`` takes a free port; the URL is printed either way.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

from . import catalog
from .faults import FaultInjector
from .persistence import load_from_file, save_to_file
from .proxies import ParagonEmulator, PinkConnectEmulator
from .server import StripeEmulator

READY_WAIT_SECONDS = 60  # a detached emulator that has not answered by then has failed


def parse_args(argv=None):
    ap = argparse.ArgumentParser(
        prog="python -m stripe_emulator", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=12111, help="the port to serve on (0: a free one)")
    ap.add_argument("--api-key", default="sk_test_emulator", help="the secret key it accepts (sk_test_emulator)")
    ap.add_argument("--load", metavar="FILE", help="serve the account saved in FILE (e.g. .demo/stripe-emulator.json)")
    ap.add_argument("--save", metavar="FILE", help="save the account to FILE when the emulator stops")
    ap.add_argument("--detach", action="store_true", help="run in the background; return once it answers")
    ap.add_argument("--ready-file", help=argparse.SUPPRESS)  # a detached child writes its URL here
    ap.add_argument("--latency", type=float, default=0.0, help="seconds added to every response")
    ap.add_argument("--rate-limit", type=int, default=None, help="requests per second before 429s")
    ap.add_argument(
        "--endpoint-rate-limit",
        type=int,
        default=None,
        help="requests per second of each endpoint (method, path template, account) before 429s",
    )
    ap.add_argument("--seed", type=int, default=None, help="random seed for ids and faults")
    for resource in ("customers", "products", "prices", "plans", "balance-transactions"):
        ap.add_argument(
            f"--seed-{resource}",
            type=int,
            default=0,
            metavar="N",
            help=f"generate N {resource.replace('-', ' ')} (bulk, created one second apart)",
        )
    ap.add_argument(
        "--seed-catalog",
        type=int,
        default=0,
        metavar="N",
        help="N objects in every other stream of the catalogue (per parent for children)",
    )
    ap.add_argument(
        "--disable-product",
        action="append",
        default=[],
        metavar="PRODUCT",
        help='answer "not set up to use PRODUCT" for its streams, e.g. Issuing (repeatable)',
    )
    ap.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND=RATE",
        help="random fault rate on the Stripe emulator, e.g. 429=0.05 (repeatable)",
    )
    ap.add_argument("--retry-after", type=int, default=1, help="Retry-After of injected 429s")
    ap.add_argument("--paragon-port", type=int, default=None, help="also run a Paragon proxy here")
    ap.add_argument("--paragon-project", default="proj_demo")
    ap.add_argument("--paragon-token", default="paragon-user-token")
    ap.add_argument("--pinkconnect-port", type=int, default=None, help="also run a PinkConnect proxy here")
    ap.add_argument("--pinkconnect-token", default="pink-token")
    return ap.parse_args(argv)


def fail(message):
    print(f"python -m stripe_emulator: {message}", file=sys.stderr)
    sys.exit(2)


def build(args):
    """The emulator the arguments describe, filled (from --load, or seeded)."""
    faults = FaultInjector(seed=args.seed, retry_after=args.retry_after)
    if args.fault:
        faults.set_rates({k: float(v) for k, v in (item.split("=", 1) for item in args.fault)})
    emu = StripeEmulator(
        args.api_key,
        latency=args.latency,
        rate_limit=args.rate_limit,
        endpoint_rate_limit=args.endpoint_rate_limit,
        host=args.host,
        port=args.port,
        seed=args.seed,
        faults=faults,
    )
    if args.load:
        try:
            loaded = load_from_file(emu, args.load)
        except (ValueError, KeyError) as error:
            fail(f"--load {args.load}: not an account saved by the emulator ({error})")
        if not loaded:
            fail(
                f"--load {args.load}: no such file (bash scripts/sync.sh saves the demo's account as "
                f".demo/stripe-emulator.json; without --load the emulator starts empty)"
            )
    for resource in ("customers", "products", "prices", "plans", "balance_transactions"):
        count = getattr(args, f"seed_{resource}")
        if count:
            emu.store.bulk_add(resource, count)
    if args.seed_catalog:
        catalog.seed(emu.store, per_parent=args.seed_catalog)
    for product in args.disable_product:
        catalog.disable_product(emu.store, product)
    return emu


def start(emu, args):
    """Start the emulator and the proxies asked for; returns the servers, the emulator first."""
    try:
        servers = [emu.start()]
    except OSError as error:
        fail(f"cannot serve on {args.host}:{args.port} ({error.strerror}); is another emulator running there? --port 0 takes a free port")
    what = f", {emu.store.count('customers')} customers from {args.load}" if args.load else ""
    print(f"Stripe emulator on {emu.url} (api key {args.api_key[:8]}...{what})", flush=True)
    if args.paragon_port is not None:
        paragon = ParagonEmulator(
            emu.url, args.api_key, project_id=args.paragon_project, user_token=args.paragon_token, host=args.host, port=args.paragon_port
        )
        servers.append(paragon.start())
        print(f"Paragon proxy on {paragon.base_url()}", flush=True)
    if args.pinkconnect_port is not None:
        pink = PinkConnectEmulator(emu.url, args.api_key, token=args.pinkconnect_token, host=args.host, port=args.pinkconnect_port)
        servers.append(pink.start())
        print(f"PinkConnect proxy on {pink.base_url()}", flush=True)
    return servers


def detach(argv):
    """Start this command again in the background and return once it answers."""
    handle, ready = tempfile.mkstemp(prefix="stripe-emulator-", suffix=".url")
    os.close(handle)
    os.unlink(ready)
    log = os.path.join(tempfile.gettempdir(), f"stripe-emulator-{os.getpid()}.log")
    child_argv = [a for a in argv if a != "--detach"] + ["--ready-file", ready]
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p))
    with open(log, "w") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "stripe_emulator", *child_argv],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
    deadline = time.monotonic() + READY_WAIT_SECONDS
    while not os.path.exists(ready):
        if child.poll() is not None or time.monotonic() > deadline:
            if child.poll() is None:
                child.terminate()
            with open(log) as out:
                print(out.read().rstrip(), file=sys.stderr)
            fail(f"the emulator did not start (log: {log})")
        time.sleep(0.05)
    with open(ready) as source:
        url = source.read().strip()
    os.unlink(ready)
    print(f"Stripe emulator on {url} in the background (pid {child.pid}; log {log}). Stop it with: kill {child.pid}")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.detach:
        return detach(argv)
    emu = build(args)
    servers = start(emu, args)
    if args.ready_file:
        with open(args.ready_file + ".tmp", "w") as out:
            out.write(emu.url)
        os.replace(args.ready_file + ".tmp", args.ready_file)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # `kill PID` stops it as Ctrl-C does: saved first
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        for server in reversed(servers):
            server.stop()
        if args.save:
            save_to_file(emu, args.save)
            print(f"saved the account to {args.save}", flush=True)


if __name__ == "__main__":
    main()
