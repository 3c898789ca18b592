"""A small town for the saved-query tests: two areas, five addresses, three ISPs' orders.

    west  (13.330–13.331, 52.550–52.551): a1 Müllerstraße 1 (ordered from Fibre One),
                                          a2 Müllerstraße 2, an MDU of 6 homes (an interest)
    east  (13.331–13.332, 52.550–52.551): a3 Seestraße 5 (ordered from Speedy, 40 days ago),
                                          a4 Seestraße 7, a business (connection-only order,
                                          cancelled)
    outside every area:                   a5 Osloer Straße (no house number)

Take rates: west 1/7, east 1/2. Everything goes through the services, as in production.
"""

from datetime import timedelta
from types import SimpleNamespace

from django.contrib.gis.geos import Polygon
from django.utils import timezone

from accounts.roles import OrganisationKind, Role
from accounts.services import organisation_create, user_create
from areas.services import area_create, interest_register
from gis_core.lifecycle import PremisesType
from gis_core.services import address_create
from wholesale.services import order_cancel, order_place

WEST = Polygon.from_bbox((13.330, 52.550, 13.331, 52.551))
EAST = Polygon.from_bbox((13.331, 52.550, 13.332, 52.551))


def polygon_json(polygon: Polygon) -> dict:
    return {"type": "Polygon", "coordinates": [[list(xy) for xy in polygon.coords[0]]]}


def _address(lon, lat, street, number, **extra):
    return address_create(
        location={"type": "Point", "coordinates": [lon, lat]},
        street=street,
        house_number=number,
        postcode="13353",
        city="Berlin",
        country="DE",
        **extra,
    )


def build_town(owner) -> SimpleNamespace:
    west = area_create(name="West", code="west", boundary=WEST, target_take_rate="0.4")
    east = area_create(name="East", code="east", boundary=EAST, target_take_rate="0.4")
    a1 = _address(13.3302, 52.5502, "Müllerstraße", "1")
    a2 = _address(
        13.3305, 52.5505, "Müllerstraße", "2", premises_type=PremisesType.MDU_FLAT, units=6
    )
    a3 = _address(13.3312, 52.5502, "Seestraße", "5")
    a4 = _address(13.3318, 52.5508, "Seestraße", "7", premises_type=PremisesType.BUSINESS)
    a5 = _address(13.3400, 52.5600, "Osloer Straße", "")
    fibre_one = organisation_create(name="Fibre One", kind=OrganisationKind.ISP)
    speedy = organisation_create(name="Speedy", kind=OrganisationKind.ISP)
    now = timezone.now()
    order1 = order_place(address=a1, isp=fibre_one, placed_at=now - timedelta(days=10))
    order2 = order_place(address=a3, isp=speedy, placed_at=now - timedelta(days=40))
    order3 = order_place(address=a4, isp=None, placed_at=now - timedelta(days=2))
    order_cancel(order=order3, reason="changed their mind")
    interest_register(address=a2, source="web")
    isp_user = user_create(
        username="isp-user", organisation=fibre_one, role=Role.ISP_USER, password="x-pass-123"
    )
    for address in (a1, a2, a3, a4, a5):
        address.refresh_from_db()
    return SimpleNamespace(
        owner=owner,
        west=west,
        east=east,
        a1=a1,
        a2=a2,
        a3=a3,
        a4=a4,
        a5=a5,
        fibre_one=fibre_one,
        speedy=speedy,
        order1=order1,
        order2=order2,
        order3=order3,
        isp_user=isp_user,
        now=now,
    )
