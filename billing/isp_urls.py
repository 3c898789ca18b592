"""The ISPs' settlement statements, mounted at /isp/statements/ (namespace "isp-billing")
and /api/isp/statements/ (namespace "isp-billing-api"): their own statements only."""

app_name = "isp-billing"

urlpatterns: list = []
