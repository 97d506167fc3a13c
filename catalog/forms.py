"""Forms of the catalog UI. Validation that is a catalog rule (threshold order, known pillars,
weights) lives in ``catalog.services`` and is reported here field by field."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import fields_for_model

from catalog import services
from catalog.models import (
    Deployment,
    Environment,
    MetricDefinition,
    MetricVersion,
    System,
    ThresholdOverride,
)

REASON_HELP = "Why this change? Shown in the version history and the audit trail."


def _reason_field() -> forms.CharField:
    return forms.CharField(
        label="Change reason", widget=forms.Textarea(attrs={"rows": 2}), help_text=REASON_HELP
    )


def _apply_service_errors(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


class MetricSearchForm(forms.Form):
    q = forms.CharField(required=False, label="Search", widget=forms.TextInput(attrs={"type": "search"}))
    pillar = forms.ChoiceField(
        required=False, choices=[("", "All pillars"), *MetricVersion.Pillar.choices], label="Pillar"
    )


class MetricVersionForm(forms.Form):
    """Every content field of a metric version, the change reason, and the version the edit
    started from (so a concurrent change is reported, not overwritten)."""

    STEP_PREVIEW, STEP_CONFIRM, STEP_EDIT = "preview", "confirm", "edit"

    base_version = forms.IntegerField(widget=forms.HiddenInput)
    step = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        content_fields = fields_for_model(
            MetricVersion,
            fields=MetricVersion.CONTENT_FIELDS,
            widgets={
                "description": forms.Textarea(attrs={"rows": 3}),
                "playbook": forms.Textarea(attrs={"rows": 12, "class": "mono"}),
                "params": forms.Textarea(attrs={"rows": 2, "class": "mono"}),
            },
        )
        for name, field in content_fields.items():
            self.fields[name] = field
        for name in ("description", "playbook"):
            # Keep text exactly as written (a trailing newline is content); browsers send CRLF.
            self.fields[name].strip = False
        self.fields["warn_threshold"].help_text = "Empty = no warn threshold."
        self.fields[
            "critical_threshold"
        ].help_text = "Empty = no critical threshold (context only if both are empty)."
        self.fields["reason"] = _reason_field()
        self.order_fields([*MetricVersion.CONTENT_FIELDS, "reason"])

    @classmethod
    def initial_for(cls, version: MetricVersion) -> dict:
        return {**version.content(), "base_version": version.number}

    def content(self) -> dict:
        data = {name: self.cleaned_data.get(name) for name in MetricVersion.CONTENT_FIELDS}
        for name in ("description", "playbook"):
            data[name] = (data[name] or "").replace("\r\n", "\n")
        return data

    def clean(self):
        data = super().clean()
        if not self.errors:
            try:
                services.validate_metric_content(self.content())
            except ValidationError as exc:
                _apply_service_errors(self, exc)
        return data


class RollbackForm(forms.Form):
    reason = _reason_field()


class DiffForm(forms.Form):
    a = forms.IntegerField(min_value=1, label="Version")
    b = forms.IntegerField(min_value=1, label="compared with")


class OverrideForm(forms.Form):
    """A new version of the override of one metric at one scope. Empty thresholds inherit."""

    STEP_PREVIEW, STEP_CONFIRM, STEP_EDIT = "preview", "confirm", "edit"

    metric = forms.ModelChoiceField(
        queryset=MetricDefinition.objects.order_by("key"), to_field_name="key", label="Metric"
    )
    scope = forms.ChoiceField(choices=ThresholdOverride.Scope.choices)
    system = forms.ModelChoiceField(queryset=System.objects.none(), to_field_name="slug", required=False)
    environment = forms.ModelChoiceField(queryset=Environment.objects.none(), required=False)
    deployment = forms.ModelChoiceField(queryset=Deployment.objects.none(), required=False)
    warn_threshold = forms.FloatField(required=False, help_text="Empty = inherit.")
    critical_threshold = forms.FloatField(required=False, help_text="Empty = inherit.")
    for_windows = forms.IntegerField(
        required=False, min_value=1, label="For (windows)", help_text="Empty = inherit."
    )
    reason = _reason_field()
    step = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        from healthboard import access

        self.fields["system"].queryset = access.scope(System.objects.order_by("slug"), user)
        self.fields["environment"].queryset = access.scope(
            Environment.objects.select_related("system").order_by("system__slug", "slug"), user
        )
        self.fields["deployment"].queryset = access.scope(
            Deployment.objects.select_related("environment__system", "model_version__model").order_by("id"),
            user,
        )
        self.fields["deployment"].label_from_instance = lambda d: f"#{d.pk} {d}"

    def clean(self):
        data = super().clean()
        scope = data.get("scope")
        if scope and not data.get(scope):
            self.add_error(scope, f"Choose the {scope} this override applies to.")
        return data

    @property
    def target(self):
        return self.cleaned_data[self.cleaned_data["scope"]]

    def content(self) -> dict:
        return {
            name: self.cleaned_data.get(name)
            for name in ("warn_threshold", "critical_threshold", "for_windows")
        }


class PolicyForm(forms.Form):
    deployment = forms.ModelChoiceField(queryset=Deployment.objects.none())

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        from healthboard import access

        self.fields["deployment"].queryset = access.scope(
            Deployment.objects.select_related("environment__system", "model_version__model").order_by("id"),
            user,
        )
        self.fields["deployment"].label_from_instance = lambda d: f"#{d.pk} {d}"


def parse_metric_weights(text: str) -> dict:
    """``key: weight`` per line (blank lines and ``#`` comments ignored)."""
    weights: dict[str, str] = {}
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep or not key.strip() or not value.strip():
            raise ValidationError(f"Line {number}: write `metric_key: weight`.")
        weights[key.strip()] = value.strip()
    return weights


def format_metric_weights(weights: dict) -> str:
    return "\n".join(f"{key}: {weight:g}" for key, weight in sorted(weights.items()))


class WeightProfileForm(forms.Form):
    name = forms.SlugField(max_length=64, required=False, help_text="Only when creating a profile.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    performance = forms.FloatField(min_value=0)
    fairness = forms.FloatField(min_value=0)
    reliability = forms.FloatField(min_value=0)
    data_quality = forms.FloatField(min_value=0, label="Data quality")
    metric_weights = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8, "class": "mono"}),
        required=False,
        help_text="One `metric_key: weight` per line; metrics not listed weigh 1 within their pillar.",
    )
    reason = _reason_field()
    base_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, creating: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.creating = creating
        if creating:
            self.fields["name"].required = True
        else:
            del self.fields["name"]

    @classmethod
    def initial_for(cls, version) -> dict:
        return {
            "description": version.description,
            **version.pillar_weights,
            "metric_weights": format_metric_weights(version.metric_weights),
            "base_version": version.number,
        }

    def clean_metric_weights(self):
        try:
            return parse_metric_weights(self.cleaned_data.get("metric_weights", ""))
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None

    def content(self) -> dict:
        data = self.cleaned_data
        return {
            "description": data.get("description", ""),
            "pillar_weights": {p: data.get(p) for p in services.PILLARS},
            "metric_weights": data.get("metric_weights") or {},
        }

    def clean(self):
        data = super().clean()
        if not self.errors:
            try:
                services.validate_weights(self.content())
            except ValidationError as exc:
                for name, errors in exc.message_dict.items():
                    self.add_error(None if name == "pillar_weights" else name, errors)
        return data


class DecisionForm(forms.Form):
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 1}), label="Note")
