"""Factories for organisations and users; they go through the services (the production path)."""

import factory

from accounts.models import Organisation, User
from accounts.roles import OrganisationKind, Role
from accounts.services import organisation_create, user_create


class OrganisationFactory(factory.Factory):
    """A new organisation, the network owner unless `kind` says otherwise."""

    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Organisation {n}")
    kind = OrganisationKind.OWNER

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return organisation_create(**kwargs)


class UserFactory(factory.Factory):
    """A new user with a membership; a planner at a new owner unless told otherwise."""

    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    organisation = factory.SubFactory(OrganisationFactory)
    role = Role.PLANNER
    password = "x-pass-123"

    class Params:
        isp = factory.Trait(
            organisation=factory.SubFactory(OrganisationFactory, kind=OrganisationKind.ISP),
            role=Role.ISP_USER,
        )
        contractor = factory.Trait(
            organisation=factory.SubFactory(OrganisationFactory, kind=OrganisationKind.CONTRACTOR),
            role=Role.CONTRACTOR_TECHNICIAN,
        )

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return user_create(**kwargs)
