"""Signing in leads each user to their own door."""

import pytest

from accounts.roles import OrganisationKind, Role
from accounts.services import organisation_create, user_create


@pytest.mark.parametrize(
    ("kind", "role", "door"),
    [
        (OrganisationKind.OWNER, Role.PLANNER, "/map/"),
        (OrganisationKind.OWNER, Role.FINANCE, "/billing/"),
        (OrganisationKind.OWNER, Role.DISPATCHER, "/field/ops/"),
        (OrganisationKind.OWNER, Role.TECHNICIAN, "/field/"),
        (OrganisationKind.CONTRACTOR, Role.CONTRACTOR_TECHNICIAN, "/field/"),
        (OrganisationKind.ISP, Role.ISP_USER, "/isp/"),
    ],
)
def test_home_leads_each_user_to_their_door(client, db, kind, role, door):
    organisation = organisation_create(name=f"Org {role}", kind=kind)
    user = user_create(username=f"u-{role}", organisation=organisation, role=role)
    client.force_login(user)

    response = client.get("/")

    assert response.status_code == 302
    assert response.url == door


def test_home_asks_anonymous_visitors_to_sign_in(client, db):
    response = client.get("/")

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
