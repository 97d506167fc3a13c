"""Array columns that work on both databases.

On PostgreSQL they are native arrays (``double precision[]`` / ``text[]``), which binary COPY
fills without any text parsing and which load a window's feature columns in one fetch. On
SQLite (the embedded demo database) the same fields are JSON text, so the model, the ORM and
the ingestion code path stay the same.
"""

from __future__ import annotations

import json

from django.db import models

__all__ = ["FloatArrayField", "TextArrayField"]


class _ArrayField(models.Field):
    pg_type = ""

    def db_type(self, connection) -> str:
        return self.pg_type if connection.vendor == "postgresql" else "text"

    def from_db_value(self, value, expression, connection):
        if value is None or isinstance(value, list):
            return value
        return json.loads(value)

    def to_python(self, value):
        if value is None or isinstance(value, list):
            return value
        if isinstance(value, str):
            return json.loads(value)
        return list(value)

    def get_db_prep_value(self, value, connection, prepared=False):
        if value is None:
            return None
        if connection.vendor == "postgresql":
            return list(value)
        return json.dumps(list(value), allow_nan=False)


class FloatArrayField(_ArrayField):
    """A list of floats (``None`` for a missing value)."""

    description = "Array of double precision"
    pg_type = "double precision[]"


class TextArrayField(_ArrayField):
    """A list of strings (``None`` for a missing value)."""

    description = "Array of text"
    pg_type = "text[]"
