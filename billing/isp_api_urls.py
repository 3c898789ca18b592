"""The ISPs' settlement statements through the ISP API (token scope `read`)."""

app_name = "isp-billing-api"

urlpatterns: list = []
