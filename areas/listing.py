"""The area list: which areas, in which order, with which totals.

The /areas/ page and its CSV and XLSX exports read the same `AreaListing`, so an export
holds exactly the rows the page shows (all pages of them), in the same order. Figures come
from the kept `AreaFigures` row (one join); nothing is counted per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

from django.db.models import (
    BooleanField,
    Case,
    Count,
    DecimalField,
    F,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.http import QueryDict

from areas.forms import HUNDRED, AreaFilterForm
from areas.lifecycle import AreaPhase
from areas.models import Area

PAGE_SIZE = 50
PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_SORT = "code"

# Phases sort along the lifecycle, not by their names.
PHASE_RANK = {phase: rank for rank, phase in enumerate(AreaPhase.values)}

RATE = DecimalField(max_digits=9, decimal_places=4)


@dataclass(frozen=True)
class Column:
    """A column of the list: its sort key, heading, and which way a first click sorts."""

    key: str
    label: str
    numeric: bool = False

    @property
    def first_direction(self) -> str:
        """Numbers sort largest first on the first click, text A→Z."""
        return "-" if self.numeric else ""


COLUMNS = [
    Column("code", "Code"),
    Column("name", "Name"),
    Column("phase", "Phase"),
    Column("homes", "Homes", numeric=True),
    Column("interests", "Interests", numeric=True),
    Column("orders", "Orders", numeric=True),
    Column("take_rate", "Take rate", numeric=True),
    Column("target", "Target", numeric=True),
    Column("progress", "Progress", numeric=True),
    Column("ready", "Ready to build", numeric=True),
]
COLUMNS_BY_KEY = {column.key: column for column in COLUMNS}
# sort key → the annotation or field it orders by
SORT_FIELDS = {
    "code": "code",
    "name": "name",
    "phase": "phase_rank",
    "homes": "homes",
    "interests": "interests",
    "orders": "orders",
    "take_rate": "take_rate",
    "target": "target_take_rate",
    "progress": "progress",
    "ready": "is_ready",
}


def _count(field: str):
    return Coalesce(F(f"figures__{field}"), Value(0), output_field=IntegerField())


def _rate(field: str):
    return Coalesce(F(f"figures__{field}"), Value(Decimal(0)), output_field=RATE)


def areas_with_figures() -> QuerySet[Area]:
    """Areas annotated with their kept figures (0 for an area not counted yet) and sort keys."""
    return Area.objects.annotate(
        address_count=_count("addresses"),
        homes=_count("homes"),
        interests=_count("interests"),
        orders=_count("orders"),
        addresses_with_order=_count("addresses_with_order"),
        addresses_with_interest=_count("addresses_with_interest"),
        take_rate=_rate("take_rate"),
        interest_rate=_rate("interest_rate"),
        progress=_rate("progress"),
        is_ready=Case(
            When(figures__homes__gt=0, figures__progress__gte=1, then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        ),
        phase_rank=Case(
            *(When(phase=phase, then=Value(rank)) for phase, rank in PHASE_RANK.items()),
            default=Value(len(PHASE_RANK)),
            output_field=IntegerField(),
        ),
    )


@dataclass(frozen=True)
class ListTotals:
    """The totals row: over the listed areas that are still active (split parents would
    count their addresses twice)."""

    areas: int
    active_areas: int
    homes: int
    interests: int
    orders: int
    addresses_with_order: int
    ready: int
    weighted_target: Decimal | None

    @property
    def take_rate(self) -> Decimal | None:
        """Overall take rate: addresses with an order ÷ homes, over every listed active area."""
        if not self.homes:
            return None
        return Decimal(self.addresses_with_order) / Decimal(self.homes)

    @property
    def progress(self) -> Decimal | None:
        if self.take_rate is None or not self.weighted_target:
            return None
        return self.take_rate / self.weighted_target


class AreaListing:
    """The list's filters and sort read from a query string, and the areas they select."""

    def __init__(self, params: QueryDict):
        self.params = params
        self.form = AreaFilterForm(params)
        self.form.is_valid()  # invalid fields are shown on the page and left out of the filter
        self.filters = self.form.cleaned_data
        requested = params.get("sort", DEFAULT_SORT)
        self.sort = requested if requested.lstrip("-") in SORT_FIELDS else DEFAULT_SORT
        per_page = params.get("per_page", "")
        self.per_page = (
            int(per_page) if per_page.isdigit() and int(per_page) in PAGE_SIZES else PAGE_SIZE
        )

    @property
    def sort_key(self) -> str:
        return self.sort.lstrip("-")

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")

    def _filtered(self) -> QuerySet[Area]:
        areas = areas_with_figures()
        filters = self.filters
        if not filters.get("retired"):
            areas = areas.filter(is_active=True)
        if filters.get("phase"):
            areas = areas.filter(phase__in=filters["phase"])
        if text := (filters.get("q") or "").strip():
            areas = areas.filter(Q(code__icontains=text) | Q(name__icontains=text))
        if filters.get("take_rate_min") is not None:
            areas = areas.filter(take_rate__gte=filters["take_rate_min"] / HUNDRED)
        if filters.get("take_rate_max") is not None:
            areas = areas.filter(take_rate__lte=filters["take_rate_max"] / HUNDRED)
        if filters.get("ready"):
            areas = areas.filter(is_ready=True)
        return areas

    @cached_property
    def areas(self) -> QuerySet[Area]:
        """The selected areas in the requested order (ties broken by code, then id)."""
        field = F(SORT_FIELDS[self.sort_key])
        order = field.desc() if self.descending else field.asc()
        tie_breakers = [] if self.sort_key == "code" else ["code"]
        # the boundary is not shown in the list: leave it (and its parsing) out of the rows
        return self._filtered().defer("boundary", "attributes").order_by(order, *tie_breakers, "pk")

    @cached_property
    def totals(self) -> ListTotals:
        """One aggregate query over the selection."""
        active = Q(is_active=True)
        row = self._filtered().aggregate(
            total_areas=Count("pk"),
            total_active_areas=Count("pk", filter=active),
            total_homes=Coalesce(Sum("homes", filter=active), 0),
            total_interests=Coalesce(Sum("interests", filter=active), 0),
            total_orders=Coalesce(Sum("orders", filter=active), 0),
            total_addresses_with_order=Coalesce(Sum("addresses_with_order", filter=active), 0),
            total_ready=Count("pk", filter=active & Q(is_ready=True)),
            total_target_homes=Sum(
                F("target_take_rate") * F("homes"), filter=active, output_field=RATE
            ),
        )
        values = {key.removeprefix("total_"): value for key, value in row.items()}
        target_homes = values.pop("target_homes")
        homes = values["homes"]
        weighted = target_homes / homes if target_homes is not None and homes else None
        return ListTotals(**values, weighted_target=weighted)

    def query_string(self, **changes) -> str:
        """This listing's query string with some parameters changed (None drops one)."""
        params = self.params.copy()
        for key, value in changes.items():
            params.pop(key, None)
            if value is not None:
                params[key] = value
        return params.urlencode()

    def sort_link(self, column: Column) -> str:
        """Where a click on a column heading goes: its first direction, or the reverse."""
        if self.sort_key == column.key:
            sort = column.key if self.descending else f"-{column.key}"
        else:
            sort = f"{column.first_direction}{column.key}"
        return "?" + self.query_string(sort=sort, page=None)

    @property
    def chosen_page_size(self) -> int | None:
        """The page size when the user chose one other than the default (kept by the filters)."""
        return self.per_page if self.per_page != PAGE_SIZE else None

    def page_size_links(self) -> list[dict]:
        """Links to show 25, 50, 100 or 200 rows a page (back to the first page)."""
        return [
            {
                "size": size,
                "url": "?" + self.query_string(per_page=str(size), page=None),
                "current": size == self.per_page,
            }
            for size in PAGE_SIZES
        ]

    def export_query(self) -> str:
        """The query string an export uses: every filter and the sort, no page."""
        return self.query_string(page=None, per_page=None)

    def headings(self) -> list[dict]:
        """The table headings with their sort links and state (for aria-sort)."""
        headings = []
        for column in COLUMNS:
            state = ""
            if column.key == self.sort_key:
                state = "descending" if self.descending else "ascending"
            headings.append({"column": column, "link": self.sort_link(column), "sorted": state})
        return headings

    @property
    def is_filtered(self) -> bool:
        return any(
            self.filters.get(key) not in (None, "", [], False)
            for key in ("q", "phase", "take_rate_min", "take_rate_max", "ready", "retired")
        )
