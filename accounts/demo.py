"""Demo scenario: the network owner and the demo logins."""

from accounts.models import Organisation, User
from accounts.roles import OrganisationKind, Role
from accounts.services import organisation_create, user_create
from common.demo import DemoContext, demo_step

OWNER_NAME = "Wedding Fibre Netz"
DEMO_USERS = [
    # username, password, role, superuser
    ("admin", "oanm-admin", Role.OPERATOR_ADMIN, True),
    ("planner", "oanm-planner", Role.PLANNER, False),
    ("finance", "oanm-finance", Role.FINANCE, False),
    ("dispatcher", "oanm-dispatcher", Role.DISPATCHER, False),
    ("tech", "oanm-tech", Role.TECHNICIAN, False),  # a member of an owner's crew (workorders)
]


def demo_owner() -> Organisation:
    """The demo network owner (created on first use)."""
    owner = Organisation.objects.filter(name=OWNER_NAME).first()
    return owner or organisation_create(name=OWNER_NAME, kind=OrganisationKind.OWNER)


@demo_step(order=10, name="Owner organisation and demo logins")
def create_demo_logins(context: DemoContext) -> None:
    owner = demo_owner()
    for username, password, role, superuser in DEMO_USERS:
        if not User.objects.filter(username=username).exists():
            user_create(
                username=username,
                organisation=owner,
                role=role,
                password=password,
                is_superuser=superuser,
            )
            context.say(f"created login {username}")
        context.logins.append((username, password, Role(role).label))
