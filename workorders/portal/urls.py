"""The technicians' door: /field/ and its pages (mounted by config/urls.py).

The dispatchers' operations view mounts under /field/ops/, so no path here starts with ops/.
"""

from django.urls import path

from workorders.portal import views

app_name = "field"

urlpatterns = [
    path("", views.my_day, name="my-day"),
    path("tasks/<int:pk>/", views.task_detail, name="task"),
    path("tasks/<int:pk>/complete/", views.task_sign_off, name="complete"),
    path("tasks/<int:pk>/problem/", views.task_problem, name="problem"),
    path("tasks/<int:pk>/photos/", views.task_photos, name="photos"),
    path("photos/<int:pk>/", views.photo_file, name="photo"),
]
