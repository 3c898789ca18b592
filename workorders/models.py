"""The field's tables: work templates, work orders and their tasks, crews and depots,
evidence (photos, retry-safe submissions), the frozen installation record, provisioning
jobs and the technicians' day routes."""

from django.conf import settings
from django.contrib.gis.db import models as gis
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from common.models import TimeStampedModel
from workorders.lifecycle import (
    LIVE_WORK_ORDER_STATUSES,
    AssigneeKind,
    Evidence,
    ProvisioningStatus,
    TaskCategory,
    TaskStatus,
    WorkOrderStatus,
)

DBM = {"max_digits": 5, "decimal_places": 2}


# --- templates ------------------------------------------------------------------------------


class WorkTemplate(TimeStampedModel):
    """A kind of installation job (single-family underground, MDU flat, …): its tasks, and
    the rule of which addresses it is for.

    The most specific active template wins for an address: one restricted to its area over
    one that is not, then one restricted to its premises type, then the higher priority.
    """

    code = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    premises_types = ArrayField(
        models.CharField(max_length=20),
        default=list,
        blank=True,
        help_text="For these premises types only (gis_core PremisesType); empty: any.",
    )
    areas = models.ManyToManyField(
        "areas.Area", blank=True, related_name="work_templates", help_text="Empty: any area."
    )
    priority = models.SmallIntegerField(default=0, help_text="Higher wins among equals.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-priority", "code"]

    def __str__(self) -> str:
        return self.name


class TaskTemplate(models.Model):
    """One step of a template: what to do, the evidence it needs, who does it by default."""

    template = models.ForeignKey(WorkTemplate, on_delete=models.CASCADE, related_name="tasks")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=20, choices=TaskCategory.choices)
    instructions = models.TextField(blank=True)
    evidence = ArrayField(
        models.CharField(max_length=20, choices=Evidence.choices), default=list, blank=True
    )
    light_min_dbm = models.DecimalField(**DBM, null=True, blank=True)
    light_max_dbm = models.DecimalField(**DBM, null=True, blank=True)
    min_download_mbps = models.PositiveIntegerField(null=True, blank=True)
    min_upload_mbps = models.PositiveIntegerField(null=True, blank=True)
    skill = models.CharField(max_length=40, help_text="e.g. splicing, civil, ont, provisioning.")
    assignee_kind = models.CharField(
        max_length=20, choices=AssigneeKind.choices, default=AssigneeKind.STAFF
    )
    contractor = models.ForeignKey(
        "accounts.Organisation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The contractor organisation that does it by default.",
    )
    minutes = models.PositiveSmallIntegerField(default=30, help_text="Expected duration.")

    class Meta:
        ordering = ["template", "position"]
        constraints = [
            models.UniqueConstraint(fields=["template", "position"], name="task_template_position"),
            models.CheckConstraint(
                condition=Q(assignee_kind=AssigneeKind.STAFF, contractor__isnull=True)
                | Q(assignee_kind=AssigneeKind.CONTRACTOR, contractor__isnull=False),
                name="task_template_contractor_iff_contractor_kind",
            ),
            models.CheckConstraint(
                condition=Q(light_min_dbm__isnull=True)
                | Q(light_max_dbm__isnull=True)
                | Q(light_min_dbm__lt=F("light_max_dbm")),
                name="task_template_light_range_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template.code} #{self.position}: {self.name}"


# --- crews ----------------------------------------------------------------------------------


class Depot(TimeStampedModel):
    """Where a crew's day starts and ends."""

    name = models.CharField(max_length=200, unique=True)
    location = gis.PointField(srid=4326)

    def __str__(self) -> str:
        return self.name


class Crew(TimeStampedModel):
    """A team of technicians of the owner or of a contractor, with its skills and depot."""

    name = models.CharField(max_length=200, unique=True)
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="crews"
    )
    depot = models.ForeignKey(Depot, null=True, blank=True, on_delete=models.SET_NULL)
    skills = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="crews")
    daily_minutes = models.PositiveSmallIntegerField(default=420, help_text="Capacity per day.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


# --- work orders and tasks ------------------------------------------------------------------


class WorkOrder(TimeStampedModel):
    """The installation job at one address: its tasks turn an order into a connection."""

    address = models.ForeignKey(
        "gis_core.Address", on_delete=models.PROTECT, related_name="work_orders"
    )
    order = models.ForeignKey(
        "wholesale.Order",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="work_orders",
        help_text="The order that brought the job (the first live one at the address).",
    )
    template = models.ForeignKey(WorkTemplate, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=20,
        choices=WorkOrderStatus.choices,
        default=WorkOrderStatus.OPEN,
        editable=False,
    )
    status_changed_at = models.DateTimeField(default=timezone.now, editable=False)
    scheduled_for = models.DateField(null=True, blank=True, editable=False)
    due_on = models.DateField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    accepted_at = models.DateTimeField(null=True, blank=True, editable=False)
    reopened = models.PositiveSmallIntegerField(
        default=0, editable=False, help_text="Times tasks of it were sent back for rework."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=WorkOrderStatus.values), name="work_order_status_valid"
            ),
            # exactly one installation job per address (cancelled ones aside)
            models.UniqueConstraint(
                fields=["address"],
                condition=~Q(status=WorkOrderStatus.CANCELLED),
                name="work_order_one_per_address",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "scheduled_for"], name="work_order_status_day"),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        return f"WO-{self.pk:07d}" if self.pk else "WO-new"

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_WORK_ORDER_STATUSES


class WorkOrderStatusChange(models.Model):
    """History of a work order: who moved it, when, from what to what, and why."""

    work_order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField(max_length=20, choices=WorkOrderStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=WorkOrderStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["changed_at", "id"]

    def __str__(self) -> str:
        return f"{self.work_order_id}: {self.from_status or '∅'} → {self.to_status}"


class Task(TimeStampedModel):
    """One step of a work order, copied from its template, done by one assignee."""

    # The three foreign keys below lead a composite index each (task_position,
    # task_contractor_status, task_crew_status), so they carry no index of their own: a
    # deployment writes three tasks per work order, and every index is paid per row.
    work_order = models.ForeignKey(
        WorkOrder, on_delete=models.CASCADE, related_name="tasks", db_index=False
    )
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=20, choices=TaskCategory.choices)
    instructions = models.TextField(blank=True)
    evidence = ArrayField(models.CharField(max_length=20), default=list, blank=True)
    light_min_dbm = models.DecimalField(**DBM, null=True, blank=True)
    light_max_dbm = models.DecimalField(**DBM, null=True, blank=True)
    min_download_mbps = models.PositiveIntegerField(null=True, blank=True)
    min_upload_mbps = models.PositiveIntegerField(null=True, blank=True)
    skill = models.CharField(max_length=40)
    minutes = models.PositiveSmallIntegerField(default=30)
    contractor = models.ForeignKey(
        "accounts.Organisation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="field_tasks",
        db_index=False,
        help_text="The contractor organisation doing it; empty: the owner's own staff.",
    )
    crew = models.ForeignKey(
        Crew,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
        db_index=False,
    )
    needs_acceptance = models.BooleanField(
        default=False, help_text="Contractor work waits for the operator's acceptance."
    )
    status = models.CharField(
        max_length=20, choices=TaskStatus.choices, default=TaskStatus.PENDING, editable=False
    )
    status_changed_at = models.DateTimeField(default=timezone.now, editable=False)
    result = models.JSONField(default=dict, blank=True, editable=False)
    problem = models.CharField(max_length=1000, blank=True, editable=False)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True, editable=False)
    rework_count = models.PositiveSmallIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["work_order", "position"]
        constraints = [
            models.UniqueConstraint(fields=["work_order", "position"], name="task_position"),
            models.CheckConstraint(
                condition=Q(status__in=TaskStatus.values), name="task_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["crew", "status"], name="task_crew_status"),
            models.Index(fields=["contractor", "status"], name="task_contractor_status"),
        ]

    def __str__(self) -> str:
        return f"{self.work_order_id} #{self.position}: {self.name}"


class TaskEvent(models.Model):
    """History of a task: assigned, done, accepted, sent back, problem, cleared — with who."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=1000, blank=True)
    details = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"task {self.task_id}: {self.kind}"


class TaskPhoto(models.Model):
    """A photo taken for a task, stored through Django's storage API."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="photos")
    image = models.FileField(upload_to="field/photos/%Y/%m/")
    client_uid = models.UUIDField(unique=True, help_text="The device's id for it: retry-safe.")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.image.name


class Submission(models.Model):
    """A sign-off, problem report or photo sent from a phone, by its device-made id: the
    same id sent again (a flaky connection, the offline queue) gets the same answer and
    changes nothing."""

    client_uid = models.UUIDField(primary_key=True)
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="submissions")
    kind = models.CharField(max_length=20)
    received_at = models.DateTimeField(default=timezone.now)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["received_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.client_uid}"


class InstallationRecord(models.Model):
    """The frozen record of a finished installation, kept with the address forever:
    measurements, photos, the ONT serial, who did what and when."""

    work_order = models.OneToOneField(
        WorkOrder, on_delete=models.PROTECT, related_name="installation_record"
    )
    address = models.ForeignKey(
        "gis_core.Address", on_delete=models.PROTECT, related_name="installation_records"
    )
    ont_serial = models.CharField(max_length=64, blank=True)
    light_level_dbm = models.DecimalField(**DBM, null=True, blank=True)
    record = models.JSONField(help_text="Every task with its evidence, actor and instants.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"installation record of {self.work_order}"


class ProvisioningJob(TimeStampedModel):
    """Bringing up the ONT of a finished installation on the access network, through the
    configured vendor adapter: provisioned, then verified; failures are retried and shown."""

    work_order = models.OneToOneField(
        WorkOrder, on_delete=models.PROTECT, related_name="provisioning"
    )
    address = models.ForeignKey("gis_core.Address", on_delete=models.PROTECT, related_name="+")
    ont_serial = models.CharField(max_length=64)
    speed_profile = models.CharField(max_length=60)
    download_mbps = models.PositiveIntegerField(default=0)
    upload_mbps = models.PositiveIntegerField(default=0)
    vendor = models.CharField(max_length=30, blank=True)
    status = models.CharField(
        max_length=20, choices=ProvisioningStatus.choices, default=ProvisioningStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=1000, blank=True)
    external_id = models.CharField(max_length=100, blank=True)
    provisioned_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ProvisioningStatus.values),
                name="provisioning_status_valid",
            )
        ]

    def __str__(self) -> str:
        return f"provisioning of {self.ont_serial} ({self.status})"


class RoutePlan(TimeStampedModel):
    """A crew's day: its work orders in tour order from its depot, with the distance saved
    against visiting them in booking order."""

    crew = models.ForeignKey(Crew, on_delete=models.CASCADE, related_name="routes")
    day = models.DateField()
    work_order_ids = ArrayField(models.IntegerField(), default=list)
    distance_m = models.PositiveIntegerField(default=0)
    booking_order_distance_m = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["day", "crew"]
        constraints = [models.UniqueConstraint(fields=["crew", "day"], name="route_plan_once")]

    def __str__(self) -> str:
        return f"{self.crew} on {self.day}"
