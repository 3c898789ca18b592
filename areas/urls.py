"""The planners' pages: /map/, /areas/, /areas/<id>/ and the area vector tiles."""

app_name = "areas"

urlpatterns: list = []
