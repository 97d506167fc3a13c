from django import forms
from django.contrib.auth import get_user_model

from catalog.models import System, Team
from healthboard.access import SYSTEM_PERMISSIONS


class AccessGrantForm(forms.Form):
    system = forms.ModelChoiceField(queryset=System.objects.order_by("slug"), to_field_name="slug")
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("slug"), to_field_name="slug", required=False
    )
    user = forms.ModelChoiceField(
        queryset=get_user_model().objects.order_by("username"), to_field_name="username", required=False
    )
    permissions = forms.MultipleChoiceField(
        choices=[(p, p) for p in SYSTEM_PERMISSIONS], widget=forms.CheckboxSelectMultiple
    )
    action = forms.ChoiceField(choices=[("grant", "Grant"), ("revoke", "Revoke")])
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), min_length=3)

    def clean(self):
        data = super().clean()
        if bool(data.get("team")) == bool(data.get("user")):
            raise forms.ValidationError("Choose either a team or a user, not both.")
        return data


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False)
    object_type = forms.CharField(required=False, label="Object type")
    object_id = forms.CharField(required=False, label="Object id")
    action = forms.CharField(required=False)
    since = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    until = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
