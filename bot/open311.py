"""The Open311 GeoReport v2 door at ``/open311/v2/``: parse, call ``services.open311`` /
``services.open311_intake``, answer in JSON or XML.

    GET  /open311/v2/services.{json|xml}              the service list (ticket categories)
    GET  /open311/v2/services/{service_code}.{fmt}    a service definition (no attributes)
    GET  /open311/v2/requests.{fmt}                   requests; filters service_request_id,
                                                      service_code, start_date, end_date,
                                                      status, jurisdiction_id
    POST /open311/v2/requests.{fmt}                   a new request (form fields; api_key)
    GET  /open311/v2/requests/{service_request_id}.{fmt}
    GET  /open311/discovery.{fmt}                     the service discovery document

The format is the path's extension; without one, ``Accept`` decides (XML when it names xml,
else JSON). XML follows the spec's examples (``<services><service>``,
``<service_requests><request>``, ``<service_definition>``, ``<errors><error>``), UTF-8 with
the XML declaration. Errors are ``[{"code", "description"}]`` with that HTTP status: 400 a
bad parameter, 403 a missing/invalid api_key, 404 an unknown service or request, 429 a key
past its POSTs per minute/hour (``services.open311_limit``; with Retry-After). GET needs no
key (GeoReport reads are public; nothing personal is shown: ``services.open311``).
Source: wiki.open311.org/GeoReport_v2, wiki.open311.org/Service_discovery
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlmodel import Session

from services import api_keys
from services import open311 as reads
from services.errors import Invalid, NotAllowed, NotFound
from services.messages import msg
from services.open311_intake import submit
from services.open311_limit import PostLimit
from storage.db import session_scope
from storage.times import utcnow

router = APIRouter(prefix="/open311", tags=["open311"])

FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
ITEM_NAMES = {"services": "service", "service_requests": "request", "errors": "error",
              "attributes": "attribute", "values": "value", "endpoints": "endpoint",
              "formats": "format"}
"""XML element of each member of a list, by the list's element name (the spec's examples)."""
DENIED = {"api_key": "open311.error_api_key",
          "open311_jurisdiction": "open311.error_jurisdiction_key"}
"""Catalogue sentence of each NotAllowed action the door meets."""
DISCOVERY_CHANGESET = "2026-11-29T00:00:00Z"
"""When this door's interface last changed (the discovery document's ``changeset``)."""


class _Refused(Exception):
    """An Open311 error answer: HTTP ``status`` and the spec's error description;
    ``retry_after_s`` (seconds) becomes a Retry-After header when given."""

    def __init__(self, status: int, description: str, retry_after_s: int | None = None
                 ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after_s = retry_after_s


def _format(request: Request, name: str) -> tuple[str, str]:
    """(``name`` without its extension, "json" | "xml"). Raises _Refused (400) for another
    extension."""
    stem, dot, ext = name.rpartition(".")
    if dot and ext.lower() in FORMATS:
        return stem, ext.lower()
    if dot and not any(c in ext for c in "-_") and ext.isalpha():  # e.g. .csv, .html
        raise _Refused(400, msg("open311.error_format"))
    accept = request.headers.get("accept", "")
    return name, "xml" if "xml" in accept.lower() else "json"


def _answer(fmt: str, root: str, body: Any, status: int = 200) -> Response:
    """``body`` (a list, or one dict for a single-object root) as JSON or XML."""
    if fmt == "json":
        return JSONResponse(body, status_code=status, media_type=FORMATS["json"])
    element = _element(root, body)
    ET.indent(element)
    text = ET.tostring(element, encoding="unicode", xml_declaration=False)
    return Response('<?xml version="1.0" encoding="utf-8"?>\n' + text, status_code=status,
                    media_type=FORMATS["xml"])


def _element(name: str, value: Any) -> ET.Element:
    """One XML element: dicts become child elements in order, lists repeat ``ITEM_NAMES``
    members, booleans "true"/"false", None an empty element."""
    element = ET.Element(name)
    if isinstance(value, dict):
        for key, child in value.items():
            element.append(_element(key, child))
    elif isinstance(value, list):
        for child in value:
            element.append(_element(ITEM_NAMES.get(name, "item"), child))
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = _XML_ILLEGAL.sub("\ufffd", str(value))
    return element


_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
"""Characters XML 1.0 cannot carry even escaped (a resident's text may hold them);
ElementTree writes them as they are, which no client could parse: they become U+FFFD."""


def _error(fmt: str, status: int, description: str, retry_after_s: int | None = None
           ) -> Response:
    response = _answer(fmt, "errors", [{"code": status, "description": description}], status)
    if retry_after_s is not None:
        response.headers["Retry-After"] = str(retry_after_s)
    return response


@contextmanager
def _session(request: Request, write: bool = False) -> Iterator[Session]:
    """A database session on the app's engine (committed when ``write``)."""
    if write:
        with session_scope(request.app.state.engine) as session:
            yield session
    else:
        with Session(request.app.state.engine) as session:
            yield session


def _tz(request: Request) -> str:
    return request.app.state.settings.timezone


def _now(request: Request):
    clock = getattr(request.app.state, "clock", None) or utcnow
    return clock()


def _respond(request: Request, name: str, action: Callable[[str, str], Response]
             ) -> Response:
    """Run ``action(stem, fmt)`` for the path's last segment ``name`` and map the services'
    errors to the spec's error answers."""
    try:
        stem, fmt = _format(request, name)
    except _Refused as exc:
        return _error("json", exc.status, exc.description)
    try:
        return action(stem, fmt)
    except _Refused as exc:
        return _error(fmt, exc.status, exc.description, exc.retry_after_s)
    except NotAllowed as exc:
        return _error(fmt, 403, msg(DENIED.get(exc.action, "open311.error_api_key")))
    except NotFound as exc:
        return _error(fmt, 404, str(exc))
    except Invalid as exc:
        return _error(fmt, 400, str(exc))


@router.get("/v2/services{ext:path}")
def services(request: Request, ext: str) -> Response:
    """GET services.{fmt} (``ext`` ".json"/".xml"/"") and GET services/{code}.{fmt}
    (``ext`` "/<code>.<fmt>")."""
    if ext.startswith("/"):
        return _respond(request, ext[1:], lambda code, fmt: _answer(
            fmt, "service_definition", reads.definition(code)))
    if ext and not ext.startswith("."):
        return _error("json", 404, msg("open311.error_method"))
    return _respond(request, "services" + ext, lambda _, fmt: _answer(
        fmt, "services", [s.fields() for s in reads.services()]))


@router.get("/v2/requests{ext:path}")
def requests(request: Request, ext: str) -> Response:
    """GET requests.{fmt} with the spec's filters, and GET requests/{id}.{fmt}."""
    if ext.startswith("/"):
        def one(number: str, fmt: str) -> Response:
            with _session(request) as session:
                return _answer(fmt, "service_requests",
                               [reads.request(session, number, _tz(request))])

        return _respond(request, ext[1:], one)
    if ext and not ext.startswith("."):
        return _error("json", 404, msg("open311.error_method"))

    def many(_: str, fmt: str) -> Response:
        with _session(request) as session:
            params = {k: ",".join(request.query_params.getlist(k))  # status=open&status=closed
                      for k in request.query_params}
            query = reads.parse_query(session, params, _now(request), _tz(request))
            return _answer(fmt, "service_requests", reads.find(session, query, _tz(request)))

    return _respond(request, "requests" + ext, many)


@router.post("/v2/requests{ext:path}")
async def create_request(request: Request, ext: str) -> Response:
    """POST requests.{fmt}: form fields of the spec (api_key in the form or the query)."""
    if ext and not ext.startswith("."):
        return _error("json", 404, msg("open311.error_method"))
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    key = form.pop("api_key", None) or request.query_params.get("api_key")
    settings = request.app.state.settings

    def create(_: str, fmt: str) -> Response:
        with _session(request, write=True) as session:
            client = api_keys.verify(session, key)
            _within_limit(request, client.id)
            _, answer = submit(session, client, form, _now(request), settings.ticket_prefix)
        return _answer(fmt, "service_requests", [answer], 201)

    return _respond(request, "requests" + ext, create)


def _within_limit(request: Request, key_id: int) -> None:
    """Count one POST by API key ``key_id``; raises _Refused (429, with Retry-After) when the
    key is past ``GRIDBOT_OPEN311_POSTS_PER_MINUTE`` or ``_PER_HOUR``."""
    settings = request.app.state.settings
    limit = getattr(request.app.state, "open311_limit", None)
    if limit is None:  # one per app: the script is registered once
        limit = request.app.state.open311_limit = PostLimit(
            request.app.state.redis, settings.open311_posts_per_minute,
            settings.open311_posts_per_hour)
    verdict = limit.take(key_id, _now(request))
    if not verdict.allowed:
        raise _Refused(429, msg("open311.error_rate_limited",
                                per_minute=limit.per_minute, per_hour=limit.per_hour,
                                seconds=verdict.retry_after_s), verdict.retry_after_s)


def _origin(request: Request) -> str:
    """``https://host`` of this site: from ``GRIDBOT_CONSOLE_URL`` when set (a forged Host
    header must not put another site into a cacheable public document), else as the request
    came in."""
    configured = request.app.state.settings.console_url
    if configured:
        parts = urlsplit(configured.strip())
        if parts.scheme in ("http", "https") and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}"
    return str(request.base_url).rstrip("/")


@router.get("/discovery{ext:path}")
def discovery(request: Request, ext: str) -> Response:
    """The service discovery document (wiki.open311.org/Service_discovery)."""
    if ext and not ext.startswith("."):
        return _error("json", 404, msg("open311.error_method"))
    base = _origin(request) + router.prefix + "/v2/"
    body = {"changeset": DISCOVERY_CHANGESET, "contact": msg("open311.discovery_contact"),
            "key_service": msg("open311.discovery_key_service"),
            "endpoints": [{"specification": reads.SPEC, "url": base,
                           "changeset": DISCOVERY_CHANGESET, "type": "production",
                           "formats": ["text/xml", "application/json"]}]}
    return _respond(request, "discovery" + ext, lambda _, fmt: _answer(fmt, "discovery", body))
