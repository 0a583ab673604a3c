"""The segments' tasks when a segment went away after the task was queued."""

from __future__ import annotations

import logging

import pytest

from workflows.segments import tasks
from workflows.segments.models import Segment
from workflows.segments.services import segment_save

pytestmark = pytest.mark.django_db


def test_a_refresh_queued_for_a_segment_deleted_since_does_nothing_and_says_so(caplog):
    segment = Segment(name="Spanish", key="spanish",
                      conditions={"attribute": "contact.language", "op": "eq", "value": "es"})
    segment_save(segment=segment)
    segment_id = segment.pk
    Segment.objects.filter(pk=segment_id).delete()

    with caplog.at_level(logging.INFO, logger="workflows.segments.tasks"):
        tasks.segment_refresh(segment_id)

    assert f"Segment {segment_id} no longer exists" in caplog.text
    assert not Segment.objects.filter(pk=segment_id).exists()
