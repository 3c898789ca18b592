"""Demo scenario: three ISPs, and the orders that tell each area's story.

- 13405 (live) and 13353 (in deployment) signed up well above their targets; each order
  there got its installation work order at once (the workorders app's reaction), which put
  its address into deployment. In 13353 they are being built; in 13405 the crews finished
  them (workorders.demo, between the orders and the activations), which connected the homes,
  and most are activated: each activation is the ISP's (`service_activate` on its order,
  with the home's ONT and the ISP's VLANs); then three homes moved to another ISP, one
  upgraded, one ended its service; the ISPs were told of every step (their notifications);
- 13347 is just below its target and opted in to deploy at the target: two more signups
  and it moves into deployment on its own;
- 13349 is far below its target as a whole, but its northern third is above it (a case
  for a split: connect the north now, keep gathering in the south);
- 13407 is above its target but not opted in: flagged ready to build, waiting for a planner;
- the planning areas have interest (areas.demo) and no orders.

The ISPs have their contacts, and two maintenance windows are coming up.

Orders are spread over the last `HISTORY_DAYS` days, a few are cancelled (today), a few are
connection-only, a few addresses order twice; the daily series is then rebuilt from the
demand book's dates. Everything goes through the services and is picked by hashes of the
addresses' OSM ids, so the scenario is the same on every run and a second run changes nothing.
"""

import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from faker import Faker

from accounts.demo import demo_owner
from accounts.models import Organisation, User
from accounts.roles import OrganisationKind, Role
from accounts.services import organisation_create, user_create
from areas.demo import HISTORY_DAYS, area_homes, demand_unit, demo_moment, ranked_addresses
from areas.figures import backfill_daily_figures
from areas.lifecycle import AreaPhase
from areas.models import Area
from areas.services import area_update
from common.demo import DemoContext, demo_step
from gis_core.lifecycle import AddressStatus
from gis_core.models import Address
from wholesale.activation import service_activate, service_change_profile, service_deactivate
from wholesale.lifecycle import (
    LIVE_ORDER_STATUSES,
    InvoicingStage,
    OrderStatus,
    ServiceChangeKind,
    ServiceStatus,
)
from wholesale.models import (
    ConnectionCostTerms,
    Customer,
    InstallationSlot,
    IspProfile,
    MaintenanceWindow,
    Offering,
    Order,
    Product,
    Service,
)
from wholesale.onboarding import isp_contacts_set
from wholesale.services import (
    connection_cost_terms_set,
    installation_slot_create,
    isp_profile_set,
    isp_serve_area,
    offering_create,
    order_cancel,
    order_place,
    product_create,
)

REASON = "demo scenario"
ISP_PASSWORD = "oanm-isp"  # noqa: S105  (a demo login, printed by demo_load)
# name, login, and the share of a roll below which an order goes to it (the rest: the last)
ISPS = [
    ("Spree Net", "isp-spree", 0.46),
    ("Kiez Online", "isp-kiez", 0.80),
    ("Panke Glasfaser", "isp-panke", 1.0),
]
CONNECTION_ONLY_SHARE = 0.04  # orders for the connection alone, no ISP yet
SECOND_ORDER_SHARE = 0.03  # addresses where a second household orders from another ISP
ACTIVATED_SHARE = 0.7  # connected addresses in the live area whose ISP has activated
# What happened to the live area's services after their activation, in the ranked order of
# the homes activated with one household: three moved to another ISP, one upgraded, one ended.
SWITCHES = 3
UPGRADES = 1
DEACTIVATIONS = 1
# Each ISP's service VLAN (the outer tag of its customers' traffic on the owner's network).
SERVICE_VLANS = {"Spree Net": 1010, "Kiez Online": 1020, "Panke Glasfaser": 1030}


@dataclass(frozen=True)
class OrderPlan:
    """An area's live take rate, its cancellations, when its orders came, and the build."""

    take_rate: Decimal
    cancelled: int
    oldest: int
    newest: int
    recent_weight: float = 1.0
    north_tilt: float = 0.0
    build: str = ""  # how far its ordered addresses are built: "", in_deployment or connected


# code → its demand (targets: areas.demo.SCENARIO).
ORDER_SCENARIO = {
    "13405": OrderPlan(Decimal("0.55"), 3, oldest=120, newest=45, build=AddressStatus.CONNECTED),
    "13353": OrderPlan(
        Decimal("0.45"), 4, oldest=120, newest=20, build=AddressStatus.IN_DEPLOYMENT
    ),
    # 50 of 129 homes: 0.3876 of the 0.40 target; 51 at the peak, still below it
    "13347": OrderPlan(Decimal("0.3876"), 1, oldest=100, newest=1, recent_weight=1.6),
    "13349": OrderPlan(Decimal("0.15"), 4, oldest=110, newest=1, north_tilt=0.9),
    "13407": OrderPlan(Decimal("0.545"), 2, oldest=100, newest=1, recent_weight=1.3),
}
# Opted in to move into deployment on its own at its target; it stays below it here.
DEPLOYS_AT_TARGET = ["13347"]


def demo_isps() -> list[Organisation]:
    """The demo ISPs, in the order of `ISPS` (created on first use)."""
    isps = []
    for name, _, _ in ISPS:
        isp = Organisation.objects.filter(name=name).first()
        isps.append(isp or organisation_create(name=name, kind=OrganisationKind.ISP))
    return isps


@demo_step(order=50, name="ISPs and their logins")
def create_isps(context: DemoContext) -> None:
    for isp, (_, username, _) in zip(demo_isps(), ISPS, strict=True):
        if not User.objects.filter(username=username).exists():
            user_create(
                username=username, organisation=isp, role=Role.ISP_USER, password=ISP_PASSWORD
            )
            context.say(f"created ISP {isp.name} with login {username}")
        context.logins.append((username, ISP_PASSWORD, f"{Role.ISP_USER.label} at {isp.name}"))


def _isp_for(key: str, isps: list[Organisation]) -> Organisation | None:
    if demand_unit("connection-only", key) < CONNECTION_ONLY_SHARE:
        return None
    roll = demand_unit("isp", key)
    return next(isp for isp, (_, _, limit) in zip(isps, ISPS, strict=True) if roll < limit)


def _other_isp(isp: Organisation | None, isps: list[Organisation]) -> Organisation:
    return isps[(isps.index(isp) + 1) % len(isps)] if isp in isps else isps[0]


def _offering_for(isp: Organisation | None, key: str) -> Offering | None:
    """The ISP's offering the household chose (none for a connection-only order)."""
    if isp is None:
        return None
    offerings = list(Offering.objects.filter(isp=isp).order_by("monthly_price", "pk"))
    if not offerings:
        return None
    return offerings[int(demand_unit("offering", key, isp.name) * len(offerings))]


def _place_once(
    orders: dict[tuple[int, int | None], Order],
    address: Address,
    isp: Organisation | None,
    placed_at: datetime,
) -> Order:
    """The order of this ISP (or connection-only) at the address, placed if there is none."""
    key = (address.pk, isp.pk if isp else None)
    if key not in orders:
        orders[key] = order_place(
            address=address,
            isp=isp,
            placed_at=placed_at,
            offering=_offering_for(isp, address.demo_key),
            customer=_household(f"{address.demo_key}:{key[1]}"),
        )
    return orders[key]


def _household(key: str) -> Customer:
    """The customer behind an order: a made-up name (the same for the same key on every
    load) and an address at example.org, which no mail server accepts."""
    seed = int(hashlib.sha256(f"customer:{key}".encode()).hexdigest()[:12], 16)
    fake = Faker("de_DE")
    fake.seed_instance(seed)
    name = fake.name()
    return Customer.objects.create(name=name, email=f"kunde-{seed % 10**9:09d}@example.org")


def ont_serial_for(key: str) -> str:
    """The serial of the ONT installed at the address with this demo key (GPON style: a
    vendor code and eight hex digits); an ISP switch keeps it, as no one visits the home."""
    return "ZTEG" + hashlib.sha256(f"ont:{key}".encode()).hexdigest()[:8].upper()


def _activate(order: Order, key: str) -> Service:
    """The order's ISP activates its service on the address's ONT, with its VLANs."""
    return service_activate(
        order=order,
        ont_serial=ont_serial_for(key),
        c_vlan=100 + int(demand_unit("c-vlan", key) * 3900),
        s_vlan=SERVICE_VLANS.get(order.isp.name),
        reason=REASON,
    )


@demo_step(order=60, name="Orders in the areas")
@transaction.atomic
def place_orders(context: DemoContext) -> None:
    """Each area's orders in time order, then its cancellations, its build and second orders."""
    isps = demo_isps()
    today = timezone.localdate()
    for code, plan in ORDER_SCENARIO.items():
        area = Area.objects.filter(code=code, is_active=True).first()
        if area is None:
            context.say(f"area {code} is missing; skipped")
            continue
        live = round(plan.take_rate * area_homes(area))
        chosen = ranked_addresses(area, salt=f"order:{code}", north_tilt=plan.north_tilt)
        chosen = chosen[: live + plan.cancelled]
        orders = {
            (order.address_id, order.isp_id): order
            for order in Order.objects.filter(address__area=area).order_by("pk")
        }
        before = len(orders)
        first_orders = {}
        moments = {
            address.pk: demo_moment(
                today,
                f"order:{address.demo_key}",
                oldest=plan.oldest,
                newest=plan.newest,
                recent_weight=plan.recent_weight,
            )
            for address in chosen
        }
        for address in sorted(chosen, key=lambda address: (moments[address.pk], address.pk)):
            isp = _isp_for(address.demo_key, isps)
            first_orders[address.pk] = _place_once(orders, address, isp, moments[address.pk])
        for address in chosen[live:]:  # the last ones picked change their minds today
            order = first_orders[address.pk]
            if order.status in LIVE_ORDER_STATUSES:
                order_cancel(order=order, reason="customer changed their mind")
        for address in chosen[:live]:
            if demand_unit("second-order", address.demo_key) < SECOND_ORDER_SHARE:
                first = first_orders[address.pk]
                halfway = first.placed_at + (timezone.now() - first.placed_at) / 2
                _place_once(orders, address, _other_isp(first.isp, isps), halfway)
        placed = len(orders) - before
        statuses = Counter(
            Address.objects.filter(area=area).values_list("status", flat=True).order_by()
        )
        context.say(
            f"{code}: {placed} orders placed; addresses "
            + ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
        )
    for code in DEPLOYS_AT_TARGET:
        _opt_in_to_deploy_at_target(code, context)


@demo_step(order=66, name="ISPs activate their services on the connected homes")
@transaction.atomic
def activate_services(context: DemoContext) -> None:
    """In each area the field has connected (workorders.demo finishes its installations),
    most ISPs with an order at a connected home activate their service there; then some of
    those homes' stories: a move to another ISP, an upgrade, an end."""
    isps = demo_isps()
    for code, plan in ORDER_SCENARIO.items():
        area = Area.objects.filter(code=code, is_active=True).first()
        if area is None or plan.build != AddressStatus.CONNECTED:
            continue
        live = round(plan.take_rate * area_homes(area))
        chosen = ranked_addresses(area, salt=f"order:{code}", north_tilt=plan.north_tilt)[:live]
        orders = {
            (order.address_id, order.isp_id): order
            for order in Order.objects.filter(address__area=area)
            .select_related("isp")
            .order_by("pk")
        }
        first_orders = {}
        for address in chosen:
            isp = _isp_for(address.demo_key, isps)
            first_orders[address.pk] = orders[(address.pk, isp.pk if isp else None)]
        activated, services = set(), 0
        keys = {address.pk: address.demo_key for address in chosen}
        for address in Address.objects.filter(pk__in=keys).order_by("pk"):
            first = first_orders[address.pk]
            if first.isp_id is None or demand_unit("activated", keys[address.pk]) >= (
                ACTIVATED_SHARE
            ):
                continue
            activated.add(address.pk)
            ready = first.status == OrderStatus.READY_FOR_ACTIVATION
            if address.status == AddressStatus.CONNECTED and ready:
                _activate(first, keys[address.pk])
                services += 1
        single = [
            address
            for address in chosen
            if address.pk in activated
            and demand_unit("second-order", address.demo_key) >= SECOND_ORDER_SHARE
        ]
        _service_stories(single, first_orders, orders, isps, context)
        context.say(f"{code}: {services} services activated")


def _service_stories(
    homes: list[Address],
    first_orders: dict[int, Order],
    orders: dict[tuple[int, int | None], Order],
    isps: list[Organisation],
    context: DemoContext,
) -> None:
    """What became of some activated homes (one household each), in their ranked order:
    the first moved to another ISP, the next upgraded its speed, the next ended its service.

    Each story is told once: a second run finds it told (the new ISP's order active, a
    profile change in the history, the service ended) and leaves it.
    """
    today = timezone.localdate()
    told = Counter()
    candidates = iter(homes)
    for address in candidates:
        first = first_orders[address.pk]
        placed_at = demo_moment(today, f"switch:{address.demo_key}", oldest=20, newest=5)
        order = _place_once(orders, address, _other_isp(first.isp, isps), placed_at)
        if order.status == OrderStatus.READY_FOR_ACTIVATION:
            order = Order.objects.select_related("isp").get(pk=order.pk)
            service = _activate(order, address.demo_key)
            orders[(address.pk, order.isp_id)] = service.order
            context.say(f"{address.label}: moved from {first.isp} to {order.isp}")
        told["switch"] += 1
        if told["switch"] >= SWITCHES:
            break
    for address in candidates:
        service = (
            Service.objects.filter(order=first_orders[address.pk]).select_related("product").first()
        )
        upgraded = service.history.filter(kind=ServiceChangeKind.PROFILE_CHANGED).exists()
        if not upgraded:
            faster = (
                Product.objects.filter(download_mbps__gt=service.product.download_mbps)
                .order_by("download_mbps", "code")
                .first()
            )
            if faster is None:
                continue  # the fastest already: not a home that upgrades
            service_change_profile(service=service, product=faster, reason="customer upgrade")
            context.say(f"{address.label}: {service.reference} upgraded to {faster.name}")
        told["upgrade"] += 1
        if told["upgrade"] >= UPGRADES:
            break
    for address in candidates:
        service = Service.objects.filter(order=first_orders[address.pk]).first()
        if service.status == ServiceStatus.ACTIVE:
            service_deactivate(service=service, reason="the customer moved out")
            context.say(f"{address.label}: {service.reference} ended (the customer moved out)")
        told["deactivation"] += 1
        if told["deactivation"] >= DEACTIVATIONS:
            break


def _opt_in_to_deploy_at_target(code: str, context: DemoContext) -> None:
    """Opt an area in only while it is below its target: opting in at or above it deploys it."""
    area = Area.objects.filter(code=code, is_active=True).select_related("figures").first()
    if area is None or area.deploys_at_target or area.phase != AreaPhase.DEMAND_AGGREGATION:
        return
    if area.figures.progress >= 1:
        context.say(f"{code} has reached its target already; not opted in to deploy at it")
        return
    area_update(area=area, deploys_at_target=True)
    context.say(f"{code} deploys on its own at its target ({area.figures.progress:.0%} now)")


@demo_step(order=70, name="Demand history (daily series)")
def backfill_history(context: DemoContext) -> None:
    """The areas' daily series for the whole history, from the demand book's dates."""
    since = timezone.localdate() - timedelta(days=HISTORY_DAYS)
    areas = Area.objects.filter(is_active=True).values_list("pk", flat=True)
    rows = backfill_daily_figures(areas, since=since)
    context.say(f"{rows} daily rows from {since} to today")


# --- the marketplace: catalog, who sells where, connection cost, installation windows -------

CATALOG_SINCE = date(2025, 1, 1)
# code, name, down, up, wholesale fee a month
PRODUCTS = [
    ("ftth-250", "Fibre 250", 250, 50, "14.00"),
    ("ftth-500", "Fibre 500", 500, 100, "18.00"),
    ("ftth-1000", "Fibre 1000", 1000, 250, "24.00"),
]
# ISP → logo, website, and its offerings: (name, product code, monthly price, setup fee, months)
OFFERINGS = {
    "Spree Net": (
        "oanm/isp/spree-net.svg",
        "https://spree-net.example",
        [
            ("Spree Basic 250", "ftth-250", "29.90", "0.00", 24),
            ("Spree Home 500", "ftth-500", "39.90", "0.00", 24),
            ("Spree Max 1000", "ftth-1000", "59.90", "49.00", 24),
        ],
    ),
    "Kiez Online": (
        "oanm/isp/kiez-online.svg",
        "https://kiez-online.example",
        [
            ("Kiez Flex 500", "ftth-500", "44.00", "0.00", 1),
            ("Kiez 1000", "ftth-1000", "54.00", "0.00", 12),
        ],
    ),
    "Panke Glasfaser": (
        "oanm/isp/panke-glasfaser.svg",
        "https://panke-glasfaser.example",
        [("Panke Glasfaser 500", "ftth-500", "36.50", "69.00", 24)],
    ),
}
OFFERING_TERMS = (
    "Minimum term {months} month{s}, then monthly with {notice} days' notice."
    " Prices include VAT. The router is lent for the length of the contract."
)
# Which ISPs sell where: every ISP in every active area, except Panke Glasfaser, which only
# serves the areas along the Panke (13347, 13353, 13405).
PANKE_AREAS = {"13347", "13353", "13405"}
# code → connection-cost terms (total, deposit, max installment, stage, connection-only)
CONNECTION_COSTS = {
    "13353": ("5000", "1000", "500", InvoicingStage.DEPLOYMENT, True),
    "13347": ("750", None, "62.50", InvoicingStage.NOT_ACTIVE, False),
    "13349": ("750", None, "62.50", InvoicingStage.NOT_ACTIVE, False),
    "13407": ("399", "99", "50", InvoicingStage.ACTIVATED, False),
}
SLOT_DAYS = 21  # installation windows for the next three weeks, weekdays, 08–12 and 13–17
SLOT_HOURS = ((8, 12), (13, 17))
SLOT_CAPACITY = 3


# ISP → who the owner talks to there: contact name, email, phone, and where faults go.
CONTACTS = {
    "Spree Net": ("Lena Vogt", "partner@spree-net.example", "+49 30 5550 1010",
                  "noc@spree-net.example"),
    "Kiez Online": ("Murat Aydın", "wholesale@kiez-online.example", "+49 30 5550 1020",
                    "stoerung@kiez-online.example"),
    "Panke Glasfaser": ("Jana Brandt", "kontakt@panke-glasfaser.example", "+49 30 5550 1030",
                        "technik@panke-glasfaser.example"),
}  # fmt: skip


@demo_step(order=51, name="ISP profiles: contacts and websites")
def set_isp_profiles(context: DemoContext) -> None:
    """Each demo ISP trades (its profile active) and has its contacts and website."""
    changed = 0
    for isp in demo_isps():
        name, email, phone, support = CONTACTS[isp.name]
        website = OFFERINGS[isp.name][1]
        wanted = (name, email, phone, support, website)
        profile = IspProfile.objects.filter(organisation=isp).first()
        current = profile and (
            profile.contact_name,
            profile.contact_email,
            profile.contact_phone,
            profile.support_email,
            profile.website,
        )
        if current != wanted:
            isp_contacts_set(
                isp=isp,
                contact_name=name,
                contact_email=email,
                contact_phone=phone,
                support_email=support,
                website=website,
            )
            changed += 1
    context.say(f"{changed} ISP profiles set")


@demo_step(order=52, name="Catalog: wholesale products and the ISPs' offerings")
def create_catalog(context: DemoContext) -> None:
    products = {}
    for code, name, down, up, fee in PRODUCTS:
        products[code] = Product.objects.filter(code=code).first() or product_create(
            code=code,
            name=name,
            download_mbps=down,
            upload_mbps=up,
            monthly_fee=fee,
            valid_from=CATALOG_SINCE,
        )
    made = 0
    for isp in demo_isps():
        logo, website, offerings = OFFERINGS[isp.name]
        isp_profile_set(isp=isp, logo=logo, website=website)
        for name, code, price, setup, months in offerings:
            if Offering.objects.filter(isp=isp, name=name).exists():
                continue
            offering_create(
                isp=isp,
                product=products[code],
                name=name,
                monthly_price=price,
                setup_fee=setup,
                contract_months=months,
                notice_days=30,
                terms=OFFERING_TERMS.format(months=months, s="s" if months != 1 else "", notice=30),
                valid_from=CATALOG_SINCE,
            )
            made += 1
    context.say(f"{made} offerings added ({Offering.objects.count()} in the catalog)")


@demo_step(order=75, name="Marketplace: who sells where, connection cost, installation windows")
@transaction.atomic
def open_marketplace(context: DemoContext) -> None:
    """After the orders and their history, so the areas' stories are told first."""
    owner = demo_owner()
    areas = list(Area.objects.filter(is_active=True).order_by("code"))
    for isp in demo_isps():
        for area in areas:
            if isp.name != "Panke Glasfaser" or area.code in PANKE_AREAS:
                isp_serve_area(isp=isp, area=area)
    by_code = {area.code: area for area in areas}
    for code, (total, deposit, maximum, stage, connection_only) in CONNECTION_COSTS.items():
        area = by_code.get(code)
        if area is None or ConnectionCostTerms.objects.filter(area=area).exists():
            continue
        connection_cost_terms_set(
            area=area,
            total=total,
            deposit=deposit,
            max_installment=maximum,
            invoicing_starts=stage,
            billed_by=owner,
            connection_only_enabled=connection_only,
        )
    # one corner house in 13353 has a longer drop: its own terms win over the area's
    corner = (
        Address.objects.filter(area__code="13353").order_by("street", "house_number", "pk").first()
    )
    if corner is not None and not ConnectionCostTerms.objects.filter(address=corner).exists():
        connection_cost_terms_set(
            address=corner,
            total="6500",
            deposit="1500",
            max_installment="500",
            invoicing_starts=InvoicingStage.DEPLOYMENT,
            billed_by=owner,
            connection_only_enabled=True,
        )
        context.say(f"own connection-cost terms for {corner.label}")
    slots = 0
    today = timezone.localdate()
    for area in areas:
        if area.phase != AreaPhase.IN_DEPLOYMENT:
            continue
        for offset in range(1, SLOT_DAYS + 1):
            day = today + timedelta(days=offset)
            if day.weekday() >= 5:
                continue
            for start_hour, end_hour in SLOT_HOURS:
                starts_at = timezone.make_aware(datetime.combine(day, time(start_hour)))
                if InstallationSlot.objects.filter(area=area, starts_at=starts_at).exists():
                    continue
                installation_slot_create(
                    area=area,
                    starts_at=starts_at,
                    ends_at=timezone.make_aware(datetime.combine(day, time(end_hour))),
                    capacity=SLOT_CAPACITY,
                )
                slots += 1
    context.say(f"{slots} installation windows opened in the areas in deployment")


# Planned work every ISP sees on the network page: (area code or None for the whole network,
# days from today, start hour, hours, title, description, service-affecting).
MAINTENANCE = [
    (
        "13353",
        4,
        1,
        4,
        "Splicing at the street cabinet of 13353",
        "New drop cables are spliced into the cabinet; homes of 13353 already connected may"
        " lose service for up to 30 minutes in the window.",
        True,
    ),
    (
        None,
        11,
        2,
        1,
        "Core router software update",
        "Both core routers are updated one after the other; traffic fails over, so no outage"
        " is expected.",
        False,
    ),
]


@demo_step(order=76, name="Planned maintenance")
def plan_maintenance(context: DemoContext) -> None:
    """Upcoming maintenance windows (plain rows: maintenance has no lifecycle); a window of
    the same title still to come is kept."""
    today = timezone.localdate()
    planned = 0
    for code, days, hour, hours, title, description, affecting in MAINTENANCE:
        if MaintenanceWindow.objects.filter(title=title, ends_at__gt=timezone.now()).exists():
            continue
        area = Area.objects.filter(code=code, is_active=True).first() if code else None
        if code and area is None:
            continue
        starts_at = timezone.make_aware(datetime.combine(today + timedelta(days=days), time(hour)))
        MaintenanceWindow.objects.create(
            area=area,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=hours),
            title=title,
            description=description,
            service_affecting=affecting,
        )
        planned += 1
    context.say(f"{planned} maintenance windows planned")
