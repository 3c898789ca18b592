"""Where "/" leads (and a sign-in without a next page): each user to their own door."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect

from accounts.permissions import is_field_user, is_finance, is_isp_user
from accounts.roles import Role


@login_required
def home(request):
    """ISP users to their portal, technicians to their day, dispatchers to the operations
    view, finance to the billing overview, everyone else (planners, finance, admins) to the map."""
    user = request.user
    if is_isp_user(user):
        return redirect("isp:dashboard")
    if user.role == Role.FINANCE and is_finance(user):
        return redirect("billing:overview")
    if user.role == Role.DISPATCHER:
        return redirect("ops:overview")
    if user.role in (Role.TECHNICIAN, Role.CONTRACTOR_TECHNICIAN) and is_field_user(user):
        return redirect("field:my-day")
    return redirect("areas:map")
