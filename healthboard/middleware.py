"""Request id: every request gets one (or keeps a sane one the client sent), it is echoed in
the ``X-Request-ID`` header and recorded on every audit record the request writes. NUL
characters in the URL are refused before any view runs."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

current_request: ContextVar[HttpRequest | None] = ContextVar("current_request", default=None)

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request.id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = current_request.set(request)
        try:
            response = self.get_response(request)
        finally:
            current_request.reset(token)
        response["X-Request-ID"] = request.id
        return response


class RejectNulMiddleware:
    """A NUL character in the path or a query parameter is a 400.

    PostgreSQL text cannot hold NUL, so such a value reaching a filter (``?system=%00``) would
    raise in the driver and answer 500. Bodies need no check here: DRF and Django form fields
    refuse NUL, and the ingest validator checks its own strings.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        bad = sorted(
            name.replace("\x00", "\\0")
            for name, values in request.GET.lists()
            if "\x00" in name or any("\x00" in v for v in values)
        )
        if "\x00" in request.path:
            bad.insert(0, "path")
        if not bad:
            return self.get_response(request)
        message = "NUL characters are not allowed in the URL."
        if request.path.startswith("/api/"):
            return JsonResponse(
                {"message": message, "errors": {name: ["contains NUL"] for name in bad}}, status=400
            )
        return HttpResponseBadRequest(message)
