"""Shared API pieces: the error shape of DESIGN.md §10 (a message and per-field details)."""

from __future__ import annotations

from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(data, dict) and "detail" in data and len(data) == 1:
        body = {"message": str(data["detail"]), "errors": {}}
    elif isinstance(data, dict):
        body = {"message": "Invalid request.", "errors": data}
    else:
        body = {"message": "Invalid request.", "errors": {"non_field_errors": data}}
    response.data = body
    return response
