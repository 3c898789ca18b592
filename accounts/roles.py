"""Organisation kinds and the roles a member can hold in each."""

from django.db import models


class OrganisationKind(models.TextChoices):
    OWNER = "owner", "network owner"
    ISP = "isp", "ISP (service provider)"
    CONTRACTOR = "contractor", "contractor"


class Role(models.TextChoices):
    OPERATOR_ADMIN = "operator_admin", "operator admin"
    PLANNER = "planner", "planner"
    FINANCE = "finance", "finance"
    DISPATCHER = "dispatcher", "dispatcher"
    TECHNICIAN = "technician", "technician"
    ISP_USER = "isp_user", "ISP user"
    CONTRACTOR_TECHNICIAN = "contractor_technician", "contractor technician"


# Which roles make sense in which kind of organisation.
ROLES_BY_KIND: dict[str, frozenset[str]] = {
    OrganisationKind.OWNER: frozenset(
        {Role.OPERATOR_ADMIN, Role.PLANNER, Role.FINANCE, Role.DISPATCHER, Role.TECHNICIAN}
    ),
    OrganisationKind.ISP: frozenset({Role.ISP_USER}),
    OrganisationKind.CONTRACTOR: frozenset({Role.CONTRACTOR_TECHNICIAN}),
}


class TokenScope(models.TextChoices):
    """What an API token may do; each door checks the scope it needs."""

    READ = "read", "read"
    WRITE = "write", "write"
    SYNC = "sync", "GIS sync"
    ORDERS = "orders", "orders"
    SERVICES = "services", "services"
