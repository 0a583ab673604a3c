"""A supervisor writes a routing rule in the admin through a real browser, is stopped by a
bad one, and checks where a sample item would go with the dry run."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from routing import services
from routing.models import Presence, Queue, RoutingRule
from supportdesk.conditions import condition_matches
from tests.factories import AgentProfileFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_supervisor_writes_a_rule_and_dry_runs_it(live_server, page):
    get_user_model().objects.create_superuser("supervisor", "supervisor@example.com", "supervisor")
    Queue.objects.create(key="chat.es", name="Chat ES")
    lucia = AgentProfileFactory(user=UserFactory(username="lucia"), languages=["es"],
                                contact_kinds=["customer"])
    services.presence_set(user=lucia.user, presence=Presence.ONLINE)

    page.goto(live_server.url + "/admin/routing/routingrule/add/")
    page.fill("#id_username", "supervisor")
    page.fill("#id_password", "supervisor")
    page.click("input[type=submit]")
    page.fill("#id_name", "Chat by language")
    page.fill("#id_position", "10")
    page.fill("#id_queue_key", "chat.{colour}")
    page.fill("#id_conditions-0-attribute", "channel")
    page.select_option("#id_conditions-0-op", "eq")
    page.fill("#id_conditions-0-value", "chat")
    page.click("input[name=_save]")

    expect(page.locator(".errorlist").first).to_be_visible()  # {colour} is no attribute
    assert not RoutingRule.objects.exists()

    page.fill("#id_queue_key", "chat.{language}")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    condition = RoutingRule.objects.get().condition
    assert condition_matches(condition, {"channel": "chat"})
    assert not condition_matches(condition, {"channel": "email"})

    page.get_by_role("link", name="Dry run").click()
    page.fill("#id_language", "es")
    page.click("input[type=submit][value='Route it']")
    result = page.locator("#content")
    expect(result).to_contain_text("chat.es")
    expect(result).to_contain_text("Chat by language")
    expect(result).to_contain_text("lucia")
