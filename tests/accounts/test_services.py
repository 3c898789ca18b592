"""Writes of accounts: organisations, users with their role, API tokens."""

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ApiToken, Membership, Organisation, User
from accounts.roles import OrganisationKind, Role, TokenScope
from accounts.services import api_token_create, api_token_revoke, organisation_create, user_create
from common.errors import Conflict, DomainError
from tests.accounts.factories import OrganisationFactory, UserFactory


def test_organisation_create_stores_it_with_a_slug(db):
    organisation = organisation_create(name="Kiez Net GmbH", kind=OrganisationKind.ISP)

    organisation.refresh_from_db()
    assert (organisation.name, organisation.slug, organisation.kind, organisation.is_active) == (
        "Kiez Net GmbH",
        "kiez-net-gmbh",
        OrganisationKind.ISP,
        True,
    )


def test_organisation_create_refuses_a_duplicate_name(db):
    OrganisationFactory(name="Kiez Net")

    with pytest.raises(Conflict) as raised:
        organisation_create(name="Kiez Net", kind=OrganisationKind.ISP)

    assert raised.value.message == "an organisation named 'Kiez Net' already exists"
    assert raised.value.field == "name"
    assert Organisation.objects.count() == 1


def test_organisation_create_refuses_a_name_with_a_taken_slug(db):
    OrganisationFactory(name="Kiez Net")

    with pytest.raises(Conflict) as raised:
        organisation_create(name="kiez net", kind=OrganisationKind.ISP)

    assert raised.value.message == (
        "the short name 'kiez-net' is already used by another organisation"
    )
    assert raised.value.field == "slug"
    assert list(Organisation.objects.values_list("name", flat=True)) == ["Kiez Net"]


def test_organisation_create_refuses_an_unknown_kind(db):
    with pytest.raises(DomainError) as raised:
        organisation_create(name="Cable Co", kind="cable")

    assert raised.value.message == "unknown organisation kind 'cable'"
    assert raised.value.field == "kind"
    assert Organisation.objects.count() == 0


def test_user_create_makes_the_user_and_their_membership(db):
    owner = OrganisationFactory(name="Wedding Fibre")

    user = user_create(
        username="anna",
        organisation=owner,
        role=Role.PLANNER,
        password="x-pass-123",
        email="anna@example.org",
    )

    user = User.objects.get(pk=user.pk)
    assert (user.username, user.email, user.organisation, user.role) == (
        "anna",
        "anna@example.org",
        owner,
        Role.PLANNER,
    )
    assert user.check_password("x-pass-123")
    assert not user.is_staff
    assert not user.is_superuser
    assert user.has_role(Role.PLANNER, Role.FINANCE)
    assert not user.has_role(Role.FINANCE)


def test_an_operator_admin_is_staff_and_may_be_a_superuser(db):
    owner = OrganisationFactory()

    user = user_create(
        username="root", organisation=owner, role=Role.OPERATOR_ADMIN, is_superuser=True
    )

    user.refresh_from_db()
    assert (user.is_staff, user.is_superuser) == (True, True)
    assert not user.has_usable_password()
    assert user.has_role(Role.FINANCE)


def test_only_an_operator_admin_may_be_a_superuser(db):
    owner = OrganisationFactory()

    with pytest.raises(DomainError) as raised:
        user_create(username="eve", organisation=owner, role=Role.PLANNER, is_superuser=True)

    assert raised.value.message == "only an operator admin can be a superuser"
    assert User.objects.count() == 0


@pytest.mark.parametrize(
    ("kind", "role", "message"),
    [
        (
            OrganisationKind.OWNER,
            Role.ISP_USER,
            "an ISP user cannot belong to a network owner (Somebody)",
        ),
        (
            OrganisationKind.ISP,
            Role.PLANNER,
            "a planner cannot belong to an ISP (service provider) (Somebody)",
        ),
        (
            OrganisationKind.OWNER,
            Role.CONTRACTOR_TECHNICIAN,
            "a contractor technician cannot belong to a network owner (Somebody)",
        ),
        (
            OrganisationKind.CONTRACTOR,
            Role.TECHNICIAN,
            "a technician cannot belong to a contractor (Somebody)",
        ),
    ],
)
def test_user_create_refuses_a_role_that_does_not_fit_the_organisation(db, kind, role, message):
    organisation = OrganisationFactory(name="Somebody", kind=kind)

    with pytest.raises(DomainError) as raised:
        user_create(username="misfit", organisation=organisation, role=role)

    assert raised.value.message == message
    assert raised.value.field == "role"
    assert User.objects.count() == 0
    assert Membership.objects.count() == 0


@pytest.mark.parametrize(
    ("kind", "role"),
    [
        (OrganisationKind.OWNER, Role.OPERATOR_ADMIN),
        (OrganisationKind.OWNER, Role.PLANNER),
        (OrganisationKind.OWNER, Role.FINANCE),
        (OrganisationKind.OWNER, Role.DISPATCHER),
        (OrganisationKind.OWNER, Role.TECHNICIAN),
        (OrganisationKind.ISP, Role.ISP_USER),
        (OrganisationKind.CONTRACTOR, Role.CONTRACTOR_TECHNICIAN),
    ],
)
def test_user_create_accepts_every_role_in_its_kind_of_organisation(db, kind, role):
    organisation = OrganisationFactory(kind=kind)

    user = user_create(username="fit", organisation=organisation, role=role)

    assert Membership.objects.get(user=user).role == role


def test_user_create_refuses_an_unknown_role(db):
    with pytest.raises(DomainError) as raised:
        user_create(username="x", organisation=OrganisationFactory(), role="boss")

    assert raised.value.message == "unknown role 'boss'"
    assert User.objects.count() == 0


def test_user_create_refuses_a_taken_username(db):
    UserFactory(username="anna")

    with pytest.raises(Conflict) as raised:
        UserFactory(username="anna", isp=True)

    assert raised.value.message == "the username 'anna' is taken"
    assert User.objects.count() == 1
    assert Membership.objects.count() == 1


def test_api_token_create_returns_the_secret_once_and_stores_only_its_hash(db):
    user = UserFactory(isp=True)

    token, secret = api_token_create(
        user=user, name="orders feed", scopes=[TokenScope.ORDERS, TokenScope.READ, "read"]
    )

    token.refresh_from_db()
    assert secret.startswith("oanm_")
    assert len(secret) == 48
    assert token.prefix == secret[:12]
    assert token.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {token.name, token.prefix, token.key_hash}
    assert token.scopes == ["orders", "read"]
    assert (token.user, token.organisation) == (user, user.organisation)
    assert (token.expires_at, token.revoked_at, token.last_used_at) == (None, None, None)
    assert token.is_usable
    assert token.has_scope("orders")
    assert not token.has_scope("write")


def test_api_token_create_gives_each_token_its_own_secret(db):
    user = UserFactory(isp=True)

    _, first = api_token_create(user=user, name="one", scopes=[])
    _, second = api_token_create(user=user, name="two", scopes=[])

    assert first != second
    assert ApiToken.objects.count() == 2


def test_api_token_create_refuses_unknown_scopes(db):
    user = UserFactory(isp=True)

    with pytest.raises(DomainError) as raised:
        api_token_create(user=user, name="too much", scopes=["read", "delete", "admin"])

    assert raised.value.message == "unknown scopes: admin, delete"
    assert raised.value.field == "scopes"
    assert ApiToken.objects.count() == 0


def test_api_token_create_refuses_a_user_without_an_organisation(db):
    # a user made outside our services (e.g. by createsuperuser) has no membership
    user = User.objects.create_user(username="loner")

    with pytest.raises(DomainError) as raised:
        api_token_create(user=user, name="orphan", scopes=["read"])

    assert raised.value.message == "loner belongs to no organisation"
    assert ApiToken.objects.count() == 0


def test_api_token_revoke_makes_it_unusable_and_keeps_the_first_revocation_time(db):
    token, _ = api_token_create(user=UserFactory(isp=True), name="feed", scopes=["read"])

    revoked = api_token_revoke(token=token)
    again = api_token_revoke(token=token)

    assert revoked.revoked_at is not None
    assert again.revoked_at == revoked.revoked_at
    assert not ApiToken.objects.get(pk=token.pk).is_usable


def test_a_token_past_its_expiry_is_not_usable(db):
    token, _ = api_token_create(
        user=UserFactory(isp=True),
        name="short-lived",
        scopes=["read"],
        expires_at=timezone.now() + timedelta(hours=1),
    )
    assert token.is_usable

    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert not ApiToken.objects.get(pk=token.pk).is_usable


def test_api_token_create_refuses_an_expiry_in_the_past(db):
    user = UserFactory()

    with pytest.raises(DomainError) as raised:
        api_token_create(
            user=user, name="old", scopes=[], expires_at=timezone.now() - timedelta(minutes=1)
        )

    assert raised.value.message == "the expiry date of a new token must be in the future"
    assert ApiToken.objects.count() == 0
