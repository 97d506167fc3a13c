"""Pages for catalog admins: granting access to systems, and reading the audit trail."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin, UserPassesTestMixin
from django.db import transaction
from django.shortcuts import redirect
from django.views.generic import FormView, ListView
from guardian.shortcuts import get_groups_with_perms, get_users_with_perms

from catalog.models import System
from healthboard import access
from healthboard.audit import record_change
from healthboard.forms import AccessGrantForm, AuditFilterForm
from healthboard.models import AuditRecord


class CatalogAdminRequiredMixin(LoginRequiredMixin, UserPassesTestMixin):
    def test_func(self) -> bool:
        return access.is_catalog_admin(self.request.user)


class AccessGrantView(CatalogAdminRequiredMixin, FormView):
    template_name = "healthboard/access.html"
    form_class = AccessGrantForm

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = []
        for system in System.objects.select_related("team").order_by("slug"):
            groups = get_groups_with_perms(system, attach_perms=True)
            users = get_users_with_perms(system, attach_perms=True, with_group_users=False)
            rows.append(
                {
                    "system": system,
                    "groups": sorted((g.name, sorted(p)) for g, p in groups.items()),
                    "users": sorted((u.username, sorted(p)) for u, p in users.items()),
                }
            )
        context["grants"] = rows
        return context

    def form_valid(self, form):
        data = form.cleaned_data
        system = data["system"]
        team, user, perms = data["team"], data["user"], sorted(data["permissions"])
        target = {"team": team.slug} if team else {"user": user.username}
        with transaction.atomic():
            if data["action"] == "grant":
                access.grant(system, perms, user=user, group=team.group if team else None)
            else:
                access.revoke(system, perms, user=user, group=team.group if team else None)
            record_change(
                action=f"access.{data['action']}",
                obj=system,
                after={**target, "permissions": perms},
                reason=data["reason"],
                source=AuditRecord.Source.UI,
            )
        who = team.slug if team else user.username
        messages.success(
            self.request, f"{data['action'].title()}ed {', '.join(perms)} on {system.slug} for {who}."
        )
        return redirect("access")


class AuditListView(CatalogAdminRequiredMixin, ListView):
    template_name = "healthboard/audit.html"
    paginate_by = 50
    context_object_name = "records"

    def get_queryset(self):
        queryset = AuditRecord.objects.select_related("actor").order_by("-seq")
        self.filter_form = AuditFilterForm(self.request.GET or None)
        if self.filter_form.is_valid():
            data = self.filter_form.cleaned_data
            if data["actor"]:
                queryset = queryset.filter(actor_name__icontains=data["actor"])
            if data["object_type"]:
                queryset = queryset.filter(object_type__icontains=data["object_type"])
            if data["object_id"]:
                queryset = queryset.filter(object_id=data["object_id"])
            if data["action"]:
                queryset = queryset.filter(action__icontains=data["action"])
            if data["since"]:
                queryset = queryset.filter(created_at__gte=data["since"])
            if data["until"]:
                queryset = queryset.filter(created_at__lt=data["until"])
        return queryset

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["filter_form"] = self.filter_form
        query = self.request.GET.copy()
        query.pop("page", None)
        context["query_string"] = query.urlencode()
        return context
