"""A supervisor logs in through a real browser and finds the desk's data in the admin."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

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
