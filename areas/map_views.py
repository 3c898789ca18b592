"""The planners' area map (/map/): one page, its behaviour in static/oanm/map.js.

The view only hands the page its configuration (as JSON through `json_script`): where the
API and the vector tiles are, the optional base map, the phases and their allowed moves, the
address statuses, and whether the user may change the plan. Everything the map shows comes
from the areas API and the tiles, so this page and the API can never disagree.
"""

from django.conf import settings
from django.shortcuts import render

from accounts.permissions import is_operator, owner_staff_required
from areas.lifecycle import AREA_TRANSITIONS, AreaPhase
from gis_core.lifecycle import AddressStatus

# Leaflet URL templates; {id}, {z}, {x}, {y} are filled in by the page.
AREAS_API_URL = "/api/areas/"
AREA_API_URL = "/api/areas/{id}/"
AREA_SPLIT_URL = "/api/areas/{id}/split/"
AREA_PHASE_URL = "/api/areas/{id}/phase/"
AREA_PAGE_URL = "/areas/{id}/"
ADDRESS_TILES_URL = "/tiles/addresses/{z}/{x}/{y}.pbf"
AREA_TILES_URL = "/tiles/areas/{z}/{x}/{y}.pbf"
DEMAND_TILES_URL = "/tiles/demand/{z}/{x}/{y}.pbf"

# Below these zooms the tiles hold aggregated cells instead of single points.
ADDRESS_POINTS_FROM_ZOOM = 14
DEMAND_POINTS_FROM_ZOOM = 13


def map_config(user) -> dict:
    """What the map page needs to know, as plain JSON-ready values."""
    return {
        "urls": {
            "areas": AREAS_API_URL,
            "area": AREA_API_URL,
            "split": AREA_SPLIT_URL,
            "phase": AREA_PHASE_URL,
            "areaPage": AREA_PAGE_URL,
            "addressTiles": ADDRESS_TILES_URL,
            "areaTiles": AREA_TILES_URL,
            "demandTiles": DEMAND_TILES_URL,
        },
        "baseMap": (
            {"url": settings.MAP_TILE_URL, "attribution": settings.MAP_TILE_ATTRIBUTION}
            if settings.MAP_TILE_URL
            else None
        ),
        # colours live in oanm.css (--phase-<value>); the page reads them from there
        "phases": [{"value": value, "label": label} for value, label in AreaPhase.choices],
        "transitions": {
            phase: sorted(AREA_TRANSITIONS.allowed_from(phase)) for phase in AreaPhase.values
        },
        "addressStatuses": [
            {"value": value, "label": label} for value, label in AddressStatus.choices
        ],
        "addressPointsFromZoom": ADDRESS_POINTS_FROM_ZOOM,
        "demandPointsFromZoom": DEMAND_POINTS_FROM_ZOOM,
        "isOperator": is_operator(user),
    }


@owner_staff_required
def area_map(request):
    """The interactive map of areas, addresses and demand; operators may split and move areas."""
    return render(request, "areas/map.html", {"map_config": map_config(request.user)})
