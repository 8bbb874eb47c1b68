"""Run the Stripe emulator (and optionally the proxies) in the foreground.

    python -m stripe_emulator --port 12111 --api-key sk_test_x --seed-customers 1000 \
        [--paragon-port 12112] [--pinkconnect-port 12113] [--fault 429=0.05 --fault reset=0.01]
"""

import argparse
import threading

from . import catalog
from .faults import FaultInjector
from .proxies import ParagonEmulator, PinkConnectEmulator
from .server import StripeEmulator


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m stripe_emulator", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=12111)
    ap.add_argument("--api-key", default="sk_test_emulator")
    ap.add_argument("--latency", type=float, default=0.0, help="seconds added to every response")
    ap.add_argument("--rate-limit", type=int, default=None, help="requests per second before 429s")
    ap.add_argument("--endpoint-rate-limit", type=int, default=None,
                    help="requests per second of each endpoint (method, path template, account) before 429s")
    ap.add_argument("--seed", type=int, default=None, help="random seed for ids and faults")
    for resource in ("customers", "products", "prices", "plans", "balance-transactions"):
        ap.add_argument(f"--seed-{resource}", type=int, default=0, metavar="N",
                        help=f"generate N {resource.replace('-', ' ')} (bulk, created one second apart)")
    ap.add_argument("--seed-catalog", type=int, default=0, metavar="N",
                    help="N objects in every other stream of the catalogue (per parent for children)")
    ap.add_argument("--disable-product", action="append", default=[], metavar="PRODUCT",
                    help='answer "not set up to use PRODUCT" for its streams, e.g. Issuing (repeatable)')
    ap.add_argument("--fault", action="append", default=[], metavar="KIND=RATE",
                    help="random fault rate on the Stripe emulator, e.g. 429=0.05 (repeatable)")
    ap.add_argument("--retry-after", type=int, default=1, help="Retry-After of injected 429s")
    ap.add_argument("--paragon-port", type=int, default=None, help="also run a Paragon proxy here")
    ap.add_argument("--paragon-project", default="proj_demo")
    ap.add_argument("--paragon-token", default="paragon-user-token")
    ap.add_argument("--pinkconnect-port", type=int, default=None, help="also run a PinkConnect proxy here")
    ap.add_argument("--pinkconnect-token", default="pink-token")
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    faults = FaultInjector(seed=args.seed, retry_after=args.retry_after)
    if args.fault:
        faults.set_rates({k: float(v) for k, v in (item.split("=", 1) for item in args.fault)})
    emu = StripeEmulator(args.api_key, latency=args.latency, rate_limit=args.rate_limit,
                         endpoint_rate_limit=args.endpoint_rate_limit, host=args.host,
                         port=args.port, seed=args.seed, faults=faults)
    for resource in ("customers", "products", "prices", "plans", "balance_transactions"):
        count = getattr(args, f"seed_{resource}")
        if count:
            emu.store.bulk_add(resource, count)
    if args.seed_catalog:
        catalog.seed(emu.store, per_parent=args.seed_catalog)
    for product in args.disable_product:
        catalog.disable_product(emu.store, product)
    servers = [emu.start()]
    print(f"Stripe emulator on {emu.url} (api key {args.api_key[:8]}...)", flush=True)
    if args.paragon_port is not None:
        paragon = ParagonEmulator(emu.url, args.api_key, project_id=args.paragon_project,
                                  user_token=args.paragon_token, host=args.host, port=args.paragon_port)
        servers.append(paragon.start())
        print(f"Paragon proxy on {paragon.base_url()}", flush=True)
    if args.pinkconnect_port is not None:
        pink = PinkConnectEmulator(emu.url, args.api_key, token=args.pinkconnect_token, host=args.host,
                                   port=args.pinkconnect_port)
        servers.append(pink.start())
        print(f"PinkConnect proxy on {pink.base_url()}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        for server in reversed(servers):
            server.stop()


if __name__ == "__main__":
    main()
