"""Login throttling (django-axes) on the desk's and the admin's login pages: a clear lockout
page after too many failures, per account and address, cleared by a good login."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import AgentFactory, SupervisorFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
LOGINS = {"desk": "/desk/login/", "admin": "/admin/login/"}


@pytest.fixture(autouse=True)
def _limit(settings):
    settings.AXES_FAILURE_LIMIT = 3


def login(client: Client, where: str, username: str, password: str, address: str = "10.0.0.1"):
    return client.post(LOGINS[where], {"username": username, "password": password}, REMOTE_ADDR=address)


@pytest.mark.parametrize("where", ["desk", "admin"])
def test_too_many_failed_logins_lock_the_account_out_even_with_the_right_password(client, where):
    user = SupervisorFactory(is_staff=True)
    for _ in range(2):
        assert login(client, where, user.username, "guess").status_code == 200  # the form again, with its error
    assert login(client, where, user.username, "guess").status_code == 429  # the third locks

    locked = login(client, where, user.username, PASSWORD)

    assert locked.status_code == 429
    page = locked.content.decode()
    assert 'data-testid="lockout"' in page and "Too many failed logins" in page
    assert "Try again in 15 minutes." in page
    assert "_auth_user_id" not in client.session


def test_the_lockout_is_per_account_and_address(client):
    user, colleague = AgentFactory(), AgentFactory()
    for _ in range(3):
        login(client, "desk", user.username, "guess")

    assert login(Client(), "desk", colleague.username, PASSWORD).status_code == 302
    assert login(Client(), "desk", user.username, PASSWORD, address="10.0.0.2").status_code == 302


def test_a_good_login_clears_the_failures(client):
    user = AgentFactory()
    for _ in range(2):
        login(client, "desk", user.username, "guess")
    assert login(client, "desk", user.username, PASSWORD).status_code == 302
    client.logout()

    for _ in range(2):
        login(client, "desk", user.username, "guess")

    assert login(client, "desk", user.username, PASSWORD).status_code == 302
