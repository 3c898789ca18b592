"""Domain errors: what a service raises when a request cannot be carried out.

Each carries a human message and a machine `code`; the API layer maps them to HTTP
statuses (`status_code`), pages show the message. Services never import DRF.
"""


class DomainError(Exception):
    """A request the domain refuses, with a message a user can act on."""

    code = "domain_error"
    status_code = 400

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.field = field

    def as_dict(self) -> dict:
        data = {"code": self.code, "detail": self.message}
        if self.field:
            data["field"] = self.field
        return data


class InvalidTransition(DomainError):
    """A lifecycle move the transition map does not allow."""

    code = "invalid_transition"
    status_code = 409


class NotFound(DomainError):
    """The object named does not exist (or is not visible to the caller)."""

    code = "not_found"
    status_code = 404


class Conflict(DomainError):
    """The request clashes with the current state (a duplicate, a concurrent change)."""

    code = "conflict"
    status_code = 409


class PermissionDenied(DomainError):
    """The actor may not do this."""

    code = "permission_denied"
    status_code = 403


class InvalidGeometry(DomainError):
    """Geometry input that cannot be used, with the reason (e.g. `ST_IsValidReason`)."""

    code = "invalid_geometry"
