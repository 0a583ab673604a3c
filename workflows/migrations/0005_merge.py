# The workflow admin's audit, the satisfaction surveys and the segments were built side by
# side on the engine's tables; none depends on another.
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("workflows", "0004_admin_audit"),
        ("workflows", "0004_csat_surveys"),
        ("workflows", "0004_segments_outreach"),
    ]

    operations = []
