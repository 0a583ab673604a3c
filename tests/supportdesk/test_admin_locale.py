"""The admin in Spanish for a supervisor who chose it (the header's language form, as on the desk's
own pages; issue 15). Django's admin brings its frame in Spanish; the desk brings the rest: the
names of its models and fields (those Django makes up from the code too, through
supportdesk.model_names), help texts, choices, fieldset titles, columns, filters, actions and
their messages, the admin templates under templates/admin/, and the checks the admin's forms
report. Every one of those is a lazy translation with its Spanish in an app's catalogue, and
Spanish is what Django serves for it. tests/supportdesk/test_admin.py renders every page in
Spanish and fails on an English label left; both use tests/catalogues.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import label_for_field
from django.db import models
from django.utils import translation
from django.utils.functional import Promise

from tests.catalogues import (
    Key,
    app_catalogues,
    english_served,
    missing_from,
    python_strings,
    template_strings,
    untranslated_text,
)

ROOT = Path(settings.BASE_DIR)
# The apps whose models the admin shows (reports has no admin pages: its own test covers it).
ADMIN_APPS = ("supportdesk", "timeline", "routing", "conversations", "workflows", "integrations", "helpcenter")
ADMIN_TEMPLATES = sorted((ROOT / "templates" / "admin").rglob("*.html"))
# Modules behind the admin's words besides the apps' admin, models, forms and apps modules: the
# services whose checks the routing forms report on their fields.
ADMIN_CHECKS = ("routing/rules.py", "routing/services/configure.py", "routing/services/hours.py")


def admin_code() -> list[Path]:
    found: set[Path] = {ROOT / path for path in ADMIN_CHECKS}
    for app in ADMIN_APPS:
        for pattern in ("apps.py", "admin.py", "admin/*.py", "*/admin.py", "*models.py", "*/models.py",
                        "forms.py"):
            found.update((ROOT / app).glob(pattern))
    return sorted(found)


def admin_models() -> list[tuple[type[models.Model], admin.ModelAdmin | None]]:
    """The desk's models the admin shows, with their ModelAdmin (None for an inline's model)."""
    shown: dict[type[models.Model], admin.ModelAdmin | None] = {}
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label in ADMIN_APPS:
            shown[model] = model_admin
        for inline in model_admin.inlines:
            if inline.model._meta.app_label in ADMIN_APPS:
                shown.setdefault(inline.model, None)
    return sorted(shown.items(), key=lambda pair: pair[0]._meta.label)


def _english(text: str | Promise) -> str:
    with translation.override(None):
        return str(text)


def _is_code(value: object, label: object) -> bool:
    """A choice whose label is its value (a language code, an operator): no word to translate."""
    return _english(label).replace(" ", "_") == str(value)


def model_texts(model: type[models.Model]) -> dict[str, str | Promise]:
    """What the admin may show of a model: where -> the text."""
    options = model._meta
    texts: dict[str, str | Promise] = {f"{options.label} verbose_name": options.verbose_name,
                                       f"{options.label} verbose_name_plural": options.verbose_name_plural}
    for field in options.get_fields():
        if not field.concrete or field.auto_created:
            continue
        where = f"{options.label}.{field.name}"
        texts[where] = field.verbose_name
        if field.help_text:
            texts[f"{where} help_text"] = field.help_text
        for value, label in field.flatchoices or ():
            if not _is_code(value, label):
                texts[f"{where} choice {value}"] = label
    return texts


def admin_texts(model_admin: admin.ModelAdmin) -> dict[str, str | Promise]:
    """What a ModelAdmin adds: columns, filters' titles, fieldsets, actions, inlines, search help."""
    name = type(model_admin).__name__
    texts: dict[str, str | Promise] = {}
    for field_name in model_admin.list_display:
        if field_name != "__str__":
            texts[f"{name} column {field_name}"] = label_for_field(field_name, model_admin.model, model_admin)
    for list_filter in model_admin.list_filter:
        if isinstance(list_filter, type) and issubclass(list_filter, admin.SimpleListFilter):
            texts[f"{name} filter {list_filter.__name__}"] = list_filter.title
    for title, _options in model_admin.fieldsets or ():
        if title:
            texts[f"{name} fieldset {_english(title)}"] = title
    for action_name in model_admin.actions or ():
        action = getattr(model_admin, action_name) if isinstance(action_name, str) else action_name
        texts[f"{name} action {action_name}"] = action.short_description
    for inline in model_admin.inlines:
        for attribute in ("verbose_name", "verbose_name_plural"):
            if attribute in vars(inline):
                texts[f"{name} {inline.__name__}.{attribute}"] = vars(inline)[attribute]
    if model_admin.search_help_text:
        texts[f"{name} search_help_text"] = model_admin.search_help_text
    return texts


def shown_texts() -> dict[str, str | Promise]:
    texts: dict[str, str | Promise] = {}
    for model, model_admin in admin_models():
        texts.update(model_texts(model))
        if model_admin is not None:
            texts.update(admin_texts(model_admin))
    for app in ADMIN_APPS:
        texts[f"{app} app"] = apps.get_app_config(app).verbose_name
    return texts


def marked() -> dict[Key, str]:
    """Every string the admin's code and templates mark, and the names Django makes up for the
    admin's models (which supportdesk.model_names marks as the apps start)."""
    found = {**template_strings(ADMIN_TEMPLATES), **python_strings(admin_code(), help_texts=True)}
    for model, _model_admin in admin_models():
        options = model._meta
        for where, name in (
            (f"{options.label} verbose_name", options.verbose_name),
            (f"{options.label} verbose_name_plural", options.verbose_name_plural),
            *((f"{options.label}.{field.name}", field.verbose_name) for field in options.get_fields()
              if field.concrete and not field.auto_created),
        ):
            if isinstance(name, Promise):
                found.setdefault((None, _english(name)), where)
    return found


@pytest.mark.parametrize("path", ADMIN_TEMPLATES, ids=lambda path: str(path.relative_to(ROOT)))
def test_an_admin_template_has_no_untranslated_text(path):
    assert untranslated_text(path.read_text()) == []


def test_what_the_admin_shows_is_marked_for_translation():
    """A name, help text, choice, column, filter, fieldset, action or inline title written as a
    plain string would stay English whatever the supervisor chose."""
    plain = {where: text for where, text in shown_texts().items()
             if not isinstance(text, Promise) and text != "ID"}  # Django's own primary key: "ID" everywhere

    assert plain == {}


def test_every_admin_string_has_its_spanish():
    found = marked()

    missing = missing_from(found, app_catalogues("es"))

    assert len(found) > 500  # the extraction found the admin's strings, not nothing
    assert missing == {}, "Add these to the app's locale/es/LC_MESSAGES/django.po and run msgfmt -c"


def test_django_serves_the_admins_spanish():
    """Ours, or (where an app earlier in INSTALLED_APPS, such as Django's admin or auth, has the
    same words) theirs, never the English."""
    assert english_served(marked(), app_catalogues("es"), "es") == {}
