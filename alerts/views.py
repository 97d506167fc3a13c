"""The SRE pages: the triage queue (inline actions over HTMX), alert detail, incidents with
timeline and post-mortem, silences, escalation policies, channels and dead letters.

Every queryset goes through ``healthboard.access``; actions go through ``alerts.actions``,
which check ``manage_alerts`` and write the audit trail.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from functools import reduce
from operator import or_
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Case, CharField, Count, IntegerField, Q, Value, When
from django.db.models.functions import Cast, Coalesce
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django.views.generic import DetailView, ListView, TemplateView

from alerts import actions, delivery, sparkline
from alerts.forms import (
    ChannelForm,
    CommentForm,
    EscalationPolicyForm,
    FollowUpFormSet,
    NoteForm,
    PostMortemForm,
    SilenceAlertForm,
    SilenceForm,
    StepFormSet,
    channels_for,
)
from alerts.models import (
    Alert,
    AlertEvaluation,
    Channel,
    DeliveryAttempt,
    EscalationPolicy,
    Incident,
    Notification,
    PostMortem,
    Silence,
)
from alerts.silences import active_silences, create_silence, expire_silence, silencing
from catalog.models import CatalogChangeRequest, Deployment, MetricVersion, System, ThresholdOverride
from healthboard import access
from healthboard.audit import record_change, snapshot
from healthboard.models import AuditRecord

SPARK_WINDOWS = 24
WINDOW_LENGTH = {"5m": timedelta(minutes=5), "1h": timedelta(hours=1), "1d": timedelta(days=1)}
QUEUE_LIMIT = 300


# --- the triage queue -------------------------------------------------------------------


def _alert_queryset():
    return Alert.objects.select_related(
        "metric",
        "metric_version",
        "system",
        "deployment__environment",
        "deployment__model_version__model",
        "run",
        "incident",
        "acknowledged_by",
        "escalation_policy",
        "inhibited_by__metric",
    )


def _decorate(alerts: list[Alert], user, now) -> list[Alert]:
    """Attach what a row shows: sparkline, silence, manage right, drill-down link, age."""
    if not alerts:
        return alerts
    manageable = access.system_ids_for(user, access.MANAGE_ALERTS) if not user.is_superuser else None
    silences = active_silences({a.system_id for a in alerts}, now)
    series_q = [
        Q(
            metric_id=a.metric_id,
            deployment_id=a.deployment_id,
            segment=a.segment,
            attribute=a.attribute,
            feature=a.feature,
            window_end__lte=a.last_window_end,
            window_end__gt=a.last_window_end
            - SPARK_WINDOWS * WINDOW_LENGTH.get(a.metric_version.window, timedelta(hours=1)),
        )
        for a in alerts
    ]
    points = defaultdict(list)
    for row in (
        AlertEvaluation.objects.filter(reduce(or_, series_q))
        .order_by("window_end")
        .values_list("metric_id", "deployment_id", "segment", "attribute", "feature", "value", "level")
    ):
        points[row[:5]].append((row[5], row[6]))
    for alert in alerts:
        key = (alert.metric_id, alert.deployment_id, alert.segment, alert.attribute, alert.feature)
        version = alert.metric_version
        alert.spark = sparkline.svg(
            points.get(key, [])[-SPARK_WINDOWS:],
            warn=alert.rule.get("warn", version.warn_threshold),
            critical=alert.rule.get("critical", version.critical_threshold),
            label=f"{alert.metric.key}: last windows",
        )
        alert.silenced_by = silencing(alert, silences)
        alert.can_manage = manageable is None or alert.system_id in manageable
        alert.comparison = "≥" if version.direction == MetricVersion.Direction.LOWER_IS_BETTER else "≤"
        alert.since = alert.fired_at or alert.created_at
        params = {"deployment": alert.deployment_id, "metric": alert.metric.key}
        if alert.segment:
            params["segment"] = alert.segment
        if alert.feature:
            params["feature"] = alert.feature
        alert.drilldown_url = _drilldown(alert, params)
    return alerts


def _drilldown(alert: Alert, params: dict) -> str:
    """The metric's drill-down page for the deployment (falls back to the system page)."""
    rest = {k: v for k, v in params.items() if k in ("segment", "feature")}
    try:
        url = reverse("dashboards:metric", args=[alert.deployment_id, alert.metric.key])
    except NoReverseMatch:
        url, rest = reverse("dashboards:system", args=[alert.system.slug]), params
    return f"{url}?{urlencode(rest)}" if rest else url


def _queue_filters(request) -> dict:
    get = request.GET
    return {
        "system": get.get("system", ""),
        "severity": get.get("severity", ""),
        "state": get.get("state", ""),
        "pillar": get.get("pillar", ""),
        "ack": get.get("ack", ""),
    }


class AlertQueueView(LoginRequiredMixin, TemplateView):
    """Firing and pending alerts, most severe and oldest first."""

    template_name = "alerts/queue.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        filters = _queue_filters(self.request)
        queryset = access.scope(_alert_queryset(), user).filter(state__in=Alert.OPEN_STATES)
        if filters["system"]:
            queryset = queryset.filter(system__slug=filters["system"])
        if filters["severity"] in Alert.Severity.values:
            queryset = queryset.filter(severity=filters["severity"])
        if filters["state"] in (Alert.State.FIRING, Alert.State.PENDING):
            queryset = queryset.filter(state=filters["state"])
        if filters["pillar"]:
            queryset = queryset.filter(pillar=filters["pillar"])
        if filters["ack"] == "no":
            queryset = queryset.filter(acknowledged_at__isnull=True)
        elif filters["ack"] == "yes":
            queryset = queryset.filter(acknowledged_at__isnull=False)
        queryset = queryset.annotate(
            severity_order=Case(
                When(severity=Alert.Severity.CRITICAL, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            ),
            state_order=Case(
                When(state=Alert.State.FIRING, then=Value(0)), default=Value(1), output_field=IntegerField()
            ),
            since_at=Coalesce("fired_at", "created_at"),
        ).order_by("severity_order", "state_order", "since_at", "id")
        alerts = list(queryset[:QUEUE_LIMIT])
        now = timezone.now()
        context.update(
            alerts=_decorate(alerts, user, now),
            queue_filters=filters,
            systems=access.systems_for(user).order_by("slug"),
            severities=Alert.Severity.choices,
            pillars=MetricVersion.Pillar.choices,
            counts={
                "critical": sum(1 for a in alerts if a.severity == "critical" and a.state == "firing"),
                "warning": sum(1 for a in alerts if a.severity == "warning" and a.state == "firing"),
                "pending": sum(1 for a in alerts if a.state == "pending"),
            },
            durations=SilenceAlertForm.base_fields["duration"].choices,
            now=now,
        )
        return context


def _render_row(request, alert: Alert, *, error: str = "", notice: str = "") -> HttpResponse:
    alert = _alert_queryset().get(pk=alert.pk)
    _decorate([alert], request.user, timezone.now())
    return render(
        request,
        "alerts/_alert_row.html",
        {
            "alert": alert,
            "row_error": error,
            "row_notice": notice,
            "durations": SilenceAlertForm.base_fields["duration"].choices,
        },
    )


ACTIONS = ("acknowledge", "resolve", "silence", "escalate")


@login_required
@require_POST
def alert_action(request, pk: int, action: str):
    """One inline action; HTMX gets the re-rendered row, a plain POST a redirect."""
    if action not in ACTIONS:
        raise Http404("Unknown action.")
    alert = access.get_for_user(Alert.objects.select_related("system"), request.user, pk=pk)
    access.require(request.user, alert, access.MANAGE_ALERTS)  # 403 before any work
    error, notice = "", ""
    try:
        if action == "silence":
            form = SilenceAlertForm(request.POST)
            if not form.is_valid():
                raise ValidationError("; ".join(m for errs in form.errors.values() for m in errs))
            silence = actions.silence(
                alert,
                user=request.user,
                reason=form.cleaned_data["reason"],
                duration=form.delta,
                scope=form.cleaned_data["scope"],
            )
            notice = f"Silenced until {silence.ends_at:%H:%M} UTC."
        else:
            form = CommentForm(request.POST)
            comment = form.cleaned_data["comment"] if form.is_valid() else ""
            getattr(actions, action)(alert, user=request.user, comment=comment)
            notice = {"acknowledge": "Acknowledged.", "resolve": "Resolved.", "escalate": "Escalated."}[
                action
            ]
    except ValidationError as exc:
        error = " ".join(exc.messages)
    if request.htmx:
        return _render_row(request, alert, error=error, notice=notice)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, notice)
    return redirect(request.POST.get("next") or reverse("alerts:queue"))


class AlertDetailView(LoginRequiredMixin, DetailView):
    template_name = "alerts/detail.html"
    context_object_name = "alert"

    def get_object(self, queryset=None):
        return access.get_for_user(_alert_queryset(), self.request.user, pk=self.kwargs["pk"])

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        alert = self.object
        _decorate([alert], self.request.user, timezone.now())
        context["evaluations"] = (
            AlertEvaluation.objects.filter(
                metric_id=alert.metric_id,
                deployment_id=alert.deployment_id,
                segment=alert.segment,
                attribute=alert.attribute,
                feature=alert.feature,
            )
            .select_related("metric_value__run")
            .order_by("-window_end")[:48]
        )
        context["events"] = alert.events.select_related("actor").order_by("at", "id")
        context["durations"] = SilenceAlertForm.base_fields["duration"].choices
        return context


# --- incidents ----------------------------------------------------------------------------


class IncidentListView(LoginRequiredMixin, ListView):
    template_name = "alerts/incidents.html"
    context_object_name = "incidents"
    paginate_by = 50

    def get_queryset(self):
        queryset = access.scope(
            Incident.objects.select_related("system", "postmortem"), self.request.user
        ).annotate(alert_count=Count("alerts", distinct=True))
        state = self.request.GET.get("state", "")
        if state in Incident.State.values:
            queryset = queryset.filter(state=state)
        return queryset.order_by("-opened_at")


def _ids_as_text(queryset):
    """The primary keys of ``queryset`` as text, to match ``AuditRecord.object_id`` in SQL."""
    return queryset.annotate(text_id=Cast("pk", CharField())).values("text_id")


def timeline(incident: Incident, now=None) -> list[dict]:
    """The incident's events plus threshold edits and deploys of its system in the same period."""
    now = now or timezone.now()
    start = incident.opened_at - timedelta(hours=1)
    end = incident.resolved_at or now
    entries = [
        {
            "at": e.at,
            "kind": e.kind,
            "label": e.get_kind_display(),
            "actor": e.actor_name,
            "message": e.message,
            "alert_id": e.alert_id,
        }
        for e in incident.events.all()
    ]
    # Metric definitions are shared by every system; overrides and approved changes belong to one
    # system, and only the incident's own may appear (another team's would leak to this page).
    own_overrides = ThresholdOverride.objects.filter(system_id=incident.system_id)
    own_changes = CatalogChangeRequest.objects.filter(
        Q(system__isnull=True) | Q(system_id=incident.system_id)
    )
    catalog_changes = Q(action__startswith="catalog.metric.") | Q(object_type="catalog.metricversion")
    catalog_changes |= Q(object_type="catalog.thresholdoverride", object_id__in=_ids_as_text(own_overrides))
    catalog_changes |= Q(action="catalog.change.approved", object_id__in=_ids_as_text(own_changes))
    for record in (
        AuditRecord.objects.filter(created_at__gte=start, created_at__lte=end)
        .filter(catalog_changes)
        .order_by("seq")[:100]
    ):
        changed = ", ".join(sorted(record.diff)) if record.diff else record.action
        entries.append(
            {
                "at": record.created_at,
                "kind": "catalog_change",
                "label": "Catalog change",
                "actor": record.actor_name,
                "message": f"{record.action} {record.object_repr}: {changed} — {record.reason}",
                "alert_id": None,
            }
        )
    for deployment in Deployment.objects.filter(
        environment__system_id=incident.system_id, started_at__gte=start, started_at__lte=end
    ).select_related("environment", "model_version__model"):
        entries.append(
            {
                "at": deployment.started_at,
                "kind": "deploy",
                "label": "Deploy",
                "actor": "",
                "message": f"{deployment.model_version} deployed to {deployment.environment.slug} ({deployment.status})",
                "alert_id": None,
            }
        )
    return sorted(entries, key=lambda e: e["at"])


def timeline_text(entries: list[dict]) -> str:
    return "\n".join(
        f"{e['at']:%Y-%m-%d %H:%M} UTC — {e['label']}{' by ' + e['actor'] if e['actor'] and e['actor'] != 'system' else ''}: {e['message']}"
        for e in entries
    )


class IncidentDetailView(LoginRequiredMixin, DetailView):
    template_name = "alerts/incident.html"
    context_object_name = "incident"

    def get_object(self, queryset=None):
        return access.get_for_user(
            Incident.objects.select_related("system"), self.request.user, pk=self.kwargs["pk"]
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        incident = self.object
        context["timeline"] = timeline(incident)
        context["alerts"] = _decorate(
            list(_alert_queryset().filter(incident=incident).order_by("-severity", "fired_at")),
            self.request.user,
            timezone.now(),
        )
        context["can_manage"] = access.has_perm(self.request.user, incident, access.MANAGE_ALERTS)
        context["note_form"] = NoteForm()
        context["postmortem"] = (
            PostMortem.objects.filter(incident=incident).prefetch_related("actions").first()
        )
        context["notifications"] = incident.notifications.select_related("channel").order_by("-created_at")[
            :20
        ]
        return context


@login_required
@require_POST
def incident_note(request, pk: int):
    incident = access.get_for_user(Incident.objects.select_related("system"), request.user, pk=pk)
    form = NoteForm(request.POST)
    if form.is_valid():
        actions.add_note(incident, user=request.user, text=form.cleaned_data["text"])
        messages.success(request, "Note added.")
    else:
        access.require(request.user, incident, access.MANAGE_ALERTS)
        messages.error(request, "A note needs text.")
    return redirect(incident.get_absolute_url())


@login_required
def postmortem(request, pk: int):
    incident = access.get_for_user(Incident.objects.select_related("system"), request.user, pk=pk)
    existing = PostMortem.objects.filter(incident=incident).first()
    if request.method == "POST":
        access.require(request.user, incident, access.MANAGE_ALERTS)
        instance = existing or PostMortem(incident=incident, author=request.user)
        before = snapshot(existing) if existing else None
        form = PostMortemForm(request.POST, instance=instance)
        formset = FollowUpFormSet(request.POST, instance=instance, prefix="actions")
        if form.is_valid() and formset.is_valid():
            with transaction.atomic():
                saved = form.save(commit=False)
                saved.updated_at = timezone.now()
                saved.save()
                formset.instance = saved
                formset.save()
                record_change(
                    action="postmortem.update" if existing else "postmortem.create",
                    obj=saved,
                    before=before,
                    after={**snapshot(saved), "actions": [a.description for a in saved.actions.all()]},
                    reason=f"post-mortem of incident {incident.pk}",
                )
            messages.success(request, "Post-mortem saved.")
            return redirect(incident.get_absolute_url())
    else:
        initial = {}
        if existing is None:
            initial["what_happened"] = timeline_text(timeline(incident))
        form = PostMortemForm(instance=existing, initial=initial)
        formset = FollowUpFormSet(instance=existing or PostMortem(incident=incident), prefix="actions")
    return render(
        request,
        "alerts/postmortem.html",
        {
            "incident": incident,
            "form": form,
            "formset": formset,
            "existing": existing,
            "can_manage": access.has_perm(request.user, incident, access.MANAGE_ALERTS),
        },
    )


# --- silences -----------------------------------------------------------------------------


@login_required
def silences(request):
    user = request.user
    now = timezone.now()
    form = SilenceForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        access.require(user, data["system"], access.MANAGE_ALERTS)
        try:
            create_silence(
                system=data["system"],
                deployment=data.get("deployment"),
                metric=data.get("metric"),
                segment=form.instance.segment,
                starts_at=data["starts_at"],
                ends_at=data["ends_at"],
                reason=data["reason"],
                author=user,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Silence created.")
            return redirect("alerts:silences")
    rows = list(
        access.scope(
            Silence.objects.select_related("system", "deployment", "metric", "created_by"), user
        ).order_by("-starts_at")[:500]
    )
    groups = {"active": [], "scheduled": [], "expired": []}
    for silence in rows:
        groups[silence.status(now)].append(silence)
    manageable = access.system_ids_for(user, access.MANAGE_ALERTS)
    return render(
        request,
        "alerts/silences.html",
        {
            "form": form,
            "groups": groups,
            "now": now,
            "manageable": manageable,
            "can_create": bool(manageable),
        },
    )


@login_required
@require_POST
def silence_expire(request, pk: int):
    silence = access.get_for_user(Silence.objects.select_related("system"), request.user, pk=pk)
    access.require(request.user, silence, access.MANAGE_ALERTS)
    expire_silence(silence, user=request.user, reason=request.POST.get("reason", ""))
    messages.success(request, "Silence expired.")
    return redirect("alerts:silences")


# --- channels and escalation policies ----------------------------------------------------


def _visible_shared(model, user):
    """System-owned rows the user may see, plus the shared ones (no system)."""
    return model.objects.filter(Q(system__isnull=True) | Q(system__in=access.systems_for(user)))


def _can_edit(user, obj) -> bool:
    if obj.system_id is None:
        return access.is_catalog_admin(user)
    return access.has_perm(user, obj, access.MANAGE_ALERTS)


def _edit_or_404(model, user, pk):
    obj = _visible_shared(model, user).filter(pk=pk).first()
    if obj is None:
        raise Http404("Not found.")
    if not _can_edit(user, obj):
        raise PermissionDenied("You cannot change this.")
    return obj


def _check_target_system(user, system: System | None) -> None:
    if system is None and not access.is_catalog_admin(user):
        raise PermissionDenied("Only catalog admins manage shared channels and policies.")
    if system is not None and not access.has_perm(user, system, access.MANAGE_ALERTS):
        raise PermissionDenied("You lack manage_alerts on that system.")


@login_required
def channels(request, pk: int | None = None):
    user = request.user
    instance = _edit_or_404(Channel, user, pk) if pk else None
    form = ChannelForm(request.POST or None, instance=instance, user=user)
    if request.method == "POST" and form.is_valid():
        _check_target_system(user, form.cleaned_data.get("system"))
        before = snapshot(instance, exclude=["secret"]) if instance else None
        with transaction.atomic():
            channel = form.save()
            record_change(
                action="channel.update" if instance else "channel.create",
                obj=channel,
                before=before,
                after=snapshot(channel, exclude=["secret"]),
                reason="channel edited in the UI",
            )
        messages.success(request, f"Channel {channel.name} saved.")
        return redirect("alerts:channels")
    rows = _visible_shared(Channel, user).select_related("system").order_by("name")
    for row in rows:
        row.editable = _can_edit(user, row)
    return render(request, "alerts/channels.html", {"form": form, "channels": rows, "editing": instance})


@login_required
def policies(request, pk: int | None = None):
    user = request.user
    instance = _edit_or_404(EscalationPolicy, user, pk) if pk else None
    form = EscalationPolicyForm(request.POST or None, instance=instance, user=user)
    policy_for_steps = instance or EscalationPolicy()
    formset = StepFormSet(request.POST or None, instance=policy_for_steps, prefix="steps")
    system = instance.system if instance else None
    if request.method == "POST" and form.is_valid():
        system = form.cleaned_data.get("system")
    for step_form in formset.forms:
        step_form.fields["channel"].queryset = channels_for(user, system)
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        _check_target_system(user, form.cleaned_data.get("system"))
        with transaction.atomic():
            policy = form.save()
            formset.instance = policy
            formset.save()
            record_change(
                action="escalation_policy.update" if instance else "escalation_policy.create",
                obj=policy,
                after={
                    **snapshot(policy),
                    "steps": [
                        [s.position, s.channel.name, s.delay_minutes]
                        for s in policy.steps.select_related("channel")
                    ],
                },
                reason="escalation policy edited in the UI",
            )
        messages.success(request, f"Policy {policy.name} saved.")
        return redirect("alerts:policies")
    rows = (
        _visible_shared(EscalationPolicy, user)
        .select_related("system")
        .prefetch_related("steps__channel")
        .order_by("system__slug", "pillar", "name")
    )
    for row in rows:
        row.editable = _can_edit(user, row)
    return render(
        request,
        "alerts/policies.html",
        {"form": form, "formset": formset, "policies": rows, "editing": instance},
    )


# --- deliveries and dead letters ---------------------------------------------------------


@login_required
def deliveries(request):
    user = request.user
    scoped = access.scope(Notification.objects.select_related("channel", "incident__system"), user)
    dead = list(scoped.filter(status=Notification.Status.DEAD).order_by("-dead_at")[:200])
    recent = list(scoped.exclude(status=Notification.Status.DEAD).order_by("-created_at")[:50])
    attempts = access.scope(DeliveryAttempt.objects.select_related("notification__channel"), user).order_by(
        "-started_at", "-id"
    )[:100]
    manageable = access.system_ids_for(user, access.MANAGE_ALERTS)
    return render(
        request,
        "alerts/deliveries.html",
        {"dead": dead, "recent": recent, "attempts": attempts, "manageable": manageable},
    )


@login_required
def replay(request, pk: int):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    notification = access.get_for_user(
        Notification.objects.select_related("incident__system"), request.user, pk=pk
    )
    access.require(request.user, notification, access.MANAGE_ALERTS)
    delivery.replay(notification, user=request.user, reason=request.POST.get("reason", ""))
    messages.success(request, f"Notification {notification.notification_id} queued again.")
    return redirect("alerts:deliveries")
