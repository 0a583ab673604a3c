# The order a chat opened from the widget's self-service is about (issue 15).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('conversations', '0016_conversation_intent'),
        ('timeline', '0006_contact_phone_digits'),
    ]

    operations = [
        migrations.AddField(
            model_name='conversation',
            name='order',
            field=models.ForeignKey(blank=True, editable=False, null=True,
                                    on_delete=django.db.models.deletion.SET_NULL,
                                    related_name='conversations', to='timeline.order'),
        ),
    ]
