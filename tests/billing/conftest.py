"""Billing fixtures: the wholesale test town (areas by phase, two ISPs with an offering
each), with billing providers for the owner and the ISPs and each ISP's arrangement, and a
finance user. Each test module adds what its part needs."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from accounts.models import Organisation, User
from accounts.roles import Role
from accounts.services import user_create
from billing.lifecycle import BillingModel
from billing.models import BillingArrangement, BillingProvider
from tests.wholesale.conftest import Town, build, town  # noqa: F401  (fixtures shared here)


@dataclass
class Billing:
    """The town's billing parties: the owner's provider, one per ISP, the arrangements."""

    owner: Organisation
    owner_provider: BillingProvider
    isp_providers: dict[int, BillingProvider]
    arrangements: dict[int, BillingArrangement]


@pytest.fixture
def finance(owner) -> User:
    return user_create(
        username="finance", organisation=owner, role=Role.FINANCE, password="finance-pass-123"
    )


@pytest.fixture
def billing(town) -> Billing:  # noqa: F811
    """The owner invoices in EUR without tax; the first ISP bills its own customers (the
    owner bills it wholesale), the second has the owner bill its customers for it."""
    owner_provider = BillingProvider.objects.create(
        organisation=town.billing, name="Wedding Fibre Netz GmbH", invoice_prefix="WFN"
    )
    isp_providers, arrangements = {}, {}
    for k, isp in enumerate(town.isps):
        isp_providers[isp.pk] = BillingProvider.objects.create(
            organisation=isp, name=f"{isp.name} billing", invoice_prefix=f"ISP{k + 1}"
        )
        own = k == 0
        arrangements[isp.pk] = BillingArrangement.objects.create(
            isp=isp,
            model=BillingModel.ISP_BILLS_CUSTOMER if own else BillingModel.OWNER_BILLS_CUSTOMER,
            subscription_provider=isp_providers[isp.pk] if own else owner_provider,
            wholesale_provider=owner_provider,
        )
    return Billing(
        owner=town.billing,
        owner_provider=owner_provider,
        isp_providers=isp_providers,
        arrangements=arrangements,
    )
