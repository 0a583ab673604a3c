"""The customer's pages in their language, in real Chromium: an Arabic-speaking customer sees the
chat widget in Arabic and right to left (their own messages on the left, the launcher named in
Arabic), a host site's data-language wins over the browser, and a rating link opens in the
survey's language."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from routing.models import Queue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _desk(settings):
    settings.REDIS_KEY_PREFIX = f"test-{uuid.uuid4().hex}"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    Queue.objects.create(key="general", name="General")


def test_an_arabic_customer_sees_the_widget_right_to_left_in_arabic(asgi_server, browser):
    context = browser.new_context(locale="ar-MA")  # the browser asks for Arabic (Accept-Language)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(asgi_server.url + "/widget/demo/")

        launcher = page.get_by_test_id("supportdesk-launcher")
        expect(launcher).to_have_attribute("aria-label", "تحدث مع فريق الدعم")  # named by the chat, in Arabic
        launcher.click()
        chat = page.frame_locator("[data-testid=supportdesk-frame]")
        expect(chat.locator("html")).to_have_attribute("dir", "rtl")
        expect(chat.locator("html")).to_have_attribute("lang", "ar")
        expect(chat.get_by_test_id("status-line")).to_contain_text("متصل")  # Connected
        expect(chat.get_by_test_id("send-button")).to_have_text("إرسال")
        expect(chat.get_by_test_id("composer")).to_have_attribute("placeholder", "اكتب رسالة…")

        chat.get_by_test_id("composer").fill("مرحبا، أين طلبي؟")
        chat.get_by_test_id("send-button").click()
        mine = chat.locator("[data-testid=message][data-direction=in]").first
        expect(mine).to_have_attribute("data-state", "sent")
        expect(mine.locator(".msg-state")).to_have_text("أُرسلت")  # Sent
        expect(chat.get_by_test_id("chat-end")).to_have_text("إنهاء المحادثة")

        # right to left: the customer's own message stands at the start of the line, the left
        box, thread = mine.bounding_box(), chat.get_by_test_id("message-list").bounding_box()
        assert box["x"] - thread["x"] < (thread["x"] + thread["width"]) - (box["x"] + box["width"])
        assert chat.locator("html").evaluate("html => getComputedStyle(html.querySelector('.chat')).direction") \
            == "rtl"
        assert not errors, errors
    finally:
        context.close()


def test_the_host_sites_language_setting_wins_over_the_browser(asgi_server, browser):
    context = browser.new_context(locale="ar")
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(asgi_server.url + "/widget/demo/?lang=de")  # the snippet carries data-language="de"
        page.get_by_test_id("supportdesk-launcher").click()
        chat = page.frame_locator("[data-testid=supportdesk-frame]")

        expect(chat.get_by_test_id("status-line")).to_contain_text("Verbunden")
        expect(chat.locator("html")).to_have_attribute("dir", "ltr")
        expect(chat.get_by_test_id("send-button")).to_have_text("Senden")
    finally:
        context.close()


@pytest.mark.parametrize(("language", "question", "direction"), [
    ("uk", "Наскільки ви задоволені отриманою допомогою?", "ltr"),
    ("ar", None, "rtl"),
])
def test_a_rating_link_opens_in_the_surveys_language(asgi_server, browser, settings, language, question,
                                                     direction):
    from django.utils import timezone

    from tests.workflows.csat_helpers import chat_of_agent, conversation_on, drain, resolve, settings_for
    from workflows.surveys.links import survey_url
    from workflows.surveys.models import Survey, SurveyState
    from workflows.surveys.services import survey_texts

    settings.DESK_PUBLIC_URL = asgi_server.url
    settings_for("email", min_days_between=0)
    conversation = conversation_on("email", language=language)
    resolve(conversation, chat_of_agent()[1])
    drain()
    survey = Survey.objects.get(conversation=conversation)
    Survey.objects.filter(pk=survey.pk).update(state=SurveyState.SENT, sent_at=timezone.now())
    survey.refresh_from_db()
    texts = survey_texts(language)

    context = browser.new_context(locale="en-US")  # the survey's language wins over the browser's
    try:
        customer = context.new_page()
        customer.set_default_timeout(15_000)
        customer.goto(survey_url(survey))

        expect(customer.locator("html")).to_have_attribute("lang", language)
        expect(customer.locator("html")).to_have_attribute("dir", direction)
        expect(customer.locator("h1")).to_have_text(question or texts["question"])
        customer.locator("input[name=score][value='4']").check()
        customer.get_by_test_id("survey-submit").click()
        expect(customer.get_by_test_id("survey-thanks")).to_have_text(texts["thanks"])
        assert "How satisfied" not in customer.content()
    finally:
        context.close()


def test_an_arabic_reader_sees_the_help_center_right_to_left_in_arabic(asgi_server, browser):
    """/help/ follows the browser to Arabic: the page reads right to left, its frame (search box,
    headings, empty state, a refused search) is Arabic, and the language links name themselves."""
    context = browser.new_context(locale="ar-EG")
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(asgi_server.url + "/help/")

        assert page.url.endswith("/help/ar/")
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        expect(page.locator("html")).to_have_attribute("lang", "ar")
        expect(page).to_have_title("مركز المساعدة")
        expect(page.get_by_role("heading", level=1)).to_have_text("كيف يمكننا مساعدتك؟")
        expect(page.get_by_role("searchbox")).to_have_attribute("placeholder", "ابحث في مركز المساعدة")
        expect(page.locator("main")).to_contain_text("لا توجد مقالات بهذه اللغة بعد.")
        expect(page.locator("footer a[hreflang=es]")).to_have_text("Español")
        # The search box's own right edge is where an Arabic reader starts.
        assert page.evaluate("getComputedStyle(document.querySelector('.help-search')).direction") == "rtl"

        page.get_by_role("searchbox").fill("x")
        page.get_by_role("button", name="بحث").click()
        expect(page.get_by_role("alert")).to_have_text("اكتب 2 أحرف على الأقل للبحث.")
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
    finally:
        context.close()
