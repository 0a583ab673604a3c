"""A customer rates a chat in the widget (real Chromium, the real ASGI server, websockets and the
Redis channel layer): their chat is resolved, the survey appears in the widget in their
language, they pick a score and write a comment, the widget thanks them, and the rating
shows on the contact's page in the desk."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from conversations.models import Conversation
from routing.models import Queue
from supportdesk.push import flush
from tests.factories import SupervisorFactory
from tests.workflows.csat_helpers import drain, resolve, settings_for
from timeline.models import Contact
from workflows.surveys import services
from workflows.surveys.models import Survey, SurveyState

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _desk(settings):
    settings.REDIS_KEY_PREFIX = f"test-{uuid.uuid4().hex}"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    Queue.objects.create(key="general", name="General")
    settings_for("chat")


def test_a_customer_rates_a_resolved_chat_in_the_widget(asgi_server, browser):
    context = browser.new_context()
    visitor = context.new_page()
    visitor.set_default_timeout(15_000)
    errors: list[str] = []
    visitor.on("pageerror", lambda error: errors.append(str(error)))

    # A customer writes in the widget on the shop's page
    visitor.goto(asgi_server.url + "/widget/demo/")
    visitor.get_by_test_id("supportdesk-launcher").click()
    chat = visitor.frame_locator("[data-testid=supportdesk-frame]")
    expect(chat.get_by_test_id("status-line")).to_contain_text("Connected")
    chat.get_by_test_id("composer").fill("Hola, mi pedido llegó frío")
    chat.get_by_test_id("send-button").click()
    expect(chat.locator("[data-testid=message][data-direction=in]").first).to_have_attribute("data-state", "sent")
    conversation = Conversation.objects.get()

    # An agent resolves it; the beat's task sees the resolution, and the survey's task (eager
    # here) sends it at once, the chat's delay being 0
    supervisor = SupervisorFactory(first_name="Marta")
    resolve(conversation, supervisor)
    drain()
    services.surveys_send_due()  # the beat's safety net: nothing left to send
    assert Survey.objects.get(conversation=conversation).state == SurveyState.SENT
    flush()

    # The survey appears in the customer's widget; they rate 4 with a comment
    form = chat.get_by_test_id("survey-form")
    expect(form).to_be_visible()
    expect(chat.get_by_test_id("survey")).to_have_attribute("lang", "es")
    chat.get_by_test_id("survey-score-4").click()
    chat.get_by_test_id("survey-comment").fill("Amables, pero tardó")
    chat.get_by_test_id("survey-submit").click()
    expect(chat.get_by_test_id("survey-thanks")).to_be_visible()

    survey = Survey.objects.get(conversation=conversation)
    assert (survey.state, survey.score, survey.comment) == (SurveyState.ANSWERED, 4, "Amables, pero tardó")
    contact = Contact.objects.get(pk=conversation.contact_id)
    assert (contact.last_rating, contact.rating_count) == (4, 1)
    assert errors == []

    # A supervisor sees the rating on the contact's page
    desk = context.new_page()
    desk.set_default_timeout(15_000)
    desk.goto(asgi_server.url + "/desk/")
    desk.fill("input[name=username]", supervisor.username)
    desk.fill("input[name=password]", PASSWORD)
    desk.click("button[type=submit]")
    desk.wait_for_url(asgi_server.url + "/desk/**")
    desk.goto(f"{asgi_server.url}/desk/contacts/{contact.pk}/")
    expect(desk.get_by_test_id("contact-satisfaction")).to_contain_text("last 4 of 5")
    rated = desk.locator("[data-testid=timeline-event][data-kind='rating.given']")
    expect(rated).to_contain_text("Amables, pero tardó")
    context.close()


def test_a_customer_rates_from_the_emailed_link_in_a_real_browser(asgi_server, browser, settings):
    """The survey link's page posts its form back to itself: with the page's referrer policy a
    browser must still send its real origin (with "no-referrer" it sent "Origin: null", and the
    CSRF check refused every rating)."""
    from django.utils import timezone

    from tests.workflows.csat_helpers import chat_of_agent, conversation_on, drain, resolve, settings_for
    from workflows.surveys.links import survey_url
    from workflows.surveys.models import Survey, SurveyState

    settings.DESK_PUBLIC_URL = asgi_server.url
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings_for("email", min_days_between=0)
    conversation = conversation_on("email", language="es")
    resolve(conversation, chat_of_agent()[1])
    drain()
    survey = Survey.objects.get(conversation=conversation)
    Survey.objects.filter(pk=survey.pk).update(state=SurveyState.SENT, sent_at=timezone.now())
    survey.refresh_from_db()

    customer = browser.new_page()
    try:
        customer.goto(survey_url(survey))
        customer.locator("input[name=score][value='5']").check()
        customer.get_by_test_id("survey-submit").click()
        expect(customer.get_by_test_id("survey-saved-score")).to_contain_text("5")
    finally:
        customer.close()
    survey.refresh_from_db()
    assert survey.score == 5
