import secrets

from django.db import migrations


def give_orders_a_manage_token(apps, schema_editor):
    """Orders placed before the marketplace get their secret manage link too."""
    Order = apps.get_model("wholesale", "Order")
    for order in Order.objects.filter(manage_token=None).only("pk"):
        order.manage_token = secrets.token_urlsafe(32)
        order.save(update_fields=["manage_token"])


class Migration(migrations.Migration):

    dependencies = [
        ("wholesale", "0002_catalog_customers_bookings"),
    ]

    operations = [
        migrations.RunPython(give_orders_a_manage_token, migrations.RunPython.noop),
    ]
