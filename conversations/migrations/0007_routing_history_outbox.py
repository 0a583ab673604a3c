"""Routing's history reaches the timeline through the outbox (supportdesk.outbox) instead of a
watermark with gaps: events the old copier had not copied yet (after its watermark, or in
its gap list) get outbox entries, so the new drain copies them; then the watermark goes.

Run it with the workers stopped (as any migration): an event written by old code between
this migration and the new code's start would get no entry."""

from django.db import migrations

# Frozen copies: a migration must not follow later renames in the code.
CONSUMER = "conversations.routing_history"
STREAM = "routing.history"
KEPT_KINDS = ["queued", "assigned", "accepted", "transferred", "breached", "completed"]


def _tables(apps) -> tuple[str, str]:
    return (apps.get_model("routing", "WorkItemEvent")._meta.db_table,
            apps.get_model("supportdesk", "OutboxEntry")._meta.db_table)


def enqueue_uncopied(apps, schema_editor):
    Watermark = apps.get_model("conversations", "RoutingHistoryWatermark")
    watermark = Watermark.objects.filter(key="routing_history").first()
    # No watermark: the copier never ran, and its first run would have copied everything.
    last_event_id = watermark.last_event_id if watermark else 0
    gap_ids = [int(gap_id) for gap_id, _seen in (watermark.gaps if watermark else [])]
    events, outbox = _tables(apps)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"""
            INSERT INTO "{outbox}" (stream, consumer, ref_id)
            SELECT %s, %s, e.id FROM "{events}" e
             WHERE (e.id > %s OR e.id = ANY(%s)) AND e.kind = ANY(%s)
               AND NOT EXISTS (SELECT 1 FROM "{outbox}" o WHERE o.consumer = %s AND o.ref_id = e.id)
             ORDER BY e.id
        """, [STREAM, CONSUMER, last_event_id, gap_ids, KEPT_KINDS, CONSUMER])


def watermark_from_outbox(apps, schema_editor):
    # Back to the watermark: everything before the oldest entry still waiting was copied.
    events, outbox = _tables(apps)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"""
            SELECT coalesce((SELECT min(ref_id) - 1 FROM "{outbox}" WHERE consumer = %s),
                            (SELECT max(id) FROM "{events}"), 0)
        """, [CONSUMER])
        (last_event_id,) = cursor.fetchone()
        cursor.execute(f'DELETE FROM "{outbox}" WHERE consumer = %s', [CONSUMER])
    apps.get_model("conversations", "RoutingHistoryWatermark").objects.update_or_create(
        key="routing_history", defaults={"last_event_id": last_event_id, "gaps": []})


class Migration(migrations.Migration):

    dependencies = [
        ("conversations", "0006_conversation_client_id"),
        ("routing", "0002_routing_engine"),
        ("supportdesk", "0002_outbox"),
    ]

    operations = [
        migrations.RunPython(enqueue_uncopied, watermark_from_outbox),
        migrations.DeleteModel(
            name="RoutingHistoryWatermark",
        ),
    ]
