"""Events the billing app publishes. Topics are never renamed or reused."""

from dataclasses import dataclass

# --- connection (invoices) ------------------------------------------------------------------

INVOICE_REMINDER_DUE = "invoice.reminder_due"


@dataclass(frozen=True)
class InvoiceReminderDue:
    """An overdue invoice reached a dunning level: its reminder is to be emailed."""

    reminder_id: int
    invoice_id: int
    level: int
