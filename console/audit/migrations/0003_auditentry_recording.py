# Entries made before this migration have no recording: their outcome hashes are unchanged
# (console/audit/chain.py seals a recording only when there is one).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0002_auditentry_key_id"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditentry",
            name="recording",
            field=models.JSONField(blank=True, null=True),
        ),
    ]
