"""Per-record validation: every error names the field and the reason.

The loops work on plain dicts straight from the JSON parser, with no serializer and no
per-field function calls on the happy path: at 50,000 events/s a microsecond per event is
5% of the budget. A record that fails any rule is rejected whole (and quarantined by the
caller) with ``{field: [message]}``; a record that passes becomes a storage row.

Rules (DESIGN.md §10, §12):

* required: ``event_id``, ``model``, ``model_version``, ``environment``, ``timestamp``
  (reference rows need none of them); any other top-level key is an unknown field;
* ``event_id``: a string (an integer is taken as its decimal text) of 1 to 128 characters;
* no text value may contain NUL (JSON ``\\u0000``), which PostgreSQL text cannot store;
* ``timestamp``: ISO 8601 with a timezone, not more than 1 day in the future, not older than
  the raw-event retention;
* ``latency_ms``: a finite number, 0 ≤ x ≤ 86,400,000 (one day), or null;
* ``error``: a boolean (null = false);
* ``prediction``, ``label``: a finite number or a boolean (true = 1), or null; ``score``: a
  finite number, within [0, 1] for a binary classification model, or null;
* ``features``: an object; a name the model does not declare is an error; a numeric feature
  takes a finite number or null; a categorical one a string (integers and booleans are taken
  as text) or null; a declared feature that is absent is null;
* ``cohort``: an object of declared cohort attributes, values as for categorical features;
* NaN and ±Infinity anywhere: "must be finite"; a number beyond a double's range: "is out of
  range";
* ``model``: a model of the token's system, or the record is rejected; an unknown
  ``model_version`` or ``environment`` of a known model is registered automatically.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from metrics.ingest.context import ModelInfo, SystemContext, check_environment, check_version

EVENT_FIELDS = frozenset(
    {
        "event_id",
        "model",
        "model_version",
        "environment",
        "timestamp",
        "latency_ms",
        "error",
        "features",
        "prediction",
        "score",
        "label",
        "cohort",
    }
)
REQUIRED_EVENT_FIELDS = ("event_id", "model", "model_version", "environment", "timestamp")
LABEL_FIELDS = frozenset({"event_id", "label", "timestamp"})
MAX_EVENT_ID = 128
MAX_LATENCY_MS = 86_400_000.0
MAX_TEXT = 256
PENDING = -1  # a route whose deployment is still to be registered

_JSON_TYPES = {
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    dict: "object",
    list: "array",
    type(None): "null",
}

_FLOAT_ONLY = frozenset({float})
_STR_ONLY = frozenset({str})
NOT_FINITE = "must be finite (NaN and Infinity are not allowed)"
HAS_NUL = "must not contain NUL characters"
OUT_OF_RANGE = "is out of range for a double-precision number"


def json_type(value) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


@dataclass
class Rejection:
    index: int
    event_id: str | None
    errors: dict[str, list[str]]
    reason: str

    def as_response(self) -> dict:
        return {"index": self.index, "event_id": self.event_id, "errors": self.errors}


@dataclass
class ValidEvents:
    """Valid records as storage rows; ``routes[i]`` names the deployment of ``rows[i]``."""

    rows: list[tuple] = field(default_factory=list)
    indexes: list[int] = field(default_factory=list)
    routes: list[tuple[str, str, str]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    pending_routes: set[tuple[str, str, str]] = field(default_factory=set)
    min_ts: datetime | None = None
    max_ts: datetime | None = None


class _Errors:
    """Collects ``{field: [message]}`` and the code of the first error."""

    __slots__ = ("errors", "reason")

    def __init__(self):
        self.errors: dict[str, list[str]] = {}
        self.reason = ""

    def add(self, name: str, code: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)
        if not self.reason:
            self.reason = code


def _parse_timestamp(value, errs: _Errors, name: str = "timestamp") -> datetime | None:
    if type(value) is not str:
        errs.add(name, "type", f"must be an ISO 8601 string, got {json_type(value)}")
        return None
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        errs.add(name, "timestamp_invalid", f"is not an ISO 8601 timestamp: {value[:64]!r}")
        return None
    if ts.tzinfo is None:
        errs.add(name, "timestamp_no_timezone", "has no timezone; add 'Z' or an offset such as '+00:00'")
        return None
    return ts


def _number(value, name: str, errs: _Errors, *, allow_bool: bool = False) -> float | None:
    """A finite float from a JSON number (or boolean when allowed); errors otherwise."""
    t = type(value)
    if t is float:
        if value - value != 0.0:  # NaN or ±inf
            errs.add(name, "not_finite", NOT_FINITE)
            return None
        return value
    if t is int:
        try:
            return float(value)
        except OverflowError:
            errs.add(name, "out_of_range", OUT_OF_RANGE)
            return None
    if t is bool and allow_bool:
        return 1.0 if value else 0.0
    expected = "a number or a boolean" if allow_bool else "a number"
    errs.add(name, "type", f"must be {expected}, got {json_type(value)}")
    return None


def _text(value, name: str, errs: _Errors) -> str | None:
    t = type(value)
    if t is str:
        if len(value) > MAX_TEXT:
            errs.add(name, "too_long", f"must be at most {MAX_TEXT} characters")
            return None
        if "\x00" in value:
            errs.add(name, "invalid", HAS_NUL)
            return None
        return value
    if t is bool:
        return "true" if value else "false"
    if t is int:
        return str(value)
    errs.add(name, "type", f"must be a string, got {json_type(value)}")
    return None


def _unknown_features(info: ModelInfo, names) -> list[str]:
    known = set(info.numeric) | set(info.categorical)
    return sorted(str(n) for n in names if n not in known)


def _declared(names: list[str]) -> str:
    return ", ".join(names) if names else "none"


def _event_id(value, errs: _Errors, *, required: bool) -> str | None:
    if value is None:
        if required:
            errs.add("event_id", "required", "is required")
        return None
    t = type(value)
    if t is int:
        value = str(value)
    elif t is not str:
        errs.add("event_id", "type", f"must be a string, got {json_type(value)}")
        return None
    if not 0 < len(value) <= MAX_EVENT_ID:
        errs.add("event_id", "invalid", f"must be 1 to {MAX_EVENT_ID} characters")
        return None
    if "\x00" in value:
        errs.add("event_id", "invalid", HAS_NUL)
        return None
    return value


def validate_events(
    records: list,
    ctx: SystemContext,
    *,
    now: datetime,
    retention_cutoff: datetime | None,
    max_future: timedelta | None,
    unreadable: dict[int, str] | None = None,
    reference: ModelInfo | None = None,
    reference_version: str = "",
) -> ValidEvents:
    """Validate events (or, with ``reference`` set, reference rows of that model).

    Each valid record becomes the row ``(ts, latency_ms, prediction, score, label, error,
    event_id, numeric, categorical, cohort)``.
    """
    out = ValidEvents()
    rows_append = out.rows.append
    idx_append = out.indexes.append
    route_append = out.routes.append
    rejected_append = out.rejected.append
    unreadable = unreadable or {}
    latest = now + max_future if max_future is not None else None
    route_state: dict[tuple, object] = {}  # route -> deployment id | PENDING | _Errors
    min_ts = max_ts = None
    is_reference = reference is not None
    allowed = EVENT_FIELDS
    isfinite = math.isfinite
    fromisoformat = datetime.fromisoformat
    models_get = ctx.models.get
    for prepared in [*ctx.models.values(), *([reference] if reference is not None else [])]:
        _prepare(prepared)

    for index, ev in enumerate(records):
        if type(ev) is not dict:
            errs = _Errors()
            if index in unreadable:
                errs.add("_record", "invalid_json", unreadable[index])
            else:
                errs.add("_record", "type", f"must be a JSON object, got {json_type(ev)}")
            rejected_append(Rejection(index, None, errs.errors, errs.reason))
            continue
        errs = None

        if not ev.keys() <= allowed:
            errs = errs or _Errors()
            for key in sorted(str(k) for k in ev.keys() - allowed):
                errs.add(key, "unknown_field", "unknown field")

        # --- identity and routing --------------------------------------------------------
        event_id = ev.get("event_id")
        if type(event_id) is not str or not 0 < len(event_id) <= MAX_EVENT_ID or "\x00" in event_id:
            errs = errs or _Errors()
            event_id = _event_id(event_id, errs, required=not is_reference)

        model = ev.get("model")
        version = ev.get("model_version")
        environment = ev.get("environment")
        route = None
        if is_reference:
            info = reference
            if model is not None and model != reference.slug:
                errs = errs or _Errors()
                errs.add("model", "mismatch", f"must be the reference's model {reference.slug!r} or absent")
            if version is not None and version != reference_version:
                errs = errs or _Errors()
                errs.add(
                    "model_version",
                    "mismatch",
                    f"must be the reference's version {reference_version!r} or absent",
                )
            if environment is not None and check_environment(environment):
                errs = errs or _Errors()
                errs.add("environment", "invalid_slug", check_environment(environment))
        else:
            try:
                info = models_get(model)
            except TypeError:  # unhashable (an object or a list)
                info = None
            if info is None:
                errs = errs or _Errors()
                if model is None:
                    errs.add("model", "required", "is required")
                elif type(model) is not str:
                    errs.add("model", "type", f"must be a string, got {json_type(model)}")
                else:
                    errs.add(
                        "model",
                        "unknown_model",
                        f"unknown model {model[:64]!r} in system {ctx.system.slug!r} "
                        f"(declared: {_declared(sorted(ctx.models))})",
                    )
            route = (model, version, environment)
            try:
                state = route_state[route]
            except KeyError:
                state = route_state[route] = _route_state(ctx, info, model, version, environment)
            except TypeError:  # an unhashable value: never a valid route
                state = _route_state(ctx, info, model, version, environment)
                route = None
            if type(state) is _Errors:
                errs = errs or _Errors()
                for name, messages in state.errors.items():
                    for message in messages:
                        errs.add(name, state.reason, message)

        # --- timestamp -------------------------------------------------------------------
        raw_ts = ev.get("timestamp")
        ts = None
        if raw_ts is None:
            if not is_reference:
                errs = errs or _Errors()
                errs.add("timestamp", "required", "is required")
        else:
            try:
                ts = fromisoformat(raw_ts) if type(raw_ts) is str else None
            except ValueError:
                ts = None
            if ts is None or ts.tzinfo is None:
                errs = errs or _Errors()
                ts = _parse_timestamp(raw_ts, errs)
            elif not is_reference:
                if ts > latest:
                    errs = errs or _Errors()
                    errs.add("timestamp", "timestamp_future", "is more than 1 day in the future")
                elif retention_cutoff is not None and ts < retention_cutoff:
                    errs = errs or _Errors()
                    errs.add(
                        "timestamp",
                        "timestamp_expired",
                        f"is older than the raw-event retention (before {retention_cutoff:%Y-%m-%d %H:%M} UTC)",
                    )

        # --- service and output fields -----------------------------------------------------
        latency = ev.get("latency_ms")
        if latency is not None:
            if type(latency) is float and 0.0 <= latency <= MAX_LATENCY_MS:
                pass
            elif type(latency) is int and 0 <= latency <= MAX_LATENCY_MS:
                latency = float(latency)
            else:
                errs = errs or _Errors()
                value = _number(latency, "latency_ms", errs)
                if value is not None:
                    if value < 0:
                        errs.add("latency_ms", "out_of_range", "must be ≥ 0")
                    else:
                        errs.add("latency_ms", "out_of_range", "must be at most 86400000 (one day)")
                latency = None
        error = ev.get("error")
        if error is None:
            error = False
        elif type(error) is not bool:
            errs = errs or _Errors()
            errs.add("error", "type", f"must be a boolean, got {json_type(error)}")
        prediction = ev.get("prediction")
        if prediction is not None and type(prediction) is not float:
            if type(prediction) is int:
                try:
                    prediction = float(prediction)
                except OverflowError:
                    errs = errs or _Errors()
                    errs.add("prediction", "out_of_range", OUT_OF_RANGE)
                    prediction = None
            else:
                errs = errs or _Errors()
                prediction = _number(prediction, "prediction", errs, allow_bool=True)
        label = ev.get("label")
        if label is not None and type(label) is not float:
            if type(label) is int:
                try:
                    label = float(label)
                except OverflowError:
                    errs = errs or _Errors()
                    errs.add("label", "out_of_range", OUT_OF_RANGE)
                    label = None
            else:
                errs = errs or _Errors()
                label = _number(label, "label", errs, allow_bool=True)
        score = ev.get("score")
        if score is not None and type(score) is not float:
            errs = errs or _Errors()
            score = _number(score, "score", errs)
        # NaN / ±inf (only possible from the standard-library fallback parse) fail here:
        # x - x is 0.0 for every finite float and NaN otherwise.
        if prediction is not None and prediction - prediction != 0.0:
            errs = errs or _Errors()
            errs.add("prediction", "not_finite", NOT_FINITE)
        if label is not None and label - label != 0.0:
            errs = errs or _Errors()
            errs.add("label", "not_finite", NOT_FINITE)
        if score is not None:
            if score - score != 0.0:
                errs = errs or _Errors()
                errs.add("score", "not_finite", NOT_FINITE)
            elif info is not None and info.binary and not 0.0 <= score <= 1.0:
                errs = errs or _Errors()
                errs.add("score", "out_of_range", "must be between 0 and 1 for a binary classification model")

        # --- features and cohort ----------------------------------------------------------
        numeric = categorical = cohort = None
        if info is not None:
            feats = ev.get("features")
            if feats is None:
                numeric = [None] * len(info.numeric)
                categorical = [None] * len(info.categorical)
            elif type(feats) is not dict:
                errs = errs or _Errors()
                errs.add("features", "type", f"must be an object, got {json_type(feats)}")
            else:
                get = feats.get
                numeric = list(map(get, info.numeric))
                categorical = list(map(get, info.categorical))
                if not feats.keys() <= info.known:
                    errs = errs or _Errors()
                    for name in _unknown_features(info, feats.keys()):
                        errs.add(
                            f"features.{name}",
                            "unknown_feature",
                            f"unknown feature (declared: {_declared(info.feature_names)})",
                        )
                # Fast path: all floats and their sum finite (NaN/inf propagate into the sum).
                if numeric and not (set(map(type, numeric)) <= _FLOAT_ONLY and isfinite(sum(numeric))):
                    for j, value in enumerate(numeric):
                        if type(value) is float:
                            if value - value != 0.0:
                                errs = errs or _Errors()
                                errs.add(f"features.{info.numeric[j]}", "not_finite", NOT_FINITE)
                        elif value is not None:
                            errs = errs or _Errors()
                            numeric[j] = _number(value, f"features.{info.numeric[j]}", errs)
                if categorical and not (
                    set(map(type, categorical)) <= _STR_ONLY
                    and max(map(len, categorical)) <= MAX_TEXT
                    and "\x00" not in "".join(categorical)
                ):
                    for j, value in enumerate(categorical):
                        if value is not None and (
                            type(value) is not str or len(value) > MAX_TEXT or "\x00" in value
                        ):
                            errs = errs or _Errors()
                            categorical[j] = _text(value, f"features.{info.categorical[j]}", errs)
            raw_cohort = ev.get("cohort")
            if raw_cohort is None:
                cohort = [None] * len(info.cohorts)
            elif type(raw_cohort) is not dict:
                errs = errs or _Errors()
                errs.add("cohort", "type", f"must be an object, got {json_type(raw_cohort)}")
            else:
                cohort = list(map(raw_cohort.get, info.cohorts))
                if not raw_cohort.keys() <= info.cohort_set:
                    errs = errs or _Errors()
                    for name in sorted(str(k) for k in raw_cohort.keys() - info.cohort_set):
                        errs.add(
                            f"cohort.{name}",
                            "unknown_cohort",
                            f"unknown cohort attribute (declared: {_declared(info.cohorts)})",
                        )
                if cohort and not (
                    set(map(type, cohort)) <= _STR_ONLY
                    and max(map(len, cohort)) <= MAX_TEXT
                    and "\x00" not in "".join(cohort)
                ):
                    for j, value in enumerate(cohort):
                        if value is not None and (
                            type(value) is not str or len(value) > MAX_TEXT or "\x00" in value
                        ):
                            errs = errs or _Errors()
                            cohort[j] = _text(value, f"cohort.{info.cohorts[j]}", errs)

        if errs is not None and errs.errors:
            rejected_append(Rejection(index, event_id, errs.errors, errs.reason))
            continue
        if ts is not None:
            if min_ts is None or ts < min_ts:
                min_ts = ts
            if max_ts is None or ts > max_ts:
                max_ts = ts
        rows_append((ts, latency, prediction, score, label, error, event_id, numeric, categorical, cohort))
        idx_append(index)
        if route is not None:
            route_append(route)
            if route_state[route] is PENDING:
                out.pending_routes.add(route)

    out.min_ts, out.max_ts = min_ts, max_ts
    return out


def _prepare(info: ModelInfo) -> None:
    """Per-model lookups the loop reads as plain attributes."""
    info.known = frozenset(info.numeric) | frozenset(info.categorical)
    info.cohort_set = frozenset(info.cohorts)
    info.binary = info.is_binary


def _route_state(ctx: SystemContext, info: ModelInfo | None, model, version, environment):
    """Deployment id, PENDING (to register) or the errors for a (model, version, env)."""
    errs = _Errors()
    if version is None:
        errs.add("model_version", "required", "is required")
    elif (message := check_version(version)) is not None:
        errs.add("model_version", "type" if type(version) is not str else "invalid", message)
    if environment is None:
        errs.add("environment", "required", "is required")
    elif (message := check_environment(environment)) is not None:
        errs.add("environment", "type" if type(environment) is not str else "invalid_slug", message)
    if errs.errors:
        return errs
    if info is None:
        return PENDING  # the model error is reported on its own
    dep = ctx.route(model, version, environment)
    return PENDING if dep is None else dep


@dataclass
class ValidLabels:
    labels: dict[str, tuple[float, datetime | None, int]] = field(
        default_factory=dict
    )  # id -> (label, ts, index)
    rejected: list[Rejection] = field(default_factory=list)
    superseded: list[int] = field(default_factory=list)  # earlier labels of a repeated event_id


def validate_labels(records: list, *, now: datetime, unreadable: dict[int, str] | None = None) -> ValidLabels:
    """``{"event_id", "label", "timestamp"?}``; a repeated event_id in one batch: the last wins."""
    out = ValidLabels()
    unreadable = unreadable or {}
    for index, rec in enumerate(records):
        errs = _Errors()
        if type(rec) is not dict:
            if index in unreadable:
                errs.add("_record", "invalid_json", unreadable[index])
            else:
                errs.add("_record", "type", f"must be a JSON object, got {json_type(rec)}")
            out.rejected.append(Rejection(index, None, errs.errors, errs.reason))
            continue
        for key in sorted(str(k) for k in rec.keys() - LABEL_FIELDS):
            errs.add(key, "unknown_field", "unknown field")
        event_id = _event_id(rec.get("event_id"), errs, required=True)
        raw_label = rec.get("label")
        label = None
        if raw_label is None:
            errs.add("label", "required", "is required")
        else:
            label = _number(raw_label, "label", errs, allow_bool=True)
        ts = None
        if rec.get("timestamp") is not None:
            ts = _parse_timestamp(rec["timestamp"], errs)
        if errs.errors:
            out.rejected.append(Rejection(index, event_id, errs.errors, errs.reason))
            continue
        if event_id in out.labels:
            out.superseded.append(out.labels[event_id][2])
        out.labels[event_id] = (label, ts or now, index)
    return out
