"""How the area pages write figures: counts with thousands separators, rates in percent."""

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def thousands(value) -> str:
    """1234 → "1,234"."""
    if value is None or value == "":
        return "–"
    return f"{int(value):,}"


@register.filter
def percent(value, decimals: int = 1) -> str:
    """A fraction as a percentage: 0.4123 → "41.2 %"; None → "–"."""
    if value is None or value == "":
        return "–"
    return f"{Decimal(value) * 100:.{int(decimals)}f} %"


@register.filter
def bar_width(value) -> str:
    """A progress fraction as a bar width in percent, capped at 100: 0.5 → "50.0"."""
    if value is None or value == "":
        return "0"
    return f"{min(max(Decimal(value), Decimal(0)), Decimal(1)) * 100:.1f}"
