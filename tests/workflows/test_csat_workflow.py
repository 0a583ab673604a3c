"""A low rating can trigger a workflow: the `rating.given` event reaches the engine's triggers
with the contact's figures already updated (the same transaction), so a condition on the
contact's last rating sees the new one."""

from __future__ import annotations

import pytest

from tests.workflows.conftest import work
from tests.workflows.csat_helpers import chat_of_agent, drain, resolve, settings_for
from timeline.models import Contact
from workflows.models import RunStatus
from workflows.services import workflow_enable, workflow_save
from workflows.services.triggers import listened_kinds_clear
from workflows.surveys import services
from workflows.surveys.models import Survey

pytestmark = pytest.mark.django_db

LOW_RATING_AUDIT = {
    "trigger": {"type": "event", "kinds": ["rating.given"]},
    "conditions": {"all": [{"attribute": "contact.last_rating", "op": "lte", "value": 2}]},
    "steps": [{"action": "add_tags", "params": {"tags": ["unhappy"]}}],
}


def answered(score: int) -> Contact:
    settings_for("chat", min_days_between=0)
    conversation, agent = chat_of_agent()
    resolve(conversation, agent)
    drain()
    services.surveys_send_due()
    survey = Survey.objects.get(conversation=conversation)
    services.survey_answer(survey_id=survey.pk, score=score, comment="")
    return Contact.objects.get(pk=survey.contact_id)


def test_a_low_rating_triggers_the_workflow_and_a_good_one_does_not():
    workflow, _version = workflow_save(key="low-rating", name="Low rating", definition=LOW_RATING_AUDIT)
    workflow_enable(workflow_id=workflow.pk)
    listened_kinds_clear()

    unhappy = answered(1)
    happy = answered(5)
    runs = work()

    unhappy.refresh_from_db()
    happy.refresh_from_db()
    assert "unhappy" in unhappy.tags and "unhappy" not in happy.tags
    assert {run.contact_id for run in runs if run.status == RunStatus.DONE} == {unhappy.pk}
