from rest_framework import serializers

from catalog.models import Deployment, Model, System


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
