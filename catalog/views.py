"""The catalog UI (/catalog/): definitions with their version history and diffs, the audited
edit form with a backtest before save, rollback, threshold overrides and the effective policy
of a deployment, weight profiles, and the four-eyes queue.

Reading is open to every signed-in user; every change needs the ``catalog_admin`` role (403
otherwise) and goes through ``catalog.services``. Objects under systems (overrides,
deployments) are scoped with ``healthboard.access``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin, UserPassesTestMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from catalog import services
from catalog.forms import (
    DecisionForm,
    DiffForm,
    MetricSearchForm,
    MetricVersionForm,
    OverrideForm,
    PolicyForm,
    RollbackForm,
    WeightProfileForm,
)
from catalog.models import (
    CatalogChangeRequest,
    MetricDefinition,
    MetricVersion,
    System,
    ThresholdOverride,
    WeightProfile,
    WeightProfileVersion,
)
from healthboard import access
from healthboard.models import AuditRecord


class CatalogAdminRequiredMixin(LoginRequiredMixin, UserPassesTestMixin):
    """Signed-in users without the catalog_admin role get a 403 (anonymous: the login page)."""

    def test_func(self) -> bool:
        return access.is_catalog_admin(self.request.user)


def _service_error(request, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


def _audit_for(object_type: str, object_ids) -> list[AuditRecord]:
    return list(
        AuditRecord.objects.filter(
            object_type=object_type, object_id__in=[str(i) for i in object_ids]
        ).order_by("-seq")[:100]
    )


def _metric_audit(definition: MetricDefinition, versions) -> list[AuditRecord]:
    """The definition's changes and what was done under its versions (backfills), newest first."""
    return sorted(
        _audit_for("catalog.metricdefinition", [definition.pk])
        + _audit_for("catalog.metricversion", [v.pk for v in versions]),
        key=lambda r: r.seq,
        reverse=True,
    )[:100]


def _changed_fields(older: MetricVersion | None, newer: MetricVersion) -> list[str]:
    if older is None:
        return []
    return [name for name in MetricVersion.CONTENT_FIELDS if getattr(older, name) != getattr(newer, name)]


def _diff_rows(before: dict, after: dict) -> list[dict]:
    return [
        {
            "field": name,
            "a": before.get(name),
            "b": after.get(name),
            "changed": before.get(name) != after.get(name),
        }
        for name in after
    ]


def _visible_pending(user):
    pending = CatalogChangeRequest.objects.filter(status=CatalogChangeRequest.Status.PENDING)
    return pending.filter(Q(system__isnull=True) | Q(system__in=access.systems_for(user)))


# --- metric definitions -----------------------------------------------------------------------


class MetricListView(LoginRequiredMixin, TemplateView):
    template_name = "catalog/metric_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = MetricSearchForm(self.request.GET or None)
        versions = MetricVersion.objects.filter(is_current=True).select_related("definition", "created_by")
        if form.is_valid():
            query = form.cleaned_data["q"].strip()
            if query:
                versions = versions.filter(
                    Q(definition__key__icontains=query)
                    | Q(name__icontains=query)
                    | Q(description__icontains=query)
                )
            if form.cleaned_data["pillar"]:
                versions = versions.filter(pillar=form.cleaned_data["pillar"])
        context.update(
            form=form,
            versions=versions.order_by("pillar", "definition__key"),
            total=MetricDefinition.objects.count(),
            pending_count=_visible_pending(self.request.user).count(),
            is_admin=access.is_catalog_admin(self.request.user),
        )
        return context


class MetricDetailView(LoginRequiredMixin, TemplateView):
    template_name = "catalog/metric_detail.html"

    def get_context_data(self, key: str, **kwargs):
        from metrics.engine import backfill  # the catalog must not depend on metrics at import

        context = super().get_context_data(**kwargs)
        definition = get_object_or_404(MetricDefinition, key=key)
        versions = list(definition.versions.select_related("created_by").order_by("-number"))
        if not versions:
            raise Http404("This metric has no versions.")
        by_number = {v.number: v for v in versions}
        current = next((v for v in versions if v.is_current), versions[0])
        history = []
        for index, version in enumerate(versions):
            older = versions[index + 1] if index + 1 < len(versions) else None
            history.append({"version": version, "changed": _changed_fields(older, version)})
        default_b = current.number
        default_a = versions[1].number if len(versions) > 1 else current.number
        diff_form = DiffForm(self.request.GET or None, initial={"a": default_a, "b": default_b})
        a_number, b_number = default_a, default_b
        if self.request.GET and diff_form.is_valid():
            a_number, b_number = diff_form.cleaned_data["a"], diff_form.cleaned_data["b"]
        diff = None
        if a_number in by_number and b_number in by_number:
            diff = {
                "a": by_number[a_number],
                "b": by_number[b_number],
                "rows": services.version_diff(by_number[a_number], by_number[b_number]),
            }
        overrides = access.scope(
            ThresholdOverride.objects.filter(definition=definition, is_current=True).select_related(
                "system", "environment__system", "deployment__model_version__model", "created_by"
            ),
            self.request.user,
        )
        is_admin = access.is_catalog_admin(self.request.user)
        context.update(
            definition=definition,
            current=current,
            history=history,
            versions=versions,
            diff=diff,
            diff_form=diff_form,
            overrides=[o for o in overrides if not o.is_cleared],
            pending=_visible_pending(self.request.user).filter(definition=definition),
            audit=_metric_audit(definition, versions),
            is_admin=is_admin,
            four_eyes=services.four_eyes_enabled(),
            # The "recompute history" button (metrics.engine.backfill): catalog admins only.
            backfills=backfill.recent(definition.key) if is_admin else [],
        )
        return context


class MetricEditView(CatalogAdminRequiredMixin, View):
    """Two steps, both server-rendered: the form POSTs to a preview (diff + backtest), which
    POSTs the same values with ``step=confirm`` to save."""

    template_name = "catalog/metric_edit.html"
    confirm_template_name = "catalog/metric_confirm.html"

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.definition = get_object_or_404(MetricDefinition, key=kwargs["key"])
        self.current = self.definition.versions.filter(is_current=True).first()
        if self.current is None:
            raise Http404("This metric has no current version.")

    def render_form(self, form, status=200):
        return render(
            self.request,
            self.template_name,
            {
                "definition": self.definition,
                "current": self.current,
                "form": form,
                "four_eyes": services.four_eyes_enabled(),
            },
            status=status,
        )

    def get(self, request, key):
        return self.render_form(MetricVersionForm(initial=MetricVersionForm.initial_for(self.current)))

    def post(self, request, key):
        form = MetricVersionForm(request.POST)
        step = request.POST.get("step") or MetricVersionForm.STEP_PREVIEW
        if not form.is_valid() or step == MetricVersionForm.STEP_EDIT:
            return self.render_form(form, status=200 if form.is_valid() else 400)
        content = form.content()
        if form.cleaned_data["base_version"] != self.current.number:
            form.add_error(
                None,
                f"v{self.current.number} became current while you were editing "
                f"v{form.cleaned_data['base_version']}; reload the form and apply your change again.",
            )
            return self.render_form(form, status=409)
        if content == self.current.content():
            form.add_error(None, "Nothing changed: the content equals the current version.")
            return self.render_form(form, status=400)
        if step == MetricVersionForm.STEP_CONFIRM:
            return self.save(form, content)
        return self.preview(form, content)

    def preview(self, form, content):
        report = services.backtest_metric_change(self.definition, user=self.request.user, proposed=content)
        before = self.current.content()
        return render(
            self.request,
            self.confirm_template_name,
            {
                "definition": self.definition,
                "current": self.current,
                "form": form,
                "diff": [row for row in _diff_rows(before, content) if row["changed"]],
                "report": report,
                "reason": form.cleaned_data["reason"],
                "needs_approval": services.four_eyes_enabled() and services._policy_changed(before, content),
            },
        )

    def save(self, form, content):
        try:
            outcome = services.create_metric_version(
                self.definition,
                content,
                reason=form.cleaned_data["reason"],
                actor=self.request.user,
                source=AuditRecord.Source.UI,
                base_number=form.cleaned_data["base_version"],
            )
        except ValidationError as exc:
            form.add_error(None, exc.messages)
            return self.render_form(form, status=400)
        if outcome.is_pending:
            messages.warning(
                self.request,
                f"Change #{outcome.pending.pk} is waiting for a second catalog admin's approval "
                "(four-eyes: it changes thresholds that apply to production).",
            )
        else:
            messages.success(self.request, f"Saved {self.definition.key} v{outcome.version.number}.")
        return redirect("catalog:metric-detail", key=self.definition.key)


class MetricRollbackView(CatalogAdminRequiredMixin, View):
    template_name = "catalog/metric_rollback.html"

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.definition = get_object_or_404(MetricDefinition, key=kwargs["key"])
        self.target = get_object_or_404(MetricVersion, definition=self.definition, number=kwargs["number"])
        self.current = self.definition.versions.get(is_current=True)

    def render_page(self, form, status=200):
        content = self.target.content()
        return render(
            self.request,
            self.template_name,
            {
                "definition": self.definition,
                "current": self.current,
                "target": self.target,
                "form": form,
                "diff": [row for row in _diff_rows(self.current.content(), content) if row["changed"]],
                "report": services.backtest_metric_change(
                    self.definition, user=self.request.user, proposed=content
                ),
            },
            status=status,
        )

    def get(self, request, key, number):
        return self.render_page(RollbackForm())

    def post(self, request, key, number):
        form = RollbackForm(request.POST)
        if not form.is_valid():
            return self.render_page(form, status=400)
        try:
            outcome = services.rollback_metric(
                self.definition,
                self.target.number,
                reason=form.cleaned_data["reason"],
                actor=request.user,
                source=AuditRecord.Source.UI,
            )
        except ValidationError as exc:
            form.add_error(None, exc.messages)
            return self.render_page(form, status=400)
        if outcome.is_pending:
            messages.warning(
                request, f"Rollback proposed as change #{outcome.pending.pk}; a second admin must approve it."
            )
        else:
            messages.success(request, f"v{self.target.number} is current again as v{outcome.version.number}.")
        return redirect("catalog:metric-detail", key=key)


# --- threshold overrides and effective policy -------------------------------------------------


class OverrideListView(LoginRequiredMixin, TemplateView):
    template_name = "catalog/override_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        overrides = access.scope(
            ThresholdOverride.objects.filter(is_current=True)
            .select_related(
                "definition",
                "system",
                "environment__system",
                "deployment__model_version__model",
                "created_by",
            )
            .order_by("definition__key", "scope_key"),
            self.request.user,
        )
        metric = self.request.GET.get("metric", "").strip()
        if metric:
            overrides = overrides.filter(definition__key=metric)
        context.update(
            overrides=[o for o in overrides if not o.is_cleared],
            metric=metric,
            is_admin=access.is_catalog_admin(self.request.user),
        )
        return context


class OverrideHistoryView(LoginRequiredMixin, TemplateView):
    template_name = "catalog/override_history.html"

    def get_context_data(self, key: str, scope_key: str, **kwargs):
        context = super().get_context_data(**kwargs)
        definition = get_object_or_404(MetricDefinition, key=key)
        versions = list(
            access.scope(
                ThresholdOverride.objects.filter(definition=definition, scope_key=scope_key)
                .select_related(
                    "system", "environment__system", "deployment__model_version__model", "created_by"
                )
                .order_by("-number"),
                self.request.user,
            )
        )
        if not versions:
            raise Http404("No such override.")
        context.update(
            definition=definition,
            versions=versions,
            latest=versions[0],
            audit=_audit_for("catalog.thresholdoverride", [v.pk for v in versions]),
        )
        return context


class OverrideEditView(CatalogAdminRequiredMixin, View):
    template_name = "catalog/override_edit.html"
    confirm_template_name = "catalog/override_confirm.html"

    def render_form(self, form, status=200):
        return render(self.request, self.template_name, {"form": form}, status=status)

    def get(self, request):
        initial = {
            key: request.GET[key]
            for key in ("metric", "scope", "system", "environment", "deployment")
            if key in request.GET
        }
        return self.render_form(OverrideForm(initial=initial, user=request.user))

    def post(self, request):
        form = OverrideForm(request.POST, user=request.user)
        step = request.POST.get("step") or OverrideForm.STEP_PREVIEW
        if not form.is_valid() or step == OverrideForm.STEP_EDIT:
            return self.render_form(form, status=200 if form.is_valid() else 400)
        definition, scope, target = form.cleaned_data["metric"], form.cleaned_data["scope"], form.target
        try:
            content = services.validate_override_content(definition, scope, target, form.content())
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                form.add_error(name if name in form.fields else None, errors)
            return self.render_form(form, status=400)
        if step == OverrideForm.STEP_CONFIRM:
            try:
                outcome = services.set_threshold_override(
                    definition,
                    scope=scope,
                    target=target,
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                    source=AuditRecord.Source.UI,
                    **content,
                )
            except ValidationError as exc:
                form.add_error(None, exc.messages)
                return self.render_form(form, status=400)
            if outcome.is_pending:
                messages.warning(
                    request, f"Change #{outcome.pending.pk} is waiting for a second catalog admin's approval."
                )
                return redirect("catalog:change-list")
            messages.success(request, f"Saved {outcome.version}.")
            return redirect(
                "catalog:override-history", key=definition.key, scope_key=outcome.version.scope_key
            )
        current = services._current_override(definition, scope, target)
        report = services.backtest_metric_change(
            definition, user=request.user, override=(scope, target, content)
        )
        return render(
            request,
            self.confirm_template_name,
            {
                "form": form,
                "definition": definition,
                "scope": scope,
                "target": target,
                "current": current,
                "current_content": current.content() if current else None,
                "content": content,
                "inherited": services._inherited(definition, scope, target),
                "report": report,
            },
        )


class PolicyView(LoginRequiredMixin, TemplateView):
    """The effective threshold policy of every metric on one deployment, and where each
    threshold comes from."""

    template_name = "catalog/policy.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = PolicyForm(self.request.GET or None, user=self.request.user)
        rows = []
        deployment = None
        if form.is_valid():
            deployment = form.cleaned_data["deployment"]
            versions = (
                MetricVersion.objects.filter(is_current=True)
                .select_related("definition")
                .order_by("pillar", "definition__key")
            )
            policies = services.effective_policies(deployment, versions)
            rows = [{"version": v, "policy": policies[v.definition.key]} for v in versions]
        context.update(form=form, deployment=deployment, rows=rows)
        return context


# --- weight profiles --------------------------------------------------------------------------


class WeightProfileListView(LoginRequiredMixin, TemplateView):
    template_name = "catalog/weightprofile_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        profiles = WeightProfile.objects.prefetch_related(
            Prefetch(
                "versions", queryset=WeightProfileVersion.objects.filter(is_current=True), to_attr="current"
            )
        ).order_by("name")
        usage = dict(System.objects.values_list("weight_profile").annotate(n=Count("id")))
        context.update(
            profiles=[
                {
                    "profile": p,
                    "current": p.current[0] if p.current else None,
                    "systems": usage.get(p.name, 0),
                }
                for p in profiles
            ],
            pillars=services.PILLARS,
            is_admin=access.is_catalog_admin(self.request.user),
        )
        return context


class WeightProfileDetailView(LoginRequiredMixin, TemplateView):
    template_name = "catalog/weightprofile_detail.html"

    def get_context_data(self, name: str, **kwargs):
        context = super().get_context_data(**kwargs)
        profile = get_object_or_404(WeightProfile, name=name)
        versions = list(profile.versions.select_related("created_by").order_by("-number"))
        context.update(
            profile=profile,
            versions=versions,
            current=next((v for v in versions if v.is_current), None),
            pillars=services.PILLARS,
            systems=access.scope(System.objects.filter(weight_profile=profile.name), self.request.user),
            audit=_audit_for("catalog.weightprofile", [profile.pk]),
            is_admin=access.is_catalog_admin(self.request.user),
        )
        return context


class WeightProfileEditView(CatalogAdminRequiredMixin, View):
    template_name = "catalog/weightprofile_edit.html"

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.profile = None
        self.current = None
        if kwargs.get("name"):
            self.profile = get_object_or_404(WeightProfile, name=kwargs["name"])
            self.current = self.profile.versions.filter(is_current=True).first()

    def render_form(self, form, status=200):
        return render(
            self.request,
            self.template_name,
            {"form": form, "profile": self.profile, "current": self.current},
            status=status,
        )

    def get(self, request, name=None):
        initial = WeightProfileForm.initial_for(self.current) if self.current else {}
        return self.render_form(WeightProfileForm(initial=initial, creating=self.profile is None))

    def post(self, request, name=None):
        form = WeightProfileForm(request.POST, creating=self.profile is None)
        if not form.is_valid():
            return self.render_form(form, status=400)
        try:
            version = services.create_weight_profile_version(
                self.profile.name if self.profile else form.cleaned_data["name"],
                form.content(),
                reason=form.cleaned_data["reason"],
                actor=request.user,
                source=AuditRecord.Source.UI,
                create=self.profile is None,
                base_number=form.cleaned_data.get("base_version") if self.profile else None,
            )
        except ValidationError as exc:
            form.add_error(None, exc.messages)
            return self.render_form(form, status=400)
        messages.success(request, f"Saved weight profile {version}.")
        return redirect("catalog:weightprofile-detail", name=version.profile.name)


# --- four eyes --------------------------------------------------------------------------------


class ChangeListView(LoginRequiredMixin, TemplateView):
    template_name = "catalog/change_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        visible = CatalogChangeRequest.objects.filter(
            Q(system__isnull=True) | Q(system__in=access.systems_for(self.request.user))
        ).select_related(
            "definition", "proposed_by", "decided_by", "system", "environment__system", "deployment"
        )
        pending = list(visible.filter(status=CatalogChangeRequest.Status.PENDING).order_by("proposed_at"))
        current = {
            v.definition_id: v
            for v in MetricVersion.objects.filter(
                is_current=True, definition__in=[c.definition_id for c in pending]
            )
        }
        for change in pending:
            base = current.get(change.definition_id)
            if change.kind == CatalogChangeRequest.Kind.METRIC_VERSION and base is not None:
                change.diff_rows = [
                    row for row in _diff_rows(base.content(), change.proposed) if row["changed"]
                ]
            else:
                change.diff_rows = [
                    {"field": k, "a": None, "b": v, "changed": True} for k, v in change.proposed.items()
                ]
        context.update(
            pending=pending,
            decided=visible.exclude(status=CatalogChangeRequest.Status.PENDING).order_by("-decided_at")[:50],
            four_eyes=services.four_eyes_enabled(),
            is_admin=access.is_catalog_admin(self.request.user),
            decision_form=DecisionForm(),
        )
        return context


class ChangeDecisionView(CatalogAdminRequiredMixin, View):
    decision = "approve"

    def post(self, request, pk: int):
        change = get_object_or_404(
            CatalogChangeRequest.objects.filter(
                Q(system__isnull=True) | Q(system__in=access.systems_for(request.user))
            ),
            pk=pk,
        )
        form = DecisionForm(request.POST)
        note = form.data.get("note", "")
        try:
            if self.decision == "approve":
                version = services.approve_change(change.pk, actor=request.user, note=note)
                messages.success(
                    request, f"Approved change #{change.pk}: {change.definition.key} v{version.number}."
                )
            else:
                services.reject_change(change.pk, actor=request.user, note=note)
                messages.success(request, f"Rejected change #{change.pk}.")
        except PermissionDenied as exc:
            return render(
                request, "catalog/change_refused.html", {"change": change, "message": str(exc)}, status=403
            )
        except ValidationError as exc:
            _service_error(request, exc)
        return redirect(reverse("catalog:change-list"))
