"""Every other list endpoint of Stripe's API, served generically from the stream catalogue.

The hand-written handlers in ``server.py`` and ``billing.py`` model the objects the connector
reads most (customers, subscriptions, invoices, ...) with Stripe's behaviour. Every other list
endpoint in ``source_stripe_proxy/data/generated/streams.json`` is served here, the way Stripe
serves lists: newest first, ``limit`` 1-100, ``starting_after`` / ``ending_before`` cursors,
``created`` filters where the endpoint has them, unknown or missing parameters refused, nested
lists per parent (``/v1/customers/{customer}/tax_ids``, ``/v1/setup_attempts?setup_intent=``),
and a retrieve endpoint where Stripe has one.

Objects come from ``seed(store)`` (or ``add``), built from the catalogue's example objects
(``generated/stream_examples.json``), each optionally announced by its ``.created`` event in
``/v1/events``. A product the account has not enabled (``disable_product(store, "Issuing")``)
answers Stripe's 400 "Your account is not set up to use Issuing".

``server.route`` falls back to ``route`` here when no hand-written route matches.
"""

import copy
import json
import re
import threading
import weakref

from source_stripe_proxy.data import load_generated

from .schema import StripeError, invalid, parameter_missing, resource_missing
from .store import RESOURCE_BY_PREFIX

CATALOGUE = load_generated("streams.json")["streams"]
EXAMPLES = load_generated("stream_examples.json")
LIST_PARAMETERS = load_generated("list_parameters.json")
PAGING = {"limit", "starting_after", "ending_before", "expand"}
PRODUCT_URLS = {
    "Issuing": "issuing/overview",
    "Treasury": "treasury",
    "Terminal": "terminal",
    "Climate": "climate",
    "Identity": "identity",
    "Connect": "connect",
}


def _pattern(template):
    return re.compile(re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(template)))


# Streams by list path (external accounts: two streams over one endpoint).
STREAMS_BY_PATH = {}
for _name, _stream in sorted(CATALOGUE.items()):
    STREAMS_BY_PATH.setdefault(_stream["path"], []).append(_name)
LIST_ROUTES = [(path, _pattern(path)) for path in sorted(STREAMS_BY_PATH)]
DETAIL_ROUTES = sorted({(s["detail"]["path"], name) for name, s in CATALOGUE.items() if s["detail"]})
DETAIL_ROUTES = [(path, name, _pattern(path)) for path, name in DETAIL_ROUTES]
# Children Stripe always embeds in their parent (a transfer's `reversals`): parent -> [(child, field)].
EMBEDDED = {}
for _name, _stream in sorted(CATALOGUE.items()):
    _embedded = (_stream["parent"] or {}).get("embedded") or {}
    if _embedded.get("always"):
        EMBEDDED.setdefault(_stream["parent"]["stream"], []).append((_name, _embedded["field"]))
EMBEDDED_PAGE = 10  # Stripe embeds the first 10; the rest is listed from the child endpoint
# Lists a parent holds only when asked (`expand[]=sources`): parent stream -> {field: the stream
# whose endpoint lists that whole field}. Children that share a field are one family: a customer's
# sources are its cards, bank accounts and sources, listed whole at /sources and each kind at its
# own endpoint (/cards, /bank_accounts), as Stripe lists them.
INCLUDABLE = {}
FAMILY = {}
for _name, _stream in sorted(CATALOGUE.items()):
    _embedded = (_stream["parent"] or {}).get("embedded") or {}
    if _embedded and not _embedded.get("always"):
        _parent = _stream["parent"]["stream"]
        FAMILY.setdefault((_parent, _embedded["field"]), []).append(_name)
        if _stream["path"].rsplit("/", 1)[-1] == _embedded["field"]:
            INCLUDABLE.setdefault(_parent, {})[_embedded["field"]] = _name
FAMILY = {name: members for members in FAMILY.values() for name in members}


# =============================================================================
# Per-account state
# =============================================================================


class CatalogState:
    """One account's generic objects: rows[stream][parent id or None], newest first."""

    def __init__(self):
        self.rows = {}
        self.by_id = {}
        self.disabled_products = set()
        self.seq = 0


_states = weakref.WeakKeyDictionary()
_states_lock = threading.Lock()


def state(store):
    with _states_lock:
        if store not in _states:
            _states[store] = CatalogState()
        return _states[store]


def dump(store):
    """The account's generic objects as JSON data (for ``persistence.py``)."""
    st = state(store)
    with store.lock:
        return {
            "rows": {
                name: [[json.dumps(key), [[sort_key, obj] for sort_key, obj in rows]] for key, rows in groups.items()]
                for name, groups in st.rows.items()
            },
            "disabled_products": sorted(st.disabled_products),
            "seq": st.seq,
        }


def load(store, data):
    """Fill an account's generic objects from ``dump`` output."""
    st = state(store)
    with store.lock:
        for name, groups in (data or {}).get("rows", {}).items():
            for dumped_key, rows in groups:
                loaded = json.loads(dumped_key)
                key = tuple(loaded) if isinstance(loaded, list) else loaded
                st.rows.setdefault(name, {})[key] = [(sort_key, obj) for sort_key, obj in rows]
                for _, obj in rows:
                    st.by_id.setdefault(name, {})[obj["id"]] = obj
        st.disabled_products.update((data or {}).get("disabled_products", ()))
        st.seq = max(st.seq, (data or {}).get("seq", 0))


def disable_product(store, product):
    """The account has not enabled `product` ("Issuing", "Treasury", ...): its lists answer 400."""
    state(store).disabled_products.add(product)


def enable_product(store, product):
    state(store).disabled_products.discard(product)


def check_product(store, stream_name):
    product = CATALOGUE[stream_name]["product"]
    if product and product in state(store).disabled_products:
        where = PRODUCT_URLS.get(product, product.lower().replace(" ", "_"))
        raise StripeError(
            400, f"Your account is not set up to use {product}. Please visit https://dashboard.stripe.com/{where} to get started."
        )


# =============================================================================
# Routing (called by server.route after the hand-written routes)
# =============================================================================


def route(method, path):
    """-> (handler, args, resource, endpoint) for a catalogue list or retrieve endpoint, or None."""
    if method != "GET":
        return None
    for template, pattern in LIST_ROUTES:
        match = pattern.fullmatch(path)
        if match:
            names = STREAMS_BY_PATH[template]
            return list_objects, (template, match.groups()), names[0], template
    for template, name, pattern in DETAIL_ROUTES:
        match = pattern.fullmatch(path)
        if match:
            return retrieve, (name, match.groups()), name, template
    return None


def _path_values(template, values):
    return dict(zip(re.findall(r"\{([^}]+)\}", template), values, strict=True))


def _parent_key(stream, path_values, params):
    """The id of the parent whose rows are listed (None for a top-level list); for an endpoint
    that also needs a second parent (meter summaries per customer), both ids."""
    if stream.get("account_path_param"):
        return path_values[stream["account_path_param"]]
    parent = stream["parent"]
    if not parent:
        return None
    if stream.get("also_per"):
        first = _parent_key(dict(stream, also_per=None), path_values, params)
        return (first, *(params.get(name) for name in stream["also_per"]["query_params"]))
    for name, field in parent["path_params"].items():
        if field == "id":
            return path_values[name]
    for name, field in parent["query_params"].items():
        if field == "id":
            return params.get(name)
    return next(iter(path_values.values()), None)


def list_objects(call):
    template, values = call.args
    names = STREAMS_BY_PATH[template]
    for name in names:
        check_product(call.store, name)
    p = dict(call.params)
    allowed = set(LIST_PARAMETERS[template]["query"])
    for key in p:
        if key not in allowed:
            raise StripeError(400, f"Received unknown parameter: {key}", param=key)
    for key in CATALOGUE[names[0]]["required_params"]:
        if key not in p:
            raise parameter_missing(key)
    limit = _limit(p.get("limit"))
    path_values = _path_values(template, values)
    rows = []
    for name in names:
        rows += _family_rows(call.store, name, _parent_key(CATALOGUE[name], path_values, p))
    rows.sort(key=lambda row: -row[0])
    objects = [obj for _, obj in rows if _matches(obj, p, CATALOGUE[names[0]])]
    if CATALOGUE[names[0]]["paged"]:
        objects, has_more = _page(objects, p, limit, names[0])
    else:
        has_more = False
    data = [
        include(call.store, names[0], embed(call.store, names[0], o), _included(p.get("expand"), "data.")) for o in copy.deepcopy(objects)
    ]
    return 200, {"object": "list", "data": data, "has_more": has_more, "url": call.path}


def _family_rows(store, name, key):
    """The rows a stream's endpoint lists for one parent: its own, or its family's of its kinds."""
    rows = state(store).rows
    kinds = set(CATALOGUE[name]["objects"])
    found = []
    for member in FAMILY.get(name, [name]):
        found += [row for row in rows.get(member, {}).get(key, []) if member == name or row[1].get("object") in kinds]
    return found


def listed(store, name):
    """Every object the stream's endpoint lists, whatever its parent (what a full read returns)."""
    rows = state(store).rows
    keys = {key for member in FAMILY.get(name, [name]) for key in rows.get(member, {})}
    return [obj for key in keys for _, obj in _family_rows(store, name, key)]


def _included(paths, prefix=""):
    """The fields of ``expand[]`` that ask for an includable list (``data.sources`` on a list)."""
    if isinstance(paths, str):
        paths = [paths]
    return [path[len(prefix) :] for path in paths or [] if path.startswith(prefix) and "." not in path[len(prefix) :]]


def include(store, stream_name, obj, fields):
    """``obj`` with the includable lists asked for: the first 10, ``has_more`` and the ``url`` that
    lists them all (Stripe's includes). Other fields are left as they are."""
    for field in fields:
        box = INCLUDABLE.get(stream_name, {}).get(field)
        if box is None or not obj.get("id"):
            continue
        rows = sorted(_family_rows(store, box, obj["id"]), key=lambda row: -row[0])
        obj = dict(obj, **{field: included_list([row for _, row in rows], fill_path(CATALOGUE[box]["path"], obj["id"]))})
    return obj


def included_list(objects, url):
    return {"object": "list", "data": copy.deepcopy(objects[:EMBEDDED_PAGE]), "has_more": len(objects) > EMBEDDED_PAGE, "url": url}


def fill_path(template, parent_id):
    """The list path of a parent's children: its one ``{param}`` filled."""
    return re.sub(r"\{[^}]+\}", lambda _: parent_id, template, count=1)


def retrieve(call):
    name, values = call.args
    check_product(call.store, name)
    oid = values[-1]
    by_id = state(call.store).by_id
    kinds = set(CATALOGUE[name]["objects"])
    found = [by_id.get(member, {}).get(oid) for member in FAMILY.get(name, [name])]
    obj = next((o for o in found if o is not None and (o.get("object") in kinds or not kinds)), None)
    if obj is None:
        raise resource_missing(name.rstrip("s").replace("_", " "), oid)
    return 200, include(call.store, name, embed(call.store, name, copy.deepcopy(obj)), _included(call.params.get("expand")))


def embed(store, stream_name, obj):
    """``obj`` with the children Stripe always embeds (a transfer's reversals, a credit note's
    lines) that this account holds: the first 10, and ``has_more`` when there are more. The
    object given is never changed: one with children comes back as a new dict."""
    rows = state(store).rows if stream_name in EMBEDDED else {}
    for child, field in EMBEDDED.get(stream_name, ()):
        mine = rows.get(child, {}).get(obj.get("id"))
        if mine is None:
            continue
        obj = dict(obj)
        data = [row for _, row in mine]
        url = (obj.get(field) or {}).get("url") if isinstance(obj.get(field), dict) else None
        obj[field] = {
            "object": "list",
            "data": copy.deepcopy(data[:EMBEDDED_PAGE]),
            "has_more": len(data) > EMBEDDED_PAGE,
            "url": url or f"/v1/{child}",
            "total_count": len(data),
        }
    return obj


def _limit(raw):
    if raw is None:
        return 10
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        raise invalid("Invalid integer: " + str(raw), param="limit") from None
    if not 1 <= limit <= 100:
        raise invalid("This value must be greater than or equal to 1 and less than or equal to 100.", param="limit")
    return limit


def _matches(obj, params, stream):
    bound = set((stream["parent"] or {}).get("query_params", {})) | set((stream.get("also_per") or {}).get("query_params", {}))
    window = stream.get("window") or {}
    for key, value in params.items():
        if key in PAGING or key in bound:
            continue
        if key == window.get("start_param"):  # summaries inside the requested window
            if obj.get(key, 0) < int(value):
                return False
        elif key == window.get("end_param"):
            if obj.get(key, 0) > int(value):
                return False
        elif key == "created" and stream["created_field"]:
            if not _in_range(obj.get(stream["created_field"]), value):
                return False
        elif isinstance(value, str) and key in obj and not isinstance(obj[key], (dict, list)) and str(obj[key]).lower() != value.lower():
            return False
    return True


def _in_range(created, bounds):
    if created is None:
        return False
    if not isinstance(bounds, dict):
        return created == int(bounds)
    checks = {"gt": created.__gt__, "gte": created.__ge__, "lt": created.__lt__, "lte": created.__le__}
    for op, bound in bounds.items():
        if op not in checks:
            raise StripeError(400, f"Received unknown parameter: created[{op}]", param=f"created[{op}]")
        if not checks[op](int(bound)):
            return False
    return True


def _page(objects, params, limit, name):
    after, before = params.get("starting_after"), params.get("ending_before")
    if after and before:
        raise invalid("You may only specify one of these parameters: ending_before, starting_after.", param="ending_before")
    ids = [obj["id"] for obj in objects]
    cursor = after or before
    if cursor and cursor not in ids:
        raise resource_missing("object", cursor, param="starting_after" if after else "ending_before", status=400)
    if before:
        end = ids.index(before)
        start = max(0, end - limit)
        return objects[start:end], start > 0
    start = ids.index(after) + 1 if after else 0
    return objects[start : start + limit], start + limit < len(objects)


# =============================================================================
# Seeding
# =============================================================================


def _prefix(stream_name):
    """An id prefix from the name's initials (tax_rates -> trx: never a hand-written one like tr_)."""
    prefix = "".join(word[0] for word in stream_name.split("_"))[:5]
    return prefix + "x" if prefix in RESOURCE_BY_PREFIX or len(prefix) < 3 else prefix


def add(store, stream_name, fields=None, *, parent_id=None, emit_event=False, base=None):
    """Store one object of a catalogue stream (built from its example) and return it.

    parent_id: the parent's id for a child stream (the account's own id for external accounts).
    base: the object to start from instead of the catalogue's example (every field filled),
    for objects that should look like Stripe's own (a card payment method has only ``card``).
    """
    stream = CATALOGUE[stream_name]
    fields = dict(fields or {})
    wanted = fields.get("object")
    examples = [e for e in EXAMPLES[stream_name] if wanted in (None, e["object"])]
    with store.lock:
        st = state(store)
        st.seq += 1
        obj = copy.deepcopy(base if base is not None else examples[st.seq % len(examples)])
        now = store.clock.now()
        obj["id"] = fields.pop("id", None) or store.new_id(_prefix(stream_name))
        if stream["created_field"]:
            obj[stream["created_field"]] = int(fields.pop("created", now))
        if "livemode" in obj:
            obj["livemode"] = False
        parent = stream["parent"]
        if parent and parent_id is not None:
            obj[parent["ref"]["field"]] = parent_id[0] if isinstance(parent_id, tuple) else parent_id
        window = stream.get("window")
        if window:  # one day's summary, in the day the object was made
            day = now - now % window["align_seconds"]
            obj[window["start_param"]], obj[window["end_param"]] = day, day + window["align_seconds"]
        if stream.get("account_path_param") and "account" in obj:
            obj["account"] = parent_id
        obj.update(fields)
        key = parent_id if (parent or stream.get("account_path_param")) else None
        sort_key = (obj.get(stream["created_field"]) if stream["created_field"] else now) * 1_000_000 + st.seq
        st.rows.setdefault(stream_name, {}).setdefault(key, []).insert(0, (sort_key, obj))
        st.by_id.setdefault(stream_name, {})[obj["id"]] = obj
        if emit_event and stream["events"]["types"]:
            store.record_event(_creation_event(stream), copy.deepcopy(obj))
        return copy.deepcopy(obj)


def _creation_event(stream):
    types = stream["events"]["types"]
    created = [t for t in types if t.endswith(".created")]
    return created[0] if created else types[0]


def generic_streams():
    """Catalogue streams no hand-written route serves (the hand-written ones win in server.route)."""
    from .server import route as hand_route  # server imports this module

    served = []
    for name, stream in sorted(CATALOGUE.items()):
        concrete = re.sub(r"\{[^}]+\}", "x_1", stream["path"])
        try:
            handler, *_ = hand_route("GET", concrete)
        except StripeError:
            handler = None
        if handler is list_objects:
            served.append(name)
    return served


def seed(store, per_parent=2, *, parents=2, emit_events=True, streams=None, step_seconds=0):
    """Add `per_parent` objects to every generic stream (to each of the first `parents`
    parents of a child stream), parents before children. Returns {stream: [ids]}.
    `step_seconds`: the clock moves this far after each object (objects spread in time)."""
    wanted = set(streams) if streams is not None else set(generic_streams())
    added = {}
    for name in _parents_first(wanted):
        stream = CATALOGUE[name]
        for parent_id in _parent_ids(store, stream, parents):
            for _ in range(per_parent):
                obj = add(store, name, parent_id=parent_id, emit_event=emit_events)
                added.setdefault(name, []).append(obj["id"])
                if step_seconds:
                    store.clock.advance(step_seconds)
    return added


def _parents_first(names):
    ordered, seen = [], set()

    def visit(name):
        if name in seen:
            return
        seen.add(name)
        parent = CATALOGUE[name]["parent"]
        if parent and parent["stream"] in names:
            visit(parent["stream"])
        ordered.append(name)

    for name in sorted(names):
        visit(name)
    return ordered


def _parent_ids(store, stream, limit):
    if stream.get("account_path_param"):
        return [store.account_id]
    parent = stream["parent"]
    if not parent:
        return [None]
    objects = _objects_of(store, parent["stream"])
    chosen = [obj["id"] for obj in objects if all(obj.get(k) == v for k, v in parent["filter"].items())][:limit]
    if stream.get("also_per"):  # per parent and per object of the second stream (meter x customer)
        others = [obj["id"] for obj in _objects_of(store, stream["also_per"]["stream"])][:limit]
        return [(first, other) for first in chosen for other in others]
    return chosen


def _objects_of(store, stream_name):
    """The parent objects: generic rows, or the hand-written store's (newest first)."""
    rows = state(store).rows.get(stream_name)
    if rows:
        return [obj for _, obj in sorted((r for group in rows.values() for r in group), key=lambda r: -r[0])]
    if stream_name == "subscription_items":
        return [item for sub in store.all("subscriptions") for item in sub["items"]["data"]]
    resource = {"invoice_items": "invoiceitems"}.get(stream_name, stream_name)
    if resource in store.collections:
        return store.all(resource)
    return []
