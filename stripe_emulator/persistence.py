"""Save an emulator's accounts to a JSON file and load them back.

For demos that run more than once against "the same Stripe": the second run sees the objects
of the first, with the same ids and `created` values, so a saved sync state still means
something.

    emu = StripeEmulator(api_key="sk_test_demo")
    load_from_file(emu, ".demo/stripe.json")   # False (and nothing loaded) if the file is missing
    with emu:
        ...
    save_to_file(emu, ".demo/stripe.json")

What is kept: every account (platform and connected) with all its objects, in their list
order (the generic streams' of ``catalog.py`` too), and deleted customers (still retrievable). What is not: the clock, idempotency keys,
restricted keys, the request log and search-index lag (loaded objects are searchable at once).
Bulk rows (``Store.bulk_add``) are written out in full, so keep saved stores demo-sized.
"""

import itertools
import json
import os
import random
import tempfile

from . import catalog
from .store import Store

FORMAT = "stripe-emulator-store"
VERSION = 1


def dump_store(store):
    """One account's objects as plain JSON data."""
    with store.lock:
        collections = {}
        for name, coll in store.collections.items():
            # (seq, object) pairs newest first; seq keeps the tie order of equal `created` values.
            collections[name] = [[(-key) & 0xFFFFFFFF, coll.at_key(key)] for key in coll.order]
        return {
            "account_id": store.account_id,
            "connected": store.connected,
            "next_seq": _peek(store),
            "collections": collections,
            "tombstones": [[resource, oid, stub] for (resource, oid), stub in store.tombstones.items()],
            "catalog": catalog.dump(store),
        }


def load_store(store, data):
    """Fill an empty ``store`` with ``dump_store`` output."""
    with store.lock:
        if any(len(coll) for coll in store.collections.values()):
            raise ValueError(f"account {store.account_id} already has objects; load into a new emulator")
        for name, rows in data["collections"].items():
            if name not in store.collections:
                raise ValueError(f"unknown resource {name!r} in saved store")
            for seq, obj in rows:
                store.insert(name, dict(obj, _seq=seq))
        store.tombstones = {(resource, oid): stub for resource, oid, stub in data.get("tombstones", [])}
        catalog.load(store, data.get("catalog"))
        store._seq = itertools.count(max(int(data.get("next_seq", 1)), _peek(store)))
        # A seeded store would draw the saved objects' ids again: continue on another (still seeded) stream.
        store.rng = random.Random(f"{store.rng.random()}:{_peek(store)}")
        # Loaded objects count as indexed long ago: searchable at once, whatever the search lag.
        for key in store.search_versions:
            store.search_versions[key] = [(0.0, snapshot) for _, snapshot in store.search_versions[key][-1:]]


def snapshot(emulator):
    """Every account of a StripeEmulator as JSON data."""
    with emulator._stores_lock:
        stores = list(emulator._stores.values())
    return {
        "format": FORMAT,
        "version": VERSION,
        "platform_account": emulator.account_id,
        "accounts": [dump_store(store) for store in stores],
    }


def restore(emulator, data):
    """Load ``snapshot`` output into a StripeEmulator that has no objects yet."""
    if data.get("format") != FORMAT or data.get("version") != VERSION:
        raise ValueError(f"not a {FORMAT} file of version {VERSION}")
    if data["platform_account"] != emulator.account_id:
        raise ValueError(f"saved platform account {data['platform_account']} is not this emulator's ({emulator.account_id})")
    for account in data["accounts"]:
        account_id = account["account_id"]
        if account_id == emulator.account_id:
            store = emulator.store
        else:
            with emulator._stores_lock:
                if account_id in emulator._stores:
                    raise ValueError(f"account {account_id} already exists")
                seed = None if emulator._seed is None else f"{emulator._seed}:{account_id}"
                # Its entry in the platform's "accounts" list comes back with the platform store.
                store = emulator._stores[account_id] = Store(account_id, emulator.clock, seed, connected=account["connected"])
        load_store(store, account)


def save_to_file(emulator, path):
    """Write ``snapshot(emulator)`` to ``path`` atomically (a crash never leaves half a file)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".stripe-emulator-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(snapshot(emulator), out, separators=(",", ":"))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_from_file(emulator, path):
    """``restore`` from a file written by ``save_to_file``; False if there is no such file."""
    try:
        with open(path, encoding="utf-8") as source:
            data = json.load(source)
    except FileNotFoundError:
        return False
    restore(emulator, data)
    return True


def _peek(store):
    """The store's next sequence number, without using it up."""
    value = next(store._seq)
    store._seq = itertools.count(value)
    return value
