"""The dispatchers' door, mounted at /field/ops/ (namespace "ops")."""

from datetime import date

from django.urls import path, register_converter

from workorders.ops import views


class DayConverter:
    """A day in a URL, as YYYY-MM-DD (a date that does not exist does not match: 404)."""

    regex = r"\d{4}-\d{2}-\d{2}"

    def to_python(self, value: str) -> date:
        return date.fromisoformat(value)

    def to_url(self, value) -> str:
        return value.isoformat() if isinstance(value, date) else str(value)


register_converter(DayConverter, "day")

app_name = "ops"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("auto-assign/", views.auto_assign, name="auto_assign"),
    path("work-orders/<int:pk>/", views.work_order_detail, name="work_order"),
    path("work-orders/<int:pk>/schedule/", views.work_order_schedule, name="schedule"),
    path("tasks/<int:pk>/assign/", views.task_assign, name="task_assign"),
    path("tasks/<int:pk>/transfer/", views.task_transfer, name="task_transfer"),
    path("tasks/<int:pk>/clear/", views.task_clear_problem, name="task_clear"),
    path("tasks/<int:pk>/accept/", views.task_accept, name="task_accept"),
    path("tasks/<int:pk>/reject/", views.task_reject, name="task_reject"),
    path("provisioning/<int:pk>/retry/", views.provisioning_retry, name="provisioning_retry"),
    path("routes/<int:crew_id>/<day:day>/", views.route, name="route"),
    path("routes/<int:crew_id>/<day:day>/refresh/", views.route_refresh, name="route_refresh"),
    path("bookings/", views.bookings, name="bookings"),
    path("bookings/<int:pk>/move/", views.booking_move, name="booking_move"),
]
