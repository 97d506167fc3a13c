"""Shared API pieces: the error shape of DESIGN.md §10 (a message and per-field details), and
the pagination every list uses."""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils.dateparse import parse_datetime
from rest_framework import pagination, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.views import exception_handler as drf_exception_handler

MAX_PAGE_SIZE = 1000
MAX_OFFSET = 2**31 - 1  # beyond any real list (a number past 2**63 would overflow the database)
MAX_ID = 2**63 - 1  # the largest primary key (bigint)
ID_SCHEMA = {"type": "integer", "minimum": 0, "maximum": MAX_ID}  # an id query parameter


def query_int(params, name: str, *, minimum: int = 0, maximum: int = MAX_ID) -> int | None:
    """The integer query parameter ``name`` (None when absent); anything but a plain decimal
    integer within the bounds — ``abc``, ``²``, an empty value, 5,000 digits — is a 400 naming it."""
    raw = params.get(name)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19 and minimum <= int(raw) <= maximum):
        raise ValidationError({name: [f"Must be an integer from {minimum} to {maximum}."]})
    return int(raw)


def instant_or_none(raw, *, assume_utc: bool = False) -> datetime | None:
    """An ISO 8601 date-time with a timezone (or none, read as UTC, with ``assume_utc``), in UTC;
    None for anything else. In UTC because PostgreSQL refuses offsets beyond ±15:59 that Python
    parses (``+16:54``); a valid-looking but impossible date (Feb 30, on which Django's
    ``parse_datetime`` raises) and one that leaves the calendar once in UTC (year 1 at +05:00)
    are None, not exceptions."""
    try:
        value = parse_datetime(str(raw))
        if value is not None and (value.tzinfo is not None or assume_utc):
            return value.replace(tzinfo=value.tzinfo or UTC).astimezone(UTC)
    except (ValueError, OverflowError):
        pass
    return None


def parse_instant(raw, name: str, *, assume_utc: bool = False) -> datetime:
    """``instant_or_none``, or a 400 naming the field."""
    value = instant_or_none(raw, assume_utc=assume_utc)
    if value is None:
        raise ValidationError({name: [f"{str(raw)[:64]!r} is not an ISO 8601 date-time with a timezone."]})
    return value


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """DRF's ``?limit=&offset=``, except that a malformed or out-of-range value is a 400 naming
    the parameter (DRF silently falls back to the defaults) and a page holds at most
    ``MAX_PAGE_SIZE`` rows."""

    max_limit = MAX_PAGE_SIZE

    def get_limit(self, request) -> int:
        return self._bounded(request, self.limit_query_param, self.default_limit, 1, self.max_limit)

    def get_offset(self, request) -> int:
        return self._bounded(request, self.offset_query_param, 0, 0, MAX_OFFSET)

    @staticmethod
    def _bounded(request, name: str, default: int, low: int, high: int) -> int:
        value = query_int(request.query_params, name, minimum=low, maximum=high)
        return default if value is None else value

    def get_schema_operation_parameters(self, view) -> list[dict]:
        bounds = {
            self.limit_query_param: {"minimum": 1, "maximum": self.max_limit, "default": self.default_limit},
            self.offset_query_param: {"minimum": 0, "maximum": MAX_OFFSET, "default": 0},
        }
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"].update(bounds[parameter["name"]])
        return parameters


class ApiErrorSerializer(serializers.Serializer):
    """The body of every 4xx answer of the API (documented by ``healthboard.schema``)."""

    message = serializers.CharField()
    errors = serializers.DictField(help_text="Per-field messages: {field: [message, …]}; {} when none.")


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
