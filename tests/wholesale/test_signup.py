"""Signups and interests through the marketplace: the customer, the order, the snapshot of
the connection cost, the confirmation email, duplicates; refusals leave nothing behind."""

from decimal import Decimal

import pytest
from django.core import mail

from areas.models import AreaFigures, Interest, Signup
from common.errors import Conflict, DomainError
from common.outbox import outbox_drain
from gis_core.lifecycle import AddressStatus
from gis_core.models import Address
from tests.wholesale.conftest import build
from wholesale.connection_cost import installment_plan
from wholesale.lifecycle import OrderStatus
from wholesale.models import Customer, InterestRegistration, Order
from wholesale.services import (
    connection_cost_terms_set,
    interest_place,
    order_cancel,
    signup_place,
)

pytestmark = pytest.mark.django_db

ERIKA = {"name": "Erika Mustermann", "email": "erika@example.org", "phone": "+49 30 123"}


def _sign_up(address, offering=None, **overrides):
    arguments = {
        "address": address,
        "offering": offering,
        "connection_only": offering is None,
        "consent": True,
        **ERIKA,
        **overrides,
    }
    return signup_place(**arguments)


def _nothing_written(before_orders: int) -> None:
    assert Order.objects.count() == before_orders
    assert Customer.objects.count() == 0
    assert Signup.objects.count() == before_orders


def test_a_signup_creates_the_customer_and_the_order_and_queues_the_address(town):
    home = town.address("demand_aggregation")

    order = _sign_up(home, town.offerings[0], unit="")

    assert order.customer.name == "Erika Mustermann"
    assert order.customer.email == "erika@example.org"
    assert order.offering == town.offerings[0]
    assert order.isp == town.isps[0]
    assert order.status == OrderStatus.AWAITING_INFRASTRUCTURE
    assert len(order.manage_token) >= 40
    assert Address.objects.get(pk=home.pk).status == AddressStatus.AWAITING_DEPLOYMENT
    assert AreaFigures.objects.get(area=town.areas["demand_aggregation"]).orders == 1
    assert order.has_connection_cost is False


def test_the_confirmation_email_goes_out_after_commit_with_the_manage_link(town, settings):
    settings.PUBLIC_SITE_URL = "https://fibre.example.org/"
    connection_cost_terms_set(
        area=town.areas["demand_aggregation"],
        total="5000",
        deposit="1000",
        max_installment="500",
        billed_by=town.billing,
    )
    order = _sign_up(town.address("demand_aggregation"), town.offerings[0])
    assert mail.outbox == []  # nothing leaves inside the transaction

    outbox_drain()

    (email,) = mail.outbox
    assert email.to == ["erika@example.org"]
    assert email.subject == f"Your fibre signup {order.reference}"
    assert f"https://fibre.example.org/lookup/orders/{order.manage_token}/" in email.body
    assert "Spree 500 from Spree Net" in email.body
    assert "Deposit at signup: 1000.00 EUR" in email.body
    assert "Split into 10 monthly installments of up to 500.00 EUR" in email.body


def test_the_order_keeps_the_terms_it_was_signed_up_under(town):
    terms = connection_cost_terms_set(
        area=town.areas["in_deployment"],
        total="5000",
        deposit="1000",
        max_installment="500",
        invoicing_starts="deployment",
        billed_by=town.billing,
    )
    order = _sign_up(town.address("in_deployment"), town.offerings[1])

    connection_cost_terms_set(
        area=town.areas["in_deployment"],
        total="9000",
        max_installment="100",
        billed_by=town.isps[0],
    )

    order = Order.objects.get(pk=order.pk)
    assert (
        order.connection_cost_total,
        order.connection_cost_deposit,
        order.connection_cost_max_installment,
        order.connection_cost_installments,
        order.connection_cost_invoicing_starts,
        order.connection_cost_billed_by,
        order.connection_cost_currency,
        order.connection_cost_terms_id,
    ) == (
        Decimal("5000.00"),
        Decimal("1000.00"),
        Decimal("500.00"),
        10,
        "deployment",
        town.billing,
        "EUR",
        terms.pk,
    )


def test_an_addresses_own_terms_are_the_ones_snapshotted(town):
    connection_cost_terms_set(area=town.areas["live"], total="5000", billed_by=town.billing)
    home = town.address("live")
    connection_cost_terms_set(
        address=home, total="0", billed_by=town.billing, connection_only_enabled=True
    )
    order = _sign_up(home)  # connection-only, enabled for this address only
    assert order.connection_cost_total == Decimal("0.00")
    assert order.connection_cost_installments == 0
    assert order.is_connection_only


@pytest.mark.parametrize(
    ("total", "maximum", "rows"),
    [
        ("5000", "500", ["500.00"] * 10),
        ("100", "30", ["25.00"] * 4),
        ("10.01", "4", ["3.34", "3.34", "3.33"]),
        ("299.99", None, ["299.99"]),
        ("0", "50", []),
        ("1000", "999.99", ["500.00", "500.00"]),
    ],
)
def test_installments_add_up_to_the_total_none_above_the_maximum(total, maximum, rows):
    plan = installment_plan(
        total=Decimal(total), max_installment=Decimal(maximum) if maximum else None
    )
    assert plan == [Decimal(row) for row in rows]
    assert sum(plan, Decimal(0)) == Decimal(total)
    assert all(row <= Decimal(maximum) for row in plan) if maximum else True


def test_a_second_signup_at_the_same_address_and_unit_is_refused(town):
    home = town.address("demand_aggregation")
    _sign_up(home, town.offerings[0], unit="Whg. 3")

    with pytest.raises(Conflict) as refused:
        _sign_up(home, town.offerings[1], unit="whg. 3", email="other@example.org")

    assert refused.value.code == "duplicate_signup"
    assert "already in progress" in refused.value.message
    assert Order.objects.count() == 1 and Customer.objects.count() == 1
    # another flat in the same building may sign up
    assert _sign_up(home, town.offerings[1], unit="Whg. 4").unit == "Whg. 4"


def test_a_cancelled_signup_does_not_block_a_new_one(town):
    home = town.address("demand_aggregation")
    order_cancel(order=_sign_up(home, town.offerings[0]))
    assert _sign_up(home, town.offerings[0]).status == OrderStatus.AWAITING_INFRASTRUCTURE


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"consent": False}, "consent"),
        ({"name": "  "}, "name"),
        ({"email": "not-an-email"}, "email"),
        ({"email": ""}, "email"),
        ({"unit": "x" * 61}, "unit"),
        ({"phone": "1" * 41}, "phone"),
    ],
)
def test_bad_details_are_refused_naming_the_field(town, overrides, field):
    with pytest.raises(DomainError) as refused:
        _sign_up(town.address("live"), town.offerings[0], **overrides)
    assert refused.value.field == field
    _nothing_written(0)


def test_an_offering_not_available_there_is_refused(town):
    from tests.wholesale.factories import OfferingFactory

    stranger = OfferingFactory(name="elsewhere")  # its ISP serves no area
    with pytest.raises(DomainError) as refused:
        _sign_up(town.address("live"), stranger)
    assert refused.value.field == "offering"
    _nothing_written(0)


def test_connection_only_needs_the_operator_to_enable_it(town):
    with pytest.raises(DomainError) as refused:
        _sign_up(town.address("live"))
    assert refused.value.field == "connection_only"
    with pytest.raises(DomainError) as refused:
        _sign_up(town.address("live"), town.offerings[0], connection_only=True)
    assert refused.value.field == "connection_only"
    with pytest.raises(DomainError) as refused:
        _sign_up(town.address("live"), None, connection_only=False)
    assert refused.value.field == "offering"
    _nothing_written(0)


@pytest.mark.parametrize("phase", ["planning", None])
def test_no_signup_where_signups_are_not_open(town, phase):
    with pytest.raises(DomainError) as refused:
        _sign_up(town.address(phase), town.offerings[0])
    assert refused.value.code == "signup_closed"
    _nothing_written(0)


def test_a_signup_at_a_connected_home_is_ready_for_activation(town):
    home = build(town.address("in_deployment"), "connected")
    assert _sign_up(home, town.offerings[0]).status == OrderStatus.READY_FOR_ACTIVATION


def test_an_interest_counts_in_the_areas_demand_and_keeps_the_contact(town):
    home = town.address("planning")

    registration = interest_place(address=home, name="Max", email="max@example.org", consent=True)

    assert registration.interest.address == home
    assert registration.interest.source == "web"
    assert registration.customer.email == "max@example.org"
    assert AreaFigures.objects.get(area=town.areas["planning"]).interests == 1


def test_the_same_email_registers_interest_at_an_address_once(town):
    home = town.address("planning")
    interest_place(address=home, name="Max", email="max@example.org", consent=True)

    with pytest.raises(Conflict) as refused:
        interest_place(address=home, name="Max", email="MAX@example.org", consent=True)

    assert refused.value.code == "duplicate_interest"
    assert Interest.objects.count() == 1 and InterestRegistration.objects.count() == 1
    interest_place(address=home, name="Moritz", email="moritz@example.org", consent=True)
    assert Interest.objects.count() == 2


def test_interest_needs_consent_and_an_email(town):
    home = town.address("planning")
    for overrides, field in (({"consent": False}, "consent"), ({"email": "x"}, "email")):
        arguments = {"name": "Max", "email": "max@example.org", "consent": True, **overrides}
        with pytest.raises(DomainError) as refused:
            interest_place(address=home, **arguments)
        assert refused.value.field == field
    assert Interest.objects.count() == 0 and Customer.objects.count() == 0
