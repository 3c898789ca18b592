"""ISP onboarding: draft → active → suspended (and reinstated), each move with its history
row and event; a draft or suspended ISP does not trade; suspension stops its users and tokens
at once and leaves its live services up; tokens and contacts are validated."""

from __future__ import annotations

import pytest
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from accounts.authentication import ApiTokenAuthentication
from accounts.models import ApiToken, Organisation
from accounts.permissions import is_isp_user
from accounts.roles import OrganisationKind, Role
from accounts.services import user_create
from common.errors import Conflict, DomainError, InvalidTransition
from common.models import DomainEvent
from gis_core.lifecycle import AddressStatus
from tests.wholesale.conftest import build
from tests.wholesale.factories import OfferingFactory, serve
from wholesale.activation import service_activate
from wholesale.lifecycle import IspStatus, OrderStatus, ServiceStatus
from wholesale.models import IspProfile, IspStatusChange, Order
from wholesale.onboarding import (
    ISP_TOKEN_SCOPES,
    isp_activate,
    isp_contacts_set,
    isp_is_trading,
    isp_onboard,
    isp_suspend,
    isp_token_create,
)
from wholesale.serviceability import serviceability_for_address
from wholesale.services import order_place

INACTIVE = "the token's user or organisation is inactive"


@pytest.fixture
def staff(owner):
    return user_create(username="onboarder", organisation=owner, role=Role.OPERATOR_ADMIN)


@pytest.fixture
def draft(town, staff) -> Organisation:
    """Glasfaser Mitte, onboarded (draft), serving every area with an offering."""
    isp = isp_onboard(
        name="Glasfaser Mitte",
        contact_name=" Ada Lovelace ",
        contact_email="noc@glasfaser-mitte.example",
        contact_phone="+49 30 1234567",
        website="https://glasfaser-mitte.example",
        actor=staff,
    )
    serve(isp, *town.areas.values())
    OfferingFactory(isp=isp, name="Mitte 300")
    return isp


@pytest.fixture
def member(draft):
    return user_create(username="mitte-ops", organisation=draft, role=Role.ISP_USER)


def _history(isp) -> list[tuple]:
    return list(
        IspStatusChange.objects.filter(profile__organisation=isp).values_list(
            "from_status", "to_status", "actor__username", "reason"
        )
    )


def _state(isp) -> tuple:
    """Everything an ISP status move touches, to compare before and after a refusal."""
    isp.refresh_from_db()
    profile = IspProfile.objects.get(organisation=isp)
    return (
        isp.is_active,
        profile.status,
        profile.status_changed_at,
        IspStatusChange.objects.filter(profile=profile).count(),
        DomainEvent.objects.filter(topic="isp.status_changed").count(),
    )


def _offered(address, isp) -> bool:
    answer = serviceability_for_address(address.pk)
    return any(offering["isp"]["id"] == isp.pk for offering in answer.offerings)


def _token_request(secret: str) -> Request:
    factory = APIRequestFactory()
    return Request(factory.get("/api/areas/", HTTP_AUTHORIZATION=f"Bearer {secret}"))


# --- onboarding -----------------------------------------------------------------------------


def test_onboarding_makes_a_draft_isp_that_does_not_trade(draft, staff):
    profile = IspProfile.objects.get(organisation=draft)

    assert draft.kind == OrganisationKind.ISP
    assert draft.is_active is False
    assert profile.status == IspStatus.DRAFT
    assert isp_is_trading(draft) is False
    assert (profile.contact_name, profile.contact_email, profile.contact_phone) == (
        "Ada Lovelace",
        "noc@glasfaser-mitte.example",
        "+49 30 1234567",
    )
    assert profile.website == "https://glasfaser-mitte.example"
    assert profile.webhook_url == ""
    assert profile.webhook_secret.startswith("whsec_")
    assert _history(draft) == [("", IspStatus.DRAFT, "onboarder", "onboarding started")]


def test_a_draft_isp_cannot_take_orders(town, draft):
    address = build(town.address("live"), "connected")
    offering = draft.offerings.get()

    with pytest.raises(DomainError, match="Glasfaser Mitte is not an active ISP") as refused:
        order_place(address=address, isp=draft, offering=offering)

    assert refused.value.field == "isp"
    assert Order.objects.count() == 0
    address.refresh_from_db()
    assert address.status == AddressStatus.CONNECTED


def test_a_draft_isp_is_not_offered_in_the_marketplace(town, draft):
    address = town.address("live")

    answer = serviceability_for_address(address.pk)

    assert [offering["isp"]["name"] for offering in answer.offerings] == [
        "Spree Net",
        "Kiez Online",
    ]
    assert not _offered(address, draft)


def test_activation_makes_the_isp_trade(town, draft, staff):
    address = build(town.address("live"), "connected")

    profile = isp_activate(isp=draft, actor=staff, reason="contract signed")

    draft.refresh_from_db()
    assert profile.status == IspStatus.ACTIVE
    assert draft.is_active is True
    assert isp_is_trading(draft) is True
    assert _offered(address, draft)
    order = order_place(address=address, isp=draft, offering=draft.offerings.get())
    assert order.status == OrderStatus.READY_FOR_ACTIVATION
    assert _history(draft) == [
        ("", IspStatus.DRAFT, "onboarder", "onboarding started"),
        (IspStatus.DRAFT, IspStatus.ACTIVE, "onboarder", "contract signed"),
    ]
    event = DomainEvent.objects.get(topic="isp.status_changed")
    assert event.payload == {
        "isp_id": draft.pk,
        "from_status": IspStatus.DRAFT,
        "to_status": IspStatus.ACTIVE,
        "actor_id": staff.pk,
        "reason": "contract signed",
    }


def test_onboarding_needs_a_name_that_is_free(town, draft):
    with pytest.raises(DomainError, match="an ISP needs a name") as blank:
        isp_onboard(name="  ")
    with pytest.raises(Conflict, match="already exists") as taken:
        isp_onboard(name="Glasfaser Mitte")

    assert (blank.value.field, taken.value.field) == ("name", "name")
    assert Organisation.objects.filter(kind=OrganisationKind.ISP).count() == 3


def test_onboarding_with_a_bad_contact_creates_nothing(db):
    with pytest.raises(DomainError, match="is not an email address") as refused:
        isp_onboard(name="Typo Net", contact_email="noc@")

    assert refused.value.field == "contact_email"
    assert not Organisation.objects.filter(name="Typo Net").exists()
    assert IspProfile.objects.count() == 0
    assert IspStatusChange.objects.count() == 0


# --- suspension -----------------------------------------------------------------------------


@pytest.fixture
def trading(draft, member, staff):
    """The ISP active, with a live service at a connected home and an API token."""
    isp_activate(isp=draft, actor=staff)
    draft.refresh_from_db()
    return draft


def test_suspension_stops_users_and_tokens_at_once_and_keeps_services_up(
    town, trading, member, staff
):
    # given a live service and a working token
    address = build(town.address("live"), "connected")
    order = order_place(address=address, isp=trading, offering=trading.offerings.get())
    service = service_activate(order=order, ont_serial="MITTE-1")
    token, secret = isp_token_create(user=member, name="orders feed", scopes=["orders", "read"])
    assert ApiTokenAuthentication().authenticate(_token_request(secret)) == (member, token)
    member.refresh_from_db()
    assert is_isp_user(member) is True

    # when the ISP is suspended
    profile = isp_suspend(isp=trading, reason=" unpaid invoices ", actor=staff)

    # then it is suspended, with its history row and event
    assert profile.status == IspStatus.SUSPENDED
    trading.refresh_from_db()
    assert trading.is_active is False
    assert isp_is_trading(trading) is False
    assert _history(trading)[-1] == (
        IspStatus.ACTIVE,
        IspStatus.SUSPENDED,
        "onboarder",
        "unpaid invoices",
    )
    assert DomainEvent.objects.filter(topic="isp.status_changed").latest("occurred_at").payload[
        "to_status"
    ] == (IspStatus.SUSPENDED)
    # and its token stops working on its very next request
    with pytest.raises(AuthenticationFailed, match=INACTIVE):
        ApiTokenAuthentication().authenticate(_token_request(secret))
    answer = APIClient().get("/api/areas/", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert answer.status_code == 401
    assert answer.json() == {"code": "authentication_failed", "detail": INACTIVE}
    # and its users are no longer ISP users
    member.refresh_from_db()
    assert is_isp_user(member) is False
    # and its live service stays up, though it cannot activate new ones
    service.refresh_from_db()
    order.refresh_from_db()
    address.refresh_from_db()
    assert service.status == ServiceStatus.ACTIVE
    assert service.ended_at is None
    assert order.status == OrderStatus.ACTIVE
    assert address.status == AddressStatus.ACTIVATED
    # and it is gone from the marketplace and takes no orders
    other = build(town.address("live", 1), "connected")
    assert not _offered(other, trading)
    with pytest.raises(DomainError, match="not an active ISP"):
        order_place(address=other, isp=trading, offering=trading.offerings.get())


def test_a_suspended_isp_reinstated_trades_and_its_token_works_again(trading, member, staff):
    token, secret = isp_token_create(user=member, name="orders feed", scopes=["orders"])
    isp_suspend(isp=trading, reason="unpaid invoices", actor=staff)

    profile = isp_activate(isp=trading, actor=staff, reason="paid")

    assert profile.status == IspStatus.ACTIVE
    assert ApiTokenAuthentication().authenticate(_token_request(secret)) == (member, token)
    member.refresh_from_db()
    assert is_isp_user(member) is True
    assert [(source, to) for source, to, _, _ in _history(trading)] == [
        ("", IspStatus.DRAFT),
        (IspStatus.DRAFT, IspStatus.ACTIVE),
        (IspStatus.ACTIVE, IspStatus.SUSPENDED),
        (IspStatus.SUSPENDED, IspStatus.ACTIVE),
    ]


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_suspension_needs_a_reason_and_changes_nothing_without_one(trading, reason):
    before = _state(trading)

    with pytest.raises(DomainError, match="say why the ISP is suspended") as refused:
        isp_suspend(isp=trading, reason=reason)

    assert refused.value.field == "reason"
    assert _state(trading) == before
    assert trading.is_active is True


@pytest.mark.parametrize(
    ("moves", "refused", "message"),
    [
        ([], "suspend", "ISP cannot move from draft to suspended (allowed from draft: active)"),
        (["activate"], "activate", "ISP cannot move from active to active"),
        (
            ["activate", "suspend"],
            "suspend",
            "ISP cannot move from suspended to suspended (allowed from suspended: active)",
        ),
    ],
)
def test_invalid_moves_are_refused_and_change_nothing(draft, moves, refused, message):
    act = {
        "activate": lambda: isp_activate(isp=draft),
        "suspend": lambda: isp_suspend(isp=draft, reason="checking"),
    }
    for move in moves:
        act[move]()
    before = _state(draft)

    with pytest.raises(InvalidTransition) as error:
        act[refused]()

    assert str(error.value).startswith(message)
    assert _state(draft) == before


def test_status_moves_refuse_an_organisation_that_is_not_an_isp(owner):
    with pytest.raises(DomainError, match="is not an ISP") as refused:
        isp_activate(isp=owner)

    assert refused.value.field == "isp"
    assert IspProfile.objects.count() == 0


# --- tokens ---------------------------------------------------------------------------------


def test_an_isp_user_gets_a_token_with_isp_scopes(trading, member):
    token, secret = isp_token_create(
        user=member, name=" billing sync ", scopes=["services", "read", "orders"]
    )

    assert secret.startswith("oanm_")
    assert (token.name, token.scopes, token.organisation, token.user) == (
        "billing sync",
        ["orders", "read", "services"],
        trading,
        member,
    )
    assert sorted(token.scopes) == sorted(ISP_TOKEN_SCOPES)
    assert ApiToken.hash_key(secret) == token.key_hash


def test_a_token_is_refused_to_users_outside_an_isp(trading, staff, planner):
    for user in (staff, planner):
        with pytest.raises(DomainError, match="is not a user of an ISP") as refused:
            isp_token_create(user=user, name="feed", scopes=["read"])
        assert refused.value.field == "user"

    assert ApiToken.objects.count() == 0


@pytest.mark.parametrize(
    ("name", "scopes", "field", "message"),
    [
        ("feed", ["read", "write"], "scopes", "an ISP's token cannot have the scopes write"),
        ("feed", ["sync", "write"], "scopes", "an ISP's token cannot have the scopes sync, write"),
        ("feed", [], "scopes", "choose at least one scope"),
        ("  ", ["read"], "name", "give the token a name"),
        ("x" * 101, ["read"], "name", "the name is too long"),
    ],
)
def test_a_token_is_refused_with_bad_scopes_or_name(member, name, scopes, field, message):
    with pytest.raises(DomainError) as refused:
        isp_token_create(user=member, name=name, scopes=scopes)

    assert refused.value.field == field
    assert str(refused.value).startswith(message)
    assert ApiToken.objects.count() == 0


# --- contacts -------------------------------------------------------------------------------


def test_contacts_are_set_trimmed(draft):
    profile = isp_contacts_set(
        isp=draft,
        contact_name=" Grace Hopper ",
        contact_email=" grace@glasfaser-mitte.example ",
        contact_phone=" +49 30 7654321 ",
        support_email="noc@glasfaser-mitte.example",
        website=" https://glasfaser-mitte.example/kontakt ",
    )

    profile.refresh_from_db()
    assert (
        profile.contact_name,
        profile.contact_email,
        profile.contact_phone,
        profile.support_email,
        profile.website,
    ) == (
        "Grace Hopper",
        "grace@glasfaser-mitte.example",
        "+49 30 7654321",
        "noc@glasfaser-mitte.example",
        "https://glasfaser-mitte.example/kontakt",
    )
    assert profile.status == IspStatus.DRAFT


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"contact_email": "not-an-email"}, "contact_email", "'not-an-email' is not an email"),
        ({"support_email": "noc@@example.org"}, "support_email", "'noc@@example.org' is not"),
        (
            {"contact_email": "a" * 250 + "@example.org"},
            "contact_email",
            "the email address is too long",
        ),
        ({"website": "glasfaser-mitte"}, "website", "'glasfaser-mitte' is not a web address"),
        ({"website": "ftp://glasfaser.example"}, "website", "'ftp://glasfaser.example' is not"),
        (
            {"website": "https://glasfaser.example/" + "a" * 200},
            "website",
            "the website address is too long",
        ),
        ({"contact_phone": "1" * 41}, "contact_phone", "the phone number is too long"),
        ({"contact_name": "N" * 201}, "contact_name", "the contact's name is too long"),
    ],
)
def test_bad_contacts_are_refused_and_change_nothing(draft, fields, field, message):
    before = IspProfile.objects.get(organisation=draft)

    with pytest.raises(DomainError) as refused:
        isp_contacts_set(isp=draft, **{"contact_name": "Ada Lovelace", **fields})

    assert refused.value.field == field
    assert str(refused.value).startswith(message)
    after = IspProfile.objects.get(organisation=draft)
    assert (after.contact_name, after.contact_email, after.contact_phone, after.website) == (
        before.contact_name,
        before.contact_email,
        before.contact_phone,
        before.website,
    )
