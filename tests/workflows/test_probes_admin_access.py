"""The issue-12 admin pages: supervisors (the core's permission) manage them; any other staff
account, whatever Django model permissions it holds, reaches none of them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from tests.factories import AgentFactory, SupervisorFactory

pytestmark = pytest.mark.django_db

PAGES = [
    "admin:workflows_workflow_changelist",
    "admin:workflows_workflow_add",
    "admin:workflows_workflowrun_changelist",
    "admin:workflows_workflowaudit_changelist",
    "admin:workflows_segment_changelist",
    "admin:workflows_segment_add",
    "admin:workflows_segment_preview",
    "admin:workflows_campaign_changelist",
    "admin:workflows_campaign_add",
    "admin:workflows_campaign_preview",
    "admin:workflows_surveysetting_changelist",
    "admin:workflows_surveysetting_add",
    "admin:workflows_survey_changelist",
]


def client_of(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


@pytest.mark.parametrize("name", PAGES)
def test_a_staff_supervisor_reaches_the_page(name):
    response = client_of(SupervisorFactory(is_staff=True)).get(reverse(name))
    assert response.status_code == 200, (name, response.status_code)


@pytest.mark.parametrize("name", PAGES)
def test_a_staff_agent_with_every_workflows_model_permission_does_not(name):
    agent = AgentFactory(is_staff=True)
    agent.user_permissions.add(*Permission.objects.filter(content_type__app_label="workflows"))
    response = client_of(agent).get(reverse(name))
    assert response.status_code in (302, 403), (name, response.status_code)
