"""Connection cost: which terms apply at an address, and how its total splits into installments.

The terms are set per area and may be overridden for one address (the address's own terms
win). The total is split into monthly installments of at most the maximum, as in DOMAIN.md's
example (5,000 total, 1,000 deposit at signup, 500 max → 10 rows of 500); the deposit is
charged at signup, and "remaining after the deposit" is what is still owed once it is paid.
Amounts are `Decimal`, rounded once to the cent (ROUND_DOWN for the common amount, the cents
left over go one each to the first rows), and the rows always add up exactly to the total.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal

from wholesale.lifecycle import InvoicingStage
from wholesale.models import ConnectionCostTerms, Order

CENT = Decimal("0.01")


def installment_plan(*, total: Decimal, max_installment: Decimal | None) -> list[Decimal]:
    """The monthly rows that pay `total`: as few as the maximum allows, none above it,
    their amounts differing by at most a cent and adding up exactly to `total`."""
    total = Decimal(total).quantize(CENT)
    if total <= 0:
        return []
    if max_installment is None:
        return [total]
    count = int((total / max_installment).to_integral_value(rounding=ROUND_CEILING))
    common = (total / count).quantize(CENT, rounding=ROUND_DOWN)
    extra_cents = int((total - common * count) / CENT)
    return [common + CENT if row < extra_cents else common for row in range(count)]


@dataclass(frozen=True)
class ConnectionCost:
    """What connecting the home costs: the figures shown before any subscription price."""

    total: Decimal
    deposit: Decimal | None
    max_installment: Decimal | None
    invoicing_starts: str
    billed_by: str
    currency: str

    @property
    def remaining_after_deposit(self) -> Decimal:
        return self.total - (self.deposit or Decimal(0))

    @property
    def installments(self) -> list[Decimal]:
        return installment_plan(total=self.total, max_installment=self.max_installment)

    def as_dict(self) -> dict:
        rows = self.installments
        return {
            "total": _money(self.total),
            "deposit": _money(self.deposit),
            "remaining_after_deposit": _money(self.remaining_after_deposit),
            "max_installment": _money(self.max_installment),
            "installments": len(rows),
            "installment_amount": _money(rows[0] if rows else Decimal(0)),
            "invoicing_starts": self.invoicing_starts,
            "invoicing_starts_label": InvoicingStage(self.invoicing_starts).label,
            "billed_by": self.billed_by,
            "currency": self.currency,
        }


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(Decimal(value).quantize(CENT))


def terms_at(*, address_id: int | None, area_id: int | None) -> ConnectionCostTerms | None:
    """The terms that apply: the address's own if it has them, else its area's, else none."""
    if address_id is not None:
        own = (
            ConnectionCostTerms.objects.select_related("billed_by")
            .filter(address_id=address_id)
            .first()
        )
        if own is not None:
            return own
    if area_id is None:
        return None
    return ConnectionCostTerms.objects.select_related("billed_by").filter(area_id=area_id).first()


def cost_of(terms: ConnectionCostTerms) -> ConnectionCost:
    return ConnectionCost(
        total=terms.total,
        deposit=terms.deposit,
        max_installment=terms.max_installment,
        invoicing_starts=terms.invoicing_starts,
        billed_by=terms.billed_by.name,
        currency=terms.currency,
    )


def order_connection_cost(order: Order) -> dict | None:
    """The connection cost an order was signed with (its snapshot: later changes to the terms
    never reach it), as the answer shapes it; None when it has none."""
    if not order.has_connection_cost:
        return None
    return ConnectionCost(
        total=order.connection_cost_total,
        deposit=order.connection_cost_deposit,
        max_installment=order.connection_cost_max_installment,
        invoicing_starts=order.connection_cost_invoicing_starts,
        billed_by=order.connection_cost_billed_by.name if order.connection_cost_billed_by else "",
        currency=order.connection_cost_currency,
    ).as_dict()
