"""Permission matrix (issue 9 item 1, DESIGN.md §8 and §12): every URL the resolver knows, for
every role (and anonymous), on an object of the user's own system and one of another team's.

The routes come from ``django.urls.get_resolver()``, walked recursively; each must have an
entry in ``MATRIX`` (keyed by the route's name, or by its pattern when it has none) saying how
to exercise it and what every role gets. A route without an entry fails the suite: a new page
or endpoint cannot ship without deciding who may use it. Admin routes (``admin:…``) are covered
by one rule: staff only, every role user and anonymous are sent to the admin login.

Every response is also checked for what must hold whatever the route:

* nobody but a catalog admin (who holds ``view_system`` on every system) ever receives a byte
  of the other team's system: every string of that system contains ``bravo``, and no response
  to another role may contain it — a list never includes foreign rows, a 404 carries no data;
* another team's object id answers exactly what a non-existent id answers (404, or the same
  form error), so ids leak nothing;
* a refused request (401/403/404/405, login redirect) writes no audit record;
* a list shows the user's own rows (``alpha``), and a catalog admin's copy shows ``bravo`` too,
  so the "no foreign rows" check cannot pass on an empty page;
* the security headers are on every response, and every rendered ``<form method="post">`` has
  its CSRF token.

World: team A's system (``alpha-sys``) and team B's (``bravo-sys``), each with a model,
deployment, metric values, a firing alert with its incident, a silence, a channel, an escalation
policy, a dead notification, a quarantined record, a trust score with an anomaly, a threshold
override, a pending four-eyes change and an ingest token. One user per role is on team A, whose
group holds ``view_system`` on system A; on top of it the sre holds ``manage_alerts``, the data
scientist ``view_sensitive`` and the platform engineer ``ingest`` on system A (the catalog admin
has ``view_system`` and ``change_system`` on every system through its role). The world is built
once per module inside a transaction; each request runs in a savepoint that is rolled back, so
requests never see each other's writes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace

import plotly
import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from alerts.evaluate import evaluate_window
from alerts.models import (
    Alert,
    Channel,
    DeliveryAttempt,
    EscalationPolicy,
    EscalationStep,
    Notification,
    Silence,
)
from alerts.silences import create_silence
from alerts.testing import T0, metric, value, window
from catalog import services
from catalog.models import MetricVersion
from healthboard import access
from healthboard.models import ApiToken, AuditRecord
from healthboard.tokens import issue_token
from metrics.engine import backfill
from metrics.models import ComputationRun, PredictionEvent, QuarantinedRecord, ReferenceDataset
from metrics.models.trust import ScoreAnomaly, TrustScore
from tests.factories import TeamFactory, UserFactory
from tests.ingest_support import EVENTS_URL, LABELS_URL, REFERENCE_URL, event, make_model, post_json
from tests.test_security import assert_security_headers

pytestmark = pytest.mark.django_db

OWN, FOREIGN, MISSING = "own", "foreign", "missing"
EXECUTIVE, SRE, DATA_SCIENTIST, PLATFORM, CATALOG_ADMIN = access.ROLES
ANONYMOUS = "anonymous"
ROLE_GRANTS = {  # object permissions on system A on top of the team's view_system
    EXECUTIVE: [],
    SRE: [access.MANAGE_ALERTS],
    DATA_SCIENTIST: [access.VIEW_SENSITIVE],
    PLATFORM: [access.INGEST],
    CATALOG_ADMIN: [],
}
OWN_MARK, FOREIGN_MARK = "alpha", "bravo"
LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"


# --- the routes, from the resolver --------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    key: str  # "namespace:name", or the pattern of an unnamed route
    pattern: str
    name: str | None
    converters: tuple[str, ...]  # names of the URL arguments


def discover_routes() -> list[Route]:
    """Every URL pattern of the project, with its full path, namespace and argument names."""

    def walk(patterns, prefix: str, namespace: str | None) -> Iterator[Route]:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                inner = namespace
                if entry.namespace:
                    inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
                yield from walk(entry.url_patterns, prefix + str(entry.pattern), inner)
            elif isinstance(entry, URLPattern):
                full = prefix + str(entry.pattern)
                name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
                arguments = tuple(re.findall(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>", full))
                names = tuple(a or b for a, b in arguments)
                yield Route(key=name or full, pattern=full, name=name, converters=names)

    return list(walk(get_resolver().url_patterns, "", None))


ROUTES = discover_routes()
ADMIN_ROUTES = [r for r in ROUTES if r.pattern.startswith("admin/")]
APP_ROUTES = [r for r in ROUTES if not r.pattern.startswith("admin/")]


def fill_pattern(pattern: str, kwargs: dict) -> str:
    """The URL of an unnamed route: its pattern with the arguments put in."""
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(kwargs[m.group(1)]), pattern)
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(kwargs[m.group(1)]), path)
    return "/" + path.replace("^", "").replace("$", "").replace("/?", "/")


# --- expectations -------------------------------------------------------------------------------


def expect(default: int, **by_role: int) -> dict[str, int]:
    """The status each role gets: ``default`` unless the role is named."""
    return {role: by_role.get(role, default) for role in access.ROLES}


SEEN = expect(200)
# another team's object: 404 for everyone, except catalog admins, who see every system
HIDDEN = expect(404, catalog_admin=200)
# an action that needs manage_alerts (held by the sre on system A only)
MANAGE_OWN = expect(403, sre=200)
MANAGE_FOREIGN = expect(404, catalog_admin=403)
ADMIN_ONLY = expect(403, catalog_admin=200)
ADMIN_WRITE = expect(403, catalog_admin=302)

PAGE, API, PUBLIC, INGEST = "page", "api", "public", "ingest"
ANONYMOUS_STATUS = {PAGE: 302, API: 401, INGEST: 401}

Args = Callable[[SimpleNamespace], dict]


@dataclass(frozen=True)
class Probe:
    """One way to exercise a route, with what each role gets on each side."""

    method: str = "get"
    args: Args | None = None  # URL arguments from a side of the world
    query: Args | None = None  # query string from a side
    data: Args | dict | None = None  # body (JSON for API probes, a form for pages)
    own: dict[str, int] = field(default_factory=lambda: SEEN)
    foreign: dict[str, int] | None = None  # None: the request names no system's object
    anonymous: int | None = None  # None: from the route's audience
    lists: bool = False  # a 200 shows own rows, and a catalog admin also sees the foreign ones
    shows: bool = False  # a 200 on the own object shows its system's marker
    # what identifies a side's rows in a body (default: the side's prefix, alpha or bravo, which
    # every string of that system carries); for bodies of bare numbers, e.g. a deployment id
    marker: Callable[[SimpleNamespace], str] | None = None
    ends_session: bool = False  # the expected answer is a redirect to the login page (log out)
    # for a write whose refusal is not an error status: did the request change the object?
    effect: Callable[[SimpleNamespace], bool] | None = None
    effect_roles: dict[str, frozenset[str]] = field(default_factory=dict)  # side -> roles that change it


@dataclass(frozen=True)
class Entry:
    audience: str  # PAGE (login redirect), API (401), PUBLIC, INGEST (token only)
    probes: tuple[Probe, ...]
    why: str = ""


def pk(attr: str, name: str = "pk") -> Args:
    return lambda side: {name: getattr(side, attr).pk}


def page(*probes: Probe, why: str = "") -> Entry:
    return Entry(PAGE, probes, why)


def api(*probes: Probe, why: str = "") -> Entry:
    return Entry(API, probes, why)


def public(*probes: Probe, why: str = "") -> Entry:
    return Entry(PUBLIC, probes, why)


def listing(**kw) -> Probe:
    return Probe(lists=True, **kw)


def detail(attr: str, name: str = "pk", **kw) -> Probe:
    return Probe(args=pk(attr, name), own=kw.pop("own", SEEN), foreign=kw.pop("foreign", HIDDEN), **kw)


def write(attr: str, own: dict, foreign: dict, *, data=None, name: str = "pk", **kw) -> Probe:
    return Probe(method="post", args=pk(attr, name), own=own, foreign=foreign, data=data or {}, **kw)


METRIC = "feature_drift_psi"
metric_key: Args = lambda side: {"key": METRIC}  # noqa: E731
deployment_query: Args = lambda side: {"deployment": side.deployment.pk}  # noqa: E731


def deployment_in_json(side: SimpleNamespace) -> str:
    return f'"deployment":{side.deployment.pk},'


SILENCE_BODY = {"reason": "matrix", "duration_minutes": 30}
INGEST_PROBE = Probe(method="post", data={"events": []}, own=expect(401), anonymous=401)


MATRIX: dict[str, Entry] = {
    # --- cross-cutting ---
    "healthz": public(Probe(own=SEEN), why="liveness probe: no data"),
    "prometheus": api(listing()),
    "login": public(Probe(own=SEEN)),
    "logout": public(Probe(method="post", own=expect(302), anonymous=302, ends_session=True)),
    "access": page(
        Probe(own=ADMIN_ONLY),
        Probe(method="post", data={"system": "alpha-sys"}, own=expect(403, catalog_admin=200)),
    ),
    "audit": page(Probe(own=ADMIN_ONLY)),
    "api-schema": public(Probe(own=SEEN), why="the OpenAPI document: no data"),
    "api-docs": public(Probe(own=SEEN)),
    # --- read API: metadata ---
    "catalog-api:system-list": api(listing()),
    "catalog-api:system-detail": api(detail("system", shows=True)),
    "catalog-api:model-list": api(listing()),
    "catalog-api:model-detail": api(detail("model", shows=True)),
    "catalog-api:deployment-list": api(listing()),
    "catalog-api:deployment-detail": api(detail("deployment", shows=True)),
    # --- catalog API (global definitions; the policy names a deployment) ---
    "catalog-api:catalog-metric-list": api(Probe()),
    "catalog-api:catalog-metric-detail": api(Probe(args=metric_key)),
    "catalog-api:catalog-metric-versions": api(
        Probe(args=metric_key),
        Probe(method="post", args=metric_key, data={}, own=expect(403, catalog_admin=400)),
    ),
    "catalog-api:catalog-metric-policy": api(Probe(args=metric_key, query=deployment_query, foreign=HIDDEN)),
    # --- trust API ---
    "metrics-api:deployment-trust": api(detail("deployment")),
    "metrics-api:deployment-trust-changes": api(detail("deployment")),
    "metrics-api:deployment-readiness": api(detail("deployment")),
    # --- ingest: an ingest token only, never a session (tokens: test_ingest_token_*) ---
    "metrics-api:ingest-events": Entry(INGEST, (INGEST_PROBE,)),
    "metrics-api:ingest-labels": Entry(INGEST, (INGEST_PROBE,)),
    "metrics-api:ingest-reference": Entry(INGEST, (INGEST_PROBE,)),
    "api/v1/ingest/events/": Entry(INGEST, (INGEST_PROBE,)),
    "api/v1/ingest/labels/": Entry(INGEST, (INGEST_PROBE,)),
    "api/v1/ingest/reference/": Entry(INGEST, (INGEST_PROBE,)),
    "metrics-api:deployment-reference": api(
        write("deployment", own=expect(403, catalog_admin=400), foreign=expect(404, catalog_admin=400)),
        why="change_system on the deployment's system; an empty window is a 400",
    ),
    "api/v1/deployments/<int:pk>/reference/": api(
        write("deployment", own=expect(403, catalog_admin=400), foreign=expect(404, catalog_admin=400))
    ),
    # --- computed values and lineage ---
    "metric-value-list": api(listing(marker=deployment_in_json)),
    "metric-value-detail": api(detail("value")),
    "run-list": api(listing(marker=deployment_in_json)),
    "run-detail": api(detail("run")),
    "engine-backfills": api(Probe(method="post", data={}, own=expect(403, catalog_admin=400))),
    "engine-backfill": api(Probe(args=pk("backfill"), own=ADMIN_ONLY)),
    # --- alerts API ---
    "alerts-api:alert-list": api(listing()),
    "alerts-api:alert-detail": api(detail("alert", shows=True)),
    "alerts-api:alert-acknowledge": api(write("alert", MANAGE_OWN, MANAGE_FOREIGN)),
    "alerts-api:alert-resolve": api(write("alert", MANAGE_OWN, MANAGE_FOREIGN)),
    "alerts-api:alert-silence": api(write("alert", expect(403, sre=201), MANAGE_FOREIGN, data=SILENCE_BODY)),
    "alerts-api:incident-list": api(listing()),
    "alerts-api:incident-detail": api(detail("incident", shows=True)),
    # --- catalog pages ---
    "catalog:metric-list": page(Probe()),
    "catalog:metric-detail": page(Probe(args=metric_key, lists=True)),
    "catalog:metric-edit": page(
        Probe(args=metric_key, own=ADMIN_ONLY),
        Probe(method="post", args=metric_key, data={}, own=expect(403, catalog_admin=400)),
    ),
    "catalog:metric-rollback": page(Probe(args=lambda side: {"key": METRIC, "number": 1}, own=ADMIN_ONLY)),
    "catalog:override-list": page(listing()),
    "catalog:override-edit": page(
        Probe(own=ADMIN_ONLY),
        Probe(method="post", data={}, own=expect(403, catalog_admin=400)),
    ),
    "catalog:override-history": page(
        Probe(
            args=lambda side: {"key": METRIC, "scope_key": side.override_scope_key},
            foreign=HIDDEN,
            shows=True,
        )
    ),
    "catalog:policy": page(Probe(query=deployment_query, foreign=SEEN, shows=True)),
    "catalog:weightprofile-list": page(Probe()),
    "catalog:weightprofile-create": page(Probe(own=ADMIN_ONLY)),
    "catalog:weightprofile-detail": page(Probe(args=lambda side: {"name": "balanced"}, lists=True)),
    "catalog:weightprofile-edit": page(Probe(args=lambda side: {"name": "balanced"}, own=ADMIN_ONLY)),
    "catalog:change-list": page(listing()),
    # catalog admins only: anyone else is refused before the change is looked up (403 for any id)
    "catalog:change-approve": page(write("change", ADMIN_WRITE, ADMIN_WRITE)),
    "catalog:change-reject": page(write("change", ADMIN_WRITE, ADMIN_WRITE)),
    # --- trust pages ---
    "metrics:deployment-trust": page(detail("deployment", shows=True)),
    "metrics:trust-anomalies": page(listing()),
    "metrics:trust-anomaly-review": page(
        write(
            "anomaly",
            expect(403, data_scientist=302, catalog_admin=302),
            expect(404, catalog_admin=302),
            data={"verdict": "confirmed", "note": "checked"},
        )
    ),
    "metrics:plotly-js": public(Probe(args=lambda side: {"version": plotly.__version__})),
    # --- platform: quarantine ---
    "metrics:quarantine": page(listing()),
    "metrics:quarantine-replay": page(
        Probe(
            method="post",
            data=lambda side: {"id": side.quarantined.pk},
            own=expect(302),
            foreign=expect(404, catalog_admin=302),
            effect=lambda side: QuarantinedRecord.objects.filter(
                pk=side.quarantined.pk, replay_attempts__gt=0
            ).exists(),
            effect_roles={OWN: frozenset({PLATFORM, CATALOG_ADMIN}), FOREIGN: frozenset({CATALOG_ADMIN})},
        ),
        why="replays only what the user may (ingest or change_system); others get nothing replayed",
    ),
    # --- SRE pages ---
    "alerts:queue": page(listing()),
    "alerts:detail": page(detail("alert", shows=True)),
    "alerts:action": page(
        Probe(
            method="post",
            args=lambda side: {"pk": side.alert.pk, "action": "acknowledge"},
            data={"comment": "matrix"},
            own=expect(403, sre=302),
            foreign=MANAGE_FOREIGN,
        )
    ),
    "alerts:incidents": page(listing()),
    "alerts:incident": page(detail("incident", shows=True)),
    "alerts:incident-note": page(
        write("incident", expect(403, sre=302), MANAGE_FOREIGN, data={"message": "matrix note"})
    ),
    "alerts:postmortem": page(detail("incident", shows=True)),
    "alerts:silences": page(
        listing(),
        Probe(
            method="post",
            data=lambda side: {
                "system": side.system.pk,
                "starts_at": timezone.now().strftime("%Y-%m-%dT%H:%M"),
                "ends_at": (timezone.now() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
                "reason": "matrix",
            },
            own=expect(200, sre=302),
            foreign=SEEN,
        ),
    ),
    "alerts:silence-expire": page(write("silence", expect(403, sre=302), MANAGE_FOREIGN)),
    "alerts:policies": page(listing()),
    "alerts:policy-edit": page(detail("policy", own=expect(403, sre=200), foreign=MANAGE_FOREIGN)),
    "alerts:channels": page(listing()),
    "alerts:channel-edit": page(detail("channel", own=expect(403, sre=200), foreign=MANAGE_FOREIGN)),
    "alerts:deliveries": page(listing()),
    "alerts:replay": page(write("notification", expect(403, sre=302), MANAGE_FOREIGN)),
    # --- dashboards ---
    "dashboards:portfolio": page(listing()),
    "dashboards:system": page(
        Probe(args=lambda side: {"slug": side.system.slug}, foreign=HIDDEN, shows=True)
    ),
    "dashboards:deployment": page(detail("deployment", shows=True)),
    "dashboards:metric": page(
        Probe(args=lambda side: {"pk": side.deployment.pk, "key": METRIC}, foreign=HIDDEN, shows=True)
    ),
    "dashboards:segment": page(
        Probe(
            args=lambda side: {"pk": side.deployment.pk, "key": METRIC, "segment": "all"},
            foreign=HIDDEN,
            shows=True,
        )
    ),
    "dashboards:value": page(detail("value", shows=True)),
    "dashboards:events": page(detail("value", shows=True)),
    "dashboards:sre": page(listing(), Probe(query=deployment_query, foreign=SEEN)),
    "dashboards:ds": page(listing(), Probe(query=deployment_query, foreign=SEEN)),
    "dashboards:ds-distribution": page(
        Probe(
            query=lambda side: {
                "deployment": side.deployment.pk,
                "feature": "income",
                "window": side.window_start.isoformat(),
            },
            foreign=HIDDEN,
            shows=True,
            marker=lambda side: f"/values/{side.value.pk}/",
        )
    ),
    "dashboards:platform": page(listing()),
    "dashboards:scenarios": page(listing(), Probe(query=deployment_query, foreign=HIDDEN, shows=True)),
}


# --- the world ---------------------------------------------------------------------------------


def trust_point(deployment, index: int, score: float, readiness: str, reasons: list) -> TrustScore:
    start, end = window(index)
    return TrustScore.objects.create(
        deployment=deployment,
        window_start=start,
        window_end=end,
        score=score,
        coverage=0.9,
        pillar_scores={"performance": 90.0, "data_quality": score},
        readiness=readiness,
        reasons=reasons,
        weight_profile="balanced",
    )


def build_side(prefix: str, team, *, steward, proposer, psi: MetricVersion, index: int) -> SimpleNamespace:
    """One team's system with one object of every kind a route can name; every string in it
    carries ``prefix`` (``alpha`` or ``bravo``)."""
    from tests.factories import SystemFactory

    system = SystemFactory(slug=f"{prefix}-sys", name=f"{prefix.title()} scoring", team=team)
    model, deployment = make_model(system, slug=f"{prefix}-model", env=f"{prefix}-env")
    start, end = window(index)
    drift = value(psi, deployment, index, 0.3, feature="income")
    evaluate_window(deployment.pk, start, end, now=end + timedelta(minutes=2))
    alert = Alert.objects.get(deployment=deployment)
    channel = Channel.objects.create(
        name=f"{prefix}-channel", system=system, kind="email", email_to=f"oncall@{prefix}.example.org"
    )
    policy = EscalationPolicy.objects.create(name=f"{prefix}-policy", system=system)
    EscalationStep.objects.create(policy=policy, position=0, channel=channel)
    notification = Notification.objects.create(
        channel=channel,
        incident=alert.incident,
        group_key=alert.incident.group_key,
        state_hash=f"{prefix}-state",
        kind="firing",
        status="dead",
        last_error=f"{prefix} receiver down",
    )
    DeliveryAttempt.objects.create(
        notification=notification, number=1, outcome="failed", error=f"{prefix} refused"
    )
    silence = create_silence(
        system=system,
        deployment=deployment,
        ends_at=timezone.now() + timedelta(days=1),
        reason=f"{prefix} maintenance",
        author=steward,
    )
    quarantined = QuarantinedRecord.objects.create(
        kind="event",
        system=system,
        index=0,
        event_id=f"{prefix}-bad-1",
        raw=json.dumps({"event_id": f"{prefix}-bad-1", "model": f"{prefix}-nope"}),
        errors={"model": [f"unknown model {prefix}-nope"]},
        reason="unknown_model",
    )
    trust_point(deployment, index - 1, 88.0, "ready", [])  # an earlier point, for trust changes
    score = trust_point(
        deployment,
        index,
        71.0,
        "staged",
        [{"decision": "staged", "code": "metric_critical", "message": f"{prefix} drift is critical"}],
    )
    anomaly = ScoreAnomaly.objects.create(
        trust_score=score, deployment=deployment, kind="jump", summary=f"{prefix} score jumped"
    )
    override = services.set_threshold_override(
        METRIC, scope="system", target=system, warn_threshold=0.2, reason=f"{prefix} override", actor=proposer
    ).version
    with override_settings(CATALOG_FOUR_EYES=True):
        change = services.set_threshold_override(
            METRIC,
            scope="deployment",
            target=deployment,
            critical_threshold=0.5,
            reason=f"{prefix} looser threshold",
            actor=proposer,
        ).pending
    _, token = issue_token(kind=ApiToken.Kind.INGEST, system=system, name=f"{prefix}-token")
    return SimpleNamespace(
        system=system,
        model=model,
        deployment=deployment,
        value=drift,
        run=drift.run,
        window_start=start,
        alert=alert,
        incident=alert.incident,
        channel=channel,
        policy=policy,
        notification=notification,
        silence=silence,
        quarantined=quarantined,
        anomaly=anomaly,
        override_scope_key=override.scope_key,
        change=change,
        token=token,
    )


class Ghost:
    """An object that does not exist: what a ``missing`` side names."""

    pk = 987654321
    slug = "no-such-thing"


def missing_side() -> SimpleNamespace:
    ghost = Ghost()
    names = ["system", "model", "deployment", "value", "run", "alert", "incident", "channel", "policy"]
    names += ["notification", "silence", "quarantined", "anomaly", "change", "backfill"]
    return SimpleNamespace(
        **dict.fromkeys(names, ghost),
        window_start=T0,
        override_scope_key="system:987654321",
        token="hbi_no-such-token",
    )


@dataclass
class World:
    sides: dict[str, SimpleNamespace]
    users: dict[str, object]
    sessions: dict[str, str]  # role -> session key

    def client(self, role: str) -> Client:
        client = Client()
        if role != ANONYMOUS:
            client.cookies[settings.SESSION_COOKIE_NAME] = self.sessions[role]
        return client


def build_world() -> World:
    index = int((timezone.now() - T0) / timedelta(hours=1)) - 2  # a window ending 1-2 hours ago
    psi = metric(METRIC)
    steward = UserFactory(username="steward")
    proposer = UserFactory(username="proposer", roles=[CATALOG_ADMIN])
    team_a = TeamFactory(slug="alpha-team", name="Alpha team")
    team_b = TeamFactory(slug="bravo-team", name="Bravo team")
    sides = {
        OWN: build_side("alpha", team_a, steward=steward, proposer=proposer, psi=psi, index=index),
        FOREIGN: build_side("bravo", team_b, steward=steward, proposer=proposer, psi=psi, index=index),
        MISSING: missing_side(),
    }
    access.grant(sides[OWN].system, [access.VIEW], group=team_a.group)
    access.grant(sides[FOREIGN].system, [access.VIEW, access.MANAGE_ALERTS], group=team_b.group)
    sides[OWN].backfill = backfill.request(
        "latency_p95_ms", deployment_ids=[sides[OWN].deployment.pk], actor=proposer, reason="matrix"
    )
    sides[FOREIGN].backfill = sides[OWN].backfill  # backfills belong to the catalog, not a system
    users, sessions = {}, {}
    for role in access.ROLES:
        user = UserFactory(username=role, roles=[role])
        user.groups.add(team_a.group)
        if ROLE_GRANTS[role]:
            access.grant(sides[OWN].system, ROLE_GRANTS[role], user=user)
        client = Client()
        client.force_login(user)
        users[role], sessions[role] = user, client.cookies[settings.SESSION_COOKIE_NAME].value
    assert Group.objects.filter(name__in=access.ROLES).count() == len(access.ROLES)
    return World(sides=sides, users=users, sessions=sessions)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> Iterator[World]:
    """Built once per module (and per xdist worker) inside a transaction rolled back at the end;
    each test's own transaction is a savepoint inside it."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            built = build_world()
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    yield built
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)


# --- sending and checking ----------------------------------------------------------------------


@dataclass
class Sent:
    url: str
    status: int
    location: str
    body: str
    audited: bool  # the request wrote an audit record
    changed: bool | None  # the probe's effect, seen before the rollback
    response: object


def url_for(route: Route, probe: Probe, side: SimpleNamespace) -> str:
    kwargs = probe.args(side) if probe.args else {}
    missing = set(route.converters) - set(kwargs)
    assert not missing, f"{route.key}: the probe gives no value for {sorted(missing)}"
    path = reverse(route.name, kwargs=kwargs) if route.name else fill_pattern(route.pattern, kwargs)
    if probe.query:
        from urllib.parse import urlencode

        path += "?" + urlencode(probe.query(side))
    return path


def send(world: World, route: Route, entry: Entry, probe: Probe, role: str, side_name: str) -> Sent:
    side = world.sides[side_name]
    url = url_for(route, probe, side)
    client = world.client(role)
    data = probe.data(side) if callable(probe.data) else probe.data
    with transaction.atomic():
        audits = AuditRecord.objects.count()
        if probe.method == "get":
            response = client.get(url)
        elif entry.audience in (API, INGEST):
            response = client.generic(
                probe.method.upper(), url, json.dumps(data or {}), content_type="application/json"
            )
        else:
            response = client.post(url, data or {})
        audited = AuditRecord.objects.count() != audits
        changed = probe.effect(side) if probe.effect else None
        transaction.set_rollback(True)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return Sent(
        url=url,
        status=response.status_code,
        location=response.get("Location", ""),
        body=body.decode("utf-8", "replace"),
        audited=audited,
        changed=changed,
        response=response,
    )


POST_FORM = re.compile(r"<form\b[^>]*\bmethod=[\"']?post[\"']?[^>]*>(.*?)</form>", re.I | re.S)
REFUSED = {401, 403, 404, 405}


def markers(world: World, probe: Probe) -> tuple[str, str]:
    """What identifies the own side's and the foreign side's rows in a (lower-cased) body."""
    if probe.marker is None:
        return OWN_MARK, FOREIGN_MARK
    return probe.marker(world.sides[OWN]).lower(), probe.marker(world.sides[FOREIGN]).lower()


def problems_of(
    world: World, sent: Sent, role: str, side: str, expected: int, probe: Probe, where: str
) -> list[str]:
    found = []
    body = sent.body.lower()
    own_mark, foreign_mark = markers(world, probe)
    if sent.status != expected:
        found.append(f"{where}: status {sent.status}, expected {expected} {sent.body[:160]!r}")
    if role != CATALOG_ADMIN:
        for mark in {FOREIGN_MARK, foreign_mark}:
            if mark in body:
                at = body.index(mark)
                context = sent.body[max(0, at - 80) : at + 40]
                found.append(f"{where}: LEAK, the body shows another team's data: …{context!r}…")
    if sent.changed is not None and sent.changed != (role in probe.effect_roles.get(side, ())):
        found.append(f"{where}: the object {'changed' if sent.changed else 'did not change'}")
    refused = sent.status in REFUSED or sent.location.startswith((LOGIN, ADMIN_LOGIN))
    if refused and sent.audited:
        found.append(f"{where}: refused ({sent.status}) but wrote an audit record")
    if role != ANONYMOUS and sent.location.startswith(LOGIN) and not probe.ends_session:
        found.append(f"{where}: a logged-in user was sent to the login page")
    shows_own = side == OWN and role != ANONYMOUS and (probe.lists or probe.shows)
    if sent.status == 200 and shows_own and own_mark not in body:
        found.append(f"{where}: a 200 that does not show the user's own rows ({own_mark!r} missing)")
    if sent.status == 200 and probe.lists and role == CATALOG_ADMIN and foreign_mark not in body:
        found.append(f"{where}: a catalog admin's list lacks the other system: the no-leak check is vacuous")
    try:
        assert_security_headers(sent.response)
    except (AssertionError, KeyError) as exc:
        found.append(f"{where}: security headers: {exc!r}")
    if sent.status == 200 and "text/html" in sent.response.get("Content-Type", ""):
        for form in POST_FORM.findall(sent.body):
            if "csrfmiddlewaretoken" not in form:
                found.append(f"{where}: a post form without its CSRF token")
    return found


def anonymous_expectation(entry: Entry, probe: Probe) -> int:
    if probe.anonymous is not None:
        return probe.anonymous
    if entry.audience == PUBLIC:
        return probe.own[EXECUTIVE]
    return ANONYMOUS_STATUS[entry.audience]


def run_probe(world: World, route: Route, entry: Entry, probe: Probe) -> list[str]:
    found: list[str] = []
    statuses: dict[tuple[str, str], int] = {}
    sides = [(OWN, probe.own)] + ([(FOREIGN, probe.foreign)] if probe.foreign is not None else [])
    for side, table in sides:
        for role in access.ROLES:
            sent = send(world, route, entry, probe, role, side)
            statuses[role, side] = sent.status
            where = f"{probe.method.upper()} {sent.url} as {role} ({side})"
            found += problems_of(world, sent, role, side, table[role], probe, where)
    sent = send(world, route, entry, probe, ANONYMOUS, OWN)
    expected = anonymous_expectation(entry, probe)
    where = f"{probe.method.upper()} {sent.url} anonymous"
    if entry.audience == API and sent.status in (401, 403):
        expected = sent.status  # "not authenticated": DRF answers 401 or 403 by authenticator
    found += problems_of(world, sent, ANONYMOUS, OWN, expected, probe, where)
    if entry.audience == PAGE and sent.status == 302 and not sent.location.startswith(LOGIN):
        found.append(f"{where}: redirected to {sent.location}, not to the login page")
    if probe.foreign is not None:
        # another team's id must be indistinguishable from an id that does not exist
        ghost = send(world, route, entry, probe, EXECUTIVE, MISSING)
        if ghost.status != statuses[EXECUTIVE, FOREIGN]:
            found.append(
                f"{probe.method.upper()} {ghost.url} as executive: a missing id answers {ghost.status}, "
                f"another team's id {statuses[EXECUTIVE, FOREIGN]}: the difference tells the id exists"
            )
    return found


# --- the tests ---------------------------------------------------------------------------------


def test_every_route_has_a_matrix_entry():
    keys = {route.key for route in APP_ROUTES}
    unlisted = sorted(keys - set(MATRIX))
    assert not unlisted, (
        f"routes without a permission-matrix entry: {unlisted}. Add each to MATRIX in "
        "tests/test_permission_matrix.py: how to exercise it and what every role gets."
    )
    stale = sorted(set(MATRIX) - keys)
    assert not stale, f"MATRIX entries for routes that no longer exist: {stale}"
    assert len(APP_ROUTES) >= 80 and len(ADMIN_ROUTES) >= 100  # the walk found the nested includes


@pytest.mark.parametrize("route", APP_ROUTES, ids=[route.key for route in APP_ROUTES])
def test_route(world, route):
    entry = MATRIX.get(route.key)
    assert entry is not None, (
        f"{route.key} ({route.pattern}) has no permission-matrix entry: add it to MATRIX in "
        "tests/test_permission_matrix.py (how to exercise it, and what each role gets on its own "
        "system's object and on another team's)."
    )
    found = [problem for probe in entry.probes for problem in run_probe(world, route, entry, probe)]
    assert not found, "\n".join(found)


# --- the admin site: staff only ---------------------------------------------------------------

ADMIN_ARGUMENTS = {
    "app_label": "catalog",
    "object_id": "1",
    "content_type_id": "1",
    "id": "1",
    "object_pk": "1",
    "user_id": "1",
    "group_id": "1",
    "url": "no-such-page/",
}


def test_the_admin_site_is_for_staff_only(world):
    """Every admin route (generated per registered model, so covered by this rule rather than
    listed) sends non-staff users and anonymous to the admin login, showing no data. The admin
    asks one question, ``is_staff``, whatever the role: every route is tried anonymously and as
    the most privileged role (catalog admin), the admin index as every role."""
    problems = []
    for route in ADMIN_ROUTES:
        kwargs = {name: ADMIN_ARGUMENTS[name] for name in route.converters}
        url = reverse(route.name, kwargs=kwargs) if route.name else fill_pattern(route.pattern, kwargs)
        roles = (*access.ROLES, ANONYMOUS) if route.name == "admin:index" else (CATALOG_ADMIN, ANONYMOUS)
        for role in roles:
            with transaction.atomic():
                response = world.client(role).get(url)
                transaction.set_rollback(True)
            body = response.content.decode("utf-8", "replace").lower()
            if route.name == "admin:login":
                ok = response.status_code == 200
            elif route.name == "admin:logout":  # the admin sends non-staff to its index, then login
                ok = response.status_code == 302 and response["Location"] == reverse("admin:index")
            else:
                ok = response.status_code == 302 and response["Location"].startswith(ADMIN_LOGIN)
            if not ok or FOREIGN_MARK in body or OWN_MARK in body:
                problems.append(f"GET {url} as {role}: {response.status_code} {response.get('Location', '')}")
    assert not problems, "\n".join(problems)
    # the rule is not vacuous: staff do reach the admin and its data
    staff = UserFactory(username="staffer", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    listing_page = client.get(reverse("admin:catalog_system_changelist"))
    assert listing_page.status_code == 200 and FOREIGN_MARK in listing_page.content.decode()


# --- ingest: a token writes into its own system only -------------------------------------------


def ingest(url: str, token: str, payload) -> dict:
    response = post_json(Client(), url, token, payload)
    assert response.status_code == 200, response.content[:300]
    return response.json()


def test_an_ingest_token_never_writes_into_another_system(world):
    own, foreign = world.sides[OWN], world.sides[FOREIGN]
    own_event = {"model": "alpha-model", "environment": "alpha-env", "model_version": "2.3.1"}
    foreign_event = {"model": "bravo-model", "environment": "bravo-env", "model_version": "2.3.1"}
    stored_b = ingest(EVENTS_URL, foreign.token, {"events": [event(event_id="bravo-evt-1", **foreign_event)]})
    assert stored_b["accepted"] == 1

    # events: another system's model is unknown to this token; system fields in a record do not
    # move it (they are rejected as unknown fields, or ignored)
    body = ingest(
        EVENTS_URL,
        own.token,
        {
            "events": [
                event(event_id="alpha-evt-1", **own_event),
                event(event_id="alpha-evt-2", **foreign_event),
                event(event_id="alpha-evt-3", system="bravo-sys", system_id=foreign.system.pk, **own_event),
                event(event_id="alpha-evt-4", token=foreign.token, **foreign_event),
            ]
        },
    )
    rejected = {r["event_id"] for r in body["rejected"]}
    assert body["accepted"] >= 1 and {"alpha-evt-2", "alpha-evt-4"} <= rejected
    assert "bravo" not in json.dumps(body["rejected"]).replace("bravo-model", "").replace("bravo-sys", "")
    foreign_rows = PredictionEvent.objects.filter(system=foreign.system)
    assert list(foreign_rows.values_list("event_id", flat=True)) == ["bravo-evt-1"]
    assert set(
        PredictionEvent.objects.filter(event_id__startswith="alpha-").values_list("system", flat=True)
    ) == {own.system.pk}

    # labels join by event_id within the token's system only
    labels = ingest(LABELS_URL, own.token, {"labels": [{"event_id": "bravo-evt-1", "label": 1}]})
    assert labels["accepted"] == 0 and [r["event_id"] for r in labels["rejected"]] == ["bravo-evt-1"]
    assert foreign_rows.get().label is None

    # reference data for another system's model is refused
    before = ReferenceDataset.objects.filter(model_version__model__system=foreign.system).count()
    response = post_json(
        Client(),
        REFERENCE_URL,
        own.token,
        {"model": "bravo-model", "model_version": "2.3.1", "events": [event(**foreign_event)]},
    )
    assert response.status_code in (200, 400) and response.json().get("accepted", 0) == 0
    assert ReferenceDataset.objects.filter(model_version__model__system=foreign.system).count() == before


# --- mass assignment: bodies cannot choose the system, the author or secrets -------------------

OTHER_OWNER_FIELDS = ("system", "system_id", "team", "created_by", "created_by_id", "author", "token")


def api_post(world: World, role: str, url: str, payload: dict):
    return world.client(role).post(url, payload, content_type="application/json")


def owner_fields(world: World) -> dict:
    foreign = world.sides[FOREIGN]
    return {
        "system": foreign.system.slug,
        "system_id": foreign.system.pk,
        "team": "bravo-team",
        "created_by": world.users[EXECUTIVE].pk,
        "created_by_id": world.users[EXECUTIVE].pk,
        "author": world.users[EXECUTIVE].pk,
        "token": foreign.token,
        "token_hash": "0" * 64,
    }


def test_alert_actions_ignore_owner_fields_in_the_body(world):
    own, foreign = world.sides[OWN], world.sides[FOREIGN]
    sre = world.users[SRE]
    extra = owner_fields(world) | {
        "acknowledged_by": world.users[EXECUTIVE].pk,
        "deployment": foreign.deployment.pk,
    }
    ack = api_post(world, SRE, f"/api/v1/alerts/{own.alert.pk}/acknowledge/", {"comment": "on it"} | extra)
    assert (
        ack.status_code == 200
        and ack.json()["acknowledged_by"] == "sre"
        and ack.json()["system"] == "alpha-sys"
    )
    alert = Alert.objects.get(pk=own.alert.pk)
    assert (alert.acknowledged_by, alert.system, alert.deployment) == (sre, own.system, own.deployment)

    silence = api_post(
        world,
        SRE,
        f"/api/v1/alerts/{own.alert.pk}/silence/",
        {"reason": "deploy window", "duration_minutes": 30, "scope": "deployment"} | extra,
    )
    assert silence.status_code == 201 and silence.json()["author"] == "sre"
    created = Silence.objects.get(pk=silence.json()["id"])
    assert (created.system, created.deployment, created.created_by) == (own.system, own.deployment, sre)
    assert not Silence.objects.filter(system=foreign.system).exclude(pk=foreign.silence.pk).exists()

    resolved = api_post(world, SRE, f"/api/v1/alerts/{own.alert.pk}/resolve/", {"comment": "fixed"} | extra)
    assert resolved.status_code == 200 and Alert.objects.get(pk=own.alert.pk).resolved_by == sre


def test_a_new_metric_version_refuses_owner_and_bookkeeping_fields(world):
    url = f"/api/v1/catalog/metrics/{METRIC}/versions/"
    current = MetricVersion.objects.get(definition__key=METRIC, is_current=True)
    refused = api_post(
        world,
        CATALOG_ADMIN,
        url,
        {"reason": "tighter", "warn_threshold": 0.15, "number": 99, "is_current": False, "definition": 1}
        | owner_fields(world),
    )
    assert refused.status_code == 400
    assert {"number", "is_current", "definition", "created_by", "system", "token"} <= set(
        refused.json()["errors"]
    )
    assert MetricVersion.objects.get(definition__key=METRIC, is_current=True) == current
    created = api_post(world, CATALOG_ADMIN, url, {"reason": "tighter", "warn_threshold": 0.15})
    assert created.status_code == 201
    version = MetricVersion.objects.get(definition__key=METRIC, is_current=True)
    assert (version.number, version.created_by) == (current.number + 1, world.users[CATALOG_ADMIN])


def test_a_backfill_request_cannot_choose_its_kind_status_or_author(world):
    response = api_post(
        world,
        CATALOG_ADMIN,
        "/api/v1/backfills/",
        {"metric": "latency_p95_ms", "reason": "matrix", "kind": "compute", "status": "succeeded", "id": 1}
        | owner_fields(world),
    )
    assert response.status_code == 202, response.content
    run = ComputationRun.objects.get(pk=response.json()["id"])
    assert (run.kind, run.status) == ("backfill", "pending")
    record = AuditRecord.objects.get(action="metric.backfill", after__run=run.pk)
    assert record.actor == world.users[CATALOG_ADMIN]


def test_a_reference_from_a_window_stays_on_the_deployments_model_version(world):
    own, foreign = world.sides[OWN], world.sides[FOREIGN]
    start = timezone.now() - timedelta(minutes=30)
    ingest(
        EVENTS_URL,
        own.token,
        {
            "events": [
                event(
                    model="alpha-model",
                    environment="alpha-env",
                    model_version="2.3.1",
                    timestamp=(start + timedelta(seconds=i)).isoformat(),
                )
                for i in range(5)
            ]
        },
    )
    response = api_post(
        world,
        CATALOG_ADMIN,
        f"/api/v1/deployments/{own.deployment.pk}/reference",
        {
            "start": (start - timedelta(minutes=1)).isoformat(),
            "end": timezone.now().isoformat(),
            "model": "bravo-model",
            "model_version": foreign.deployment.model_version.pk,
            "deployment": foreign.deployment.pk,
        }
        | owner_fields(world),
    )
    assert response.status_code == 200, response.content
    reference = ReferenceDataset.objects.get(pk=response.json()["reference"]["id"])
    assert reference.model_version == own.deployment.model_version
    assert response.json()["reference"]["model"] == "alpha-model"


def test_forms_do_not_take_secrets_or_another_system(world):
    """The SRE pages' model forms list their fields: a channel's signing secret, a silence's
    author and another team's system cannot be set from a post."""
    own, foreign = world.sides[OWN], world.sides[FOREIGN]
    sre = world.client(SRE)
    created = sre.post(
        "/sre/channels/",
        {
            "name": "alpha-pager",
            "system": own.system.pk,
            "kind": "email",
            "email_to": "pager@alpha.example.org",
            "payload_format": "healthboard",
            "enabled": "on",
            "secret": "attacker-chosen",
            "created_by": world.users[EXECUTIVE].pk,
        },
    )
    assert created.status_code == 302, created.content[:500]
    channel = Channel.objects.get(name="alpha-pager")
    assert channel.system == own.system and channel.secret != "attacker-chosen" and len(channel.secret) >= 32
    moved = sre.post(
        f"/sre/channels/{own.channel.pk}/",
        {
            "name": "alpha-channel",
            "system": foreign.system.pk,
            "kind": "email",
            "email_to": "x@alpha.example.org",
        },
    )
    assert moved.status_code == 200 and Channel.objects.get(pk=own.channel.pk).system == own.system
    silence = sre.post(
        "/sre/silences/",
        {
            "system": own.system.pk,
            "starts_at": timezone.now().strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (timezone.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "reason": "alpha window",
            "created_by": world.users[EXECUTIVE].pk,
            "expired_by": world.users[EXECUTIVE].pk,
        },
    )
    assert silence.status_code == 302
    made = Silence.objects.get(reason="alpha window")
    assert (made.created_by, made.system, made.expired_by) == (world.users[SRE], own.system, None)


# --- the leak this matrix found ---------------------------------------------------------------


def test_an_incident_timeline_shows_catalog_changes_of_its_own_system_only(world):
    """The timeline listed every threshold override in the incident's period, another team's
    included (``… @ system bravo-sys``); now only the incident's system's and the shared
    definitions' changes appear."""
    own = world.sides[OWN]
    html = world.client(SRE).get(f"/sre/incidents/{own.incident.pk}/").content.decode()
    assert "Catalog change" in html
    assert f"{METRIC} @ system alpha-sys" in html  # its own system's override
    assert "bravo" not in html.lower()
    admin_html = world.client(CATALOG_ADMIN).get(f"/sre/incidents/{own.incident.pk}/").content.decode()
    assert "bravo" not in admin_html.lower()  # not a permission question: it is not this system's
