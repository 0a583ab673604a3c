"""The README's examples of the OMS webhook, posted as written (signed), must be accepted
and processed: the documentation cannot drift from what the webhook takes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from integrations import services
from integrations.models import OmsEvent, OmsEventStatus
from integrations.oms.signature import SIGNATURE_HEADER, signed_headers
from tests.oms_events import WEBHOOK_URL

README = Path(__file__).resolve().parents[2] / "README.md"
SECRET = "readme-example-secret"
pytestmark = pytest.mark.django_db(transaction=True)


def oms_webhook_examples() -> list[str]:
    """The body of every fenced block that shows a signed OMS request (headers, a blank
    line, then the JSON body)."""
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", README.read_text(), flags=re.DOTALL | re.MULTILINE)
    return [block.split("\n\n", 1)[1] for block in blocks if f"{SIGNATURE_HEADER}:" in block]


def test_the_readme_shows_the_oms_webhook():
    assert oms_webhook_examples()


@pytest.mark.parametrize("example", oms_webhook_examples())
def test_each_readme_example_of_the_oms_webhook_is_accepted_and_processed(oms_client, settings, example):
    settings.OMS_WEBHOOK_SECRET = SECRET
    body = example.strip().encode()

    response = oms_client.post(WEBHOOK_URL, data=body,
                               headers=signed_headers(secret=SECRET, body=body))

    assert response.status_code == 202, response.content
    services.oms_events_drain()
    event = OmsEvent.objects.get()
    assert (event.status, event.last_error) == (OmsEventStatus.PROCESSED, "")
