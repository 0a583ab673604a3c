"""Supervisors' forms for routing: queues, rules and their conditions, agents' settings, the dry run.

Every check a bad value would otherwise fail at routing time is made here, so a mistake is
a form error on the field that holds it, never a rule the router trips over. The checks of
a whole queue, rule or agent's settings are the services' (`queue_errors`, `rule_errors`,
`agent_settings_errors` in routing.services.configure), which the saves make again: the
forms show what they find on its field (`ServiceChecksMixin`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import time
from typing import Any
from zoneinfo import available_timezones

from django import forms
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from routing import services
from routing.audit import AGENT_SETTINGS, HOURS_SETTINGS, QUEUE_SETTINGS, RULE_SETTINGS
from routing.hours_models import MIDNIGHT
from routing.models import (
    CHANNELS,
    CONTACT_KIND_NAMES,
    AgentProfile,
    BusinessHours,
    OpeningInterval,
    Queue,
    RoutingRule,
    RuleCondition,
)
from routing.rules import (
    KNOWN_ATTRIBUTES,
    ConditionRow,
    condition_assemble,
    row_condition_errors,
    rule_condition_errors,
)
from routing.services import configure
from routing.services import hours as hours_services


def names_normalise(values: Iterable[str]) -> list[str]:
    """Skills, languages: lower case, trimmed, each once, in the order given."""
    names: list[str] = []
    for value in values:
        value = value.strip().lower()
        if value and value not in names:
            names.append(value)
    return names


class SkillsMixin:
    """Skill lists are matched exactly (an agent's skills contain an item's), so case and
    repeats must not tell two spellings apart."""

    def clean_required_skills(self) -> list[str]:
        return names_normalise(self.cleaned_data["required_skills"])

    def clean_optional_skills(self) -> list[str]:
        return names_normalise(self.cleaned_data["optional_skills"])

    def clean_skills(self) -> list[str]:
        return names_normalise(self.cleaned_data["skills"])


class ServiceChecksMixin:
    """After the instance is built from the form, the service's own check of it; each
    message goes on its field (once the field has no error of its own)."""

    def service_errors(self) -> dict[str | None, list[str]]:
        raise NotImplementedError

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]
        for field, messages in self.service_errors().items():
            field = field if field in self.fields else None
            if field is not None and field in self.errors:
                continue
            for message in messages:
                self.add_error(field, message)  # type: ignore[attr-defined]


class QueueForm(SkillsMixin, ServiceChecksMixin, forms.ModelForm):
    class Meta:
        model = Queue
        fields = QUEUE_SETTINGS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The model's validators say "Ensure this value is ..."; say what the range is.
        self.fields["priority"].error_messages.update({
            "min_value": _("Priority is 1-100."), "max_value": _("Priority is 1-100."),
        })
        if self.instance.pk:
            self.fields["overflow_queue"].queryset = Queue.objects.exclude(pk=self.instance.pk)

    def clean_key(self) -> str:
        return self.cleaned_data["key"].strip().lower()

    def service_errors(self) -> dict[str | None, list[str]]:
        return configure.queue_errors(queue=self.instance)


class RoutingRuleForm(SkillsMixin, ServiceChecksMixin, forms.ModelForm):
    class Meta:
        model = RoutingRule
        fields = RULE_SETTINGS

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()

    def clean_queue_key(self) -> str:
        return self.cleaned_data["queue_key"].strip().lower()

    def service_errors(self) -> dict[str | None, list[str]]:
        return configure.rule_errors(rule=self.instance)  # the rows are the formset's


class RuleConditionForm(forms.ModelForm):
    class Meta:
        model = RuleCondition
        fields = ("group", "attribute", "op", "value", "position")
        widgets = {
            "group": forms.NumberInput(attrs={"style": "width: 4em"}),
            "position": forms.NumberInput(attrs={"style": "width: 4em"}),
            "attribute": forms.TextInput(attrs={"list": "routing-attributes", "size": 18}),
            "value": forms.TextInput(attrs={"size": 30}),
        }

    def clean_attribute(self) -> str:
        return self.cleaned_data["attribute"].strip()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not self.errors and not self.cleaned_data.get("DELETE"):
            for field, messages in row_condition_errors(self.row()).items():
                for message in messages:
                    self.add_error(field, message)
        return data

    def row(self) -> ConditionRow:
        data = self.cleaned_data
        return ConditionRow(group=data["group"], attribute=data["attribute"], op=data["op"],
                            value=data.get("value") or "")


class RuleConditionFormSet(forms.BaseInlineFormSet):
    """The rows together: the condition they assemble to must be valid as a whole."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        # Extra rows left blank have no cleaned data.
        rows = [form.row() for form in self.forms if form.cleaned_data and not form.cleaned_data.get("DELETE")]
        errors = rule_condition_errors(condition_assemble(rows))
        if errors:
            raise forms.ValidationError(errors)


class AgentProfileForm(SkillsMixin, ServiceChecksMixin, forms.ModelForm):
    class Meta:
        model = AgentProfile
        fields = AGENT_SETTINGS
        widgets = {"capacity": forms.Textarea(attrs={"rows": 3, "cols": 60})}

    def clean_languages(self) -> list[str]:
        # Order matters (native first); case and repeats do not.
        return names_normalise(self.cleaned_data["languages"])

    def clean_contact_kinds(self) -> list[str]:
        return names_normalise(self.cleaned_data["contact_kinds"])

    def clean_capacity(self) -> dict[str, int]:
        capacity = self.cleaned_data["capacity"]
        return {} if capacity in (None, "") else capacity

    def service_errors(self) -> dict[str | None, list[str]]:
        return configure.agent_settings_errors(profile=self.instance)

    def save(self, commit: bool = True) -> AgentProfile:
        """An edit writes only the settings, so it never undoes presence, assignment times
        or missed offers the services changed since the page was read."""
        if not commit or self.instance._state.adding:
            return super().save(commit=commit)
        fields = [name for name in self.fields if name in AGENT_SETTINGS]
        self.instance.save(update_fields=[*fields, "updated_at"])
        return self.instance


class DryRunForm(forms.Form):
    channel = forms.ChoiceField(label=_("channel"), choices=[(channel, channel) for channel in CHANNELS])
    language = forms.CharField(label=_("language"), required=False, max_length=16,
                               help_text=_("e.g. es; empty: the default language."))
    contact_kind = forms.ChoiceField(label=_("contact kind"), choices=list(CONTACT_KIND_NAMES.items()),
                                     initial="customer")
    lifetime_order_value = forms.DecimalField(label=_("lifetime order value"), required=False, max_digits=14,
                                              decimal_places=2)
    tier = forms.CharField(label=_("tier"), required=False, max_length=32, help_text=_("e.g. standard, gold, vip"))
    country = forms.CharField(label=_("country"), required=False, max_length=8, help_text=_("e.g. ES"))
    contact_reason = forms.CharField(label=_("contact reason"), required=False, max_length=64,
                                     help_text=_("e.g. refund, late_order"))
    priority = forms.IntegerField(label=_("priority"), initial=0, min_value=-32768, max_value=32767,
                                  help_text=_("The item's own priority; a rule may set another."))
    custom = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), label=_("Custom attributes"),
        help_text=_('A JSON object, e.g. {"custom.vip": true, "custom.segment": "b2b"}.'),
    )

    def clean_custom(self) -> dict[str, Any]:
        text = self.cleaned_data["custom"].strip()
        if not text:
            return {}
        try:
            custom = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(_("Not valid JSON: %(error)s."), params={"error": exc}) from None
        if not isinstance(custom, dict):
            raise forms.ValidationError(_('Give a JSON object, e.g. {"custom.vip": true}.'))
        unknown = sorted(name for name in custom if name not in KNOWN_ATTRIBUTES)
        if unknown:
            raise forms.ValidationError(_("Unknown attribute %(unknown)s; use %(known)s."), params={
                "unknown": ", ".join(unknown), "known": ", ".join(KNOWN_ATTRIBUTES)})
        return custom

    def attributes(self) -> dict[str, Any]:
        """The attributes an item would bring: the custom JSON, then the fields filled in."""
        data = self.cleaned_data
        values = dict(data["custom"])
        for name in services.ATTRIBUTES:
            if name in ("channel", "priority"):
                continue
            value = data.get(name)
            if value not in (None, ""):
                values[name] = value.strip() if isinstance(value, str) else value
        return values


# --- business hours ---------------------------------------------------------------------------


class TimeZoneInput(forms.TextInput):
    """A text box that suggests the IANA time zones zoneinfo knows as one types."""

    def __init__(self) -> None:
        super().__init__(attrs={"list": "routing-time-zones", "size": 32, "autocomplete": "off",
                                "placeholder": "Europe/Madrid"})

    def render(self, name: str, value: Any, attrs: dict | None = None, renderer: Any = None) -> str:
        options = format_html_join("", '<option value="{}">', ((zone,) for zone in sorted(available_timezones())))
        return format_html('{}<datalist id="routing-time-zones">{}</datalist>',
                           super().render(name, value, attrs, renderer), options)


class BusinessHoursForm(forms.ModelForm):
    class Meta:
        model = BusinessHours
        fields = HOURS_SETTINGS
        widgets = {"time_zone": TimeZoneInput()}

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()

    def clean_time_zone(self) -> str:
        return self.cleaned_data["time_zone"].strip()


class ClockField(forms.TimeField):
    """A time of day as HH:MM (or HH:MM:SS). As a close (`closing`), 24:00 is midnight at the
    end of the day, stored as 00:00 and shown as 24:00."""

    def __init__(self, *, closing: bool = False, **kwargs: Any) -> None:
        self.closing = closing
        kwargs.setdefault("widget", forms.TimeInput(format="%H:%M", attrs={"size": 6, "placeholder": "08:00"}))
        kwargs.setdefault("error_messages", {"invalid": _(
            "Enter a time as HH:MM, e.g. 08:00 or 17:30 (24:00 for midnight at the end of the day).")})
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> time | None:
        if self.closing and isinstance(value, str) and value.strip() in ("24:00", "24:00:00", "24"):
            return MIDNIGHT
        return super().to_python(value)

    def prepare_value(self, value: Any) -> Any:
        if self.closing and value == MIDNIGHT:
            return "24:00"
        return super().prepare_value(value)


class OpeningIntervalForm(forms.ModelForm):
    opens_at = ClockField(label=_("opens at"))
    closes_at = ClockField(closing=True, label=_("closes at"),
                           help_text=_("24:00 for midnight at the end of the day."))

    class Meta:
        model = OpeningInterval
        fields = ("weekday", "opens_at", "closes_at")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not self.errors and not data.get("DELETE"):
            for message in hours_services.interval_row_errors(self.row()):
                self.add_error("closes_at", message)
        return data

    def row(self) -> hours_services.IntervalRow:
        data = self.cleaned_data
        return hours_services.IntervalRow(weekday=data["weekday"], opens_at=data["opens_at"],
                                          closes_at=data["closes_at"])


class OpeningIntervalFormSet(forms.BaseInlineFormSet):
    """The rows together: on each weekday they may not overlap, and there is at least one."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        # Extra rows left blank have no cleaned data.
        kept = [form for form in self.forms if form.cleaned_data and not form.cleaned_data.get("DELETE")]
        errors = hours_services.intervals_errors([form.row() for form in kept])
        for index, messages in errors.items():
            if index is not None:
                for message in messages:
                    kept[index].add_error(None, message)
        if None in errors:
            raise forms.ValidationError(errors[None])
