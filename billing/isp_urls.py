"""The ISPs' settlement statements, mounted at /isp/statements/ (namespace "isp-billing")
and /api/isp/statements/ (namespace "isp-billing-api"): their own statements only."""

from django.urls import path

from billing import isp_views

app_name = "isp-billing"

urlpatterns = [
    path("", isp_views.statement_list, name="statements"),
    path("<int:pk>/", isp_views.statement_detail, name="statement"),
    path("<int:pk>.csv", isp_views.statement_csv, name="statement-csv"),
    path("<int:pk>.pdf", isp_views.statement_pdf, name="statement-pdf"),
]
