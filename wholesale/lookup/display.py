"""How the customers' pages write an answer: money, speeds, the headline's tone, the offer table.

The serviceability answer (`Serviceability.as_dict()`) carries amounts as decimal strings with
their currency; these functions turn them into what a customer reads, and never touch the
database.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

CURRENCY_SIGNS = {"EUR": "€", "GBP": "£", "USD": "$", "CHF": "CHF "}

# The state's badge and the tone of its headline box.
STATE_TONES = {
    "available": ("Available now", "ok"),
    "being_built": ("Being built", "info"),
    "gathering_interest": ("Gathering interest", "warn"),
    "planned": ("Planned", "muted"),
    "outside": ("Outside our network", "muted"),
    "retired": ("No longer in our records", "muted"),
}

# What happens next for an order, by its status.
ORDER_NEXT_STEPS = {
    "received": "We have your order and are checking it.",
    "awaiting_infrastructure": (
        "Your order is in. We build the fibre in your area once enough neighbours have "
        "signed up; we tell you by e-mail when the build is scheduled."
    ),
    # the same status once the build in the area has started
    "awaiting_infrastructure:being_built": (
        "Your order is in and the fibre is being built in your area. Pick a time for the "
        "installation in your home below; we tell you by e-mail when your connection is ready."
    ),
    "ready_for_activation": (
        "The fibre reaches your home. Your provider switches your service on and tells you "
        "when it is live."
    ),
    "active": "Your service is live.",
    "terminated": "This service has ended.",
    "cancelled": "This order was cancelled. You can sign up again at any time.",
    # the address of a live order was retired from the network's records since
    "received:retired": (
        "Your address is no longer in the network's records. We are looking into your order "
        "and contact you by e-mail."
    ),
    "awaiting_infrastructure:retired": (
        "Your address is no longer in the network's records. We are looking into your order "
        "and contact you by e-mail."
    ),
    "cancelled:retired": "This order was cancelled.",
}


def next_step(status: str, state: str) -> str:
    """What happens next for an order in this status, where the address's answer is `state`."""
    return ORDER_NEXT_STEPS.get(f"{status}:{state}") or ORDER_NEXT_STEPS.get(status, "")


SORTS = {
    "price": ("Price, lowest first", lambda o: (Decimal(o["monthly_price"]), -o["download_mbps"])),
    "speed": ("Speed, fastest first", lambda o: (-o["download_mbps"], Decimal(o["monthly_price"]))),
}
DEFAULT_SORT = "price"


def money(amount, currency: str = "EUR") -> str:
    """'1234.5', 'EUR' → '€1,234.50'; None or '' → ''."""
    if amount in (None, ""):
        return ""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return str(amount)
    text = f"{value:,.2f}"
    sign = CURRENCY_SIGNS.get(currency)
    return f"{sign}{text}" if sign else f"{text} {currency}"


def speed(mbps) -> str:
    """1000 → '1 Gbit/s', 250 → '250 Mbit/s'."""
    if mbps is None:
        return ""
    mbps = int(mbps)
    if mbps >= 1000 and mbps % 1000 == 0:
        return f"{mbps // 1000} Gbit/s"
    if mbps >= 1000:
        return f"{mbps / 1000:g} Gbit/s"
    return f"{mbps} Mbit/s"


def is_zero(amount) -> bool:
    try:
        return Decimal(str(amount)) == 0
    except (InvalidOperation, TypeError):
        return False


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def offering_rows(offerings: list[dict], sort: str = DEFAULT_SORT) -> list[dict]:
    """The offerings, sorted, each with its figures written out for the page."""
    _, key = SORTS.get(sort, SORTS[DEFAULT_SORT])
    rows = []
    for offering in sorted(offerings, key=key):
        currency = offering.get("currency", "EUR")
        rows.append(
            {
                **offering,
                "download": speed(offering["download_mbps"]),
                "upload": speed(offering["upload_mbps"]),
                "monthly": money(offering["monthly_price"], currency),
                "setup": (
                    "no setup fee"
                    if is_zero(offering["setup_fee"])
                    else money(offering["setup_fee"], currency)
                ),
                "contract": (
                    _count(offering["contract_months"], "month", "months")
                    if offering.get("contract_months")
                    else "no minimum term"
                ),
                "notice": (
                    _count(offering["notice_days"], "day's", "days'") + " notice"
                    if offering.get("notice_days")
                    else "no notice period"
                ),
            }
        )
    return rows


def cost_box(cost: dict | None) -> dict | None:
    """The connection cost written out: total, deposit, what remains, the installments."""
    if not cost:
        return None
    currency = cost.get("currency", "EUR")
    has_deposit = bool(cost.get("deposit")) and not is_zero(cost["deposit"])
    installments = cost.get("installments") or 0
    return {
        **cost,
        "total_text": money(cost["total"], currency),
        "has_deposit": has_deposit,
        "deposit_text": money(cost["deposit"], currency) if has_deposit else "",
        "remaining_text": money(cost.get("remaining_after_deposit"), currency),
        "installment_text": money(cost.get("installment_amount"), currency),
        "max_installment_text": money(cost.get("max_installment"), currency),
        "installments": installments,
        "in_installments": installments > 1,
        "is_free": is_zero(cost["total"]),
    }


def demand_progress(demand: dict | None) -> dict | None:
    """Neighbours signed up against the number the area needs, for the progress bar."""
    if not demand:
        return None
    orders = int(demand.get("orders") or 0)
    missing = int(demand.get("orders_to_target") or 0)
    needed = orders + missing
    percent = 100 if needed == 0 else round(min(orders / needed, 1) * 100)
    return {
        **demand,
        "orders": orders,
        "needed": needed,
        "missing": missing,
        "percent": percent,
        "reached": missing == 0,
        "target_percent": round(float(demand.get("target_take_rate") or 0) * 100),
    }
