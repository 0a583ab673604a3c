"""post_url's guard: only public unicast addresses unless WORKFLOWS_OUTBOUND_ALLOW_PRIVATE."""

from __future__ import annotations

import pytest

from workflows.actions import _url_errors


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/x", "http://localhost/x", "http://[::1]/x", "http://169.254.169.254/latest/meta-data/",
    "http://100.100.100.200/latest/meta-data/", "http://100.64.0.1/", "http://224.0.0.1/", "http://0.0.0.0/",
    "http://[::ffff:127.0.0.1]/", "http://[64:ff9b::7f00:1]/", "http://[2002:7f00:1::]/", "http://10.1.2.3/",
    "http://2130706433/", "http://[fc00::1]/", "http://240.0.0.1/",
])
def test_a_non_public_address_is_refused(settings, url):
    settings.WORKFLOWS_OUTBOUND_ALLOW_PRIVATE = False
    errors = _url_errors({"url": url})
    assert errors, url  # refused as private, or as no address at all (2130706433)


@pytest.mark.parametrize("url", ["http://93.184.216.34/hook", "https://[2606:4700:4700::1111]/hook"])
def test_a_public_address_is_accepted(settings, url):
    settings.WORKFLOWS_OUTBOUND_ALLOW_PRIVATE = False
    assert _url_errors({"url": url}) == []


def test_the_setting_allows_private_addresses(settings):
    settings.WORKFLOWS_OUTBOUND_ALLOW_PRIVATE = True
    assert _url_errors({"url": "http://100.100.100.200/"}) == []

