"""Factories for ISPs and orders: orders are placed through `order_place` (the production path),
so the address joins the build queue and the demand book records the signup."""

import factory

from accounts.roles import OrganisationKind
from tests.accounts.factories import OrganisationFactory
from tests.gis_core.factories import AddressFactory
from wholesale.models import Order
from wholesale.services import order_place


class IspFactory(OrganisationFactory):
    """A new active ISP."""

    name = factory.Sequence(lambda n: f"ISP {n}")
    kind = OrganisationKind.ISP


class OrderFactory(factory.Factory):
    """An order for an ISP's service at a new planned address, placed now."""

    class Meta:
        model = Order

    address = factory.SubFactory(AddressFactory)
    isp = factory.SubFactory(IspFactory)
    placed_at = None

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return order_place(**kwargs)
