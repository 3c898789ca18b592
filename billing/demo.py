"""The demo's billing: who invoices whom, set up before the first activation so that billing
follows the network from the start.

- the owner, Wedding Fibre Netz, invoices in EUR by bank transfer and SEPA direct debit;
- Spree Net and Panke Glasfaser bill their own customers (the owner bills them wholesale);
- Kiez Online has the owner bill its customers on its behalf;
- a three-month half-price retail promotion for Kiez Online's new customers, and a
  wholesale promotion in the area being built;
- after the marketplace opens: households sign up where connection costs are on sale, the
  daily billing run invoices what is due, and the first deposits are paid.

(The finance login is one of accounts' demo logins.)
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.demo import demo_owner
from areas.models import Area
from billing.invoices import payment_record
from billing.lifecycle import (
    BillingModel,
    InvoiceKind,
    InvoiceStatus,
    PaymentProcessor,
    PromotionKind,
    PromotionScope,
)
from billing.models import (
    BillingArrangement,
    BillingProvider,
    ConnectionCharge,
    Invoice,
    Promotion,
    Subscription,
)
from billing.runs import billing_run_daily
from common.demo import DemoContext, demo_step
from gis_core.models import Address
from wholesale.demo import demo_isps
from wholesale.lifecycle import LIVE_ORDER_STATUSES
from wholesale.models import Customer, Offering
from wholesale.serviceability import serviceability_for_address
from wholesale.services import signup_place

# ISP name → (billing model, invoice prefix, payment processor)
ARRANGEMENTS = {
    "Spree Net": (BillingModel.ISP_BILLS_CUSTOMER, "SPR", PaymentProcessor.STRIPE),
    "Kiez Online": (BillingModel.OWNER_BILLS_CUSTOMER, "KZO", PaymentProcessor.GOCARDLESS),
    "Panke Glasfaser": (BillingModel.ISP_BILLS_CUSTOMER, "PNK", PaymentProcessor.BANK_TRANSFER),
}
PROMOTION_START = date(2026, 1, 1)
WHOLESALE_PROMOTION_AREA = "13353"  # the area being built


def _provider(organisation, *, name: str, prefix: str, processor: str, settings: dict):
    provider = BillingProvider.objects.filter(organisation=organisation, is_active=True).first()
    return provider or BillingProvider.objects.create(
        organisation=organisation,
        name=name,
        invoice_prefix=prefix,
        payment_processor=processor,
        processor_settings=settings,
        payment_terms_days=14,
        address_lines="Demo street 1\n13353 Berlin",
    )


@demo_step(order=55, name="Billing: providers, arrangements and promotions")
def set_up_billing(context: DemoContext) -> None:
    owner = demo_owner()
    owner_provider = _provider(
        owner,
        name="Wedding Fibre Netz GmbH",
        prefix="WFN",
        processor=PaymentProcessor.SEPA_DIRECT_DEBIT,
        settings={"creditor_id": "DE98ZZZ09999999999", "iban": "DE02 1001 0010 0123 4567 89"},
    )
    for isp in demo_isps():
        model, prefix, processor = ARRANGEMENTS[isp.name]
        own = model == BillingModel.ISP_BILLS_CUSTOMER
        subscription_provider = (
            _provider(
                isp,
                name=f"{isp.name} GmbH",
                prefix=prefix,
                processor=processor,
                settings={"account": f"{prefix.lower()}-demo"},
            )
            if own
            else owner_provider
        )
        BillingArrangement.objects.get_or_create(
            isp=isp,
            defaults={
                "model": model,
                "subscription_provider": subscription_provider,
                "wholesale_provider": owner_provider,
            },
        )
    kiez = next(isp for isp in demo_isps() if isp.name == "Kiez Online")
    Promotion.objects.get_or_create(
        name="Kiez Online: three months at half price",
        defaults={
            "scope": PromotionScope.RETAIL,
            "kind": PromotionKind.PERCENT,
            "value": Decimal("50"),
            "months": 3,
            "isp": kiez,
            "valid_from": PROMOTION_START,
        },
    )
    building = Area.objects.filter(code=WHOLESALE_PROMOTION_AREA, is_active=True).first()
    if building is not None:
        Promotion.objects.get_or_create(
            name=f"Build offer in {building.code}: half the wholesale fee for three months",
            defaults={
                "scope": PromotionScope.WHOLESALE,
                "kind": PromotionKind.PERCENT,
                "value": Decimal("50"),
                "months": 3,
                "area": building,
                "valid_from": PROMOTION_START,
            },
        )
    context.say(
        f"{BillingProvider.objects.count()} billing providers, "
        f"{BillingArrangement.objects.count()} ISP arrangements"
    )


# Marketplace signups the demo adds once connection costs are on sale (wholesale's step 75),
# so that each area's terms reach invoices: area code → how many households sign up there.
SIGNUPS = {"13353": 3, "13407": 2}
DEPOSITS_PAID = 2  # of the deposit invoices, the first this many are paid by direct debit


def _signup_candidates(code: str, count: int) -> list[Address]:
    """The first homes of the area (by street and number) with no live order whose answer
    offers a signup."""
    homes = (
        Address.objects.filter(area__code=code, area__is_active=True)
        .exclude(orders__status__in=LIVE_ORDER_STATUSES)
        .order_by("street", "house_number", "pk")
    )
    chosen = []
    for address in homes.iterator(chunk_size=50):
        if serviceability_for_address(address.pk).can_sign_up:
            chosen.append(address)
        if len(chosen) == count:
            break
    return chosen


@demo_step(order=80, name="Billing: signups with connection cost, the daily run, payments")
def bill_the_town(context: DemoContext) -> None:
    """Households sign up through the marketplace where connection costs are on sale (their
    deposits and installment rows follow by themselves), then the daily billing run invoices
    what is due, settles and checks, and the first deposits are paid."""
    made = 0
    for code, count in SIGNUPS.items():
        for k, address in enumerate(_signup_candidates(code, count)):
            email = f"signup-{code}-{k + 1}@example.org"
            if Customer.objects.filter(email=email).exists():
                continue
            offers = sorted(serviceability_for_address(address.pk).offering_ids)
            with transaction.atomic():
                signup_place(
                    address=address,
                    offering=Offering.objects.get(pk=offers[0]) if offers else None,
                    connection_only=not offers,
                    name=f"Household {address.label}",
                    email=email,
                    phone="",
                    consent=True,
                )
            made += 1
    context.say(f"{made} marketplace signups with connection cost")
    today = timezone.localdate()
    run = billing_run_daily(on=today)
    context.say(f"billing run of {today}: {run.get_status_display()}")
    first_deposits = Invoice.objects.filter(kind=InvoiceKind.DEPOSIT).order_by("pk")
    for invoice in first_deposits[:DEPOSITS_PAID]:
        if invoice.status != InvoiceStatus.ISSUED:
            continue  # paid on an earlier run
        payment_record(
            invoice=invoice,
            amount=invoice.total,
            method=PaymentProcessor.SEPA_DIRECT_DEBIT,
            reference=f"SEPA {invoice.number}",
        )
    context.say(
        f"{Invoice.objects.count()} invoices, "
        f"{ConnectionCharge.objects.count()} connection charges, "
        f"{Subscription.objects.count()} subscriptions"
    )
