"""The change log of the feed: one row per address or area written, by database triggers."""

from django.db import models
from django.db.models.functions import Now


class ChangeEntity(models.TextChoices):
    ADDRESS = "address", "address"
    AREA = "area", "area"


class ChangeOp(models.TextChoices):
    INSERT = "insert", "insert"
    UPDATE = "update", "update"
    DELETE = "delete", "delete"
    RETIRE = "retire", "retire"  # an area made inactive (split); its row stays


class Change(models.Model):
    """One change of one address or area, written by the statement-level triggers of migration
    integrations 0001 (so bulk imports and set-based moves are logged in one INSERT … SELECT,
    and no writer can forget it). Read through `integrations.sync.feed`, never written by
    Python."""

    entity = models.CharField(max_length=10, choices=ChangeEntity.choices)
    entity_id = models.BigIntegerField()
    op = models.CharField(max_length=10, choices=ChangeOp.choices)
    # The writing transaction's top-level id (`pg_current_xact_id()`, an xid8 that never
    # wraps): the feed serves a row only once every transaction up to this one has ended.
    xid = models.BigIntegerField()
    changed_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "integrations_sync_change"
        ordering = ["xid", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(entity__in=ChangeEntity.values), name="sync_change_entity_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(op__in=ChangeOp.values), name="sync_change_op_valid"
            ),
        ]
        indexes = [models.Index(fields=["xid", "id"], name="sync_change_cursor")]

    def __str__(self) -> str:
        return f"{self.op} {self.entity} {self.entity_id} (xid {self.xid}, #{self.pk})"
