"""Fixtures the routing tests share."""

from __future__ import annotations

import pytest

from routing.models import Queue


@pytest.fixture
def queues() -> list[Queue]:
    """Three queues by key: chat.es, vip.es, general (test_selectors has its own)."""
    return [Queue.objects.create(key=key, name=key) for key in ("chat.es", "vip.es", "general")]
