from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("wholesale", "0003_order_manage_token_for_every_order"),
    ]

    operations = [
        migrations.AlterField(
            model_name='order',
            name='manage_token',
            field=models.CharField(editable=False, help_text="The secret in the customer's link to manage the order.", max_length=64, unique=True),
        ),
    ]
