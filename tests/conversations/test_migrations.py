"""The migration from the watermark copier to the outbox leaves no routing event behind."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from conversations.routing_history import ROUTING_HISTORY
from routing import services as routing
from routing.models import HISTORY_STREAM, Queue, WorkItemEvent
from supportdesk.models import OutboxEntry
from tests.factories import ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db

MIGRATION = "conversations.migrations.0007_routing_history_outbox"


def _queued_event() -> WorkItemEvent:
    conversation = ConversationFactory(contact=ContactFactory(preferred_language="es"), channel="chat")
    item = routing.work_item_enqueue(conversation_id=conversation.pk, channel="chat",
                                     attributes={"language": "es", "contact_kind": "customer"})
    return WorkItemEvent.objects.get(item=item, kind="queued")


@pytest.mark.parametrize("watermark_ran", [True, False], ids=["after-a-watermark", "copier-never-ran"])
def test_events_the_old_copier_had_not_copied_get_outbox_entries(watermark_ran):
    # given routing events from before the upgrade (no outbox entries then), and the old
    # copier's watermark past the first two with the second's id still a gap
    Queue.objects.create(key="general", name="General")
    copied, gap, after = _queued_event(), _queued_event(), _queued_event()
    OutboxEntry.objects.all().delete()
    old_apps = MigrationLoader(connection).project_state(
        [("conversations", "0006_conversation_client_id"), ("routing", "0002_routing_engine"),
         ("supportdesk", "0002_outbox")]).apps
    watermark = old_apps.get_model("conversations", "RoutingHistoryWatermark")
    with connection.schema_editor() as editor:
        editor.create_model(watermark)  # dropped again with the test's transaction
        if watermark_ran:
            watermark.objects.create(key="routing_history", last_event_id=gap.pk,
                                     gaps=[[gap.pk, "2026-11-30T10:00:00+00:00"]])

        # when the migration's data step runs
        importlib.import_module(MIGRATION).enqueue_uncopied(old_apps, editor)

    # then what the old copier had not copied waits for the new one, once
    expected = [gap.pk, after.pk] if watermark_ran else [copied.pk, gap.pk, after.pk]
    entries = OutboxEntry.objects.order_by("ref_id")
    assert [(e.stream, e.consumer, e.ref_id) for e in entries] == [
        (HISTORY_STREAM, ROUTING_HISTORY, ref_id) for ref_id in expected]
