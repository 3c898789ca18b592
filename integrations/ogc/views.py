"""OGC API – Features at /ogc/: landing page, conformance, OpenAPI, collections and items.

Plain Django views (the OGC door speaks its own JSON, not DRF's). Reading needs the owner's
staff: a signed-in session, or an API token with the `read` or `sync` scope (`Authorization:
Bearer oanm_…` or `Token oanm_…`) whose user is owner staff.
"""

from __future__ import annotations

import json
from functools import wraps
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import AuthenticationFailed

from accounts.authentication import ApiTokenAuthentication
from accounts.permissions import is_operator, is_owner_staff
from accounts.roles import TokenScope
from common.errors import DomainError
from integrations.ogc import collections as ogc
from integrations.ogc import edits
from integrations.ogc.errors import OgcError, bad_parameter, not_found
from integrations.ogc.openapi import openapi_document

GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    # Part 4 on areas: POST, PUT and DELETE (create-replace-delete), PATCH (update)
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
]
WRITABLE_COLLECTIONS = {"areas"}
READ_METHODS = ("GET", "HEAD")
# an editing client (QGIS, OWSLib) reads with the token it writes with
READ_SCOPES = (TokenScope.READ, TokenScope.SYNC, TokenScope.WRITE)
ITEMS_PARAMETERS = {"f", "limit", "after", "before", "bbox", "bbox-crs", "crs", "datetime"}
MAX_ID = 2**63 - 1


def _error(status: int, code: str, description: str) -> JsonResponse:
    response = JsonResponse({"code": code, "description": description}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="oanm OGC API"'
    return response


def _authorise(request: HttpRequest, *, write: bool = False):
    """Reading: owner staff by session, or an owner-staff token with the read or sync scope.
    Writing: operators by session (with the CSRF check), or an operator's token with the
    write scope. Returns the user."""
    try:
        found = ApiTokenAuthentication().authenticate(request)
    except AuthenticationFailed as exc:
        raise OgcError(401, "Unauthorized", str(exc.detail)) from None
    if found is not None:
        user, token = found
        if write and not token.has_scope(TokenScope.WRITE):
            raise OgcError(403, "Forbidden", "changes need an API token with the write scope")
        if not write and not any(token.has_scope(scope) for scope in READ_SCOPES):
            raise OgcError(403, "Forbidden", "this API token needs the read, sync or write scope")
    else:
        user = request.user
        if not user.is_authenticated:
            raise OgcError(401, "Unauthorized", "sign in or send an API token")
        if write:
            refused = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})
            if refused is not None:
                raise OgcError(403, "Forbidden", "CSRF check failed (send the CSRF token)")
    if write and not is_operator(user):
        raise OgcError(403, "Forbidden", "only operator admins and planners may change areas")
    if not is_owner_staff(user):
        raise OgcError(403, "Forbidden", "only the network owner's staff may read this data")
    return user


def ogc_view(*methods: str):
    """GET (and the write `methods` on writable collections), authorised, errors as OGC
    exception JSON. OPTIONS answers with the `Allow` header (QGIS asks it before editing)."""

    def decorate(view):
        @csrf_exempt  # tokens need no CSRF; sessions' writes are checked in _authorise
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            writable = kwargs.get("collection_id") in WRITABLE_COLLECTIONS
            allowed = (*READ_METHODS, *(methods if writable else ()), "OPTIONS")
            if request.method == "OPTIONS":
                response = HttpResponse(status=204)
            elif request.method not in allowed:
                response = _error(405, "MethodNotAllowed", f"{request.method} is not offered here")
            else:
                try:
                    write = request.method not in READ_METHODS
                    request.ogc_user = _authorise(request, write=write)
                    return view(request, *args, **kwargs)
                except OgcError as exc:
                    return _error(exc.status, exc.code, exc.description)
                except DomainError as exc:
                    return _error(exc.status_code or 400, exc.code, exc.message)
            response["Allow"] = ", ".join(allowed)
            return response

        return wrapped

    return decorate


def _format(request: HttpRequest) -> str:
    """ "html" or "json": `?f=` wins, else the Accept header (browsers ask for HTML)."""
    f = request.GET.get("f")
    if f is not None:
        if f not in ("json", "html", "geojson"):
            raise bad_parameter(f"f={f!r} is not offered; use json or html")
        return "html" if f == "html" else "json"
    accept = request.headers.get("Accept", "")
    if HTML in accept and "json" not in accept:
        return "html"
    return "json"


def _url(request: HttpRequest, path: str, **query) -> str:
    base = request.build_absolute_uri(f"/ogc/{path}")
    query = {key: value for key, value in query.items() if value is not None}
    return f"{base}?{urlencode(query)}" if query else base


def _links(request: HttpRequest, path: str, fmt: str, json_type: str = JSON, title: str = ""):
    """self + alternate links of a resource in its JSON and HTML encodings."""
    json_link = {"href": _url(request, path, f="json"), "type": json_type, "title": title}
    html_link = {"href": _url(request, path, f="html"), "type": HTML, "title": title}
    if fmt == "html":
        return [{**html_link, "rel": "self"}, {**json_link, "rel": "alternate"}]
    return [{**json_link, "rel": "self"}, {**html_link, "rel": "alternate"}]


def _respond(request, fmt: str, data: dict, *, title: str, content_type: str = JSON, **extra):
    if fmt == "html":
        return render(request, "ogc/page.html", {"title": title, "data": data, **extra})
    return HttpResponse(json.dumps(data, default=str), content_type=content_type)


def _collection(collection_id: str) -> ogc.Collection:
    collection = ogc.COLLECTIONS.get(collection_id)
    if collection is None:
        raise not_found(f"no collection {collection_id!r}; offered: {', '.join(ogc.COLLECTIONS)}")
    return collection


@ogc_view()
def landing(request):
    fmt = _format(request)
    data = {
        "title": "oanm OGC API – Features",
        "description": "Addresses (with their serviceability) and planning areas of the network.",
        "links": [
            *_links(request, "", fmt, title="this document"),
            {
                "rel": "service-desc",
                "type": "application/vnd.oai.openapi+json;version=3.0",
                "title": "the API definition",
                "href": _url(request, "api"),
            },
            {
                "rel": "service-doc",
                "type": HTML,
                "title": "the API documentation",
                "href": _url(request, "api", f="html"),
            },
            {
                "rel": "conformance",
                "type": JSON,
                "title": "conformance classes",
                "href": _url(request, "conformance"),
            },
            {
                "rel": "data",
                "type": JSON,
                "title": "collections",
                "href": _url(request, "collections"),
            },
        ],
    }
    return _respond(request, fmt, data, title=data["title"])


@ogc_view()
def conformance(request):
    fmt = _format(request)
    return _respond(request, fmt, {"conformsTo": CONFORMANCE}, title="Conformance")


@ogc_view()
def api(request):
    document = openapi_document(_url(request, ""))
    if _format(request) == "html":
        return render(request, "ogc/api.html", {"paths": document["paths"]})
    return HttpResponse(
        json.dumps(document), content_type="application/vnd.oai.openapi+json;version=3.0"
    )


def _collection_document(request, collection: ogc.Collection, fmt: str) -> dict:
    path = f"collections/{collection.id}"
    return {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "itemType": "feature",
        "extent": ogc.extent(collection),
        "crs": ogc.SUPPORTED_CRS,
        "storageCrs": ogc.CRS84,
        "links": [
            *_links(request, path, fmt, title=collection.title),
            {
                "rel": "items",
                "type": GEOJSON,
                "title": f"{collection.title} as GeoJSON",
                "href": _url(request, f"{path}/items", f="json"),
            },
            {
                "rel": "items",
                "type": HTML,
                "title": f"{collection.title} as HTML",
                "href": _url(request, f"{path}/items", f="html"),
            },
            {
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "type": "application/schema+json",
                "title": "queryables",
                "href": _url(request, f"{path}/queryables"),
            },
        ],
    }


@ogc_view()
def collections(request):
    fmt = _format(request)
    data = {
        "links": _links(request, "collections", fmt, title="collections"),
        "crs": ogc.SUPPORTED_CRS,
        "collections": [
            _collection_document(request, collection, fmt)
            for collection in ogc.COLLECTIONS.values()
        ],
    }
    return _respond(request, fmt, data, title="Collections", collections=data["collections"])


@ogc_view()
def collection(request, collection_id: str):
    fmt = _format(request)
    data = _collection_document(request, _collection(collection_id), fmt)
    return _respond(request, fmt, data, title=data["title"], collections=[data])


@ogc_view()
def queryables(request, collection_id: str):
    found = _collection(collection_id)
    properties = {"geometry": {"$ref": f"https://geojson.org/schema/{found.geometry_type}.json"}}
    for name, queryable in found.queryables.items():
        schema = {"type": queryable.type, "title": name}
        if queryable.enum:
            schema["enum"] = list(queryable.enum)
        properties[name] = schema
    data = {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": _url(request, f"collections/{found.id}/queryables"),
        "type": "object",
        "title": found.title,
        "properties": properties,
    }
    return HttpResponse(json.dumps(data), content_type="application/schema+json")


def _int(request, name: str, default: int | None, low: int, high: int) -> int | None:
    text = request.GET.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise bad_parameter(f"{name} must be an integer, not {text!r}") from None
    if not low <= value <= high:
        raise bad_parameter(f"{name} must be between {low} and {high}, not {value}")
    return value


def _items_query(request, found: ogc.Collection) -> ogc.ItemsQuery:
    unknown = sorted(set(request.GET) - ITEMS_PARAMETERS - set(found.queryables))
    if unknown:
        raise bad_parameter(
            f"unknown parameter {unknown[0]!r}; {found.id} can be filtered by "
            f"{', '.join(found.queryables)}"
        )
    query = ogc.ItemsQuery(collection=found)
    bbox = request.GET.get("bbox")
    if bbox is not None:
        query.bbox = ogc.parse_bbox(bbox, ogc.parse_crs(request.GET.get("bbox-crs"), "bbox-crs"))
    elif "bbox-crs" in request.GET:
        raise bad_parameter("bbox-crs needs a bbox")
    if "datetime" in request.GET:
        query.start, query.end = ogc.parse_datetime_param(request.GET["datetime"])
    for name in found.queryables:
        if name in request.GET:
            query.equals[name] = ogc.parse_queryable(found, name, request.GET[name])
    return query


def _geojson(request, fmt: str, data: dict, crs: str, *, title: str, **extra) -> HttpResponse:
    if fmt == "html":  # the table's rows, in the collection's column order
        columns = [name for name, _ in extra["collection"].properties]
        extra["columns"] = columns
        extra["rows"] = [
            (feature["id"], [feature["properties"].get(name) for name in columns])
            for feature in extra["features"]
        ]
        extra["map_features"] = extra["features"] if crs == ogc.CRS84 else []
    response = _respond(request, fmt, data, title=title, content_type=GEOJSON, **extra)
    response["Content-Crs"] = f"<{crs}>"
    return response


@ogc_view("POST")
def items(request, collection_id: str):
    found = _collection(collection_id)
    if request.method == "POST":
        return _create(request, found)
    fmt = _format(request)
    limit = _int(request, "limit", ogc.DEFAULT_LIMIT, 1, ogc.MAX_LIMIT)
    after = _int(request, "after", None, 0, MAX_ID)
    before = _int(request, "before", None, 0, MAX_ID)
    if after is not None and before is not None:
        raise bad_parameter("after and before exclude each other (follow the next/prev links)")
    crs = ogc.parse_crs(request.GET.get("crs"), "crs")
    query = _items_query(request, found)
    features, more = ogc.fetch_features(query, crs=crs, limit=limit, after=after, before=before)
    matched = ogc.count_features(query)
    path = f"collections/{found.id}/items"
    kept = {k: v for k, v in request.GET.items() if k not in ("f", "after", "before")}
    here = {"after": after, "before": before}
    links = [
        {
            "rel": "self" if fmt == "json" else "alternate",
            "type": GEOJSON,
            "title": "this page as GeoJSON",
            "href": _url(request, path, **kept, f="json", **here),
        },
        {
            "rel": "self" if fmt == "html" else "alternate",
            "type": HTML,
            "title": "this page as HTML",
            "href": _url(request, path, **kept, f="html", **here),
        },
        {
            "rel": "collection",
            "type": JSON,
            "title": found.title,
            "href": _url(request, f"collections/{found.id}"),
        },
    ]
    page_type = HTML if fmt == "html" else GEOJSON
    f = "html" if fmt == "html" else "json"
    # Paging backwards, a next page exists (the one we came from); forwards, if a row was left.
    if features and (more if before is None else True):
        links.append(
            {
                "rel": "next",
                "type": page_type,
                "title": "next page",
                "href": _url(request, path, **kept, f=f, after=features[-1]["id"]),
            }
        )
    if features and (after is not None if before is None else more):
        links.append(
            {
                "rel": "prev",
                "type": page_type,
                "title": "previous page",
                "href": _url(request, path, **kept, f=f, before=features[0]["id"]),
            }
        )
    data = {
        "type": "FeatureCollection",
        "features": features,
        "links": links,
        "timeStamp": timezone.now().isoformat(timespec="seconds").replace("+00:00", "Z"),
        "numberMatched": matched,
        "numberReturned": len(features),
    }
    return _geojson(
        request,
        fmt,
        data,
        crs,
        title=f"{found.title}: {len(features)} of {matched} features",
        features=features,
        collection=found,
    )


@ogc_view("PUT", "PATCH", "DELETE")
def item(request, collection_id: str, feature_id: str):
    found = _collection(collection_id)
    if request.method in ("PUT", "PATCH"):
        return _change(request, found, feature_id)
    if request.method == "DELETE":
        return _delete(request, feature_id)
    fmt = _format(request)
    unknown = sorted(set(request.GET) - {"f", "crs"})
    if unknown:
        raise bad_parameter(f"unknown parameter {unknown[0]!r}; a feature takes f and crs")
    crs = ogc.parse_crs(request.GET.get("crs"), "crs")
    if not feature_id.isdigit() or int(feature_id) > MAX_ID:
        raise not_found(f"no feature {feature_id!r} in {found.id}")
    query = ogc.ItemsQuery(collection=found, feature_id=int(feature_id))
    features, _ = ogc.fetch_features(query, crs=crs, limit=1)
    if not features:
        raise not_found(f"no feature {feature_id!r} in {found.id}")
    feature = features[0]
    path = f"collections/{found.id}/items/{feature_id}"
    feature["links"] = [
        *_links(request, path, fmt, json_type=GEOJSON, title="this feature"),
        {
            "rel": "collection",
            "type": JSON,
            "title": found.title,
            "href": _url(request, f"collections/{found.id}"),
        },
    ]
    response = _geojson(
        request,
        fmt,
        feature,
        crs,
        title=f"{found.title}: {feature_id}",
        features=[feature],
        collection=found,
    )
    response["ETag"] = edits.etag(feature["id"], feature["properties"]["updated_at"])
    return response


def _body(request):
    try:
        return json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise bad_parameter("the body is not JSON (send a GeoJSON Feature)") from None


def _written(request, found: ogc.Collection, area_id: int, status: int) -> HttpResponse:
    query = ogc.ItemsQuery(collection=found, feature_id=area_id)
    (feature,), _ = ogc.fetch_features(query, crs=ogc.CRS84, limit=1)
    response = HttpResponse(json.dumps(feature), content_type=GEOJSON, status=status)
    response["ETag"] = edits.etag(area_id, feature["properties"]["updated_at"])
    response["Location"] = _url(request, f"collections/{found.id}/items/{area_id}")
    return response


def _create(request, found: ogc.Collection) -> HttpResponse:
    crs = ogc.parse_crs(request.headers.get("Content-Crs", "").strip("<>"), "Content-Crs")
    area = edits.ogc_area_create(body=_body(request), crs=crs)
    return _written(request, found, area.pk, 201)


def _change(request, found: ogc.Collection, feature_id: str) -> HttpResponse:
    if not feature_id.isdigit() or int(feature_id) > MAX_ID:
        raise not_found(f"no feature {feature_id!r} in {found.id}")
    crs = ogc.parse_crs(request.headers.get("Content-Crs", "").strip("<>"), "Content-Crs")
    area = edits.ogc_area_change(
        feature_id=int(feature_id),
        body=_body(request),
        crs=crs,
        if_match=request.headers.get("If-Match"),
        replace=request.method == "PUT",
        actor=request.ogc_user,
    )
    return _written(request, found, area.pk, 200)


def _delete(request, feature_id: str) -> HttpResponse:
    if not feature_id.isdigit() or int(feature_id) > MAX_ID:
        raise not_found(f"no feature {feature_id!r} in areas")
    edits.ogc_area_delete(
        feature_id=int(feature_id),
        if_match=request.headers.get("If-Match"),
        actor=request.ogc_user,
    )
    return HttpResponse(status=204)
