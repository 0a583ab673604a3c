"""The reports' step after the demo's seeding (reports/demo.py): registered by the app, it
works the counters out over the seeded history, and a rerun that wrote nothing skips it."""

from __future__ import annotations

import pytest

from conversations.models import Conversation
from reports.models import ConversationFact, HourRollup
from supportdesk import demo
from supportdesk.seeding import StepProgress

pytestmark = pytest.mark.django_db

UP_TO_DATE = "Reports: their counters were up to date (/desk/reports/)."


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_seeding_works_the_counters_out_over_the_seeded_history_and_a_rerun_skips_it():
    progress: list[StepProgress] = []

    seeded = demo.demo_seed(contacts=30, on_step_progress=progress.append)

    conversations = Conversation.objects.count()
    assert conversations
    [outcome] = [line for line in seeded.after_seeding if line.startswith("Reports:")]  # the reports' step
    assert outcome.startswith(f"Reports: counters worked out from {conversations:,} conversations, ")
    assert ConversationFact.objects.count() == conversations
    assert HourRollup.objects.exists()
    assert progress[-1] == StepProgress(what="reports' counters", done=conversations, total=conversations,
                                             unit="conversations")

    progress.clear()

    again = demo.demo_seed(contacts=30, on_step_progress=progress.append)

    assert again.rows == 0
    assert [line for line in again.after_seeding if line.startswith("Reports:")] == [UP_TO_DATE]
    assert progress == []  # not rebuilt
