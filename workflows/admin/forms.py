"""The workflow form: the workflow's name and switch, and its definition (trigger, conditions,
steps, run key, per-contact limit) as JSON fields, each mistake an error on its own field.

- conditions: `workflows.attributes.condition_errors` over the scopes the trigger provides
  (an unknown attribute, an operator that does not fit the attribute's type);
- steps: a list of {"action": ..., "params": {...}}; each action must be registered and its
  params pass the registry's `params_errors`; a message template's texts pass
  `workflows.templates.template_errors` (a variable that does not exist is an error);
- a template without a text for a language the desk serves is a WARNING, not an error
  (`form.warnings`, shown after the save and in the dry run): those contacts get their
  country's language or English.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from supportdesk.json_input import SafeJSONField
from workflows import attributes, registry, templates
from workflows.definitions import definition_errors, known_kinds, trigger_scopes
from workflows.models import Workflow

TEXTAREA = forms.Textarea(attrs={"rows": 8, "cols": 100, "style": "font-family: monospace"})
DEFINITION_FIELDS = ("trigger", "conditions", "steps", "run_key", "limit_count", "limit_days", "max_depth")


class PrettyJSONField(SafeJSONField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", TEXTAREA)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, str):  # the text as typed, when the form is shown again with errors
            return value
        import json

        return json.dumps(value, indent=2, ensure_ascii=False)


def step_texts(step: Mapping[str, Any]) -> Mapping[str, Any] | None:
    params = step.get("params")
    texts = params.get("template") if isinstance(params, Mapping) else None
    return texts if isinstance(texts, Mapping) else None


def _error_field(error: str) -> str:
    """The form field an engine's definition error is about (by the name it starts with)."""
    for prefix, name in (("trigger", "trigger"), ("step", "steps"), ("run_key", "run_key"),
                         ("limit", "limit_days"), ("max_depth", "max_depth")):
        if error.lower().startswith(prefix):
            return name
    return "conditions"


class WorkflowForm(forms.ModelForm):
    trigger = PrettyJSONField(
        label=gettext_lazy("Trigger"),
        help_text=gettext_lazy(
            'An event: {"type": "event", "kinds": ["order.delayed"]}, or a customer\'s message: '
            '{"type": "event", "kinds": ["message.received"]} (templates may use {{ message.excerpt }}; '
            'run key "{workflow}:{message}" for a run per message). A timer: {"type": "timer", '
            '"kinds": ["order.created", "order.delayed"], "at": "order.promised_at", "minutes": 15}. '
            'A schedule: {"type": "schedule", "cron": "0 9 * * 1", "segment": 1}.'))
    conditions = PrettyJSONField(
        label=gettext_lazy("Conditions"), required=False,
        help_text=gettext_lazy(
            'Over contact.*, order.* and conversation.* attributes, e.g. {"all": [{"attribute": '
            '"contact.lifetime_order_value", "op": "gte", "value": 300}]}. Empty: every contact.'))
    steps = PrettyJSONField(
        label=gettext_lazy("Steps"),
        error_messages={"required": gettext_lazy('Give one step at least: [{"action": "...", "params": {...}}].')},
        help_text=gettext_lazy(
            'In order: [{"action": "send_message", "params": {"channel": "email", "template": {"en": '
            '{"subject": "...", "body": "Hello {{ contact.first_name }}"}}}}, {"action": "oms_rebate", '
            '"params": {"amount": "5.00", "currency": "EUR"}}].'))
    run_key = forms.CharField(
        label=gettext_lazy("Run key"), required=False, max_length=200,
        help_text=gettext_lazy('Empty: once per workflow and subject (one apology per order). '
                               'E.g. "{workflow}:{contact}": once per contact, ever.'))
    limit_count = forms.IntegerField(label=gettext_lazy("At most this many runs per contact"), required=False,
                                     min_value=1, max_value=1000)
    limit_days = forms.IntegerField(label=gettext_lazy("… in this many days"), required=False,
                                    min_value=1, max_value=3650)
    max_depth = forms.IntegerField(label=gettext_lazy("Chain depth limit"), required=False, min_value=1,
                                   max_value=10, help_text=gettext_lazy("Empty: the desk's default."))

    class Meta:
        model = Workflow
        fields = ("key", "name", "description", "is_enabled")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.warnings: list[str] = []
        version = self.instance.current_version if self.instance.pk is not None else None
        if version is not None and not self.is_bound:
            for name in DEFINITION_FIELDS:
                self.initial[name] = getattr(version, name)
            self.initial["conditions"] = version.conditions or {"all": []}
        if version is None and not self.is_bound:
            self.initial.setdefault("conditions", {"all": []})

    # --- each field's own errors ---

    def clean_trigger(self) -> dict[str, Any]:
        trigger = self.cleaned_data.get("trigger")
        if not isinstance(trigger, dict):
            raise forms.ValidationError(_("The trigger is a JSON object, e.g. "
                                          '{"type": "event", "kinds": ["order.delayed"]}.'))
        problems = [error for error in definition_errors({"trigger": trigger}, known_kinds=known_kinds())
                    if error.startswith("trigger")]
        if problems:
            raise forms.ValidationError(problems)
        return trigger

    def clean_conditions(self) -> dict[str, Any]:
        conditions = self.cleaned_data.get("conditions") or {"all": []}
        if not isinstance(conditions, dict):
            raise forms.ValidationError(_("The conditions are a JSON object, e.g. {\"all\": [...]}."))
        trigger = self.cleaned_data.get("trigger")
        scopes = trigger_scopes(trigger) if isinstance(trigger, dict) else list(attributes.SCOPES)
        problems = attributes.condition_errors(conditions, scopes)
        if problems:
            raise forms.ValidationError(problems)
        return conditions

    def clean_steps(self) -> list[dict[str, Any]]:
        steps = self.cleaned_data.get("steps")
        if not isinstance(steps, list) or not steps:
            raise forms.ValidationError(_('The steps are a JSON list with one step at least: '
                                          '[{"action": "...", "params": {...}}].'))
        trigger = self.cleaned_data.get("trigger")
        scopes = trigger_scopes(trigger) if isinstance(trigger, dict) else list(attributes.SCOPES)
        known = registry.actions()
        problems: list[str] = []
        served = templates.served_languages()
        self.warnings = []
        for number, step in enumerate(steps, start=1):
            if not isinstance(step, dict) or not isinstance(step.get("action"), str) or (
                    set(step) - {"action", "params"}):
                problems.append(_("Step %(number)s: write {\"action\": \"...\", \"params\": {...}}.")
                                % {"number": number})
                continue
            action = known.get(step["action"])
            if action is None:
                problems.append(_("Step %(number)s: unknown action %(action)r; known: %(known)s.") % {
                    "number": number, "action": step["action"], "known": ", ".join(sorted(known))})
                continue
            params = step.get("params", {})
            if not isinstance(params, dict):
                problems.append(_("Step %(number)s: params must be a JSON object.") % {"number": number})
                continue
            problems += [_("Step %(number)s (%(action)s): %(error)s") % {
                "number": number, "action": step["action"], "error": error}
                for error in action.params_errors(params)]
            texts = step_texts(step)
            if texts is not None:
                problems += [_("Step %(number)s (%(action)s): %(error)s") % {
                    "number": number, "action": step["action"], "error": error}
                    for error in templates.template_errors(texts, templates.allowed_variables(scopes))]
                missing = templates.template_missing_languages(texts, served)
                if missing:
                    self.warnings.append(_(
                        "Step %(number)s (%(action)s) has no text in %(languages)s, languages the desk "
                        "serves: those contacts get their country's language or English.") % {
                        "number": number, "action": step["action"], "languages": ", ".join(missing)})
        if problems:
            raise forms.ValidationError(problems)
        return steps

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if (cleaned.get("limit_count") is None) != (cleaned.get("limit_days") is None):
            self.add_error("limit_days", _("Give both the number of runs and the days, or neither."))
        if not self.definition_has_errors():
            # Whatever else the engine would refuse (an event kind the timeline does not know...),
            # on the field it is about, so the save below never fails.
            for error in definition_errors(self.definition(), known_kinds=known_kinds()):
                self.add_error(_error_field(error), error)
        return cleaned

    def definition_has_errors(self) -> bool:
        return any(name in self.errors for name in (*DEFINITION_FIELDS, "__all__"))

    def definition(self) -> dict[str, Any]:
        """The draft definition the form holds, in the shape the engine's `workflow_save` and
        `dry_run` take (workflows.definitions)."""
        data = self.cleaned_data
        count, days = data.get("limit_count"), data.get("limit_days")
        return {"trigger": data.get("trigger"), "conditions": data.get("conditions") or {"all": []},
                "steps": data.get("steps"), "run_key": data.get("run_key") or "",
                "limit": {"count": count, "days": days} if count and days else None,
                "max_depth": data.get("max_depth")}


class DryRunForm(forms.Form):
    days = forms.IntegerField(label=gettext_lazy("Replay the last N days"), min_value=1, max_value=90, initial=7)
