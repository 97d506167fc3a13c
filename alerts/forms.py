"""Forms of the SRE pages. Choices of systems are limited to those the user manages."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.db.models import Q
from django.forms import inlineformset_factory
from django.utils import timezone

from alerts.models import Channel, EscalationPolicy, EscalationStep, FollowUpAction, PostMortem, Silence
from catalog.models import Deployment, MetricDefinition, MetricVersion, System
from healthboard import access

DURATIONS = [
    ("30", "30 minutes"),
    ("60", "1 hour"),
    ("120", "2 hours"),
    ("240", "4 hours"),
    ("480", "8 hours"),
    ("1440", "24 hours"),
    ("4320", "3 days"),
]
PILLARS = [("", "Any pillar"), *MetricVersion.Pillar.choices]


def managed_systems(user):
    return access.systems_for(user, access.MANAGE_ALERTS).order_by("slug")


class CommentForm(forms.Form):
    comment = forms.CharField(
        required=False, max_length=2000, widget=forms.TextInput(attrs={"placeholder": "comment"})
    )


class SilenceAlertForm(forms.Form):
    duration = forms.ChoiceField(choices=DURATIONS, initial="120")
    reason = forms.CharField(
        max_length=2000, widget=forms.TextInput(attrs={"placeholder": "reason (required)"})
    )
    scope = forms.ChoiceField(
        choices=[("series", "this series"), ("deployment", "the whole deployment")], initial="series"
    )

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("A silence needs a reason.")
        return reason

    @property
    def delta(self) -> timedelta:
        return timedelta(minutes=int(self.cleaned_data["duration"]))


class SilenceForm(forms.ModelForm):
    segment_text = forms.CharField(
        required=False,
        label="Segment",
        help_text='Empty: every segment. "all": only the all-traffic segment. Else e.g. region=eu.',
    )

    class Meta:
        model = Silence
        fields = ["system", "deployment", "metric", "starts_at", "ends_at", "reason"]
        widgets = {
            "starts_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "ends_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "reason": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        systems = managed_systems(user)
        self.fields["system"].queryset = systems
        self.fields["deployment"].queryset = Deployment.objects.filter(
            environment__system__in=systems
        ).select_related("environment", "model_version__model")
        self.fields["deployment"].required = False
        self.fields["metric"].queryset = MetricDefinition.objects.order_by("key")
        self.fields["metric"].required = False
        self.fields["ends_at"].required = True
        self.fields["reason"].required = True
        if not self.is_bound:
            now = timezone.now().replace(second=0, microsecond=0)
            self.initial.setdefault("starts_at", now)
            self.initial.setdefault("ends_at", now + timedelta(hours=2))

    def clean(self):
        data = super().clean()
        text = (data.get("segment_text") or "").strip()
        self.instance.segment = None if not text else ("" if text.lower() == "all" else text)
        deployment, system = data.get("deployment"), data.get("system")
        if deployment and system and deployment.environment.system_id != system.id:
            self.add_error("deployment", "The deployment is not part of the chosen system.")
        return data


class NoteForm(forms.Form):
    text = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={"rows": 2}))


class ChannelForm(forms.ModelForm):
    url = forms.URLField(assume_scheme="https", max_length=500, required=False, label="Webhook URL")

    class Meta:
        model = Channel
        fields = ["name", "system", "kind", "email_to", "url", "payload_format", "send_resolved", "enabled"]
        widgets = {"email_to": forms.TextInput()}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["system"].queryset = managed_systems(user)
        self.fields["system"].required = not access.is_catalog_admin(user)
        self.fields["system"].empty_label = "— shared by all systems (catalog admins) —"


class EscalationPolicyForm(forms.ModelForm):
    pillar = forms.ChoiceField(choices=PILLARS, required=False)

    class Meta:
        model = EscalationPolicy
        fields = ["name", "system", "pillar", "severity"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["system"].queryset = managed_systems(user)
        self.fields["system"].required = not access.is_catalog_admin(user)
        self.fields["system"].empty_label = "— every system (catalog admins) —"


class StepForm(forms.ModelForm):
    class Meta:
        model = EscalationStep
        fields = ["position", "channel", "delay_minutes"]


def channels_for(user, system: System | None):
    """Channels a policy of ``system`` may use: the system's own and the shared ones."""
    own = Q(system=system) if system is not None else Q(pk__in=[])
    return Channel.objects.filter(own | Q(system__isnull=True)).filter(
        Q(system__isnull=True) | Q(system__in=access.systems_for(user, access.MANAGE_ALERTS))
    )


StepFormSet = inlineformset_factory(
    EscalationPolicy, EscalationStep, form=StepForm, extra=3, can_delete=True, min_num=1, validate_min=True
)


class PostMortemForm(forms.ModelForm):
    class Meta:
        model = PostMortem
        fields = ["root_cause_category", "summary", "what_happened"]
        widgets = {
            "summary": forms.Textarea(attrs={"rows": 3}),
            "what_happened": forms.Textarea(attrs={"rows": 14}),
        }


class FollowUpForm(forms.ModelForm):
    link = forms.URLField(assume_scheme="https", required=False)

    class Meta:
        model = FollowUpAction
        fields = ["description", "metric_version", "link", "done"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["metric_version"].queryset = MetricVersion.objects.select_related("definition").order_by(
            "definition__key", "-number"
        )
        self.fields["metric_version"].label = "Catalog change"
        self.fields["metric_version"].required = False


FollowUpFormSet = inlineformset_factory(
    PostMortem, FollowUpAction, form=FollowUpForm, extra=2, can_delete=True
)
