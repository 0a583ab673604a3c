"""The names Django makes up for a model and its fields, in the desk's language.

A field written without a verbose_name is labelled with its attribute name ("created_at" ->
"created at"), a model without one with its class name ("AgentProfile" -> "agent profile",
plural "agent profiles"): English in the admin, whatever language the supervisor chose.
Writing `verbose_name=_("created at")` on every field would say the same, and cost a
migration per model for nothing the database sees (the autodetector compares verbose names).
So each app's AppConfig.ready() calls `model_names_translate(self)`, which passes those
made-up names through gettext_lazy instead: the msgid is the name Django made up, its
translation sits in the app's catalogue beside the names written by hand.

Names written in the code are left alone (they are marked `_()` where they are written), and
migrations keep seeing what the code says: the autodetector reads a field's constructor
arguments (`deconstruct`) and a model's Meta as written, never these attributes.
tests/supportdesk/test_admin_locale.py fails when a name the admin shows has no Spanish.
"""

from __future__ import annotations

from django.apps import AppConfig
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy


def model_names_translate(app_config: AppConfig) -> None:
    """Make the made-up names of the app's models and fields lazy translations of themselves."""
    for model in app_config.get_models():
        options = model._meta
        if "verbose_name" not in options.original_attrs:
            options.verbose_name = gettext_lazy(options.verbose_name_raw)
        if "verbose_name_plural" not in options.original_attrs:
            # Django's own plural is "<verbose name>s", made from a name that may be translated
            # already ("evento OMSs"): the English plural is the msgid instead.
            options.verbose_name_plural = gettext_lazy(_english(options.verbose_name_plural))
        for field in options.local_fields + options.local_many_to_many:
            if field._verbose_name is None and not isinstance(field.verbose_name, Promise):
                field.verbose_name = gettext_lazy(field.verbose_name)


def _english(name: str | Promise) -> str:
    with translation.override(None):
        return str(name)
