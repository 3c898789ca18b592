"""The error a query definition raises: says exactly what is wrong, and where."""

from common.errors import DomainError


class InvalidQuery(DomainError):
    """A definition that cannot run: unknown source, field or operator, or a value that does
    not fit. `field` holds where in the definition (`where.conditions[1].value`)."""

    code = "invalid_query"
    status_code = 400
