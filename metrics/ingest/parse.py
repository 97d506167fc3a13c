"""Body parsing: ``{"events": [...]}`` JSON or NDJSON, into a list of records.

orjson parses the common case; it refuses ``NaN``/``Infinity`` literals and numbers that
overflow a double, so on its error the standard library parses again and those values reach
validation, which rejects them per record with the field named (DESIGN.md §12: a precise
error, never a 500). orjson also refuses a lone UTF-16 surrogate escape (``"\\ud800"``), which
the standard library would let through into a string that cannot be encoded as UTF-8:
such a text is unreadable here too. An NDJSON line that is not JSON is one rejected record,
not a 400.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import orjson

from metrics.ingest.limits import BadBody, PayloadTooLarge


def _loads(data: bytes | str):
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return _loads_lenient(data)


def _loads_lenient(data: bytes | str):
    """The standard library's parse (NaN, ±Infinity, huge numbers), refusing lone surrogates."""
    value = json.loads(data)
    if ("\\u" if isinstance(data, str) else b"\\u") in data:
        json.dumps(value, ensure_ascii=False).encode()  # UnicodeEncodeError (a ValueError) on one
    return value


@dataclass
class Parsed:
    """Records of a request; ``raw_lines`` keeps NDJSON lines (for quarantine)."""

    records: list
    document: dict = field(default_factory=dict)  # the JSON body without its list (e.g. model)
    raw_lines: list[bytes] | None = None
    unreadable: dict[int, str] = field(default_factory=dict)  # index -> JSON error (NDJSON)


def _check_count(n: int, limit: int, key: str) -> None:
    if n > limit:
        raise PayloadTooLarge(
            f"{n} {key} in one request; the limit is {limit}. Split them into several requests.",
            {key: [f"more than {limit} records"]},
        )


def parse_json_document(body: bytes, key: str, limit: int) -> Parsed:
    if not body.strip():
        raise BadBody("The request body is empty.", {key: ["is required"]})
    try:
        document = _loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadBody(f"The body is not valid JSON: {exc}", {"body": ["invalid JSON"]}) from None
    if not isinstance(document, dict):
        raise BadBody(
            f'The body must be a JSON object like {{"{key}": [...]}}.', {"body": ["must be an object"]}
        )
    records = document.pop(key, None)
    if records is None:
        raise BadBody(f'The body has no "{key}" list.', {key: ["is required"]})
    if not isinstance(records, list):
        raise BadBody(f'"{key}" must be a list.', {key: ["must be an array"]})
    _check_count(len(records), limit, key)
    return Parsed(records=records, document=document)


def parse_ndjson(body: bytes, key: str, limit: int) -> Parsed:
    lines = [line for line in body.split(b"\n") if line.strip()]
    _check_count(len(lines), limit, key)
    if not lines:
        raise BadBody("The request body has no NDJSON lines.", {key: ["is required"]})
    records = []
    unreadable = {}
    loads = orjson.loads
    append = records.append
    for index, line in enumerate(lines):
        try:
            append(loads(line))
        except orjson.JSONDecodeError:
            try:
                append(_loads_lenient(line))
            except (ValueError, UnicodeDecodeError) as exc:
                append(None)
                unreadable[index] = f"invalid JSON: {exc}"
    return Parsed(records=records, raw_lines=lines, unreadable=unreadable)


def parse_records(body: bytes, *, ndjson: bool, key: str, limit: int) -> Parsed:
    if ndjson:
        return parse_ndjson(body, key, limit)
    return parse_json_document(body, key, limit)


def raw_text(parsed: Parsed, index: int) -> str:
    """The record as received, as JSON text (NaN kept as ``NaN``), for the quarantine."""
    if parsed.raw_lines is not None:
        return parsed.raw_lines[index].decode("utf-8", errors="replace")
    return json.dumps(parsed.records[index], ensure_ascii=False, default=str)
