"""Factories for ISPs and orders: orders are placed through `order_place` (the production path),
so the address joins the build queue and the demand book records the signup."""

from datetime import date
from decimal import Decimal

import factory

from accounts.roles import OrganisationKind
from tests.accounts.factories import OrganisationFactory
from tests.gis_core.factories import AddressFactory
from wholesale.models import Offering, Order, Product
from wholesale.services import isp_serve_area, offering_create, order_place, product_create


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


class ProductFactory(factory.Factory):
    """A wholesale product valid from long ago, open-ended."""

    class Meta:
        model = Product

    code = factory.Sequence(lambda n: f"fibre-{n}")
    name = factory.Sequence(lambda n: f"Fibre {n}")
    download_mbps = 500
    upload_mbps = 100
    monthly_fee = Decimal("18.00")
    one_time_fee = Decimal("0.00")
    valid_from = date(2020, 1, 1)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return product_create(**kwargs)


class OfferingFactory(factory.Factory):
    """An ISP's offering on a product, valid from long ago, open-ended, in all its areas."""

    class Meta:
        model = Offering

    isp = factory.SubFactory(IspFactory)
    product = factory.SubFactory(ProductFactory)
    name = factory.Sequence(lambda n: f"Home {n}")
    monthly_price = Decimal("39.90")
    setup_fee = Decimal("0.00")
    contract_months = 24
    notice_days = 30
    terms = "24 months, then monthly with 30 days' notice."
    valid_from = date(2020, 1, 1)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return offering_create(**kwargs)


def serve(isp, *areas) -> None:
    """The ISP sells in these areas."""
    for area in areas:
        isp_serve_area(isp=isp, area=area)
