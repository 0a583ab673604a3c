"""The reports' Spanish catalogue (reports/locale/es), written by hand: every string the reports
mark for translation (reports/*.py and templates/reports/, found as makemessages finds them) has
its Spanish there, the catalogue holds nothing else, and Spanish is what Django serves for each.
The API's help texts (help_text=) stay in English, as the schema is, so they are not asked for."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from tests.catalogues import (
    catalogue_read,
    missing_from,
    placeholders_changed,
    python_strings,
    served_otherwise,
    template_strings,
)

CATALOGUE = Path(settings.BASE_DIR) / "reports" / "locale" / "es" / "LC_MESSAGES" / "django.po"
CODE = Path(settings.BASE_DIR) / "reports"
TEMPLATES = Path(settings.BASE_DIR) / "templates" / "reports"


def _marked() -> dict:
    return {**template_strings(TEMPLATES.glob("*.html")), **python_strings(CODE.rglob("*.py"))}


def _catalogue():
    return catalogue_read(CATALOGUE, "es")


def test_every_reports_string_has_its_spanish():
    marked = _marked()

    missing = missing_from(marked, [_catalogue()])

    assert len(marked) > 100  # the extraction found the pages' strings, not nothing
    assert missing == {}, "Add these to reports/locale/es/LC_MESSAGES/django.po and run msgfmt"


def test_the_catalogue_holds_only_what_the_reports_use():
    catalogue = _catalogue()
    marked = _marked()

    unused = [(message.context, message.id) for message in catalogue if message.id
              and (message.context, message.id[0] if isinstance(message.id, tuple) else message.id) not in marked]

    assert unused == [] and not catalogue.obsolete


def test_the_translations_keep_their_placeholders():
    assert placeholders_changed(_catalogue()) == {}


def test_django_serves_the_catalogues_spanish():
    """The compiled catalogue is the .po's, and no app earlier in INSTALLED_APPS answers one of
    our strings with its own words (the admin's "Change" is a verb: ours has a context)."""
    assert served_otherwise(_catalogue(), "es") == {}
