"""The record of each sync run (counts, errors, duration, where it stopped)."""

from django.db import models


class SyncRun(models.Model):
    """One import run from a GIS of record; a failed run keeps its offset and is resumed."""

    class Mode(models.TextChoices):
        FULL = "full", "full"
        INCREMENTAL = "incremental", "incremental"

    class Status(models.TextChoices):
        RUNNING = "running", "running"
        SUCCEEDED = "succeeded", "succeeded"
        FAILED = "failed", "failed"

    system = models.SlugField(max_length=40)
    mode = models.CharField(max_length=12, choices=Mode.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(default=0)
    changed_since = models.CharField(
        max_length=40, blank=True, help_text="The incremental cursor this run asked from."
    )
    high_water = models.CharField(
        max_length=40, blank=True, help_text="The latest change time seen (the next cursor)."
    )
    next_offset = models.PositiveIntegerField(default=0, help_text="Where a resume continues.")
    total = models.PositiveIntegerField(default=0, help_text="Features the server announced.")
    fetched = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    retired = models.PositiveIntegerField(
        default=0, help_text="Addresses retired: their feature was gone (full runs)."
    )
    conflicts = models.PositiveIntegerField(
        default=0, help_text="Fields both sides had changed (see the conflict log)."
    )
    rejections = models.JSONField(default=list, blank=True, help_text="First 200: [id, reason].")
    errors = models.JSONField(default=list, blank=True)
    resumed = models.PositiveIntegerField(default=0, help_text="Times this run was resumed.")

    class Meta:
        db_table = "integrations_sync_run"
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["system", "-started_at"], name="sync_run_recent")]

    def __str__(self) -> str:
        return f"{self.system} {self.mode} run {self.pk} ({self.status})"
