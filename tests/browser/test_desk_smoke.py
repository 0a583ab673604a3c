"""A supervisor logs in through a real browser and finds the desk's data in the admin; an agent
works the workspace in Spanish."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from tests.browser.desk import PASSWORD, assigned_chat, desk_prepare
from tests.factories import ContactFactory, OrderFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def supervisor():
    return get_user_model().objects.create_superuser(
        "supervisor", "supervisor@example.com", "supervisor"
    )


def test_a_supervisor_logs_in_and_finds_contacts_and_orders(live_server, page, supervisor):
    customer = ContactFactory(name="Lucía Fernández <b>bold</b>", external_id="C-BROWSER")
    OrderFactory(customer=customer, external_id="O-BROWSER")

    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Log in").first.click()
    page.fill("input[name=username]", "supervisor")
    page.fill("input[name=password]", "supervisor")
    page.click("[data-testid=login-form] button[type=submit]")

    page.wait_for_url(live_server.url + "/")
    assert page.locator(".figures").inner_text().split() == [
        "Contacts", "1", "Orders", "1", "Open", "conversations", "0"]

    page.get_by_role("link", name="Admin").click()
    page.get_by_role("link", name="Contacts", exact=True).click()
    page.fill("#searchbar", "C-BROWSER")
    page.keyboard.press("Enter")
    page.wait_for_url("**/admin/timeline/contact/?q=C-BROWSER")
    row = page.locator("#result_list tbody tr")
    expect(row).to_have_count(1)
    # A name with markup shows as text, never as markup.
    assert "Lucía Fernández <b>bold</b>" in row.first.inner_text()
    assert page.locator("#result_list b").count() == 0

    page.goto(live_server.url + "/admin/timeline/order/")
    assert "O-BROWSER" in page.locator("#result_list").inner_text()


def test_a_wrong_password_is_refused_with_a_message(live_server, page, supervisor):
    page.goto(live_server.url + "/admin/login/?next=/")
    page.fill("#id_username", "supervisor")
    page.fill("#id_password", "not-the-password")
    page.click("input[type=submit]")

    expect(page.locator(".errornote")).to_contain_text("correct username and password")
    assert "/admin/login/" in page.url


def test_an_agent_who_chooses_spanish_works_the_workspace_in_spanish(asgi_server, browser, settings):
    """The header's language form switches every label of the workspace, including the words
    its scripts write (the connection state) and the server's labels (the channel, the
    contact's kind), and a shortcut's hint; the customer's own words stay as written."""
    desk_prepare(settings)
    profile, conversation, _session = assigned_chat()
    context = browser.new_context(locale="en-GB")  # the browser's language does not choose the desk's
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{asgi_server.url}/desk/c/{conversation.pk}/")
        page.fill("input[name=username]", profile.user.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page.get_by_test_id("socket-state")).to_have_attribute("data-state", "open")
        expect(page.get_by_role("heading", name="My conversations")).to_be_visible()

        page.select_option("[data-testid=desk-language-select]", "es")
        page.click("[data-testid=desk-language-submit]")

        expect(page.locator("html")).to_have_attribute("lang", "es")
        expect(page.get_by_role("heading", name="Mis conversaciones")).to_be_visible()
        expect(page.get_by_role("heading", name="Ofertas")).to_be_visible()
        expect(page.get_by_test_id("send-button")).to_have_text("Enviar")
        expect(page.get_by_test_id("composer")).to_have_attribute(
            "placeholder", "Responde… (#atajo + espacio para una macro, Ctrl+Intro para enviar)")
        expect(page.get_by_test_id("transfer-form")).to_contain_text("Transferir a")
        expect(page.get_by_test_id("resolve-form")).to_contain_text("Motivo de contacto")
        expect(page.get_by_test_id("conversation")).to_contain_text("Chat en directo")
        expect(page.get_by_test_id("contact-sidebar")).to_contain_text("Cliente")
        expect(page.get_by_test_id("socket-state-text")).to_have_text("Conectado")  # written by workspace.js
        expect(page.get_by_test_id("message").first).to_contain_text("Hola, ¿mi pedido?")

        page.keyboard.press("Alt+KeyR")  # no contact reason chosen yet: the shortcut says what to do
        expect(page.locator("#desk-flash")).to_contain_text(
            "Elige un motivo de contacto y vuelve a pulsar el atajo.")
        assert errors == []
    finally:
        context.close()
