"""The landing page: the desk's figures only for the desk's people."""

from __future__ import annotations

import pytest

from tests.factories import AgentFactory, ContactFactory, SupervisorFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("make", "shown"), [
    (AgentFactory, True), (SupervisorFactory, True),
    (UserFactory, False), (lambda: UserFactory(is_staff=True), False),
], ids=["agent", "supervisor", "no-agent-profile", "staff-only"])
def test_the_figures_show_only_to_agents_and_supervisors(client, make, shown):
    ContactFactory()
    client.force_login(make())

    response = client.get("/")

    assert response.status_code == 200
    assert ('class="figures"' in response.content.decode()) is shown
