"""The integrations app's models, defined by its parts, and the sync-safety records
(integrations.safety): conflicts, per-feature sync state, the features a run has seen."""

from django.conf import settings
from django.db import models

from integrations.iqgeo.models import SyncRun
from integrations.sync.models import Change, ChangePrune

__all__ = ["Change", "ChangePrune", "SyncConflict", "SyncRun", "SyncSeen", "SyncState"]


class SyncConflict(models.Model):
    """Both sides changed the same field of one feature since the last sync: what each had,
    and who won under the ownership rules (`integrations.safety.OWNERSHIP`). Written by
    `conflicts_record`, read by operators, closed by `conflict_resolve`."""

    class Winner(models.TextChoices):
        OANM = "oanm", "oanm"
        REMOTE = "remote", "remote"

    system = models.SlugField(max_length=40)
    external_id = models.CharField(max_length=200)
    address = models.ForeignKey(
        "gis_core.Address", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    field = models.CharField(max_length=60)
    oanm_value = models.TextField(blank=True)
    remote_value = models.TextField(blank=True)
    winner = models.CharField(max_length=6, choices=Winner.choices)
    run = models.ForeignKey(
        SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="conflict_log"
    )
    detected_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.TextField(blank=True)

    class Meta:
        db_table = "integrations_sync_conflict"
        ordering = ["-detected_at", "-id"]
        indexes = [
            models.Index(fields=["system", "external_id"], name="sync_conflict_feature"),
            models.Index(
                fields=["-detected_at"],
                condition=models.Q(resolved_at__isnull=True),
                name="sync_conflict_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.system}:{self.external_id} {self.field} ({self.winner} won)"


class SyncState(models.Model):
    """Per (system, external id): the field values last pulled from the remote (as stored in
    oanm right after the pull) and last pushed to it, so a sync tells who changed what
    since: a side whose value differs from the last synced one changed it."""

    system = models.SlugField(max_length=40)
    external_id = models.CharField(max_length=200)
    pulled = models.JSONField(default=dict, blank=True)
    pulled_at = models.DateTimeField(null=True, blank=True)
    pushed = models.JSONField(default=dict, blank=True)
    pushed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "integrations_sync_state"
        constraints = [
            models.UniqueConstraint(fields=["system", "external_id"], name="sync_state_unique")
        ]

    def __str__(self) -> str:
        return f"{self.system}:{self.external_id}"


class SyncSeen(models.Model):
    """A feature id a full run has read, kept with the run so a run killed mid-way and
    resumed still knows every feature it saw (what is missing at the end is retired).
    Deleted when the run finishes."""

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="+", db_index=False)
    external_id = models.CharField(max_length=200)

    class Meta:
        db_table = "integrations_sync_seen"
        constraints = [
            models.UniqueConstraint(fields=["run", "external_id"], name="sync_seen_unique")
        ]

    def __str__(self) -> str:
        return f"run {self.run_id}: {self.external_id}"
