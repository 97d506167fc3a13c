from django.urls import path

from catalog import views

app_name = "catalog"
urlpatterns = [
    path("", views.MetricListView.as_view(), name="metric-list"),
    path("metrics/<slug:key>/", views.MetricDetailView.as_view(), name="metric-detail"),
    path("metrics/<slug:key>/edit/", views.MetricEditView.as_view(), name="metric-edit"),
    path(
        "metrics/<slug:key>/rollback/<int:number>/",
        views.MetricRollbackView.as_view(),
        name="metric-rollback",
    ),
    path("overrides/", views.OverrideListView.as_view(), name="override-list"),
    path("overrides/edit/", views.OverrideEditView.as_view(), name="override-edit"),
    path(
        "overrides/<slug:key>/<str:scope_key>/", views.OverrideHistoryView.as_view(), name="override-history"
    ),
    path("policy/", views.PolicyView.as_view(), name="policy"),
    path("weight-profiles/", views.WeightProfileListView.as_view(), name="weightprofile-list"),
    path("weight-profiles/new/", views.WeightProfileEditView.as_view(), name="weightprofile-create"),
    path(
        "weight-profiles/<slug:name>/", views.WeightProfileDetailView.as_view(), name="weightprofile-detail"
    ),
    path(
        "weight-profiles/<slug:name>/edit/", views.WeightProfileEditView.as_view(), name="weightprofile-edit"
    ),
    path("changes/", views.ChangeListView.as_view(), name="change-list"),
    path(
        "changes/<int:pk>/approve/",
        views.ChangeDecisionView.as_view(decision="approve"),
        name="change-approve",
    ),
    path(
        "changes/<int:pk>/reject/", views.ChangeDecisionView.as_view(decision="reject"), name="change-reject"
    ),
]
