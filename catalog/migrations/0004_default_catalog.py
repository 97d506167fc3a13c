"""Load the default metric catalog (every metric of DESIGN.md §3) and the default weight
profiles from a frozen copy of ``catalog.default_catalog`` taken when this migration was
written. Idempotent: a definition or profile that already has versions is left alone."""

from django.db import migrations


def load(apps, schema_editor):
    from catalog.migrations._0004_default_catalog_data import METRICS, REASON, WEIGHT_PROFILES

    MetricDefinition = apps.get_model("catalog", "MetricDefinition")
    MetricVersion = apps.get_model("catalog", "MetricVersion")
    WeightProfile = apps.get_model("catalog", "WeightProfile")
    WeightProfileVersion = apps.get_model("catalog", "WeightProfileVersion")
    db = schema_editor.connection.alias

    for item in METRICS:
        content = dict(item)
        key = content.pop("key")
        definition, _ = MetricDefinition.objects.using(db).get_or_create(key=key)
        if MetricVersion.objects.using(db).filter(definition=definition).exists():
            continue
        MetricVersion.objects.using(db).create(
            definition=definition, number=1, is_current=True, change_reason=REASON, **content
        )

    for item in WEIGHT_PROFILES:
        content = dict(item)
        name = content.pop("name")
        profile, _ = WeightProfile.objects.using(db).get_or_create(name=name)
        if WeightProfileVersion.objects.using(db).filter(profile=profile).exists():
            continue
        WeightProfileVersion.objects.using(db).create(
            profile=profile, number=1, is_current=True, change_reason=REASON, **content
        )


class Migration(migrations.Migration):
    dependencies = [("catalog", "0003_overrides_weights_changes")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
