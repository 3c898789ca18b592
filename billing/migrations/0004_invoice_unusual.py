from django.db import migrations


class Migration(migrations.Migration):
    """The few invoices whose payments count differently on the KPIs (credit notes, nothing
    owed, void, never issued, disputed): the money statement joins payments to these only."""

    dependencies = [("billing", "0003_kpi_month")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX invoice_unusual ON billing_invoice (id)"
            " INCLUDE (kind, total, status, issue_date, disputed)"
            " WHERE (kind = 'credit_note' OR total <= 0 OR status = 'void'"
            " OR issue_date IS NULL OR disputed)",
            "DROP INDEX invoice_unusual",
        ),
    ]
