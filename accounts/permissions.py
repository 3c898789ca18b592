"""Who may do what, decided from the user's membership (every door uses these).

- *owner staff*: any member of the network owner's organisation (or a superuser); they may
  read the planners' pages, the area API and the tiles;
- *operators*: the owner's operator admins and planners; they may also change things
  (split areas, move phases, share queries);
- *dispatchers*: the owner's dispatchers and operator admins; they plan and accept field work;
- *field users*: the owner's technicians and active contractors' technicians (and
  dispatchers); they use the field portal;
- *finance*: the owner's finance staff and operator admins; they use the billing pages;
- *ISP users*: members (role ISP user) of an ISP that is trading (active); they use the
  ISP portal and API, which show them their own ISP's business only.
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.roles import OrganisationKind, Role

OPERATOR_ROLES = frozenset({Role.OPERATOR_ADMIN, Role.PLANNER})
DISPATCH_ROLES = frozenset({Role.OPERATOR_ADMIN, Role.DISPATCHER})
FINANCE_ROLES = frozenset({Role.OPERATOR_ADMIN, Role.FINANCE})


def is_owner_staff(user) -> bool:
    """A signed-in member of the network owner (or a superuser)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    organisation = user.organisation
    return organisation is not None and organisation.kind == OrganisationKind.OWNER


def is_operator(user) -> bool:
    """An owner's operator admin or planner (or a superuser): may change the plan."""
    return is_owner_staff(user) and (user.is_superuser or user.role in OPERATOR_ROLES)


def is_isp_user(user) -> bool:
    """A signed-in ISP user of an active (not draft, not suspended) ISP."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    organisation = user.organisation
    return (
        organisation is not None
        and organisation.kind == OrganisationKind.ISP
        and organisation.is_active
        and user.role == Role.ISP_USER
    )


def is_dispatcher(user) -> bool:
    """The owner's dispatchers and operator admins (and superusers): plan, accept, reject."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    org = user.organisation
    return org is not None and org.kind == OrganisationKind.OWNER and user.role in DISPATCH_ROLES


def is_finance(user) -> bool:
    """The owner's finance staff and operator admins (and superusers): invoices, settlement,
    revenue assurance, price overrides."""
    return is_owner_staff(user) and (user.is_superuser or user.role in FINANCE_ROLES)


def is_field_user(user) -> bool:
    """Anyone with a door into the field portal: technicians, contractor technicians of an
    active contractor, dispatchers."""
    if is_dispatcher(user):
        return True
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    org = user.organisation
    if org is None or not org.is_active:
        return False
    return (org.kind == OrganisationKind.OWNER and user.role == Role.TECHNICIAN) or (
        org.kind == OrganisationKind.CONTRACTOR and user.role == Role.CONTRACTOR_TECHNICIAN
    )


def works_for_contractor(user) -> bool:
    """The user is a contractor's technician (else: the owner's own staff)."""
    org = user.organisation
    return org is not None and org.kind == OrganisationKind.CONTRACTOR


def owner_staff_required(view):
    """Page decorator: sign-in first, then 403 for users outside the owner's staff."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_owner_staff(request.user):
            raise PermissionDenied("only the network owner's staff may open this page")
        return view(request, *args, **kwargs)

    return guarded


def operator_required(view):
    """Page decorator: sign-in first, then 403 for anyone but operators."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_operator(request.user):
            raise PermissionDenied("only operator admins and planners may do this")
        return view(request, *args, **kwargs)

    return guarded


def finance_required(view):
    """Page decorator: sign-in first, then 403 for anyone but the owner's finance staff."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_finance(request.user):
            raise PermissionDenied("only the network owner's finance staff may open this page")
        return view(request, *args, **kwargs)

    return guarded


class IsFinance(BasePermission):
    """API: the owner's finance staff and operator admins only."""

    message = "only the network owner's finance staff may use this endpoint"

    def has_permission(self, request, view) -> bool:
        return is_finance(request.user)


class IsOwnerStaff(BasePermission):
    """API: owner staff may read; nobody else may do anything."""

    message = "only the network owner's staff may use this endpoint"

    def has_permission(self, request, view) -> bool:
        return is_owner_staff(request.user)


class IsOwnerStaffReadOperatorWrite(BasePermission):
    """API: owner staff read; only operators (operator admins, planners) write."""

    message = "only operator admins and planners may change this"

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return is_owner_staff(request.user)
        return is_operator(request.user)


class IsIspUserOrOwnerStaff(BasePermission):
    """API: an active ISP's users (their own business) or owner staff (everyone's)."""

    message = "only users of an active ISP, or the network owner's staff, may use this endpoint"

    def has_permission(self, request, view) -> bool:
        return is_isp_user(request.user) or is_owner_staff(request.user)
