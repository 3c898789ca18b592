"""The demo's billing: who invoices whom, set up before the first activation so that billing
follows the network from the start.

- the owner, Wedding Fibre Netz, invoices in EUR by bank transfer and SEPA direct debit;
- Spree Net and Panke Glasfaser bill their own customers (the owner bills them wholesale);
- Kiez Online has the owner bill its customers on its behalf;
- a three-month half-price retail promotion for Kiez Online's new customers, and a
  wholesale promotion for every ISP's first month on a line.

(The finance login is one of accounts' demo logins.)
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from accounts.demo import demo_owner
from billing.lifecycle import BillingModel, PaymentProcessor, PromotionKind, PromotionScope
from billing.models import BillingArrangement, BillingProvider, Promotion
from common.demo import DemoContext, demo_step
from wholesale.demo import demo_isps

# ISP name → (billing model, invoice prefix, payment processor)
ARRANGEMENTS = {
    "Spree Net": (BillingModel.ISP_BILLS_CUSTOMER, "SPR", PaymentProcessor.STRIPE),
    "Kiez Online": (BillingModel.OWNER_BILLS_CUSTOMER, "KZO", PaymentProcessor.GOCARDLESS),
    "Panke Glasfaser": (BillingModel.ISP_BILLS_CUSTOMER, "PNK", PaymentProcessor.BANK_TRANSFER),
}
PROMOTION_START = date(2026, 1, 1)


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
    Promotion.objects.get_or_create(
        name="Launch offer: first month of wholesale fees waived",
        defaults={
            "scope": PromotionScope.WHOLESALE,
            "kind": PromotionKind.PERCENT,
            "value": Decimal("100"),
            "months": 1,
            "valid_from": PROMOTION_START,
        },
    )
    context.say(
        f"{BillingProvider.objects.count()} billing providers, "
        f"{BillingArrangement.objects.count()} ISP arrangements"
    )
