# Entries made before this migration keep an empty key id: their hashes are the plain
# SHA-256 chain, which the first keyed entry continues (console/audit/chain.py).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditentry",
            name="key_id",
            field=models.CharField(blank=True, default="", max_length=16),
            preserve_default=False,
        ),
    ]
