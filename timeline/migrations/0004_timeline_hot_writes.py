"""Cheaper writes of the contacts and their timeline.

- Contacts: no index on `tags`, and pages filled to half, so that a change of a column no
  index covers (tags, attributes, ratings, ...) is a HOT update. The fill factor applies to
  pages written from now on; an existing table gets it as its rows turn over, or at once
  with `VACUUM FULL timeline_contact` (or pg_repack) in a quiet hour.
- Timeline events: no index of the contact alone; "timeline_contact_newest" (contact,
  occurred_at, id) leads with it and serves the same lookups.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("timeline", "0003_engine_contact_ratings"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="contact", name="contact_tags"),
        migrations.RunSQL("ALTER TABLE timeline_contact SET (fillfactor = 50)",
                          reverse_sql="ALTER TABLE timeline_contact RESET (fillfactor)"),
        migrations.AlterField(
            model_name="timelineevent",
            name="contact",
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                    related_name="timeline_events", to="timeline.contact"),
        ),
    ]
