"""In-memory, thread-safe object store and Stripe object factories (API 2024-06-20).

One Store holds one Stripe account's objects. Rules that keep it simple and safe:
  * Stored objects are never mutated in place: every write stores a new dict.
    So a dict handed to the HTTP layer (or kept in an event) never changes
    under a reader, and events can share dicts instead of deep-copying them.
  * Each resource keeps its objects sorted newest first (created desc, then
    insertion order desc), so a list page is a bisect plus a slice: O(page).
  * bulk_add() keeps only the id of each generated object and rebuilds the
    full object on read, so a million customers fit in a few hundred MB.
"""

import bisect
import calendar
import copy
import itertools
import random
import string
import threading
import time
from datetime import datetime, timezone

from . import billing

API_VERSION = "2024-06-20"

# resource name -> (id prefix, "object" value)
RESOURCES = {
    "customers": ("cus", "customer"),
    "products": ("prod", "product"),
    "prices": ("price", "price"),
    "plans": ("plan", "plan"),
    "subscriptions": ("sub", "subscription"),
    "balance_transactions": ("txn", "balance_transaction"),
    "events": ("evt", "event"),
    "accounts": ("acct", "account"),
    **billing.RESOURCES,
}
SEARCHABLE = ("customers", "products")
RESOURCE_BY_OBJECT = {obj: name for name, (_, obj) in RESOURCES.items()}
RESOURCE_BY_PREFIX = {prefix: name for name, (prefix, _) in RESOURCES.items()}

_ID_CHARS = string.ascii_letters + string.digits


class Clock:
    """Real time by default; tests can freeze it (set_time) and move it (advance)."""

    def __init__(self):
        self._frozen = None
        self._offset = 0.0

    def now(self):
        return int(self.now_float())

    def now_float(self):
        return self._frozen if self._frozen is not None else time.time() + self._offset

    def set_time(self, epoch):
        self._frozen = float(epoch)

    def advance(self, seconds):
        if self._frozen is not None:
            self._frozen += seconds
        else:
            self._offset += seconds

    def unfreeze(self):
        self._frozen, self._offset = None, 0.0


# --------------------------------------------------------------------------
# Object factories: every field of Stripe's object, with Stripe's defaults.
# --------------------------------------------------------------------------


def customer_defaults(oid, created, seq):
    return {
        "id": oid,
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": created,
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": None,
        "invoice_prefix": format(0x1A2B3C4D + seq * 7919, "X")[-8:],
        "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None, "rendering_options": None},
        "livemode": False,
        "metadata": {},
        "name": None,
        "next_invoice_sequence": 1,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def product_defaults(oid, created, seq):
    return {
        "id": oid,
        "object": "product",
        "active": True,
        "created": created,
        "default_price": None,
        "description": None,
        "images": [],
        "livemode": False,
        "marketing_features": [],
        "metadata": {},
        "name": None,
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "type": "service",
        "unit_label": None,
        "updated": created,
        "url": None,
    }


def price_defaults(oid, created, seq):
    return {
        "id": oid,
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": created,
        "currency": "usd",
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": None,
        "metadata": {},
        "nickname": None,
        "product": None,
        "recurring": None,
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "one_time",
        "unit_amount": None,
        "unit_amount_decimal": None,
    }


def recurring_defaults():
    return {
        "aggregate_usage": None,
        "interval": "month",
        "interval_count": 1,
        "meter": None,
        "trial_period_days": None,
        "usage_type": "licensed",
    }


def plan_defaults(oid, created, seq):
    return {
        "id": oid,
        "object": "plan",
        "active": True,
        "aggregate_usage": None,
        "amount": None,
        "amount_decimal": None,
        "billing_scheme": "per_unit",
        "created": created,
        "currency": "usd",
        "interval": "month",
        "interval_count": 1,
        "livemode": False,
        "metadata": {},
        "meter": None,
        "nickname": None,
        "product": None,
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": None,
        "usage_type": "licensed",
    }


def subscription_defaults(oid, created, seq):
    return {
        "id": oid,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"enabled": False, "liability": None},
        "billing_cycle_anchor": created,
        "billing_cycle_anchor_config": None,
        "billing_thresholds": None,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": created,
        "currency": "usd",
        "current_period_end": created,
        "current_period_start": created,
        "customer": None,
        "days_until_due": None,
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discount": None,
        "discounts": [],
        "ended_at": None,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": {"object": "list", "data": [], "has_more": False, "total_count": 0, "url": f"/v1/subscription_items?subscription={oid}"},
        "latest_invoice": None,
        "livemode": False,
        "metadata": {},
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {"payment_method_options": None, "payment_method_types": None, "save_default_payment_method": "off"},
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "plan": None,
        "quantity": None,
        "schedule": None,
        "start_date": created,
        "status": "active",
        "test_clock": None,
        "transfer_data": None,
        "trial_end": None,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": None,
    }


def balance_transaction_defaults(oid, created, seq):
    return {
        "id": oid,
        "object": "balance_transaction",
        "amount": 1000 + seq % 97 * 100,
        "available_on": created + 2 * 86400,
        "created": created,
        "currency": "usd",
        "description": None,
        "exchange_rate": None,
        "fee": 0,
        "fee_details": [],
        "net": None,
        "reporting_category": "charge",
        "source": None,
        "status": "available",
        "type": "charge",
    }


def event_defaults(oid, created, seq):
    return {
        "id": oid,
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": {"object": None},
        "livemode": False,
        "pending_webhooks": 0,
        "request": {"id": None, "idempotency_key": None},
        "type": None,
    }


def account_defaults(oid, created, seq):
    requirements = {
        "alternatives": [],
        "current_deadline": None,
        "currently_due": [],
        "disabled_reason": None,
        "errors": [],
        "eventually_due": [],
        "past_due": [],
        "pending_verification": [],
    }
    return {
        "id": oid,
        "object": "account",
        "business_profile": {
            "annual_revenue": None,
            "estimated_worker_count": None,
            "mcc": None,
            "name": None,
            "support_address": None,
            "support_email": None,
            "support_phone": None,
            "support_url": None,
            "url": None,
        },
        "business_type": None,
        "capabilities": {},
        "charges_enabled": True,
        "controller": {"type": "account"},
        "country": "US",
        "created": created,
        "default_currency": "usd",
        "details_submitted": True,
        "email": None,
        "external_accounts": {"object": "list", "data": [], "has_more": False, "url": f"/v1/accounts/{oid}/external_accounts"},
        "future_requirements": dict(requirements),
        "metadata": {},
        "payouts_enabled": True,
        "requirements": dict(requirements),
        "settings": {
            "dashboard": {"display_name": None, "timezone": "Etc/UTC"},
            "payouts": {"debit_negative_balances": True, "statement_descriptor": None, "schedule": {"delay_days": 2, "interval": "daily"}},
        },
        "tos_acceptance": {"date": None},
        "type": "standard",
    }


DEFAULTS = {
    "customers": customer_defaults,
    "products": product_defaults,
    "prices": price_defaults,
    "plans": plan_defaults,
    "subscriptions": subscription_defaults,
    "balance_transactions": balance_transaction_defaults,
    "events": event_defaults,
    "accounts": account_defaults,
    **billing.DEFAULTS,
}

# Generated values for bulk rows, so bulk objects are distinguishable and realistic.
BULK_FIELDS = {
    "customers": lambda seq: {"email": f"customer{seq}@example.com", "name": f"Customer {seq}"},
    "products": lambda seq: {"name": f"Product {seq}"},
    "prices": lambda seq: {"unit_amount": 100 * (1 + seq % 50), "product": "prod_bulk"},
    "plans": lambda seq: {"amount": 100 * (1 + seq % 50), "product": "prod_bulk"},
    "balance_transactions": lambda seq: {},
    "accounts": lambda seq: {"controller": {"type": "application", "is_controller": True}},  # connected ones
}


def merge(base, fields):
    """Copy of base with fields applied; nested dicts merge, None unsets (Stripe semantics)."""
    out = dict(base)
    for key, value in fields.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "metadata":
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def merge_metadata(current, changes):
    """metadata updates merge key by key; an empty string deletes the key."""
    out = dict(current or {})
    for key, value in changes.items():
        if value in ("", None):
            out.pop(key, None)
        else:
            out[key] = value
    return out


def previous_attributes(old, new):
    """Old values of what changed, the way Stripe reports them on *.updated events."""
    prev = {}
    for key in set(old) | set(new):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if isinstance(before, dict) and isinstance(after, dict) and key != "items":
            prev[key] = previous_attributes(before, after)
        else:
            prev[key] = copy.deepcopy(before)
    return prev


def add_interval(ts, interval, count):
    if interval == "day":
        return ts + 86400 * count
    if interval == "week":
        return ts + 7 * 86400 * count
    months = count * (12 if interval == "year" else 1)
    start = datetime.fromtimestamp(ts, timezone.utc)
    month0 = start.month - 1 + months
    year, month = start.year + month0 // 12, month0 % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return int(start.replace(year=year, month=month, day=day).timestamp())


def price_view_of_plan(plan):
    """Stripe treats plans and recurring prices as one object seen two ways."""
    return merge(
        price_defaults(plan["id"], plan["created"], 0),
        {
            "active": plan["active"],
            "billing_scheme": plan["billing_scheme"],
            "currency": plan["currency"],
            "metadata": plan["metadata"],
            "nickname": plan["nickname"],
            "product": plan["product"],
            "tiers_mode": plan["tiers_mode"],
            "transform_quantity": plan["transform_usage"],
            "type": "recurring",
            "unit_amount": plan["amount"],
            "unit_amount_decimal": plan["amount_decimal"],
            "recurring": {
                "aggregate_usage": plan["aggregate_usage"],
                "interval": plan["interval"],
                "interval_count": plan["interval_count"],
                "meter": plan["meter"],
                "trial_period_days": plan["trial_period_days"],
                "usage_type": plan["usage_type"],
            },
        },
    )


def plan_view_of_price(price):
    rec = price["recurring"] or recurring_defaults()
    return merge(
        plan_defaults(price["id"], price["created"], 0),
        {
            "active": price["active"],
            "aggregate_usage": rec["aggregate_usage"],
            "amount": price["unit_amount"],
            "amount_decimal": price["unit_amount_decimal"],
            "billing_scheme": price["billing_scheme"],
            "currency": price["currency"],
            "interval": rec["interval"],
            "interval_count": rec["interval_count"],
            "metadata": price["metadata"],
            "meter": rec["meter"],
            "nickname": price["nickname"],
            "product": price["product"],
            "tiers_mode": price["tiers_mode"],
            "transform_usage": price["transform_quantity"],
            "trial_period_days": rec["trial_period_days"],
            "usage_type": rec["usage_type"],
        },
    )


def derive(resource, obj):
    """Fields computed from others (returns a new dict)."""
    obj = billing.derive(resource, dict(obj))
    if resource == "prices":
        if obj.get("recurring") is not None:
            obj["recurring"] = merge(recurring_defaults(), obj["recurring"])
        obj["type"] = "recurring" if obj.get("recurring") else "one_time"
        if obj.get("unit_amount") is not None and obj.get("unit_amount_decimal") is None:
            obj["unit_amount_decimal"] = str(obj["unit_amount"])
    elif resource == "plans":
        if obj.get("amount") is not None and obj.get("amount_decimal") is None:
            obj["amount_decimal"] = str(obj["amount"])
    elif resource == "balance_transactions" and obj.get("net") is None:
        obj["net"] = (obj.get("amount") or 0) - (obj.get("fee") or 0)
    return obj


# --------------------------------------------------------------------------
# Collections and the per-account store
# --------------------------------------------------------------------------


def sort_key(created, seq):
    """Ascending sort keys give newest first; ties go to the later insertion."""
    return -((int(created) << 32) | seq)


class Collection:
    """One resource's objects, sorted newest first, with an id index."""

    def __init__(self, resource):
        self.resource = resource
        self.order = []  # sort keys, ascending == newest first
        self.by_id = {}  # id -> sort key
        self.rows = {}  # sort key -> object dict, or just the id for a bulk row
        self.batches = []  # (first seq, template fields) of each bulk_add call

    def __len__(self):
        return len(self.order)

    def __contains__(self, oid):
        return oid in self.by_id

    def insert(self, obj, seq):
        key = sort_key(obj["created"] if "created" in obj else obj["date"], seq)  # invoice items: `date`
        bisect.insort(self.order, key)
        self.by_id[obj["id"]] = key
        self.rows[key] = obj

    def replace(self, obj):
        self.rows[self.by_id[obj["id"]]] = obj

    def remove(self, oid):
        key = self.by_id.pop(oid)
        del self.order[bisect.bisect_left(self.order, key)]
        del self.rows[key]

    def get(self, oid):
        key = self.by_id.get(oid)
        return None if key is None else self.at_key(key)

    def at(self, pos):
        return self.at_key(self.order[pos])

    def at_key(self, key):
        row = self.rows[key]
        return row if isinstance(row, dict) else self._materialize(row, key)

    def position(self, oid):
        key = self.by_id.get(oid)
        return None if key is None else bisect.bisect_left(self.order, key)

    def created_range(self, gt=None, gte=None, lt=None, lte=None):
        """[lo, hi) positions of the objects whose created is within the bounds."""
        newest = min((b for b in (lte, None if lt is None else lt - 1) if b is not None), default=None)
        oldest = max((b for b in (gte, None if gt is None else gt + 1) if b is not None), default=None)
        lo = 0 if newest is None else bisect.bisect_left(self.order, sort_key(newest, 0xFFFFFFFF))
        hi = len(self.order) if oldest is None else bisect.bisect_right(self.order, sort_key(oldest, 0))
        return lo, max(lo, hi)

    def _materialize(self, oid, key):
        packed = -key
        created, seq = packed >> 32, packed & 0xFFFFFFFF
        starts = [first for first, _ in self.batches]
        template = self.batches[bisect.bisect_right(starts, seq) - 1][1]
        fields = dict(BULK_FIELDS.get(self.resource, lambda s: {})(seq), **template)
        obj = merge(DEFAULTS[self.resource](oid, created, seq), fields)
        return derive(self.resource, obj)


class Store:
    """All objects of one Stripe account. Methods are thread-safe."""

    def __init__(self, account_id, clock=None, seed=None, connected=False):
        self.account_id = account_id
        self.connected = connected  # events of connected accounts carry "account"
        self.clock = clock or Clock()
        self.lock = threading.RLock()
        self.rng = random.Random(seed)
        self._seq = itertools.count(1)
        self.collections = {name: Collection(name) for name in RESOURCES}
        # (resource, id) -> [(write time, snapshot or None if deleted)], for search lag.
        self.search_versions = {}
        self.tombstones = {}  # (resource, id) -> {"id", "object", "deleted": True}

    # --- public helpers for tests and seeding ----------------------------
    def add(self, resource, fields=None, *, emit_event=False):
        """Insert an object built from Stripe's defaults plus fields; returns a copy.

        fields may set anything, including "id" and "created". Subscriptions
        take items as [{"price": "price_..."}] (or "plan") like the API.
        """
        with self.lock:
            fields = dict(fields or {})
            obj = self.build(resource, fields)
            self.insert(resource, obj)
            if emit_event:
                self.record_event(f"{event_prefix(resource)}.created", obj)
            return copy.deepcopy(obj)

    def bulk_add(self, resource, n, created_start=None, created_step=1, **template):
        """Add n generated objects fast; created = created_start + i * created_step.

        Only ids are kept; objects are rebuilt on read. template fields apply to
        all of them (e.g. product="prod_x" for prices). Returns the new ids.
        """
        if resource not in BULK_FIELDS:
            raise ValueError(f"bulk_add does not support {resource}")
        if created_start is None:
            created_start = self.clock.now() - n * created_step
        prefix = RESOURCES[resource][0]
        coll = self.collections[resource]
        with self.lock:
            first = next(self._seq)
            self._seq = itertools.count(first + n)
            coll.batches.append((first, template))
            ids = [self.new_id(prefix) for _ in range(n)]
            keys = [sort_key(created_start + i * created_step, first + i) for i in range(n)]
            for oid, key in zip(ids, keys, strict=True):
                coll.by_id[oid] = key
                coll.rows[key] = oid
            coll.order.extend(keys)
            coll.order.sort()
        return ids

    def get(self, resource, oid):
        with self.lock:
            obj = self.collections[resource].get(oid)
            return copy.deepcopy(obj)

    def all(self, resource):
        """Every object, newest first (copies)."""
        with self.lock:
            coll = self.collections[resource]
            return [copy.deepcopy(coll.at(i)) for i in range(len(coll))]

    def count(self, resource):
        return len(self.collections[resource])

    # --- used by the server (callers hold self.lock) ------------------------
    def new_id(self, prefix):
        return prefix + "_" + "".join(self.rng.choices(_ID_CHARS, k=14))

    def build(self, resource, fields):
        fields = dict(fields)
        oid = fields.pop("id", None) or self.new_id(RESOURCES[resource][0])
        created = fields.pop("created", None)
        created = self.clock.now() if created is None else int(created)
        seq = next(self._seq)
        fields["_seq"] = seq
        if resource == "subscriptions":
            fields = self.subscription_fields(oid, created, fields)
        base = DEFAULTS[resource](oid, created, seq)
        if "metadata" in fields:
            fields["metadata"] = merge_metadata({}, fields["metadata"])
        return derive(resource, merge(base, fields))

    def insert(self, resource, obj):
        seq = obj.pop("_seq", None) or next(self._seq)
        self.collections[resource].insert(obj, seq)
        self._searchable_write(resource, obj["id"], obj)

    def replace(self, resource, obj):
        self.collections[resource].replace(obj)
        self._searchable_write(resource, obj["id"], obj)

    def remove(self, resource, oid):
        self.collections[resource].remove(oid)
        self._searchable_write(resource, oid, None)

    def lookup(self, resource, oid):
        """Stored object (shared, do not mutate) or None."""
        return self.collections[resource].get(oid) if oid else None

    def record_event(self, event_type, obj, previous=None, request_id=None, idempotency_key=None, created=None):
        """Record the event Stripe would send; ``created`` (default: now) places it in the past."""
        data = {"object": obj}
        if previous is not None:
            data["previous_attributes"] = previous
        fields = {"type": event_type, "data": data, "request": {"id": request_id, "idempotency_key": idempotency_key}}
        if created is not None:
            fields["created"] = created
        if self.connected:
            fields["account"] = self.account_id
        event = self.build("events", fields)
        self.insert("events", event)
        return event

    # --- subscriptions --------------------------------------------------
    def find_price(self, price_id):
        """A price by id; plan ids work too (Stripe: a plan is a recurring price)."""
        price = self.lookup("prices", price_id)
        if price is None and self.lookup("plans", price_id) is not None:
            price = price_view_of_plan(self.lookup("plans", price_id))
        return price

    def subscription_item(self, sub_id, created, price, quantity=1, metadata=None, item_id=None):
        return {
            "id": item_id or self.new_id("si"),
            "object": "subscription_item",
            "billing_thresholds": None,
            "created": created,
            "discounts": [],
            "metadata": metadata or {},
            "plan": plan_view_of_price(price),
            "price": price,
            "quantity": quantity,
            "subscription": sub_id,
            "tax_rates": [],
        }

    def subscription_fields(self, oid, created, fields):
        """Turn create-style fields (items as price ids, trial days) into object fields."""
        fields = dict(fields)
        items = []
        for raw in fields.pop("items", None) or []:
            if isinstance(raw, dict) and raw.get("object") == "subscription_item":
                items.append(raw)
                continue
            price_ref = raw.get("price") or raw.get("plan")
            price = price_ref if isinstance(price_ref, dict) else self.find_price(price_ref)
            if price is None:
                raise KeyError(f"No such price: '{price_ref}'")
            quantity = raw.get("quantity")
            items.append(self.subscription_item(oid, created, price, 1 if quantity is None else int(quantity), raw.get("metadata")))
        trial_days = fields.pop("trial_period_days", None)
        for key in (
            "trial_from_plan",
            "payment_behavior",
            "proration_behavior",
            "off_session",
            "coupon",
            "promotion_code",
            "backdate_start_date",
            "expand",
        ):
            fields.pop(key, None)
        trial_end = fields.get("trial_end")
        if trial_end == "now":
            trial_end = fields["trial_end"] = None
        if trial_days:
            trial_end = created + int(trial_days) * 86400
        first = items[0]["price"] if items else None
        rec = (first or {}).get("recurring") or recurring_defaults()
        anchor = fields.get("billing_cycle_anchor") or created
        if trial_end:
            fields.update(trial_start=created, trial_end=trial_end, current_period_start=created, current_period_end=trial_end)
            fields.setdefault("status", "trialing")
        else:
            fields.update(current_period_start=anchor, current_period_end=add_interval(anchor, rec["interval"], rec["interval_count"]))
            fields.setdefault("status", "active")
        fields.update(billing_cycle_anchor=fields["current_period_end"] if trial_end else anchor, start_date=created)
        fields["items"] = items_list(oid, items)
        fields.update(single_item_fields(items))
        if first is not None:
            fields.setdefault("currency", first["currency"])
        return fields

    # --- search -------------------------------------------------------------
    def _searchable_write(self, resource, oid, obj):
        if resource in SEARCHABLE:
            self.search_versions.setdefault((resource, oid), []).append((self.clock.now_float(), obj))

    def search_candidates(self, resource, lag):
        """Objects as the (lagging) search index sees them, newest first."""
        now = self.clock.now_float()
        coll = self.collections[resource]
        out = []
        for pos in range(len(coll)):
            obj = coll.at(pos)
            visible = self._indexed_version((resource, obj["id"]), obj, now, lag)
            if visible is not None:
                out.append(visible)
        for key in list(self.search_versions):
            if key[0] == resource and key[1] not in coll:  # deleted, maybe still indexed
                visible = self._indexed_version(key, None, now, lag)
                if visible is not None:
                    out.append(visible)
        return out

    def _indexed_version(self, key, current, now, lag):
        """The newest version written at least `lag` seconds ago (None: not indexed yet)."""
        versions = self.search_versions.get(key)
        if not versions or lag <= 0:
            return current
        visible = None
        for written, snapshot in versions:
            if now - written < lag:
                break
            visible = snapshot
        return visible


def items_list(sub_id, items):
    return {
        "object": "list",
        "data": items,
        "has_more": False,
        "total_count": len(items),
        "url": f"/v1/subscription_items?subscription={sub_id}",
    }


def single_item_fields(items):
    """Legacy top-level plan/quantity: set only when there is exactly one item."""
    if len(items) == 1:
        return {"plan": items[0]["plan"], "quantity": items[0]["quantity"]}
    return {"plan": None, "quantity": None}


def event_prefix(resource):
    return {"subscriptions": "customer.subscription", **billing.EVENT_PREFIX}.get(resource, RESOURCES[resource][1])
