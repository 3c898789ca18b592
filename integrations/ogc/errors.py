"""OGC API exceptions: a status and an OGC-style body `{"code", "description"}`."""


class OgcError(Exception):
    """A request the OGC door refuses; `code` follows the OGC exception names."""

    def __init__(self, status: int, code: str, description: str):
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description


def bad_parameter(description: str) -> OgcError:
    return OgcError(400, "InvalidParameterValue", description)


def not_found(description: str) -> OgcError:
    return OgcError(404, "NotFound", description)
