"""Stripe errors, parameter specs per endpoint, and validation/coercion.

Form values arrive as strings. A spec says what each parameter must be:
    STR, INT, BOOL, DECIMAL, METADATA, TIMESTAMP_OR_NOW, RANGE, ANY
    enum("a", "b")      one of these strings
    array(spec)         a list of spec
    ref("coupon")       a reference to an object the emulator never has
                        (any value -> resource_missing, like Stripe would say)
    {"key": spec, ...}  a nested hash
An empty string means "unset" (None), as in Stripe's API.
"""


class StripeError(Exception):
    def __init__(
        self,
        status,
        message,
        type="invalid_request_error",  # noqa: A002 - Stripe's field name, passed by keyword
        code=None,
        param=None,
        doc_url=None,
        headers=(),
        extra=None,
        executed=False,
    ):
        super().__init__(message)
        self.status, self.message, self.type = status, message, type
        self.code, self.param, self.doc_url, self.headers = code, param, doc_url, list(headers)
        self.extra = dict(extra or {})  # more fields of Stripe's error (a card error's decline_code, charge, ...)
        self.executed = executed  # the request ran (a declined card): its idempotent result is saved

    def body(self):
        error = {}
        if self.code:
            error["code"] = self.code
        if self.doc_url or self.code:
            error["doc_url"] = self.doc_url or f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        error["message"] = self.message
        if self.param:
            error["param"] = self.param
        error["type"] = self.type
        error.update(self.extra)
        return {"error": dict(sorted(error.items()))}


def invalid(message, param=None, code=None):
    return StripeError(400, message, code=code, param=param)


def resource_missing(object_name, oid, param="id", status=404):
    return StripeError(status, f"No such {object_name}: '{oid}'", code="resource_missing", param=param)


def parameter_missing(param):
    return StripeError(400, f"Missing required param: {param}.", code="parameter_missing", param=param)


def parameter_unknown(param):
    return StripeError(400, f"Received unknown parameter: {param}", code="parameter_unknown", param=param)


# --- spec constructors -------------------------------------------------------

STR, INT, BOOL, DECIMAL, METADATA = "string", "integer", "boolean", "decimal", "metadata"
TIMESTAMP_OR_NOW, RANGE, ANY = "timestamp_or_now", "range", "any"


def enum(*values):
    return ("enum", values)


def array(spec):
    return ("array", spec)


def ref(object_name):
    return ("ref", object_name)


# --- validation ---------------------------------------------------------------


def validate(params, schema, required=()):
    """Coerce every param per schema; unknown names and missing required ones -> 400."""
    if not isinstance(params, dict):
        raise invalid("Invalid request body")
    out = {}
    for name, raw in params.items():
        if name not in schema:
            raise parameter_unknown(name)
        out[name] = coerce(raw, schema[name], name)
    for name in required:
        if out.get(name) in (None, "", [], {}):
            raise parameter_missing(name)
    return out


def coerce(raw, spec, name):
    if isinstance(spec, dict):
        if raw == "":
            return None
        if not isinstance(raw, dict):
            raise invalid("Invalid hash", param=name)
        out = {}
        for key, value in raw.items():
            if key not in spec:
                raise parameter_unknown(f"{name}[{key}]")
            out[key] = coerce(value, spec[key], f"{name}[{key}]")
        return out
    if isinstance(spec, tuple):
        kind, arg = spec
        if kind == "array":
            if raw == "":
                return []
            if isinstance(raw, dict) and all(k.isdigit() for k in raw):
                raw = [raw[k] for k in sorted(raw, key=int)]
            if not isinstance(raw, list):
                raise invalid("Invalid array", param=name)
            return [coerce(v, arg, f"{name}[{i}]") for i, v in enumerate(raw)]
        if kind == "enum":
            if raw == "":
                return None
            if raw not in arg:
                raise invalid(f"Invalid {name}: must be one of {_one_of(arg)}", param=name)
            return raw
        if kind == "ref":
            if raw in ("", None):
                return None
            raise resource_missing(arg, raw, param=name, status=400)
    return _scalar(raw, spec, name)


def _scalar(raw, spec, name):
    if spec == ANY:
        return raw
    if spec == METADATA:
        if raw == "":
            return {}  # "metadata=" clears all keys
        if isinstance(raw, list):
            raw = {str(i): v for i, v in enumerate(raw)}
        if not isinstance(raw, dict) or any(not isinstance(v, str) for v in raw.values()):
            raise invalid("Invalid hash", param=name)
        for key, value in raw.items():
            if len(key) > 40:
                raise invalid(
                    f"Metadata keys can have up to 40 characters, but you passed in a key "
                    f"that is {len(key)} characters. Invalid key: '{key}'",
                    param=f"{name}[{key}]",
                )
            if len(value) > 500:
                raise invalid(
                    f"Metadata values can have up to 500 characters, but you passed in a value that is {len(value)} characters.",
                    param=f"{name}[{key}]",
                )
        return raw
    if spec == RANGE:
        if isinstance(raw, dict):
            return coerce(raw, {"gt": INT, "gte": INT, "lt": INT, "lte": INT}, name)
        return _scalar(raw, INT, name)
    if isinstance(raw, (dict, list)):
        raise invalid(f"Invalid {spec}: expected a single value", param=name)
    if raw == "":
        return None
    if spec == STR:
        return raw
    if spec == INT:
        try:
            return int(raw)
        except ValueError:
            raise invalid(f"Invalid integer: {raw}", param=name, code="parameter_invalid_integer") from None
    if spec == BOOL:
        if raw not in ("true", "false"):
            raise invalid(f"Invalid boolean: {raw}", param=name)
        return raw == "true"
    if spec == DECIMAL:
        try:
            float(raw)
        except ValueError:
            raise invalid(f"Invalid decimal: {raw}", param=name) from None
        return raw
    if spec == TIMESTAMP_OR_NOW:
        return raw if raw == "now" else _scalar(raw, INT, name)
    raise AssertionError(f"unknown spec {spec!r}")


def _one_of(values):
    values = list(values)
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + f", or {values[-1]}"


# --- endpoint schemas -----------------------------------------------------------

EXPAND = array(STR)
ADDRESS = {"city": STR, "country": STR, "line1": STR, "line2": STR, "postal_code": STR, "state": STR}
INTERVAL = enum("day", "week", "month", "year")
CURRENCIES = {
    "usd",
    "eur",
    "gbp",
    "cad",
    "aud",
    "jpy",
    "chf",
    "sek",
    "nok",
    "dkk",
    "nzd",
    "sgd",
    "hkd",
    "mxn",
    "brl",
    "inr",
    "pln",
    "czk",
    "huf",
    "ron",
    "bgn",
    "ils",
    "zar",
    "try",
    "thb",
    "myr",
    "php",
    "idr",
    "krw",
    "twd",
    "aed",
    "sar",
}

CUSTOMER_CREATE = {
    "address": ADDRESS,
    "balance": INT,
    "cash_balance": ANY,
    "coupon": ref("coupon"),
    "description": STR,
    "email": STR,
    "expand": EXPAND,
    "invoice_prefix": STR,
    "invoice_settings": {
        "custom_fields": array({"name": STR, "value": STR}),
        "default_payment_method": ref("PaymentMethod"),
        "footer": STR,
        "rendering_options": {"amount_tax_display": STR, "template": STR},
    },
    "metadata": METADATA,
    "name": STR,
    "next_invoice_sequence": INT,
    "payment_method": ref("PaymentMethod"),
    "phone": STR,
    "preferred_locales": array(STR),
    "promotion_code": ref("promotion code"),
    "shipping": {"address": ADDRESS, "name": STR, "phone": STR},
    "source": ref("source"),
    "tax": {"ip_address": STR, "validate_location": STR},
    "tax_exempt": enum("none", "exempt", "reverse"),
    "tax_id_data": array(ANY),
    "test_clock": ref("test clock"),
}
CUSTOMER_UPDATE = dict(CUSTOMER_CREATE, default_source=ref("source"))
for _name in ("payment_method", "tax_id_data", "test_clock"):
    CUSTOMER_UPDATE.pop(_name)

_RECURRING_CREATE = {
    "interval": INTERVAL,
    "interval_count": INT,
    "aggregate_usage": enum("last_during_period", "last_ever", "max", "sum"),
    "meter": STR,
    "trial_period_days": INT,
    "usage_type": enum("licensed", "metered"),
}
TAX_BEHAVIOR = enum("exclusive", "inclusive", "unspecified")
PACKAGE = {"height": DECIMAL, "length": DECIMAL, "weight": DECIMAL, "width": DECIMAL}

PRODUCT_CREATE = {
    "id": STR,
    "name": STR,
    "active": BOOL,
    "description": STR,
    "expand": EXPAND,
    "default_price_data": {
        "currency": STR,
        "currency_options": ANY,
        "custom_unit_amount": ANY,
        "recurring": {"interval": INTERVAL, "interval_count": INT},
        "tax_behavior": TAX_BEHAVIOR,
        "unit_amount": INT,
        "unit_amount_decimal": DECIMAL,
    },
    "images": array(STR),
    "marketing_features": array({"name": STR}),
    "metadata": METADATA,
    "package_dimensions": PACKAGE,
    "shippable": BOOL,
    "statement_descriptor": STR,
    "tax_code": STR,
    "type": enum("good", "service"),
    "unit_label": STR,
    "url": STR,
}
PRODUCT_UPDATE = {
    "active": BOOL,
    "default_price": STR,
    "description": STR,
    "expand": EXPAND,
    "images": array(STR),
    "marketing_features": array({"name": STR}),
    "metadata": METADATA,
    "name": STR,
    "package_dimensions": PACKAGE,
    "shippable": BOOL,
    "statement_descriptor": STR,
    "tax_code": STR,
    "unit_label": STR,
    "url": STR,
}

PRICE_CREATE = {
    "currency": STR,
    "active": BOOL,
    "billing_scheme": enum("per_unit", "tiered"),
    "currency_options": ANY,
    "custom_unit_amount": {"enabled": BOOL, "maximum": INT, "minimum": INT, "preset": INT},
    "expand": EXPAND,
    "lookup_key": STR,
    "metadata": METADATA,
    "nickname": STR,
    "product": STR,
    "product_data": {
        "name": STR,
        "active": BOOL,
        "id": STR,
        "metadata": METADATA,
        "statement_descriptor": STR,
        "tax_code": STR,
        "unit_label": STR,
    },
    "recurring": _RECURRING_CREATE,
    "tax_behavior": TAX_BEHAVIOR,
    "tiers": array(ANY),
    "tiers_mode": enum("graduated", "volume"),
    "transfer_lookup_key": BOOL,
    "transform_quantity": {"divide_by": INT, "round": enum("down", "up")},
    "unit_amount": INT,
    "unit_amount_decimal": DECIMAL,
}
PRICE_UPDATE = {
    "active": BOOL,
    "currency_options": ANY,
    "expand": EXPAND,
    "lookup_key": STR,
    "metadata": METADATA,
    "nickname": STR,
    "tax_behavior": TAX_BEHAVIOR,
    "transfer_lookup_key": BOOL,
}

PLAN_CREATE = {
    "currency": STR,
    "interval": INTERVAL,
    "active": BOOL,
    "aggregate_usage": enum("last_during_period", "last_ever", "max", "sum"),
    "amount": INT,
    "amount_decimal": DECIMAL,
    "billing_scheme": enum("per_unit", "tiered"),
    "expand": EXPAND,
    "id": STR,
    "interval_count": INT,
    "metadata": METADATA,
    "meter": STR,
    "nickname": STR,
    "product": ANY,  # a product id, or a hash that creates one (checked in the handler)
    "tiers": array(ANY),
    "tiers_mode": enum("graduated", "volume"),
    "transform_usage": {"divide_by": INT, "round": enum("down", "up")},
    "trial_period_days": INT,
    "usage_type": enum("licensed", "metered"),
}
PLAN_PRODUCT_HASH = {
    "name": STR,
    "active": BOOL,
    "id": STR,
    "metadata": METADATA,
    "statement_descriptor": STR,
    "tax_code": STR,
    "unit_label": STR,
}
PLAN_UPDATE = {"active": BOOL, "expand": EXPAND, "metadata": METADATA, "nickname": STR, "product": STR, "trial_period_days": INT}

SUBSCRIPTION_ITEM = {
    "price": STR,
    "plan": STR,
    "quantity": INT,
    "metadata": METADATA,
    "price_data": ANY,
    "tax_rates": array(STR),
    "billing_thresholds": ANY,
    "discounts": ANY,
}
SUBSCRIPTION_ITEM_UPDATE = dict(SUBSCRIPTION_ITEM, id=STR, deleted=BOOL, clear_usage=BOOL)
PAYMENT_BEHAVIOR = enum("allow_incomplete", "default_incomplete", "error_if_incomplete", "pending_if_incomplete")
PRORATION = enum("always_invoice", "create_prorations", "none")
COLLECTION_METHOD = enum("charge_automatically", "send_invoice")
CANCELLATION_DETAILS = {
    "comment": STR,
    "feedback": enum(
        "customer_service", "low_quality", "missing_features", "other", "switched_service", "too_complex", "too_expensive", "unused"
    ),
}

SUBSCRIPTION_CREATE = {
    "customer": STR,
    "items": array(SUBSCRIPTION_ITEM),
    "add_invoice_items": array(ANY),
    "application_fee_percent": DECIMAL,
    "automatic_tax": {"enabled": BOOL, "liability": ANY},
    "backdate_start_date": INT,
    "billing_cycle_anchor": INT,
    "billing_cycle_anchor_config": ANY,
    "billing_thresholds": ANY,
    "cancel_at": INT,
    "cancel_at_period_end": BOOL,
    "collection_method": COLLECTION_METHOD,
    "coupon": ref("coupon"),
    "currency": STR,
    "days_until_due": INT,
    "default_payment_method": ref("PaymentMethod"),
    "default_source": ref("source"),
    "default_tax_rates": array(STR),
    "description": STR,
    "discounts": array(ANY),
    "expand": EXPAND,
    "invoice_settings": ANY,
    "metadata": METADATA,
    "off_session": BOOL,
    "on_behalf_of": STR,
    "payment_behavior": PAYMENT_BEHAVIOR,
    "payment_settings": ANY,
    "pending_invoice_item_interval": ANY,
    "promotion_code": ref("promotion code"),
    "proration_behavior": PRORATION,
    "transfer_data": ANY,
    "trial_end": TIMESTAMP_OR_NOW,
    "trial_from_plan": BOOL,
    "trial_period_days": INT,
    "trial_settings": ANY,
}
SUBSCRIPTION_UPDATE = {
    "items": array(SUBSCRIPTION_ITEM_UPDATE),
    "cancel_at": INT,
    "cancel_at_period_end": BOOL,
    "cancellation_details": CANCELLATION_DETAILS,
    "collection_method": COLLECTION_METHOD,
    "days_until_due": INT,
    "default_payment_method": ref("PaymentMethod"),
    "description": STR,
    "expand": EXPAND,
    "metadata": METADATA,
    "pause_collection": ANY,
    "payment_behavior": PAYMENT_BEHAVIOR,
    "proration_behavior": PRORATION,
    "proration_date": INT,
    "trial_end": TIMESTAMP_OR_NOW,
    "trial_from_plan": BOOL,
    "billing_cycle_anchor": enum("now", "unchanged"),
}
SUBSCRIPTION_CANCEL = {"cancellation_details": CANCELLATION_DETAILS, "expand": EXPAND, "invoice_now": BOOL, "prorate": BOOL}

RETRIEVE = {"expand": EXPAND}
DELETE = {"expand": EXPAND}
SEARCH = {"query": STR, "limit": INT, "page": STR, "expand": EXPAND}

_PAGING = {"limit": INT, "starting_after": STR, "ending_before": STR, "expand": EXPAND}
SUBSCRIPTION_STATUS = enum(
    "active", "all", "canceled", "ended", "incomplete", "incomplete_expired", "past_due", "paused", "trialing", "unpaid"
)
LIST = {
    "customers": dict(_PAGING, created=RANGE, email=STR, test_clock=STR),
    "products": dict(_PAGING, active=BOOL, created=RANGE, ids=array(STR), shippable=BOOL, url=STR),
    "prices": dict(
        _PAGING,
        active=BOOL,
        created=RANGE,
        currency=STR,
        lookup_keys=array(STR),
        product=STR,
        type=enum("one_time", "recurring"),
        recurring={"interval": INTERVAL, "meter": STR, "usage_type": enum("licensed", "metered")},
    ),
    "plans": dict(_PAGING, active=BOOL, created=RANGE, product=STR),
    "subscriptions": dict(
        _PAGING,
        automatic_tax={"enabled": BOOL},
        collection_method=COLLECTION_METHOD,
        created=RANGE,
        current_period_end=RANGE,
        current_period_start=RANGE,
        customer=STR,
        plan=STR,
        price=STR,
        status=SUBSCRIPTION_STATUS,
        test_clock=STR,
    ),
    "balance_transactions": dict(_PAGING, created=RANGE, currency=STR, payout=STR, source=STR, type=STR),
    "events": dict(_PAGING, created=RANGE, delivery_success=BOOL, type=STR, types=array(STR)),
    "accounts": dict(_PAGING, created=RANGE),
}
