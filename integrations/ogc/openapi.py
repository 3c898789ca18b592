"""The OpenAPI 3.0 document of the OGC door (hand-built: the paths are few and fixed)."""

from integrations.ogc import collections as ogc

FEATURE_COLLECTION = {"description": "A GeoJSON FeatureCollection with links and counts."}
EXCEPTION = {
    "description": 'An OGC exception: `{"code", "description"}`.',
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["code"],
                "properties": {"code": {"type": "string"}, "description": {"type": "string"}},
            }
        }
    },
}
ERRORS = {
    "400": {**EXCEPTION, "description": "A bad parameter (named in `description`)."},
    "401": {**EXCEPTION, "description": "Not signed in and no API token."},
    "403": {**EXCEPTION, "description": "Not the owner's staff, or a token without read/sync."},
    "404": {**EXCEPTION, "description": "No such collection or feature."},
}


def _parameter(name: str, description: str, schema: dict, where: str = "query") -> dict:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": schema,
        **({"style": "form", "explode": False} if schema.get("type") == "array" else {}),
    }


F = _parameter("f", "The encoding: json (default) or html.", {"enum": ["json", "html"]})
CRS = _parameter("crs", "The CRS of the geometries (default CRS84).", {"enum": ogc.SUPPORTED_CRS})
COLLECTION_ID = _parameter(
    "collectionId", "The collection.", {"enum": list(ogc.COLLECTIONS)}, where="path"
)


def _get(summary: str, parameters: list, ok: dict, operation_id: str) -> dict:
    return {
        "get": {
            "summary": summary,
            "operationId": operation_id,
            "parameters": parameters,
            "responses": {"200": ok, **ERRORS},
        }
    }


FEATURE_PATH = [
    COLLECTION_ID,
    {"name": "featureId", "in": "path", "required": True, "schema": {"type": "string"}},
    {
        "name": "If-Match",
        "in": "header",
        "required": False,
        "description": "The ETag read: the change is refused (412) if the area changed since.",
        "schema": {"type": "string"},
    },
]


def _write(summary: str, parameters: list, status: str, operation_id: str) -> dict:
    return {
        "summary": summary,
        "operationId": operation_id,
        "description": "A GeoJSON Feature with properties code (create only), name and "
        "target_take_rate, in CRS84 unless the Content-Crs header names EPSG:4326 or 3857. "
        "Operators only (or a token with the write scope).",
        "parameters": parameters,
        "requestBody": {
            "required": True,
            "content": {"application/geo+json": {"schema": {"type": "object"}}},
        },
        "responses": {
            status: {"description": "The area as stored, with its ETag (and Location)."},
            **ERRORS,
            "409": {**EXCEPTION, "description": "A duplicate code, or an area already split."},
            "412": {**EXCEPTION, "description": "If-Match names an old ETag."},
        },
    }


def _ok(description: str, media_type: str = "application/json") -> dict:
    return {
        "description": description,
        "content": {media_type: {"schema": {"type": "object"}}, "text/html": {}},
    }


def _items_parameters() -> list:
    filters = {}
    for collection in ogc.COLLECTIONS.values():
        for name, queryable in collection.queryables.items():
            schema = {"type": queryable.type}
            if queryable.enum:
                schema["enum"] = list(queryable.enum)
            filters.setdefault(name, (schema, []))[1].append(collection.id)
    return [
        COLLECTION_ID,
        F,
        _parameter(
            "limit",
            "Features per page.",
            {
                "type": "integer",
                "minimum": 1,
                "maximum": ogc.MAX_LIMIT,
                "default": ogc.DEFAULT_LIMIT,
            },
        ),
        _parameter("after", "Page after this id (follow the `next` link).", {"type": "integer"}),
        _parameter("before", "Page before this id (the `prev` link).", {"type": "integer"}),
        _parameter(
            "bbox",
            "minx,miny,maxx,maxy in bbox-crs (CRS84 unless given).",
            {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
        ),
        _parameter("bbox-crs", "The CRS of bbox.", {"enum": ogc.SUPPORTED_CRS}),
        CRS,
        _parameter(
            "datetime",
            "An instant or interval (a/b, .. open) matched against updated_at.",
            {"type": "string"},
        ),
        *(
            _parameter(name, f"Equality filter ({', '.join(ids)}).", schema)
            for name, (schema, ids) in filters.items()
        ),
    ]


def openapi_document(server_url: str) -> dict:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "oanm OGC API – Features",
            "version": "1.0.0",
            "description": "Addresses with their serviceability and planning areas. Needs the "
            "owner's staff: a session or an API token (read or sync scope).",
        },
        "servers": [{"url": server_url.rstrip("/")}],
        "components": {
            "securitySchemes": {
                "apiToken": {"type": "http", "scheme": "bearer", "bearerFormat": "oanm_…"}
            }
        },
        "security": [{"apiToken": []}],
        "paths": {
            "/": _get("Landing page", [F], _ok("Links to the API."), "getLandingPage"),
            "/conformance": _get(
                "Conformance classes", [F], _ok("The classes implemented."), "getConformance"
            ),
            "/api": _get("This document", [F], _ok("OpenAPI 3.0."), "getApi"),
            "/collections": _get("Collections", [F], _ok("The collections."), "getCollections"),
            "/collections/{collectionId}": _get(
                "A collection", [COLLECTION_ID, F], _ok("The collection."), "describeCollection"
            ),
            "/collections/{collectionId}/queryables": _get(
                "Queryables",
                [COLLECTION_ID],
                _ok("A JSON schema.", "application/schema+json"),
                "getQueryables",
            ),
            "/collections/{collectionId}/items": {
                **_get(
                    "Features",
                    _items_parameters(),
                    _ok(FEATURE_COLLECTION["description"], "application/geo+json"),
                    "getFeatures",
                ),
                "post": _write(
                    "Create an area (areas only)", [COLLECTION_ID], "201", "createFeature"
                ),
            },
            "/collections/{collectionId}/items/{featureId}": _get(
                "A feature",
                [
                    COLLECTION_ID,
                    _parameter("featureId", "The feature.", {"type": "string"}, where="path"),
                    F,
                    CRS,
                ],
                _ok("A GeoJSON Feature.", "application/geo+json"),
                "getFeature",
            )
            | {
                "put": _write("Replace an area", FEATURE_PATH, "200", "replaceFeature"),
                "patch": _write("Update an area", FEATURE_PATH, "200", "updateFeature"),
                "delete": {
                    "summary": "Delete an area",
                    "operationId": "deleteFeature",
                    "description": "Only an area still in planning with no standing signup; "
                    "it is retired (kept in oanm's history) and gone from the collection. "
                    "Operators only (or a token with the write scope).",
                    "parameters": FEATURE_PATH,
                    "responses": {
                        "204": {"description": "Deleted."},
                        **ERRORS,
                        "409": {
                            **EXCEPTION,
                            "description": "Past planning, split, or with standing signups.",
                        },
                        "412": {**EXCEPTION, "description": "If-Match names an old ETag."},
                    },
                },
            },
        },
    }
