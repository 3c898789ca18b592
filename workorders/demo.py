"""Demo scenario: the field — templates, a contractor, a depot and crews; the live area's
installations finished by the crews; the area being built with work in every state; today's
routes.

- Before any area moves into deployment (step 35): four installation templates (a
  single-family home with an underground drop, one with an aerial drop — the rule for
  Reinickendorf 13405, where the drops hang from poles —, a flat in an MDU, a business), the
  civil-works contractor Tiefbau Wedding GmbH with its login, the depot in Wedding, two crews
  of the owner and two of the contractor.
- 13405 (live): every ordered home's work order was made when its order came (the
  workorders handlers); here the crews finish them through the task services — photos, the
  light level, the ONT serial the ISP later activates on, the speed test, the customer's
  signature — and the dispatcher accepts the contractor's drops. The last acceptance
  completes the work order: its installation record is frozen, the address is connected
  (so its ISPs are told it is ready) and a provisioning job waits for the provisioning
  integration. wholesale.demo's activations then run on these homes.
- 13353 (in deployment): a backlog of open work orders, and a dispatcher's plan over it —
  today's stops for each crew (some begun, one with a problem reported, one drop waiting
  for acceptance, one sent back for rework), the next working days' stops, and today's
  routes from the depot.

Every write goes through the workorders services (crews and the depot are plain rows: they
have no lifecycle). Choices are fixed by hashes of the addresses' OSM ids, and each step
looks at what is done already, so a second run changes nothing.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.gis.geos import Point
from django.core.files.base import ContentFile
from django.db.models import Count
from django.utils import timezone

from accounts.demo import demo_owner
from accounts.models import Organisation, User
from accounts.roles import OrganisationKind, Role
from accounts.services import organisation_create, user_create
from areas.demo import DEMO_SYSTEM, SCENARIO, demand_unit
from areas.lifecycle import AreaPhase
from areas.models import Area
from common.demo import DemoContext, demo_step
from gis_core.lifecycle import PremisesType
from gis_core.models import ExternalReference
from wholesale.demo import ont_serial_for
from workorders.dispatch import crew_work_orders_on, route_plan_build, route_plan_is_current
from workorders.lifecycle import Evidence, TaskCategory, TaskStatus, WorkOrderStatus
from workorders.models import Crew, Depot, RoutePlan, Task, WorkOrder, WorkTemplate
from workorders.services import (
    task_accept,
    task_complete,
    task_photo_add,
    task_reject,
    task_report_problem,
    tasks_assign,
    work_order_schedule,
    work_template_create,
)

CONTRACTOR_NAME = "Tiefbau Wedding GmbH"
CONTRACTOR_LOGIN = ("contractor", "oanm-contractor")
DISPATCHER = "dispatcher"  # accounts.demo makes the dispatcher and the `tech` logins
DEPOT_NAME = "Depot Wedding"
DEPOT_LOCATION = (13.3440, 52.5452)  # (lon, lat): a yard in Wedding, inside 13353
AERIAL_AREAS = ["13405"]  # where the drops hang from poles
LIGHT_RANGE = (Decimal("-27"), Decimal("-8"))  # dBm accepted at the ONT (GPON class B+)
PHOTO_NAMESPACE = uuid.UUID("6f1c7a52-4d0e-4b7e-9a43-2f5d0c1e8b11")


# --- templates ------------------------------------------------------------------------------


def _ont_task() -> dict:
    return {
        "name": "Mount the ONT and measure the light level",
        "category": TaskCategory.TESTING,
        "instructions": "Mount the ONT next to the fibre outlet, power it up and measure the"
        " received level with the power meter; scan the ONT's serial and photograph the"
        " installed ONT.",
        "evidence": [Evidence.LIGHT_LEVEL, Evidence.ONT_SERIAL, Evidence.PHOTO],
        "light_min_dbm": LIGHT_RANGE[0],
        "light_max_dbm": LIGHT_RANGE[1],
        "skill": "ont",
        "minutes": 30,
    }


def _sign_off_task(*, down: int = 200, up: int = 50, minutes: int = 15) -> dict:
    return {
        "name": "Speed test and customer sign-off",
        "category": TaskCategory.CUSTOMER,
        "instructions": "Run the speed test on the technician's laptop over the ONT's first"
        " port, show the customer the result and let them sign.",
        "evidence": [Evidence.SPEED_TEST, Evidence.SIGNATURE],
        "min_download_mbps": down,
        "min_upload_mbps": up,
        "skill": "ont",
        "minutes": minutes,
    }


def _splice_task() -> dict:
    return {
        "name": "Building entry and drop splice",
        "category": TaskCategory.PHYSICAL,
        "instructions": "Seal the wall duct, blow in the drop fibre and splice it at the"
        " handhole and at the building entry point; photograph the closed splice tray.",
        "evidence": [Evidence.PHOTO],
        "skill": "splicing",
        "minutes": 45,
    }


def _templates(contractor: Organisation) -> list[dict]:
    """The four installation templates, most specific first."""
    dig = {
        "name": "Dig and lay the drop duct",
        "category": TaskCategory.PHYSICAL,
        "instructions": "Micro-trench (or earth-rocket under the front garden) from the"
        " handhole to the house entry, lay the duct, refill and restore the surface."
        " Photograph the open trench and the restored surface.",
        "evidence": [Evidence.PHOTO],
        "skill": "civil",
        "contractor": contractor,
        "minutes": 90,
    }
    return [
        {
            "code": "sfu-aerial",
            "name": "Single-family home, aerial drop",
            "description": "Drop cable from the pole to the house, then ONT, test, sign-off.",
            "premises_types": [PremisesType.SINGLE_FAMILY],
            "areas": AERIAL_AREAS,
            "priority": 10,
            "tasks": [
                {
                    "name": "Hang the aerial drop from the pole",
                    "category": TaskCategory.PHYSICAL,
                    "instructions": "Hang the drop cable from the pole's terminal box to the"
                    " house with a suspension clamp at each end; photograph both ends.",
                    "evidence": [Evidence.PHOTO],
                    "skill": "aerial",
                    "contractor": contractor,
                    "minutes": 60,
                },
                _splice_task(),
                _ont_task(),
                _sign_off_task(),
            ],
        },
        {
            "code": "sfu-underground",
            "name": "Single-family home, underground drop",
            "description": "Drop duct dug in by the contractor, then splice, ONT, test, sign-off.",
            "premises_types": [PremisesType.SINGLE_FAMILY],
            "priority": 10,
            "tasks": [dig, _splice_task(), _ont_task(), _sign_off_task()],
        },
        {
            "code": "mdu-flat",
            "name": "Flat in a multi-dwelling unit",
            "description": "The building is fibred already: patch the flat, riser to the flat,"
            " ONT, test, sign-off.",
            "premises_types": [PremisesType.MDU_FLAT],
            "priority": 10,
            "tasks": [
                {
                    "name": "Patch the flat at the building's distribution point",
                    "category": TaskCategory.PHYSICAL,
                    "instructions": "Patch the flat's riser fibre to the feeder in the"
                    " basement distribution point; photograph the labelled patch.",
                    "evidence": [Evidence.PHOTO],
                    "skill": "splicing",
                    "minutes": 30,
                },
                {
                    "name": "Riser fibre to the flat and the fibre outlet",
                    "category": TaskCategory.PHYSICAL,
                    "instructions": "Pull the riser fibre through the stairwell duct into the"
                    " flat and mount the outlet; note the route taken.",
                    "evidence": [Evidence.PHOTO, Evidence.NOTES],
                    "skill": "indoor",
                    "minutes": 45,
                },
                _ont_task(),
                _sign_off_task(),
            ],
        },
        {
            "code": "business",
            "name": "Business premises",
            "description": "Drop duct by the contractor, splice, ONT, a speed test against the"
            " business profile, and a hand-over.",
            "premises_types": [PremisesType.BUSINESS],
            "priority": 10,
            "tasks": [
                {**dig, "minutes": 120},
                _splice_task(),
                _ont_task(),
                {
                    "name": "Speed test against the business profile",
                    "category": TaskCategory.TESTING,
                    "instructions": "Run the speed test with the business test profile.",
                    "evidence": [Evidence.SPEED_TEST],
                    "min_download_mbps": 500,
                    "min_upload_mbps": 200,
                    "skill": "ont",
                    "minutes": 20,
                },
                {
                    "name": "Hand-over to the business's contact",
                    "category": TaskCategory.CUSTOMER,
                    "instructions": "Walk the contact through the installation and the fault"
                    " line; note who was present; let them sign.",
                    "evidence": [Evidence.SIGNATURE, Evidence.NOTES],
                    "skill": "ont",
                    "minutes": 15,
                },
            ],
        },
    ]


# --- crews ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrewPlan:
    """A crew of the owner (`contractor=False`) or of the contractor, and its people: the
    first member may be a demo login (made by accounts.demo or here), the rest are staff
    without a password."""

    key: str
    name: str
    contractor: bool
    skills: tuple[str, ...]
    members: tuple[tuple[str, str, str], ...]  # username, first name, last name


CREWS = [
    CrewPlan(
        "nord",
        "Glasfaser-Team Nord",
        False,
        ("splicing", "ont"),
        (("tech", "", ""), ("n.hoffmann", "Nils", "Hoffmann")),
    ),
    CrewPlan(
        "sued",
        "Glasfaser-Team Süd",
        False,
        ("splicing", "ont", "indoor"),
        (("s.kaya", "Selin", "Kaya"), ("m.becker", "Moritz", "Becker")),
    ),
    CrewPlan(
        "k1",
        "Tiefbau Wedding Kolonne 1",
        True,
        ("civil", "aerial"),
        (("contractor", "", ""), ("p.nowak", "Piotr", "Nowak")),
    ),
    CrewPlan(
        "k2",
        "Tiefbau Wedding Kolonne 2",
        True,
        ("civil",),
        (("d.schulz", "Dennis", "Schulz"),),
    ),
]


def demo_contractor() -> Organisation:
    """The demo's civil-works contractor (created on first use)."""
    contractor = Organisation.objects.filter(name=CONTRACTOR_NAME).first()
    return contractor or organisation_create(name=CONTRACTOR_NAME, kind=OrganisationKind.CONTRACTOR)


def _member(plan: CrewPlan, username: str, first: str, last: str, org: Organisation) -> User:
    user = User.objects.filter(username=username).first()
    if user is not None:
        return user
    if username == CONTRACTOR_LOGIN[0]:
        return user_create(
            username=username,
            organisation=org,
            role=Role.CONTRACTOR_TECHNICIAN,
            password=CONTRACTOR_LOGIN[1],
        )
    role = Role.CONTRACTOR_TECHNICIAN if plan.contractor else Role.TECHNICIAN
    return user_create(
        username=username, organisation=org, role=role, first_name=first, last_name=last
    )


@demo_step(order=35, name="Field: templates, contractor, depot and crews")
def prepare_the_field(context: DemoContext) -> None:
    """What must exist before an area goes into deployment: the templates that its work
    orders are made from, and who does the work."""
    owner, contractor = demo_owner(), demo_contractor()
    made = 0
    for spec in _templates(contractor):
        if WorkTemplate.objects.filter(code=spec["code"]).exists():
            continue
        areas = list(Area.objects.filter(code__in=spec.get("areas", []), is_active=True))
        work_template_create(
            code=spec["code"],
            name=spec["name"],
            description=spec["description"],
            tasks=spec["tasks"],
            premises_types=spec["premises_types"],
            areas=areas,
            priority=spec["priority"],
        )
        made += 1
    depot, _ = Depot.objects.get_or_create(
        name=DEPOT_NAME, defaults={"location": Point(*DEPOT_LOCATION, srid=4326)}
    )
    for plan in CREWS:
        org = contractor if plan.contractor else owner
        crew, created = Crew.objects.get_or_create(
            name=plan.name,
            defaults={"organisation": org, "depot": depot, "skills": list(plan.skills)},
        )
        members = [_member(plan, *person, org) for person in plan.members]
        if created:
            crew.members.add(*members)
    username, password = CONTRACTOR_LOGIN
    context.logins.append(
        (username, password, f"{Role.CONTRACTOR_TECHNICIAN.label} at {CONTRACTOR_NAME}")
    )
    context.say(
        f"{made} templates made ({WorkTemplate.objects.count()} in all),"
        f" {Crew.objects.count()} crews at {depot.name}"
    )


# --- evidence -------------------------------------------------------------------------------


def photo_png(seed: str, width: int = 48, height: int = 36) -> bytes:
    """A small PNG (a gradient in colours fixed by `seed`): the demo's stand-in for a
    technician's photo, made without an imaging library."""
    r, g, b = (int(demand_unit("photo", seed, channel) * 160) + 60 for channel in "rgb")
    rows = []
    for y in range(height):
        shade = y / height
        pixel = bytes((int(r * (1 - shade / 2)), int(g * (1 - shade / 3)), b))
        rows.append(b"\x00" + pixel * width)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


SURNAMES = [
    "Schneider", "Yılmaz", "Weber", "Nowak", "Fischer", "Wagner", "Becker", "Schulz",
    "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Braun",
]  # fmt: skip
ROUTE_NOTES = "Riser fibre in the stairwell duct; outlet in the hallway next to the router."
HANDOVER_NOTES = "Handed over to the office manager; fault line explained."


def evidence_for(task: Task, key: str) -> dict:
    """The readings a technician takes for a task at the home with demo key `key`: a light
    level well inside the range, a speed test near the gigabit line rate, the ONT's serial
    (the one its ISP activates on later), the customer's name."""
    need = set(task.evidence)
    data: dict = {}
    if Evidence.LIGHT_LEVEL in need:
        level = Decimal("-14") - Decimal(str(round(demand_unit("light", key) * 8, 2)))
        data["light_level_dbm"] = str(level)
    if Evidence.SPEED_TEST in need:
        data["download_mbps"] = str(905 + int(demand_unit("down", key) * 40))
        data["upload_mbps"] = str(228 + int(demand_unit("up", key) * 20))
    if Evidence.ONT_SERIAL in need:
        data["ont_serial"] = ont_serial_for(key)
    if Evidence.SIGNATURE in need:
        name = SURNAMES[int(demand_unit("signer", key) * len(SURNAMES))]
        data["signed_by"] = f"{'ABCDEFGHJKLMNPRSTW'[int(demand_unit('initial', key) * 18)]}. {name}"
    if Evidence.NOTES in need:
        data["notes"] = HANDOVER_NOTES if task.category == TaskCategory.CUSTOMER else ROUTE_NOTES
    return data


def _photo(task: Task, key: str, actor: User) -> None:
    """The task's photo, once (a device-made id fixed by the home and the step)."""
    if Evidence.PHOTO not in task.evidence or task.photos.exists():
        return
    uid = uuid.uuid5(PHOTO_NAMESPACE, f"{key}:{task.position}")
    image = ContentFile(photo_png(f"{key}:{task.position}"), name=f"{key}-{task.position}.png")
    task_photo_add(task=task, actor=actor, image=image, client_uid=uid, content_type="image/png")


# --- the crews' work ------------------------------------------------------------------------


@dataclass
class Field:
    """Who the scenario's steps act as."""

    dispatcher: User
    crews: dict[str, Crew]
    workers: dict[int, list[User]]  # crew id → its members, first the demo login

    @classmethod
    def load(cls) -> Field:
        crews = {
            plan.key: Crew.objects.select_related("organisation").get(name=plan.name)
            for plan in CREWS
        }
        workers = {
            crew.pk: [User.objects.get(username=person[0]) for person in plan.members]
            for plan, crew in zip(CREWS, crews.values(), strict=True)
        }
        return cls(User.objects.get(username=DISPATCHER), crews, workers)

    def worker(self, crew: Crew, key: str) -> User:
        people = self.workers[crew.pk]
        return people[int(demand_unit("worker", key, crew.name) * len(people))]


def _areas_in(phase: str) -> list[Area]:
    """The scenario's areas that areas.demo takes to `phase`."""
    codes = [code for code, (_, target, _) in SCENARIO.items() if target == phase]
    return list(Area.objects.filter(code__in=codes, is_active=True).order_by("code"))


def _keys(area: Area) -> dict[int, str]:
    """address id → its demo key (OSM id) for an area's addresses."""
    return dict(
        ExternalReference.objects.filter(address__area=area, system=DEMO_SYSTEM).values_list(
            "address_id", "external_id"
        )
    )


def _assign(field: Field, work_order: WorkOrder, owner_crew: Crew, civil_crew: Crew) -> None:
    """Give the work order's open tasks that have no crew yet to the two crews."""
    open_tasks = work_order.tasks.filter(
        crew__isnull=True, status__in=[TaskStatus.PENDING, TaskStatus.REWORK, TaskStatus.PROBLEM]
    ).order_by("position")
    own = [task for task in open_tasks if task.contractor_id is None]
    theirs = [task for task in open_tasks if task.contractor_id is not None]
    if own:
        tasks_assign(tasks=own, crew=owner_crew, actor=field.dispatcher)
    if theirs:
        tasks_assign(tasks=theirs, crew=civil_crew, actor=field.dispatcher)


def _do(field: Field, task: Task, key: str) -> Task:
    """A crew member signs the task off with its evidence (and its photo first)."""
    actor = field.worker(task.crew, key)
    _photo(task, key, actor)
    return task_complete(task=task, actor=actor, evidence=evidence_for(task, key))


def _finish(field: Field, work_order: WorkOrder, key: str) -> None:
    """Every task done in order; the contractor's accepted by the dispatcher."""
    for task in work_order.tasks.select_related("crew").order_by("position"):
        if task.status in (TaskStatus.PENDING, TaskStatus.REWORK):
            task = _do(field, task, key)
        if task.status == TaskStatus.AWAITING_ACCEPTANCE:
            task_accept(task=task, actor=field.dispatcher)


def _crews_for(field: Field, work_order: WorkOrder, key: str) -> tuple[Crew, Crew]:
    """The owner's crew and the contractor's crew a work order goes to, by a hash of its
    home (aerial drops only to the crew that climbs poles)."""
    owner = field.crews["nord" if demand_unit("own-crew", key) < 0.5 else "sued"]
    civil = field.crews["k1" if demand_unit("civil-crew", key) < 0.5 else "k2"]
    if work_order.template.code == "sfu-aerial":
        civil = field.crews["k1"]
    return owner, civil


@demo_step(order=62, name="Field: installations finished in the live area")
def finish_installations(context: DemoContext) -> None:
    """Every live work order of a live area is done by its crews and accepted: the homes
    are connected by the completion, ready for their ISPs."""
    field = Field.load()
    finished = 0
    for area in _areas_in(AreaPhase.LIVE):
        keys = _keys(area)
        work_orders = (
            WorkOrder.objects.filter(address__area=area)
            .exclude(status__in=[WorkOrderStatus.CANCELLED, WorkOrderStatus.ACCEPTED])
            .select_related("template")
            .order_by("pk")
        )
        for work_order in work_orders:
            key = keys[work_order.address_id]
            _assign(field, work_order, *_crews_for(field, work_order, key))
            _finish(field, work_order, key)
            finished += 1
        accepted = WorkOrder.objects.filter(
            address__area=area, status=WorkOrderStatus.ACCEPTED
        ).count()
        context.say(f"{area.code}: {finished} installations finished, {accepted} in all")


# --- the area being built: a dispatcher's plan, and a day begun ----------------------------

# What has happened by now at each of today's stops, for its owner crew and civil crew.
FRESH = "fresh"  # nothing yet: the contractor digs first, the owner's crew follows
DROP_IN = "drop_in"  # the drop is in and accepted: the owner's crew splices, mounts, tests
PROBLEM = "problem"  # drop in; the splicer found the basement locked
AWAITING = "awaiting"  # the contractor's drop is done and waits for the dispatcher
REWORK = "rework"  # the contractor's drop was sent back
TODAY = [
    ("nord", "k1", DROP_IN),
    ("nord", "k1", PROBLEM),
    ("nord", "k1", FRESH),
    ("nord", "k1", REWORK),
    ("nord", "k2", DROP_IN),
    ("sued", "k1", AWAITING),
    ("sued", "k1", FRESH),
    ("sued", "k2", DROP_IN),
    ("sued", "k2", FRESH),
]
# Each of the next working days: the same crews, fresh stops.
NEXT_DAYS = 4
NEXT_DAY = [("nord", "k1"), ("nord", "k2"), ("sued", "k1"), ("sued", "k2")]
PROBLEM_REASON = (
    "Basement locked and the caretaker is not reachable: no access to the building entry."
    " New appointment needed."
)
REWORK_REASON = (
    "The pavement in front of the house is not restored: two slabs are missing on the photo."
    " Relay them and send a new photo."
)


def working_days_after(day: date, count: int) -> list[date]:
    """The next `count` weekdays after `day`."""
    days = []
    while len(days) < count:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days.append(day)
    return days


def _begin(field: Field, work_order: WorkOrder, key: str, story: str) -> None:
    """Tell what has happened at one of today's stops (each step only once)."""
    tasks = list(work_order.tasks.select_related("crew").order_by("position"))
    civil = next((task for task in tasks if task.contractor_id is not None), None)
    own = [task for task in tasks if task.contractor_id is None]
    if story == FRESH or civil is None:
        return
    if civil.status == TaskStatus.PENDING:
        civil = _do(field, civil, key)
    if story in (DROP_IN, PROBLEM) and civil.status == TaskStatus.AWAITING_ACCEPTANCE:
        task_accept(task=civil, actor=field.dispatcher)
    if (
        story == REWORK
        and civil.status == TaskStatus.AWAITING_ACCEPTANCE
        and civil.rework_count == 0
    ):
        task_reject(task=civil, actor=field.dispatcher, reason=REWORK_REASON)
    if story == PROBLEM and own and own[0].status == TaskStatus.PENDING:
        task_report_problem(
            task=own[0], actor=field.worker(own[0].crew, key), reason=PROBLEM_REASON
        )


@demo_step(order=64, name="Field: the area being built — today's work and the next days'")
def plan_the_build(context: DemoContext) -> None:
    """In each area in deployment, the dispatcher puts some of the open work orders on
    today's and the next working days' plans, gives their tasks to crews, and today's work
    has begun; today's routes are ordered from the depot."""
    field = Field.load()
    today = timezone.localdate()
    plan = [(today, *stop) for stop in TODAY] + [
        (day, owner, civil, FRESH)
        for day in working_days_after(today, NEXT_DAYS)
        for owner, civil in NEXT_DAY
    ]
    for area in _areas_in(AreaPhase.IN_DEPLOYMENT):
        keys = _keys(area)
        candidates = sorted(
            WorkOrder.objects.filter(address__area=area)
            .exclude(status=WorkOrderStatus.CANCELLED)
            .select_related("template"),
            key=lambda wo: (demand_unit("field-plan", keys[wo.address_id]), wo.pk),
        )
        for work_order, (day, owner, civil, story) in zip(candidates, plan, strict=False):
            key = keys[work_order.address_id]
            if work_order.status == WorkOrderStatus.OPEN and work_order.scheduled_for is None:
                work_order = work_order_schedule(
                    work_order=work_order, day=day, actor=field.dispatcher
                )
            _assign(field, work_order, field.crews[owner], field.crews[civil])
            if day == today:
                _begin(field, work_order, key, story)
        counts = dict(
            WorkOrder.objects.filter(address__area=area)
            .values_list("status")
            .annotate(n=Count("pk"))
            .order_by()
        )
        context.say(
            f"{area.code}: work orders "
            + ", ".join(f"{counts[status]} {status}" for status in sorted(counts))
        )
    routes = 0
    for crew in field.crews.values():
        plan_now = RoutePlan.objects.filter(crew=crew, day=today).first()
        if not crew_work_orders_on(crew, today) or route_plan_is_current(plan_now, crew, today):
            continue
        route = route_plan_build(crew=crew, day=today, actor=field.dispatcher)
        routes += 1
        context.say(
            f"{crew.name}: {len(route.work_order_ids)} stops, {route.distance_m / 1000:.1f} km"
            f" (booking order {route.booking_order_distance_m / 1000:.1f} km)"
        )
    context.say(f"{routes} routes ordered for {today}")
