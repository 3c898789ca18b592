"""Saved queries: who may use them. Only the network owner's staff; operator admins (and
superusers) may change anyone's; queries are shared among the owner's staff only."""

from django.db.models import Q

from accounts.models import User
from accounts.permissions import is_owner_staff
from accounts.roles import OrganisationKind, Role
from common.queries.access import register_access


def _may_administer(user) -> bool:
    return user.is_superuser or user.role == Role.OPERATOR_ADMIN


def _colleagues(user):
    return (
        User.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(membership__organisation__kind=OrganisationKind.OWNER))
        .order_by("first_name", "last_name", "username")
    )


register_access(may_use=is_owner_staff, may_administer=_may_administer, colleagues=_colleagues)
