"""The agents' and supervisors' pages in Spanish (DESK_LANGUAGES): the workspace, the contact,
order and search pages, the supervisors' pages, the header and the start page. Their templates
hold no text outside translation tags; every string they, the views behind them and the labels
they show (a conversation's channel and status, a contact's kind, an order's status) mark for
translation has its Spanish in an app's catalogue, with the same placeholders; and Spanish is
what Django serves for each. The scripts' words come from the server (workspace_labels), so a
script that writes English of its own fails here too. The reports have their own test
(tests/reports/test_locale.py); both use tests/catalogues.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from conversations.workspace import workspace_labels
from tests.catalogues import (
    app_catalogues,
    english_served,
    missing_from,
    placeholders_changed,
    python_strings,
    template_strings,
    untranslated_text,
)

ROOT = Path(settings.BASE_DIR)
DESK_TEMPLATES = sorted(
    [ROOT / "templates" / name for name in ("base.html", "home.html", "lockout.html", "503.html",
                                           "calls/_invite_panel.html", "calls/supervise_invitations.html")]
    + list((ROOT / "templates" / "desk").glob("*.html")))
# The views behind those pages and the labels they show.
DESK_CODE = [ROOT / path for path in (
    "conversations/workspace.py", "conversations/live.py", "conversations/supervise_views.py",
    "conversations/call_views.py", "conversations/call_invitations.py", "conversations/models.py",
    "conversations/templatetags/desk_messages.py", "timeline/models.py",
)]
DESK_SCRIPTS = sorted((ROOT / "static" / "desk").glob("*.js"))
# A string literal in a script that a person would read: a capital, then words.
SCRIPT_SENTENCE = re.compile(r"""(["'`])[A-Z][a-z]+ [a-z][^"'`]*\1""")


def _marked() -> dict:
    return {**template_strings(DESK_TEMPLATES), **python_strings(DESK_CODE)}


@pytest.mark.parametrize("path", DESK_TEMPLATES, ids=lambda path: str(path.relative_to(ROOT)))
def test_a_desk_template_has_no_untranslated_text(path):
    assert untranslated_text(path.read_text()) == []


def test_every_desk_string_has_its_spanish():
    marked = _marked()

    missing = missing_from(marked, app_catalogues("es"))

    assert len(marked) > 250  # the extraction found the pages' strings, not nothing
    assert missing == {}, "Add these to conversations/locale/es (timeline/locale/es for its labels) and run msgfmt"


def test_django_serves_the_desks_spanish():
    """Each desk string comes out of gettext in Spanish: ours, or (where an app earlier in
    INSTALLED_APPS, such as the admin, has the same words) theirs, never the English."""
    assert english_served(_marked(), app_catalogues("es"), "es") == {}


def test_the_spanish_keeps_the_placeholders():
    changed = {}
    for catalogue in app_catalogues("es"):
        changed.update(placeholders_changed(catalogue))

    assert changed == {}


def test_the_workspace_scripts_write_no_english_of_their_own():
    sentences = {str(path.relative_to(ROOT)):
                 [found.group(0) for found in SCRIPT_SENTENCE.finditer(path.read_text())]
                 for path in DESK_SCRIPTS}

    assert {path: found for path, found in sentences.items() if found} == {}


def test_the_workspace_labels_come_in_spanish():
    with translation.override("es"):
        labels = workspace_labels()

    assert labels["statuses"]["open"] == "Abierta"
    assert labels["choose_reason"] == "Elige un motivo de contacto y vuelve a pulsar el atajo."
    assert labels["offer_body"] == "La conversación #%(id)s (%(channel)s) te está esperando."
