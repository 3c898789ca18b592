"""A deployable town for the field tests: an area gathering demand with ordered homes,
the owner's and a contractor's crews, and templates for homes, flats and businesses."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.contrib.gis.geos import Point

from accounts.models import Organisation, User
from accounts.roles import OrganisationKind, Role
from accounts.services import organisation_create, user_create
from areas.models import Area
from areas.services import area_start_demand_aggregation
from gis_core.lifecycle import PremisesType
from gis_core.models import Address
from tests.areas.factories import AreaFactory, square
from tests.gis_core.factories import AddressFactory
from tests.wholesale.factories import IspFactory, OfferingFactory, serve
from wholesale.models import Offering, Order
from wholesale.services import order_place
from workorders.lifecycle import Evidence, TaskCategory
from workorders.models import Crew, Depot, WorkTemplate
from workorders.services import work_template_create

CORNER = (13.350, 52.540)
SIZE = 0.004


def home_tasks(contractor: Organisation) -> list[dict]:
    """A single-family install: drop by the contractor, then the owner's ONT, test, sign-off."""
    return [
        {
            "name": "Lay the drop from the distribution point",
            "category": TaskCategory.PHYSICAL,
            "evidence": [Evidence.PHOTO],
            "skill": "civil",
            "contractor": contractor,
            "minutes": 120,
        },
        {
            "name": "Mount the ONT and measure the light",
            "category": TaskCategory.TESTING,
            "evidence": [Evidence.LIGHT_LEVEL, Evidence.ONT_SERIAL],
            "light_min_dbm": Decimal("-27"),
            "light_max_dbm": Decimal("-8"),
            "skill": "ont",
            "minutes": 45,
        },
        {
            "name": "Speed test and customer sign-off",
            "category": TaskCategory.CUSTOMER,
            "evidence": [Evidence.SPEED_TEST, Evidence.SIGNATURE],
            "min_download_mbps": 100,
            "min_upload_mbps": 50,
            "skill": "ont",
            "minutes": 20,
        },
    ]


@dataclass
class Field:
    area: Area
    owner: Organisation
    contractor: Organisation
    offering: Offering
    templates: dict[str, WorkTemplate]
    crews: dict[str, Crew]
    users: dict[str, User]
    homes: list[Address] = field(default_factory=list)

    def home(self, n: int, **fields) -> Address:
        lon, lat = CORNER
        point = Point(
            lon + 0.0003 + (n % 30) * 0.0001, lat + 0.0003 + (n // 30) * 0.0001, srid=4326
        )
        address = AddressFactory(location=point, **fields)
        self.homes.append(address)
        return address

    def order(self, address: Address) -> Order:
        return order_place(address=address, isp=self.offering.isp, offering=self.offering)


@pytest.fixture
def field_town(owner) -> Field:
    area = area_start_demand_aggregation(
        area=AreaFactory(code="f-1", name="Feld", boundary=square(*CORNER, SIZE))
    )
    contractor = organisation_create(name="Tiefbau Nord", kind=OrganisationKind.CONTRACTOR)
    isp = IspFactory(name="Spree Net")
    offering = OfferingFactory(isp=isp, name="Spree 500")
    serve(isp, area)
    templates = {
        "home": work_template_create(
            code="sfu",
            name="Single-family",
            tasks=home_tasks(contractor),
            premises_types=[PremisesType.SINGLE_FAMILY],
        ),
        "flat": work_template_create(
            code="mdu",
            name="MDU flat",
            tasks=[{"name": "Patch the flat", "category": TaskCategory.PHYSICAL, "skill": "ont"}],
            premises_types=[PremisesType.MDU_FLAT],
        ),
        "any": work_template_create(
            code="generic",
            name="Generic",
            tasks=[{"name": "Connect", "category": TaskCategory.PHYSICAL, "skill": "ont"}],
            priority=-1,
        ),
    }
    depot = Depot.objects.create(name="Depot Wedding", location=Point(13.345, 52.538, srid=4326))
    users = {
        "dispatcher": user_create(
            username="dispatch", organisation=owner, role=Role.DISPATCHER, password="x-pass-123"
        ),
        "tech": user_create(
            username="tech", organisation=owner, role=Role.TECHNICIAN, password="x-pass-123"
        ),
        "digger": user_create(
            username="digger",
            organisation=contractor,
            role=Role.CONTRACTOR_TECHNICIAN,
            password="x-pass-123",
        ),
    }
    crews = {
        "own": Crew.objects.create(
            name="Crew A", organisation=owner, depot=depot, skills=["ont", "splicing"]
        ),
        "civil": Crew.objects.create(
            name="Tiefbau 1", organisation=contractor, depot=depot, skills=["civil"]
        ),
    }
    crews["own"].members.add(users["tech"])
    crews["civil"].members.add(users["digger"])
    return Field(
        area=area,
        owner=owner,
        contractor=contractor,
        offering=offering,
        templates=templates,
        crews=crews,
        users=users,
    )
