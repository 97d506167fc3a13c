from django.urls import path

from alerts import views

app_name = "alerts"
urlpatterns = [
    path("sre/alerts/", views.AlertQueueView.as_view(), name="queue"),
    path("sre/alerts/<int:pk>/", views.AlertDetailView.as_view(), name="detail"),
    path("sre/alerts/<int:pk>/<slug:action>/", views.alert_action, name="action"),
    path("sre/incidents/", views.IncidentListView.as_view(), name="incidents"),
    path("sre/incidents/<int:pk>/", views.IncidentDetailView.as_view(), name="incident"),
    path("sre/incidents/<int:pk>/notes/", views.incident_note, name="incident-note"),
    path("sre/incidents/<int:pk>/postmortem/", views.postmortem, name="postmortem"),
    path("sre/silences/", views.silences, name="silences"),
    path("sre/silences/<int:pk>/expire/", views.silence_expire, name="silence-expire"),
    path("sre/escalation-policies/", views.policies, name="policies"),
    path("sre/escalation-policies/<int:pk>/", views.policies, name="policy-edit"),
    path("sre/channels/", views.channels, name="channels"),
    path("sre/channels/<int:pk>/", views.channels, name="channel-edit"),
    path("sre/deliveries/", views.deliveries, name="deliveries"),
    path("sre/deliveries/<int:pk>/replay/", views.replay, name="replay"),
]
