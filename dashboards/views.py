"""The layered views. For now: the portfolio of visible systems and a system page."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import Count
from django.views.generic import DetailView, ListView

from catalog.models import Deployment, System
from healthboard import access


class PortfolioView(LoginRequiredMixin, ListView):
    template_name = "dashboards/portfolio.html"
    context_object_name = "systems"

    def get_queryset(self):
        return access.scope(
            System.objects.select_related("team").annotate(model_count=Count("models", distinct=True)),
            self.request.user,
        )


class SystemView(LoginRequiredMixin, DetailView):
    template_name = "dashboards/system.html"
    context_object_name = "system"

    def get_object(self, queryset=None):
        return access.get_for_user(
            System.objects.select_related("team"), self.request.user, slug=self.kwargs["slug"]
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        system = self.object
        context["models"] = system.models.prefetch_related("features", "cohorts", "versions")
        context["deployments"] = Deployment.objects.filter(environment__system=system).select_related(
            "environment", "model_version__model"
        )
        context["environments"] = system.environments.all()
        return context
