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
    # an area made inactive (split or deleted), an address retired (gone from its GIS of
    # record); the row stays
    RETIRE = "retire", "retire"


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


class ChangePrune(models.Model):
    """A pruning of the change log: every change up to (xid, id) is gone. A reader whose cursor
    is older than the latest pruning has missed changes and is told so (410), never served a
    feed with a hole in it. Written by `integrations.sync.feed.changes_prune`."""

    through_xid = models.BigIntegerField()
    through_id = models.BigIntegerField()
    rows = models.PositiveIntegerField()
    pruned_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "integrations_sync_change_prune"
        ordering = ["-through_xid", "-through_id"]

    def __str__(self) -> str:
        return f"changes through {self.through_xid}.{self.through_id} pruned ({self.rows} rows)"
