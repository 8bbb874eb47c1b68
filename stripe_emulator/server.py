"""StripeEmulator: a loopback HTTP server that speaks Stripe's REST API (2024-06-20).

Request flow (StripeEmulator.handle):
    latency -> authenticate -> rate limit -> route -> key permissions ->
    Stripe-Account store -> [idempotency] -> handler -> JSON response
Faults from self.faults are applied before all of this by httpbase.

Handlers are small functions taking a Call (request context) and returning
(status, payload). They raise StripeError for Stripe-shaped errors.
"""

import base64
import collections
import random
import re
import string
import threading
import time
from dataclasses import dataclass

from . import billing, billing_writes, catalog, files, forms, payments
from .faults import FaultInjector
from .httpbase import LoopbackServer, Response
from .schema import (
    CURRENCIES,
    CUSTOMER_CREATE,
    CUSTOMER_UPDATE,
    DELETE,
    LIST,
    PLAN_CREATE,
    PLAN_PRODUCT_HASH,
    PLAN_UPDATE,
    PRICE_CREATE,
    PRICE_UPDATE,
    PRODUCT_CREATE,
    PRODUCT_UPDATE,
    RETRIEVE,
    SEARCH,
    SUBSCRIPTION_CANCEL,
    SUBSCRIPTION_CREATE,
    SUBSCRIPTION_UPDATE,
    StripeError,
    coerce,
    invalid,
    parameter_missing,
    resource_missing,
    validate,
)
from .store import (
    API_VERSION,
    DEFAULTS,
    RESOURCE_BY_PREFIX,
    RESOURCES,
    Clock,
    Store,
    add_interval,
    derive,
    event_prefix,
    items_list,
    merge,
    merge_metadata,
    plan_view_of_price,
    previous_attributes,
    price_view_of_plan,
    single_item_fields,
)

# How Stripe names each resource in messages ("No such balance transaction: ...").
OBJECT_NAME = {
    "customers": "customer",
    "products": "product",
    "prices": "price",
    "plans": "plan",
    "subscriptions": "subscription",
    "balance_transactions": "balance transaction",
    "events": "event",
    "accounts": "account",
    **billing.OBJECT_NAME,
}
# Field names of each object; create params outside this set are not stored.
OBJECT_FIELDS = {name: set(factory("x", 0, 0)) for name, factory in DEFAULTS.items()}
# Fields that hold an id expandable with expand[] (when we store that object type).
EXPANDABLE = {
    "customer",
    "product",
    "default_price",
    "default_source",
    "default_payment_method",
    "latest_invoice",
    "source",
    "test_clock",
    "on_behalf_of",
    "schedule",
    "application",
    "pending_setup_intent",
    "price",
    "plan",
    "latest_charge",
    "payment_intent",
    "charge",
    "balance_transaction",
    "invoice",
}

_REQ_CHARS = string.ascii_letters + string.digits
_rng = random.Random()


def request_id():
    return "req_" + "".join(_rng.choices(_REQ_CHARS, k=14))


def mask_key(key):
    """Like Stripe: keep the type prefix (sk_test_) and the last 4 characters."""
    match = re.match(r"^((?:sk|rk|pk)_(?:test|live)_)(.*)$", key)
    prefix, rest = (match.group(1), match.group(2)) if match else ("", key)
    if len(rest) <= 4:
        return prefix + "*" * len(rest)
    return prefix + "*" * (len(rest) - 4) + rest[-4:]


@dataclass
class Call:
    """Everything a handler needs about one request."""

    emu: "StripeEmulator"
    store: Store
    method: str
    path: str
    params: dict
    args: tuple
    request_id: str
    idempotency_key: str = None

    def now(self):
        return self.store.clock.now()

    def event(self, event_type, obj, previous=None):
        self.store.record_event(event_type, obj, previous, self.request_id, self.idempotency_key)

    def find(self, resource, oid, param="id", status=404):
        obj = self.store.lookup(resource, oid)
        if obj is None:
            raise resource_missing(OBJECT_NAME[resource], oid, param=param, status=status)
        return obj


# =============================================================================
# Generic handlers: list, retrieve, create, update, delete
# =============================================================================


def list_objects(call):
    resource = call.args[0]
    p = validate(call.params, LIST[resource])
    checks = FILTERS[resource](p)
    data, has_more = paginate(call, resource, p, checks)
    data = [catalog.embed(call.store, resource, billing.render(resource, obj)) for obj in data]
    payload = {"object": "list", "data": data, "has_more": has_more, "url": f"/v1/{resource}"}
    return 200, expand(call, payload, p.get("expand"))


def retrieve(call):
    resource, oid = call.args
    p = validate(call.params, RETRIEVE)
    obj = call.store.lookup(resource, oid)
    # Stripe: a plan is a recurring price and vice versa, retrievable either way.
    if obj is None and resource == "prices" and call.store.lookup("plans", oid):
        obj = price_view_of_plan(call.store.lookup("plans", oid))
    if obj is None and resource == "plans":
        price = call.store.lookup("prices", oid)
        obj = plan_view_of_price(price) if price and price["recurring"] else None
    if obj is None and (resource, oid) in call.store.tombstones:
        obj = call.store.tombstones[(resource, oid)]  # deleted customers stay retrievable
    if obj is None:
        raise resource_missing(OBJECT_NAME[resource], oid)
    return 200, expand(call, catalog.embed(call.store, resource, billing.render(resource, obj)), p.get("expand"))


def create(call):
    return CREATORS[call.args[0]](call)


def update(call):
    resource, oid = call.args
    call.find(resource, oid)
    return UPDATERS[resource](call, oid)


def delete(call):
    resource, oid = call.args
    validate(call.params, DELETE)
    obj = call.find(resource, oid)
    if resource == "products" and _product_has_prices(call.store, oid):
        raise invalid("This product cannot be deleted because it has one or more user-created prices.")
    if resource == "customers":
        for sub in list(_subscriptions_of(call.store, oid)):
            _cancel(call, sub, reason="cancellation_requested")
    call.store.remove(resource, oid)
    stub = {"id": oid, "object": RESOURCES[resource][1], "deleted": True}
    if resource == "customers":
        call.store.tombstones[(resource, oid)] = stub
    call.event(f"{event_prefix(resource)}.deleted", obj)
    return 200, stub


def insert_new(call, resource, fields, obj_id=None):
    """Build, store and announce a new object; returns it."""
    fields = {k: v for k, v in fields.items() if k in OBJECT_FIELDS[resource]}
    if obj_id:
        fields["id"] = obj_id
    obj = call.store.build(resource, fields)
    call.store.insert(resource, obj)
    call.event(f"{event_prefix(resource)}.created", obj)
    return obj


def apply_update(call, resource, oid, changes):
    """Merge changes into the stored object (metadata key by key) and record the event."""
    old = call.find(resource, oid)
    new = dict(old)
    for key, value in changes.items():
        if key == "expand":
            continue
        if key == "metadata":
            new["metadata"] = merge_metadata(old["metadata"], value) if value else {}
        elif isinstance(value, dict) and isinstance(old.get(key), dict):
            new[key] = merge(old[key], value)
        else:
            new[key] = value
    new = derive(resource, new)
    if new == old:
        return old  # nothing changed: Stripe sends no event
    if resource == "products":
        new["updated"] = call.now()
    call.store.replace(resource, new)
    call.event(f"{event_prefix(resource)}.updated", new, previous_attributes(old, new))
    return new


# =============================================================================
# Per-resource create / update
# =============================================================================


def check_email(email):
    if email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise StripeError(400, f"Invalid email address: {email}", code="email_invalid", param="email")


def check_currency(currency, param="currency"):
    currency = (currency or "").lower()
    if currency not in CURRENCIES:
        raise invalid(
            f"Invalid currency: {currency}. Stripe currently supports these currencies: " + ", ".join(sorted(CURRENCIES)), param=param
        )
    return currency


def check_non_negative(value, param):
    if value is not None and value < 0:
        raise invalid("This value must be greater than or equal to 0.", param=param)


def create_customer(call):
    p = validate(call.params, CUSTOMER_CREATE)
    check_email(p.get("email"))
    return 200, expand(call, insert_new(call, "customers", p), p.get("expand"))


def update_customer(call, oid):
    p = validate(call.params, CUSTOMER_UPDATE)
    check_email(p.get("email"))
    return 200, expand(call, apply_update(call, "customers", oid, _fields(p, "customers")), p.get("expand"))


def create_product(call):
    p = validate(call.params, PRODUCT_CREATE, required=("name",))
    if p.get("id") and call.store.lookup("products", p["id"]):
        raise StripeError(400, "Product already exists.", code="resource_already_exists", param="id")
    price_data = p.get("default_price_data")
    fields = dict(p)
    if price_data:
        price_fields = _price_fields_from_data(price_data, "default_price_data")
        fields["default_price"] = call.store.new_id("price")
    product = insert_new(call, "products", fields, p.get("id"))
    if price_data:
        insert_new(call, "prices", dict(price_fields, product=product["id"]), fields["default_price"])
    return 200, expand(call, product, p.get("expand"))


def _price_fields_from_data(data, param):
    if not data.get("currency"):
        raise parameter_missing(f"{param}[currency]")
    fields = dict(data, currency=check_currency(data["currency"], f"{param}[currency]"))
    if fields.get("unit_amount") is None and fields.get("unit_amount_decimal") is None and not fields.get("custom_unit_amount"):
        raise parameter_missing(f"{param}[unit_amount]")
    check_non_negative(fields.get("unit_amount"), f"{param}[unit_amount]")
    return fields


def update_product(call, oid):
    p = validate(call.params, PRODUCT_UPDATE)
    if p.get("default_price"):
        call.find("prices", p["default_price"], param="default_price", status=400)
    return 200, expand(call, apply_update(call, "products", oid, _fields(p, "products")), p.get("expand"))


def create_price(call):
    p = validate(call.params, PRICE_CREATE, required=("currency",))
    p["currency"] = check_currency(p["currency"])
    if not p.get("product") and not p.get("product_data"):
        raise parameter_missing("product")
    if p.get("product"):
        call.find("products", p["product"], param="product", status=400)
    if p.get("billing_scheme") == "tiered":
        for name in ("tiers", "tiers_mode"):
            if not p.get(name):
                raise parameter_missing(name)
    elif p.get("unit_amount") is None and p.get("unit_amount_decimal") is None and not p.get("custom_unit_amount"):
        raise parameter_missing("unit_amount")
    check_non_negative(p.get("unit_amount"), "unit_amount")
    if p.get("recurring") is not None and not p["recurring"].get("interval"):
        raise parameter_missing("recurring[interval]")
    _check_lookup_key(call.store, p.get("lookup_key"), p.get("transfer_lookup_key"))
    if p.get("product_data"):
        data = p["product_data"]
        if not data.get("name"):
            raise parameter_missing("product_data[name]")
        p["product"] = insert_new(call, "products", data, data.get("id"))["id"]
    return 200, expand(call, insert_new(call, "prices", p), p.get("expand"))


def _check_lookup_key(store, lookup_key, transfer, own_id=None):
    """Lookup keys are unique; transfer_lookup_key=true moves it from the old price."""
    if not lookup_key:
        return
    coll = store.collections["prices"]
    for pos in range(len(coll)):
        price = coll.at(pos)
        if price["lookup_key"] == lookup_key and price["id"] != own_id:
            if not transfer:
                raise invalid(f"A price (`{price['id']}`) already uses that lookup key.", param="lookup_key")
            store.replace("prices", dict(price, lookup_key=None))


def update_price(call, oid):
    p = validate(call.params, PRICE_UPDATE)
    _check_lookup_key(call.store, p.get("lookup_key"), p.get("transfer_lookup_key"), own_id=oid)
    return 200, expand(call, apply_update(call, "prices", oid, _fields(p, "prices")), p.get("expand"))


def create_plan(call):
    p = validate(call.params, PLAN_CREATE, required=("currency", "interval"))
    p["currency"] = check_currency(p["currency"])
    if p.get("id") and call.store.lookup("plans", p["id"]):
        raise StripeError(400, "Plan already exists.", code="resource_already_exists", param="id")
    if p.get("billing_scheme") != "tiered" and p.get("amount") is None and p.get("amount_decimal") is None:
        raise parameter_missing("amount")
    check_non_negative(p.get("amount"), "amount")
    product = p.get("product")
    if product in (None, ""):
        raise parameter_missing("product")
    if isinstance(product, dict):
        data = coerce(product, PLAN_PRODUCT_HASH, "product")
        if not data.get("name"):
            raise parameter_missing("product[name]")
        p["product"] = insert_new(call, "products", data, data.get("id"))["id"]
    elif isinstance(product, str):
        call.find("products", product, param="product", status=400)
    else:
        raise invalid("Invalid string", param="product")
    return 200, expand(call, insert_new(call, "plans", p, p.get("id")), p.get("expand"))


def update_plan(call, oid):
    p = validate(call.params, PLAN_UPDATE)
    if p.get("product"):
        call.find("products", p["product"], param="product", status=400)
    return 200, expand(call, apply_update(call, "plans", oid, _fields(p, "plans")), p.get("expand"))


def _fields(params, resource):
    return {k: v for k, v in params.items() if k in OBJECT_FIELDS[resource]}


# --- subscriptions -----------------------------------------------------------


def _resolve_item_price(call, item, index):
    """The recurring price an item points at (price or plan id), or a Stripe 400."""
    if item.get("price"):
        param, ref = f"items[{index}][price]", item["price"]
        price = call.store.find_price(ref)
        missing = resource_missing("price", ref, param=param, status=400)
    elif item.get("plan"):
        param, ref = f"items[{index}][plan]", item["plan"]
        price = call.store.find_price(ref)
        missing = resource_missing("plan", ref, param=param, status=400)
    else:
        raise parameter_missing(f"items[{index}][price]")
    if price is None:
        raise missing
    if price["type"] != "recurring":
        raise invalid(
            "The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`.", param=param
        )
    if item.get("quantity") is not None:
        check_non_negative(item["quantity"], f"items[{index}][quantity]")
    return price


def create_subscription(call):
    p = validate(call.params, SUBSCRIPTION_CREATE, required=("customer",))
    customer = call.find("customers", p["customer"], param="customer", status=400)
    if not p.get("items"):
        raise parameter_missing("items")
    prices = [_resolve_item_price(call, item, i) for i, item in enumerate(p["items"])]
    if p.get("trial_period_days") is not None:
        check_non_negative(p["trial_period_days"], "trial_period_days")
    if p.get("trial_end") not in (None, "now") and p["trial_end"] <= call.now():
        raise invalid("Invalid timestamp: must be an integer Unix timestamp in the future.", param="trial_end")
    fields = {k: v for k, v in p.items() if k in OBJECT_FIELDS["subscriptions"] or k in ("items", "trial_period_days")}
    fields["items"] = [dict(item, price=price) for item, price in zip(p["items"], prices, strict=True)]
    fields.pop("plan", None)
    sub = insert_new_subscription(call, fields)
    if customer["currency"] is None:  # Stripe fixes the customer's currency on first use
        apply_update(call, "customers", customer["id"], {"currency": sub["currency"]})
    return 200, expand(call, sub, p.get("expand"))


def insert_new_subscription(call, fields):
    obj = call.store.build("subscriptions", fields)
    call.store.insert("subscriptions", obj)
    call.event("customer.subscription.created", obj)
    return obj


def update_subscription(call, oid):
    p = validate(call.params, SUBSCRIPTION_UPDATE)
    sub = call.find("subscriptions", oid)
    if sub["status"] in ("canceled", "incomplete_expired") and set(p) - {"metadata", "cancellation_details", "expand"}:
        raise invalid("A canceled subscription can only update its cancellation_details and metadata.")
    now = call.now()
    changes = _fields(p, "subscriptions")
    changes.pop("items", None)
    if "items" in p:
        items = _updated_items(call, sub, p["items"], now)
        changes.update(items=items_list(oid, items), **single_item_fields(items))
    if p.get("cancel_at_period_end") is True:
        changes.update(
            cancel_at=sub["current_period_end"],
            canceled_at=now,
            cancellation_details=dict(sub["cancellation_details"], reason="cancellation_requested"),
        )
    elif p.get("cancel_at_period_end") is False:
        changes.update(cancel_at=None, canceled_at=None, cancellation_details={"comment": None, "feedback": None, "reason": None})
    if p.get("trial_end") == "now" or (isinstance(p.get("trial_end"), int) and p["trial_end"] <= now):
        rec = (changes.get("items") or sub["items"])["data"][0]["price"]["recurring"]
        changes.update(
            trial_end=now,
            status="active",
            current_period_start=now,
            billing_cycle_anchor=now,
            current_period_end=add_interval(now, rec["interval"], rec["interval_count"]),
        )
    elif isinstance(p.get("trial_end"), int):
        changes.update(
            trial_end=p["trial_end"], current_period_end=p["trial_end"], status="trialing", trial_start=sub["trial_start"] or now
        )
    return 200, expand(call, apply_update(call, "subscriptions", oid, changes), p.get("expand"))


def _updated_items(call, sub, item_params, now):
    items = {item["id"]: item for item in sub["items"]["data"]}
    for i, change in enumerate(item_params):
        if change.get("id"):
            if change["id"] not in items:
                raise resource_missing("subscription item", change["id"], param=f"items[{i}][id]", status=400)
            if change.get("deleted"):
                del items[change["id"]]
                continue
            item = dict(items[change["id"]])
            if change.get("price") or change.get("plan"):
                price = _resolve_item_price(call, change, i)
                item.update(price=price, plan=plan_view_of_price(price))
            if change.get("quantity") is not None:
                item["quantity"] = change["quantity"]
            if "metadata" in change:
                item["metadata"] = merge_metadata(item["metadata"], change["metadata"] or {})
            items[item["id"]] = item
        else:
            price = _resolve_item_price(call, change, i)
            item = call.store.subscription_item(sub["id"], now, price, change.get("quantity") or 1, change.get("metadata"))
            items[item["id"]] = item
    if not items:
        raise invalid(
            "A subscription must have at least one active plan. To cancel a subscription, "
            "please use the cancel API endpoint on /v1/subscriptions.",
            param="items",
        )
    return list(items.values())


def cancel_subscription(call):
    _, oid = call.args
    p = validate(call.params, SUBSCRIPTION_CANCEL)
    sub = call.find("subscriptions", oid)
    if sub["status"] == "canceled":
        raise invalid(f"This subscription has already been canceled: {oid}.")
    return 200, expand(call, _cancel(call, sub, "cancellation_requested", p.get("cancellation_details")), p.get("expand"))


def _cancel(call, sub, reason, details=None):
    now = call.now()
    new = dict(
        sub,
        status="canceled",
        canceled_at=now,
        ended_at=now,
        cancellation_details=merge(sub["cancellation_details"], dict(details or {}, reason=reason)),
    )
    call.store.replace("subscriptions", new)
    call.event("customer.subscription.deleted", new)
    return new


def _subscriptions_of(store, customer_id):
    coll = store.collections["subscriptions"]
    for pos in range(len(coll)):
        sub = coll.at(pos)
        if sub["customer"] == customer_id and sub["status"] not in ("canceled", "incomplete_expired"):
            yield sub


def _product_has_prices(store, product_id):
    for resource in ("prices", "plans"):
        coll = store.collections[resource]
        if any(coll.at(pos)["product"] == product_id for pos in range(len(coll))):
            return True
    return False


# =============================================================================
# Lists: filters and cursor pagination
# =============================================================================


def _eq(field, value):
    return lambda o: o.get(field) == value


def _range(field, bounds):
    if isinstance(bounds, int):
        return lambda o: o.get(field) == bounds
    ops = {"gt": lambda a, b: a > b, "gte": lambda a, b: a >= b, "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b}
    return lambda o: o.get(field) is not None and all(ops[k](o[field], v) for k, v in bounds.items())


def customer_filters(p):
    return [_eq(name, p[name]) for name in ("email", "test_clock") if name in p]


def product_filters(p):
    checks = [_eq(name, p[name]) for name in ("active", "shippable", "url") if name in p]
    if "ids" in p:
        if "starting_after" in p or "ending_before" in p:
            raise invalid("You cannot use `ids` with `starting_after` or `ending_before`.", param="ids")
        ids = set(p["ids"])
        checks.append(lambda o: o["id"] in ids)
    return checks


def price_filters(p):
    checks = [_eq(name, p[name]) for name in ("active", "product", "type") if name in p]
    if "currency" in p:
        checks.append(_eq("currency", p["currency"].lower()))
    if "lookup_keys" in p:
        keys = set(p["lookup_keys"])
        checks.append(lambda o: o["lookup_key"] in keys)
    for key, value in (p.get("recurring") or {}).items():
        checks.append(lambda o, k=key, v=value: (o["recurring"] or {}).get(k) == v)
    return checks


def plan_filters(p):
    return [_eq(name, p[name]) for name in ("active", "product") if name in p]


def subscription_filters(p):
    checks = [_eq(name, p[name]) for name in ("customer", "collection_method", "test_clock") if name in p]
    for name in ("current_period_start", "current_period_end"):
        if name in p:
            checks.append(_range(name, p[name]))
    if "price" in p:
        checks.append(lambda o: any(i["price"]["id"] == p["price"] for i in o["items"]["data"]))
    if "plan" in p:
        checks.append(lambda o: any(i["plan"]["id"] == p["plan"] for i in o["items"]["data"]))
    if "automatic_tax" in p and "enabled" in p["automatic_tax"]:
        checks.append(lambda o: o["automatic_tax"]["enabled"] == p["automatic_tax"]["enabled"])
    status = p.get("status")
    if status is None:  # Stripe hides ended subscriptions unless asked
        checks.append(lambda o: o["status"] not in ("canceled", "incomplete_expired"))
    elif status == "ended":
        checks.append(lambda o: o["status"] in ("canceled", "incomplete_expired"))
    elif status != "all":
        checks.append(_eq("status", status))
    return checks


def balance_transaction_filters(p):
    checks = [_eq(name, p[name]) for name in ("type", "source") if name in p]
    if "currency" in p:
        checks.append(_eq("currency", p["currency"].lower()))
    if "payout" in p:  # we do not model payouts: only the payout's own transaction matches
        checks.append(_eq("source", p["payout"]))
    return checks


def event_filters(p):
    if "type" in p and "types" in p:
        raise invalid("You may only specify one of these parameters: type, types.", param="types")
    checks = []
    if "type" in p:
        pattern = p["type"]
        if pattern.endswith("*"):
            checks.append(lambda o: o["type"].startswith(pattern[:-1]))
        else:
            checks.append(_eq("type", pattern))
    if "types" in p:
        types = set(p["types"])
        checks.append(lambda o: o["type"] in types)
    if p.get("delivery_success") is False:  # no webhook endpoints, so nothing ever failed
        checks.append(lambda o: False)
    return checks


FILTERS = {
    "customers": customer_filters,
    "products": product_filters,
    "prices": price_filters,
    "plans": plan_filters,
    "subscriptions": subscription_filters,
    "balance_transactions": balance_transaction_filters,
    "events": event_filters,
    "accounts": lambda p: [],
    **billing.FILTERS,
}
LIST = {**LIST, **billing.LIST}


def check_limit(p):
    limit = p.get("limit")
    if limit is None:
        return 10
    if limit < 1:
        raise invalid("This value must be greater than or equal to 1.", param="limit")
    if limit > 100:
        raise invalid("This value must be less than or equal to 100.", param="limit")
    return limit


def paginate(call, resource, p, checks, store=None):
    """Stripe cursor pagination over the newest-first collection. Returns (page, has_more)."""
    limit = check_limit(p)
    if p.get("starting_after") and p.get("ending_before"):
        raise invalid("You may only specify one of these parameters: ending_before, starting_after.", param="ending_before")
    coll = (store or call.store).collections[resource]
    created = p.get("created")
    bounds = {"gte": created, "lte": created} if isinstance(created, int) else (created or {})
    lo, hi = coll.created_range(**bounds)

    def matches(obj):
        return all(check(obj) for check in checks)

    cursor_param = "starting_after" if p.get("starting_after") else "ending_before"
    cursor = p.get(cursor_param)
    pos = None
    if cursor:
        pos = coll.position(cursor)
        if pos is None:
            raise resource_missing(OBJECT_NAME[resource], cursor, param=cursor_param, status=400)
    if cursor_param == "ending_before" and cursor:
        found = _scan(coll, range(min(hi, pos) - 1, lo - 1, -1), matches, limit + 1)
        return list(reversed(found[:limit])), len(found) > limit
    start = lo if pos is None else max(lo, pos + 1)
    found = _scan(coll, range(start, hi), matches, limit + 1)
    return found[:limit], len(found) > limit


def _scan(coll, positions, matches, want):
    out = []
    for pos in positions:
        obj = coll.at(pos)
        if matches(obj):
            out.append(obj)
            if len(out) == want:
                break
    return out


# =============================================================================
# Search (customers, products)
# =============================================================================

SEARCH_FIELDS = {
    "customers": {"created", "email", "metadata", "name", "phone"},
    "products": {"active", "created", "description", "metadata", "name", "shippable", "url"},
}
_CLAUSE = re.compile(
    r"""\s*(?P<neg>-)?(?P<field>[a-z_]+)(?:\[(?P<q>['"])(?P<key>[^'"]+)(?P=q)\])?\s*"""
    r"""(?P<op>:|~|>=|<=|>|<)\s*(?:'(?P<s1>[^']*)'|"(?P<s2>[^"]*)"|(?P<bare>-?\d+|null|true|false))\s*"""
)


def parse_search_query(resource, query):
    """Stripe's query language, the common subset: clauses joined by AND or OR (not both)."""
    if " AND " in query and " OR " in query:
        raise invalid("Queries cannot mix AND and OR.", param="query")
    joiner = "OR" if " OR " in query else "AND"
    clauses = []
    for text in query.split(f" {joiner} "):
        m = _CLAUSE.fullmatch(text)
        if not m:
            raise invalid(
                "We were unable to parse your search query. Try using the format "
                '`metadata["key"]:"value"` to query for metadata or `key:"value"` '
                "to query for other fields.",
                param="query",
            )
        if m["field"] not in SEARCH_FIELDS[resource]:
            raise invalid(
                f"Field `{m['field']}` is an unsupported search field for resource "
                f"`{resource}`. See http://stripe.com/docs/search#query-fields-for-{resource} "
                f"for a list of supported fields.",
                param="query",
            )
        value = m["s1"] if m["s1"] is not None else m["s2"] if m["s2"] is not None else m["bare"]
        clauses.append((bool(m["neg"]), m["field"], m["key"], m["op"], value))
    return joiner, clauses


def _clause_matches(obj, clause):
    negate, field, key, op, value = clause
    actual = obj.get(field)
    if field == "metadata":
        actual = (actual or {}).get(key)
    if value == "null":
        hit = actual is None
    elif op in (">", "<", ">=", "<="):
        try:
            hit = (
                actual is not None
                and {">": actual > int(value), "<": actual < int(value), ">=": actual >= int(value), "<=": actual <= int(value)}[op]
            )
        except ValueError:
            hit = False
    elif actual is None:
        hit = False
    elif isinstance(actual, bool):
        hit = str(actual).lower() == value.lower()
    elif op == "~":
        hit = value.lower() in str(actual).lower()
    else:
        hit = str(actual).lower() == value.lower()
    return hit != negate


def search(call):
    resource = call.args[0]
    p = validate(call.params, SEARCH, required=("query",))
    limit = check_limit(p)
    joiner, clauses = parse_search_query(resource, p["query"])
    combine = any if joiner == "OR" else all
    hits = [
        obj
        for obj in call.store.search_candidates(resource, call.emu.search_lag_seconds)
        if combine(_clause_matches(obj, c) for c in clauses)
    ]
    offset = 0
    if p.get("page"):
        try:
            offset = int(base64.urlsafe_b64decode(p["page"].encode()).decode().split(":")[1])
        except (ValueError, IndexError, UnicodeDecodeError):
            raise invalid("Invalid page token.", param="page") from None
    page = hits[offset : offset + limit]
    has_more = offset + limit < len(hits)
    next_page = base64.urlsafe_b64encode(f"page:{offset + limit}".encode()).decode() if has_more else None
    payload = {"object": "search_result", "data": page, "has_more": has_more, "next_page": next_page, "url": f"/v1/{resource}/search"}
    return 200, expand(call, payload, p.get("expand"))


# =============================================================================
# Accounts
# =============================================================================


def get_account(call):
    validate(call.params, RETRIEVE)
    return 200, call.emu.account_object(call.store.account_id)


def list_accounts(call):
    p = validate(call.params, LIST["accounts"])
    data, has_more = paginate(call, "accounts", p, [], store=call.emu.store)
    return 200, {"object": "list", "data": data, "has_more": has_more, "url": "/v1/accounts"}


# =============================================================================
# expand[]
# =============================================================================


def expand(call, payload, paths):
    """Replace ids with objects for each dotted path (objects are copied, never mutated), and
    include the lists a customer holds only when asked (``sources``, ``tax_ids``, ``subscriptions``;
    ``data.sources`` on a list of customers)."""
    payload, paths = _include(call, payload, paths or [])
    for path in paths:
        payload = _expand(call, payload, path.split("."), path)
    return payload


INCLUDABLE = {"customer": ("sources", "subscriptions", "tax_ids")}  # object -> its lists included on request


def _include(call, payload, paths):
    """The payload with the includable lists of ``paths``, and the paths left to expand."""
    listed = payload.get("object") == "list"
    objects = payload["data"] if listed else [payload]
    kinds = {obj.get("object") for obj in objects}
    fields, rest = [], []
    for path in paths:
        field = path[len("data.") :] if listed and path.startswith("data.") else (None if listed else path)
        if field in {f for kind in kinds for f in INCLUDABLE.get(kind, ())}:
            fields.append(field)
        else:
            rest.append(path)
    if not fields:
        return payload, rest
    objects = [_with_included(call, obj, fields) for obj in objects]
    return (dict(payload, data=objects) if listed else objects[0]), rest


def _with_included(call, obj, fields):
    obj = catalog.include(call.store, "customers", obj, [f for f in fields if f != "subscriptions"])
    if "subscriptions" in fields:
        current = [
            billing.render("subscriptions", sub)
            for sub in call.store.all("subscriptions")
            if sub.get("customer") == obj["id"] and sub.get("status") not in ("canceled", "incomplete_expired")
        ]
        obj = dict(obj, subscriptions=catalog.included_list(current, f"/v1/customers/{obj['id']}/subscriptions"))
    return obj


def _expand(call, value, parts, path):
    if isinstance(value, list):
        return [_expand(call, v, parts, path) for v in value]
    if not isinstance(value, dict) or not parts:
        return value
    head, rest = parts[0], parts[1:]
    if head not in value:
        raise invalid(f"This property cannot be expanded ({path}).", param="expand")
    current = value[head]
    if not rest:
        if head not in EXPANDABLE:
            raise invalid(f"This property cannot be expanded ({path}).", param="expand")
        if isinstance(current, str):
            resource = RESOURCE_BY_PREFIX.get(current.split("_")[0])
            found = call.store.lookup(resource, current) if resource else None
            if found is not None:
                return dict(value, **{head: found})
        return value
    return dict(value, **{head: _expand(call, current, rest, path)})


# =============================================================================
# Routing table
# =============================================================================

_ALL = "|".join(("customers|products|prices|plans|subscriptions|balance_transactions|events", *billing.RESOURCES))
_WRITABLE = "customers|products|prices|plans|subscriptions"
_ID = r"(?P<id>[^/]+)"  # at most one per route; it names no endpoint (see route())

# (method, path regex, handler, resource for restricted-key checks; None = first path group)
ROUTES = [
    ("GET", r"/v1/account", get_account, "accounts"),
    ("GET", r"/v1/accounts", list_accounts, "accounts"),
    ("GET", r"/v1/(customers|products)/search", search, None),
    ("GET", rf"/v1/invoices/{_ID}/lines", billing.invoice_lines, "invoices"),
    ("GET", r"/v1/subscription_items", billing.subscription_items, "subscription_items"),
    *billing_writes.ROUTES,
    *files.ROUTES,
    *payments.ROUTES,
    ("GET", rf"/v1/({_ALL})", list_objects, None),
    ("GET", rf"/v1/({_ALL})/{_ID}", retrieve, None),
    ("POST", rf"/v1/({_WRITABLE})", create, None),
    ("POST", rf"/v1/({_WRITABLE})/{_ID}", update, None),
    ("DELETE", rf"/v1/(customers|products|plans|coupons)/{_ID}", delete, None),
    ("DELETE", rf"/v1/(subscriptions)/{_ID}", cancel_subscription, None),
]
_COMPILED = [(method, re.compile(pattern), handler, res) for method, pattern, handler, res in ROUTES]

CREATORS = {
    "customers": create_customer,
    "products": create_product,
    "prices": create_price,
    "plans": create_plan,
    "subscriptions": create_subscription,
}
UPDATERS = {
    "customers": update_customer,
    "products": update_product,
    "prices": update_price,
    "plans": update_plan,
    "subscriptions": update_subscription,
}

# Stripe's restricted-key permission names ("rak_customer_read").
PERMISSION = {
    "customers": "customer",
    "products": "product",
    "prices": "plan",
    "plans": "plan",
    "subscriptions": "subscription",
    "balance_transactions": "balance_transaction_source",
    "events": "event",
    "accounts": "account",
    **billing.PERMISSION,
}


def route(method, path):
    """-> (handler, path groups, resource, endpoint): the endpoint is the path with its id as
    "{id}" ("/v1/customers/{id}"), so every id shares one per-endpoint limit, as in Stripe."""
    for route_method, pattern, handler, resource in _COMPILED:
        match = pattern.fullmatch(path)
        if match and route_method == method:
            endpoint = path
            if "id" in pattern.groupindex and match.group("id") is not None:
                endpoint = path[: match.start("id")] + "{id}" + path[match.end("id") :]
            return handler, match.groups(), resource or match.group(1), endpoint
    generic = catalog.route(method, path)  # every other list endpoint of the stream catalogue
    if generic:
        return generic
    raise StripeError(
        404,
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.",
    )


# =============================================================================
# The server
# =============================================================================


class StripeEmulator(LoopbackServer):
    """Stripe's API (2024-06-20) on 127.0.0.1.

    Test-facing attributes: url, store (platform account), store_for(acct), events,
    requests (log), faults, clock / set_time / advance, search_lag_seconds,
    idempotent_replays, rate_limited, endpoint_rate_limited, add_restricted_key,
    add_connected_account(s), connected_accounts, disconnect_account, fail_account. seed makes ids and random faults reproducible.

    rate_limit: requests/s of the whole emulator before 429s (Stripe-Rate-Limited-Reason:
    global-rate). endpoint_rate_limit: requests/s of each endpoint, i.e. (method, path with
    the id as {id}, Stripe-Account), before 429s with reason endpoint-rate. Both off by default.
    Both count requests in one-second windows of ``monotonic()`` (default: time.monotonic).
    """

    def __init__(
        self,
        api_key="sk_test_emulator",
        latency=0.0,
        rate_limit=None,
        *,
        host="127.0.0.1",
        port=0,
        seed=None,
        account_id="acct_1EmulatorPlatfrm",
        rate_limit_retry_after=None,
        search_lag_seconds=0.0,
        faults=None,
        log_limit=100_000,
        endpoint_rate_limit=None,
        monotonic=time.monotonic,
    ):
        super().__init__(host, port, faults if faults is not None else FaultInjector(seed=seed), log_limit)
        self.api_key = api_key
        self.latency = latency
        self.rate_limit = rate_limit
        self.rate_limit_retry_after = rate_limit_retry_after  # Retry-After on rate-limit 429s (None: omit)
        self.search_lag_seconds = search_lag_seconds
        self.account_id = account_id
        self.clock = Clock()
        self.restricted_keys = {}  # key -> {resource: "read" | "write"}
        self.idempotent_replays = 0
        self.rate_limited = 0
        self.endpoint_rate_limit = endpoint_rate_limit
        self.endpoint_rate_limited = 0
        self.monotonic = monotonic  # the rate limits' clock (tests pass one they step)
        self._endpoint_windows = {}  # (method, endpoint, account) -> deque of accepted times
        self._seed = seed
        self._stores = {account_id: Store(account_id, self.clock, seed)}
        self._stores_lock = threading.Lock()
        self._failing_accounts = {}  # connected account -> the HTTP status it answers (fail_account)
        self._window = collections.deque()  # monotonic times of recent accepted requests
        self._window_lock = threading.Lock()
        self._idempotency = {}  # (api key, account, key) -> entry dict
        self._idempotency_lock = threading.Lock()
        self._platform = merge(
            DEFAULTS["accounts"](account_id, self.clock.now(), 0),
            {"controller": {"type": "account"}, "settings": {"dashboard": {"display_name": "Emulator"}}},
        )

    # --- public API -------------------------------------------------------
    @property
    def store(self):
        """The platform account's store."""
        return self._stores[self.account_id]

    def store_for(self, account_id):
        """The store of a connected account (created, and connected, on first use)."""
        if account_id == self.account_id:
            return self.store
        with self._stores_lock:
            if account_id not in self._stores:
                self._stores[account_id] = self._new_connected_store(account_id)
            if account_id not in self.store.collections["accounts"]:
                self.store.add("accounts", {"id": account_id, "controller": {"type": "application", "is_controller": True}})
            return self._stores[account_id]

    def _new_connected_store(self, account_id):
        # Each account gets its own id stream: ids stay unique across accounts, as in Stripe.
        seed = None if self._seed is None else f"{self._seed}:{account_id}"
        return Store(account_id, self.clock, seed, connected=True)

    def add_connected_account(self, account_id, **fields):
        """Register a connected account (listed by /v1/accounts; usable as Stripe-Account).
        A disconnected account connected again comes back with its objects, as in Stripe."""
        self.store_for(account_id)
        if fields:
            with self.store.lock:
                coll = self.store.collections["accounts"]
                coll.replace(merge(coll.get(account_id), fields))
        return self.account_object(account_id)

    def add_connected_accounts(self, count, created_start=None, created_step=3600):
        """Connect ``count`` new accounts at once (cheap: each account's store is made on its
        first request), created ``created_step`` seconds apart up to now; returns their ids."""
        if created_start is None:
            created_start = self.clock.now() - count * created_step
        with self._stores_lock:
            return self.store.bulk_add("accounts", count, created_start=created_start, created_step=created_step)

    def connected_accounts(self):
        """The ids of the connected accounts, newest first (as /v1/accounts lists them)."""
        coll = self.store.collections["accounts"]
        with self.store.lock:
            return [coll.at(i)["id"] for i in range(len(coll))]

    def disconnect_account(self, account_id):
        """The account revokes the platform's access (or the platform deauthorizes it): it leaves
        /v1/accounts, requests for it answer Stripe's 403 ``account_invalid``, and the platform
        gets an ``account.application.deauthorized`` event. Its objects are kept for a reconnect."""
        with self._stores_lock, self.store.lock:
            if account_id not in self.store.collections["accounts"]:
                raise KeyError(f"{account_id} is not a connected account")
            self.store.remove("accounts", account_id)
            application = {"id": "ca_EmulatorPlatform", "object": "application", "name": "Emulator"}
            event = self.store.record_event("account.application.deauthorized", application)
            self.store.replace("events", dict(event, account=account_id))

    def fail_account(self, account_id, status=500):
        """Every request for this connected account answers ``status`` (a 5xx: Stripe's
        ``api_error``) until ``fail_account(account_id, None)``; the other accounts are unaffected."""
        with self._stores_lock:
            if status is None:
                self._failing_accounts.pop(account_id, None)
            else:
                self._failing_accounts[account_id] = status

    def account_object(self, account_id):
        if account_id == self.account_id:
            return self._platform
        return self.store.lookup("accounts", account_id)

    def add_restricted_key(self, key, allowed_resources):
        """allowed_resources: {"customers", ...} (read and write) or {"customers": "read", ...}."""
        if not isinstance(allowed_resources, dict):
            allowed_resources = dict.fromkeys(allowed_resources, "write")
        self.restricted_keys[key] = dict(allowed_resources)

    @property
    def events(self):
        """The platform account's events, newest first."""
        return self.store.all("events")

    def server_time(self):
        return self.clock.now_float()  # Stripe's Date header follows Stripe's clock

    def set_time(self, epoch):
        self.clock.set_time(epoch)

    def advance(self, seconds):
        self.clock.advance(seconds)

    # --- request handling -------------------------------------------------
    def handle(self, req):
        rid = request_id()
        version = req.header("Stripe-Version") or API_VERSION
        headers = [("Request-Id", rid), ("Stripe-Version", version)]
        if self.latency:
            time.sleep(self.latency)
        try:
            api_key = self._authenticate(req)
            self._check_rate_limit()
            handler, args, resource, endpoint = route(req.method, req.path)
            self._check_endpoint_rate_limit((req.method, endpoint, req.header("Stripe-Account") or self.account_id))
            self._check_permission(api_key, resource, req.method)
            store = self._store_for_request(req, api_key)
            params = self._params(req)
            call = Call(self, store, req.method, req.path, params, args, rid, req.header("Idempotency-Key"))
            if req.method == "POST" and call.idempotency_key:
                return self._idempotent(call, api_key, handler, headers)
            status, payload = self._run(call, handler)
        except StripeError as err:
            return Response.json(err.status, err.body(), headers + err.headers)
        return _response(status, payload, headers)

    def _run(self, call, handler):
        with call.store.lock:
            return handler(call)

    def _params(self, req):
        if req.method == "GET":
            return forms.parse(req.query_string)
        content_type = req.header("Content-Type") or ""
        if files.is_multipart(content_type):
            params = forms.parse(req.query_string)
            params.update(files.parse_multipart(req.body, content_type))
            return params
        if req.body and content_type.startswith("application/json"):
            raise invalid(
                f"Invalid request: unsupported Content-Type {content_type}. If error persists "
                f"and you need assistance, please contact support@stripe.com."
            )
        params = forms.parse(req.query_string)
        params.update(forms.parse(req.body.decode("utf-8", "replace")))
        return params

    def _authenticate(self, req):
        auth = req.header("Authorization") or ""
        scheme, _, value = auth.partition(" ")
        key = None
        if scheme.lower() == "bearer":
            key = value.strip()
        elif scheme.lower() == "basic":
            try:
                key = base64.b64decode(value.strip()).decode().split(":")[0]
            except ValueError:
                key = None
        unauthorized = [("WWW-Authenticate", 'Basic realm="Stripe"')]
        if not key:
            raise StripeError(
                401,
                "You did not provide an API key. You need to provide your API key in "
                "the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for "
                "details, or we can help at https://support.stripe.com/.",
                headers=unauthorized,
            )
        if key != self.api_key and key not in self.restricted_keys:
            raise StripeError(401, f"Invalid API Key provided: {mask_key(key)}", headers=unauthorized)
        return key

    def _check_rate_limit(self):
        if self.rate_limit and not self._admit(self._window, self.rate_limit, "rate_limited"):
            raise self._rate_limit_error("global-rate")

    def _check_endpoint_rate_limit(self, key):
        if not self.endpoint_rate_limit:
            return
        with self._window_lock:
            window = self._endpoint_windows.setdefault(key, collections.deque())
        if not self._admit(window, self.endpoint_rate_limit, "endpoint_rate_limited"):
            raise self._rate_limit_error("endpoint-rate")

    def _admit(self, window, limit, counter):
        """Sliding one-second window: admit (and record) the request if fewer than limit came."""
        now = self.monotonic()
        with self._window_lock:
            while window and now - window[0] >= 1.0:
                window.popleft()
            if len(window) < limit:
                window.append(now)
                return True
            setattr(self, counter, getattr(self, counter) + 1)
            return False

    def _rate_limit_error(self, reason):
        headers = [("Stripe-Rate-Limited-Reason", reason)]
        if self.rate_limit_retry_after is not None:
            headers.append(("Retry-After", str(self.rate_limit_retry_after)))
        return StripeError(
            429,
            "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
            code="rate_limit",
            headers=headers,
            doc_url="https://stripe.com/docs/error-codes/rate-limit",
        )

    def _check_permission(self, key, resource, method):
        allowed = self.restricted_keys.get(key)
        if allowed is None:
            return  # the secret key may do everything
        need = "read" if method == "GET" else "write"
        have = allowed.get(resource)
        if have == "write" or have == need:
            return
        raise StripeError(
            403,
            f"The provided key '{mask_key(key)}' does not have the required permissions "
            f"for this endpoint on account '{self.account_id}'. Having the "
            f"'rak_{PERMISSION.get(resource, resource)}_{need}' permission would allow "
            f"this request to continue.",
        )

    def _store_for_request(self, req, key):
        account = req.header("Stripe-Account")
        if not account or account == self.account_id:
            return self.store
        with self._stores_lock:
            connected = account in self.store.collections["accounts"]
            if connected and account not in self._stores:
                self._stores[account] = self._new_connected_store(account)
            store = self._stores.get(account) if connected else None
            failing = self._failing_accounts.get(account)
        if failing is not None:
            raise StripeError(failing, "An unknown error occurred while processing this request.", type="api_error")
        if store is None:  # never connected, or disconnected since: Stripe's answer for both
            raise StripeError(
                403,
                f"The provided key '{mask_key(key)}' does not have access to account "
                f"'{account}' (or that account does not exist). Application access may "
                f"have been revoked.",
                code="account_invalid",
            )
        return store

    def _idempotent(self, call, api_key, handler, headers):
        """Stripe idempotency: replay the first result for the same key and parameters."""
        scope = (api_key, call.store.account_id, call.idempotency_key)
        endpoint = f"{call.method} {call.path}"
        with self._idempotency_lock:
            entry = self._idempotency.get(scope)
            if entry is None:
                entry = self._idempotency[scope] = {"endpoint": endpoint, "params": call.params, "response": None}
                first = True
            else:
                first = False
        if not first:
            return self._replay(call, entry, endpoint, headers)
        try:
            status, payload = self._run(call, handler)
        except StripeError as err:
            if not err.executed:
                with self._idempotency_lock:  # failed validation: nothing is saved
                    del self._idempotency[scope]
                return Response.json(err.status, err.body(), headers + err.headers)
            status, payload = err.status, err.body()  # it ran (a declined card): replayed like a success
        response = _response(status, payload, headers)
        entry["response"] = response
        entry["request_id"] = call.request_id
        return response

    def _replay(self, call, entry, endpoint, headers):
        key = call.idempotency_key
        if entry["endpoint"] != endpoint:
            err = StripeError(
                400,
                f"Keys for idempotent requests can only be used for the same endpoint "
                f"they were first used for ('{entry['endpoint']}' vs '{endpoint}'). Try "
                f"using a key other than '{key}' if you meant to execute a different "
                f"request.",
                type="idempotency_error",
            )
        elif entry["params"] != call.params:
            err = StripeError(
                400,
                f"Keys for idempotent requests can only be used with the same parameters "
                f"they were first used with. Try using a key other than '{key}' if you "
                f"meant to execute a different request.",
                type="idempotency_error",
            )
        elif entry["response"] is None:
            err = StripeError(
                409,
                "There is currently another in-progress request using this Idempotent "
                "Key (probably from the same client). Please wait for that request to "
                "complete, then retry.",
                type="idempotency_error",
            )
        else:
            with self._idempotency_lock:
                self.idempotent_replays += 1
            first = entry["response"]
            replay_headers = [h for h in first.headers if h[0] != "Request-Id"]
            return Response(
                first.status,
                first.body,
                [
                    *replay_headers,
                    ("Request-Id", call.request_id),
                    ("Idempotent-Replayed", "true"),
                    ("Original-Request", entry["request_id"]),
                ],
            )
        return Response.json(err.status, err.body(), headers)

    # --- faults -----------------------------------------------------------
    def fault_response(self, kind, req):
        headers = [("Request-Id", request_id())]
        if kind in ("429", "429_no_retry_after"):
            if kind == "429" and self.faults.retry_after is not None:
                headers.append(("Retry-After", str(self.faults.retry_after)))
            err = StripeError(
                429,
                "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
                code="rate_limit",
                doc_url="https://stripe.com/docs/error-codes/rate-limit",
            )
        elif kind in ("500", "502", "503"):
            headers.append(("Stripe-Should-Retry", "true"))
            err = StripeError(int(kind), "An unknown error occurred", type="api_error")
        elif kind == "401_proxy":
            err = StripeError(401, f"Expired API Key provided: {mask_key(self.api_key)}", code="api_key_expired")
        elif kind == "html_502":
            return html_error(502, "Bad Gateway")
        else:
            raise AssertionError(kind)
        return Response.json(err.status, err.body(), headers)

    def log_headers(self, headers):
        """The log never holds a usable key: Authorization is masked like Stripe masks keys."""
        out = dict(headers)
        for name in list(out):
            if name.lower() == "authorization":
                scheme, _, value = out[name].partition(" ")
                out[name] = f"{scheme} {mask_key(value) if scheme.lower() == 'bearer' else '****'}"
        return out


def _response(status, payload, headers):
    """A handler's answer: JSON, or a Response of its own (a PDF) with our headers added."""
    if isinstance(payload, Response):
        return Response(payload.status, payload.body, payload.headers + headers)
    return Response.json(status, payload, headers)


def html_error(status, reason):
    body = (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        f"</body>\r\n</html>\r\n"
    ).encode()
    return Response(status, body, [("Content-Type", "text/html")])
