"""Platform pages of ingestion: the quarantine of rejected records, with replay."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import ListView

from catalog.models import System
from healthboard import access
from metrics.ingest.replay import replay
from metrics.models import QuarantinedRecord


def replayable(user):
    """Quarantined records the user may replay: ``ingest`` or ``change_system`` on the system."""
    base = QuarantinedRecord.objects.all()
    return access.scope(base, user, access.INGEST) | access.scope(base, user, access.CHANGE)


class QuarantineListView(LoginRequiredMixin, ListView):
    template_name = "metrics/quarantine.html"
    paginate_by = 50
    context_object_name = "records"

    def get_queryset(self):
        qs = access.scope(QuarantinedRecord.objects.select_related("system"), self.request.user, access.VIEW)
        params = self.request.GET
        self.filters = {
            "system": params.get("system", ""),
            "kind": params.get("kind", ""),
            "reason": params.get("reason", ""),
            "status": params.get("status", "pending"),
        }
        if self.filters["system"]:
            qs = qs.filter(system__slug=self.filters["system"])
        if self.filters["kind"]:
            qs = qs.filter(kind=self.filters["kind"])
        if self.filters["reason"]:
            qs = qs.filter(reason=self.filters["reason"])
        if self.filters["status"] == "pending":
            qs = qs.filter(replayed_at__isnull=True)
        elif self.filters["status"] == "replayed":
            qs = qs.filter(replayed_at__isnull=False)
        self.scoped = qs
        return qs.order_by("-received_at", "-id")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        since = timezone.now() - timedelta(days=1)
        visible = access.scope(QuarantinedRecord.objects.all(), user, access.VIEW)
        context.update(
            qfilters=self.filters,
            systems=access.scope(System.objects.all(), user, access.VIEW).order_by("slug"),
            kinds=QuarantinedRecord.Kind.choices,
            reasons=sorted(set(visible.values_list("reason", flat=True).distinct())),
            by_reason=list(
                visible.filter(received_at__gte=since)
                .values("system__slug", "kind", "reason")
                .annotate(n=Count("id"))
                .order_by("-n")[:20]
            ),
            replayable_ids=set(
                replayable(user)
                .filter(pk__in=[r.pk for r in context["records"]])
                .values_list("pk", flat=True)
            ),
            can_replay_any=replayable(user).exists(),
            query_string=self.request.GET.urlencode(),
        )
        return context


class QuarantineReplayView(LoginRequiredMixin, View):
    """POST ``id`` (repeatable) or ``all=1`` with the list's filters: replay pending records."""

    def post(self, request):
        allowed = replayable(request.user).filter(replayed_at__isnull=True)
        ids = [int(i) for i in request.POST.getlist("id") if i.isdigit()]
        if ids:
            qs = allowed.filter(pk__in=ids)
            if qs.count() != len(set(ids)):
                visible = access.scope(
                    QuarantinedRecord.objects.filter(pk__in=ids), request.user, access.VIEW
                )
                if visible.count() != len(set(ids)):
                    raise Http404("No such quarantined record.")
        elif request.POST.get("all"):
            qs = allowed
            for key in ("system", "kind", "reason"):
                value = request.POST.get(key, "")
                if value:
                    qs = qs.filter(**({"system__slug": value} if key == "system" else {key: value}))
        else:
            messages.error(request, "Nothing selected to replay.")
            return redirect("metrics:quarantine")
        result = replay(qs, actor=request.user)
        messages.success(
            request,
            f"Replayed: {result.get('accepted', 0)} stored, {result.get('duplicates', 0)} duplicates, "
            f"{result.get('rejected', 0)} rejected again.",
        )
        # ``next`` is the list's query string only; the path is fixed, so no open redirect.
        back = request.POST.get("next", "").lstrip("?")
        return redirect(reverse("metrics:quarantine") + (f"?{back}" if back else ""))
