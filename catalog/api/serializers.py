from rest_framework import serializers

from catalog.models import Deployment, MetricDefinition, MetricVersion, Model, System


class SystemSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = System
        fields = ["id", "slug", "name", "team", "criticality", "weight_profile"]
        read_only_fields = fields


class ModelSerializer(serializers.ModelSerializer):
    system = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    versions = serializers.SerializerMethodField()
    features = serializers.SerializerMethodField()
    cohorts = serializers.SerializerMethodField()

    class Meta:
        model = Model
        fields = ["id", "system", "slug", "task", "positive_label", "versions", "features", "cohorts"]
        read_only_fields = fields

    def get_versions(self, obj) -> list[str]:
        return [v.version for v in obj.versions.all()]

    def get_features(self, obj) -> list[dict]:
        return [{"name": f.name, "type": f.type} for f in obj.features.all()]

    def get_cohorts(self, obj) -> list[dict]:
        return [{"name": c.name, "protected": c.protected} for c in obj.cohorts.all()]


class DeploymentSerializer(serializers.ModelSerializer):
    system = serializers.CharField(source="environment.system.slug", read_only=True)
    model = serializers.CharField(source="model_version.model.slug", read_only=True)
    version = serializers.CharField(source="model_version.version", read_only=True)
    environment = serializers.CharField(source="environment.slug", read_only=True)

    class Meta:
        model = Deployment
        fields = ["id", "system", "model", "version", "environment", "status", "started_at"]
        read_only_fields = fields


# --- the metric catalog (DESIGN.md §10: a catalog metric {"key", "name", "pillar", "current_version", "versions", …})


class MetricVersionSummarySerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = MetricVersion
        fields = ["number", "is_current", "created_at", "created_by", "change_reason"]
        read_only_fields = fields


class MetricVersionSerializer(MetricVersionSummarySerializer):
    class Meta(MetricVersionSummarySerializer.Meta):
        fields = [*MetricVersionSummarySerializer.Meta.fields, *MetricVersion.CONTENT_FIELDS]
        read_only_fields = fields


class MetricDefinitionSerializer(serializers.ModelSerializer):
    """A definition with its current content flattened in, and its versions (summaries in the
    list, full content in the detail)."""

    CURRENT_FIELDS = (
        "name",
        "description",
        "pillar",
        "calculator",
        "params",
        "data_source",
        "unit",
        "direction",
        "window",
        "min_samples",
        "warn_threshold",
        "critical_threshold",
        "for_windows",
        "sensitive",
        "owner",
    )
    version_serializer = MetricVersionSummarySerializer

    current_version = serializers.SerializerMethodField()
    versions = serializers.SerializerMethodField()

    class Meta:
        model = MetricDefinition
        fields = ["key", "current_version", "versions"]
        read_only_fields = fields

    def _versions(self, obj) -> list[MetricVersion]:
        return sorted(obj.versions.all(), key=lambda v: v.number)

    def _current(self, obj) -> MetricVersion | None:
        return next((v for v in self._versions(obj) if v.is_current), None)

    def get_current_version(self, obj) -> int | None:
        current = self._current(obj)
        return current.number if current else None

    def get_versions(self, obj) -> list[dict]:
        return self.version_serializer(self._versions(obj), many=True).data

    def to_representation(self, obj):
        data = super().to_representation(obj)
        current = self._current(obj)
        flat = {"key": data["key"]}
        for name in self.CURRENT_FIELDS:
            flat[name] = getattr(current, name) if current else None
        flat["current_version"] = data["current_version"]
        flat["versions"] = data["versions"]
        return flat


class MetricDefinitionDetailSerializer(MetricDefinitionSerializer):
    version_serializer = MetricVersionSerializer

    def to_representation(self, obj):
        data = super().to_representation(obj)
        current = self._current(obj)
        data["playbook"] = current.playbook if current else None
        return data


class MetricVersionCreateSerializer(serializers.Serializer):
    """A new version: any content fields to change (the rest is copied from the current
    version), a mandatory reason, and optionally the version the change is based on."""

    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(allow_blank=True, required=False)
    pillar = serializers.ChoiceField(choices=MetricVersion.Pillar.choices, required=False)
    calculator = serializers.CharField(max_length=64, required=False)
    params = serializers.DictField(required=False)
    data_source = serializers.CharField(max_length=64, required=False)
    unit = serializers.CharField(max_length=32, allow_blank=True, required=False)
    direction = serializers.ChoiceField(choices=MetricVersion.Direction.choices, required=False)
    window = serializers.ChoiceField(choices=MetricVersion.Window.choices, required=False)
    min_samples = serializers.IntegerField(min_value=0, required=False)
    warn_threshold = serializers.FloatField(allow_null=True, required=False)
    critical_threshold = serializers.FloatField(allow_null=True, required=False)
    for_windows = serializers.IntegerField(min_value=1, required=False)
    sensitive = serializers.BooleanField(required=False)
    playbook = serializers.CharField(allow_blank=True, required=False, trim_whitespace=False)
    owner = serializers.CharField(max_length=100, allow_blank=True, required=False)
    reason = serializers.CharField()
    base_version = serializers.IntegerField(min_value=1, required=False)

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return attrs

    def changes(self) -> dict:
        return {k: v for k, v in self.validated_data.items() if k in MetricVersion.CONTENT_FIELDS}


class EffectivePolicySerializer(serializers.Serializer):
    metric = serializers.CharField(source="metric_key")
    metric_version = serializers.IntegerField(source="metric_version_number")
    direction = serializers.CharField()
    warn = serializers.FloatField(allow_null=True)
    critical = serializers.FloatField(allow_null=True)
    for_windows = serializers.IntegerField()
    source = serializers.CharField()
    sources = serializers.DictField(child=serializers.CharField())
