from django.db import migrations

ROLES = {
    "Admin": "Everything: hosts, users, roles, the audit trail.",
    "Operator": "Every container and image operation on the hosts given.",
    "Developer": "View containers and images, logs, start/stop/restart, exec and attach.",
    "Viewer": "Read-only; no terminals.",
}


def create(apps, schema_editor):
    Role = apps.get_model("access", "Role")
    for name, description in ROLES.items():
        Role.objects.update_or_create(name=name, defaults={"builtin": True, "description": description})


class Migration(migrations.Migration):
    dependencies = [("access", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
