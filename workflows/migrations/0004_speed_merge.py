# Merges the engine's and the segments' migrations for the benchmark branch (h-speed); the
# coordinator's own merge of h-engine and h-segments replaces it.
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("workflows", "0003_engine_run_lease"),
        ("workflows", "0003_segments_outreach"),
    ]

    operations = []
