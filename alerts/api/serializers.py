"""API shapes for alerts and incidents (explicit fields; nothing secret)."""

from __future__ import annotations

from rest_framework import serializers

from alerts.models import Alert, Incident, IncidentEvent


class AlertSerializer(serializers.ModelSerializer):
    metric = serializers.CharField(source="metric.key")
    metric_version = serializers.IntegerField(source="metric_version.number")
    system = serializers.CharField(source="system.slug")
    acknowledged_by = serializers.CharField(source="acknowledged_by.username", default=None, allow_null=True)
    silenced = serializers.SerializerMethodField()
    inhibited = serializers.SerializerMethodField()
    playbook = serializers.CharField(source="metric_version.playbook")

    class Meta:
        model = Alert
        fields = [
            "id",
            "fingerprint",
            "state",
            "severity",
            "metric",
            "metric_version",
            "pillar",
            "system",
            "deployment",
            "segment",
            "attribute",
            "feature",
            "value",
            "threshold",
            "breaches",
            "first_breach_window_end",
            "last_window_end",
            "created_at",
            "fired_at",
            "resolved_at",
            "resolution",
            "acknowledged_at",
            "acknowledged_by",
            "ack_comment",
            "silenced",
            "inhibited",
            "incident",
            "run",
            "playbook",
        ]
        read_only_fields = fields

    def get_silenced(self, alert) -> bool:
        return bool(getattr(alert, "silenced_by", None))

    def get_inhibited(self, alert) -> bool:
        return alert.inhibited_by_id is not None


class AcknowledgeSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class SilenceRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)
    duration_minutes = serializers.IntegerField(required=False, min_value=1, max_value=30 * 24 * 60)
    ends_at = serializers.DateTimeField(required=False)
    scope = serializers.ChoiceField(choices=["series", "deployment"], default="series")

    def validate(self, data):
        if not data.get("duration_minutes") and not data.get("ends_at"):
            raise serializers.ValidationError(
                {"ends_at": "Give ends_at or duration_minutes: a silence needs an end."}
            )
        if not data["reason"].strip():
            raise serializers.ValidationError({"reason": "A silence needs a reason."})
        return data


class IncidentEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = IncidentEvent
        fields = ["at", "kind", "alert", "actor_name", "message"]
        read_only_fields = fields


class IncidentSerializer(serializers.ModelSerializer):
    system = serializers.CharField(source="system.slug")
    alerts = serializers.SerializerMethodField()
    postmortem = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "id",
            "title",
            "system",
            "state",
            "severity",
            "opened_at",
            "resolved_at",
            "alerts",
            "postmortem",
        ]
        read_only_fields = fields

    def get_alerts(self, incident) -> list[int]:
        return sorted(a.id for a in incident.alerts.all())

    def get_postmortem(self, incident) -> dict | None:
        pm = getattr(incident, "postmortem", None)
        if pm is None:
            return None
        return {"root_cause_category": pm.root_cause_category, "summary": pm.summary}


class IncidentDetailSerializer(IncidentSerializer):
    timeline = IncidentEventSerializer(source="events", many=True, read_only=True)

    class Meta(IncidentSerializer.Meta):
        fields = [*IncidentSerializer.Meta.fields, "timeline"]
        read_only_fields = fields
