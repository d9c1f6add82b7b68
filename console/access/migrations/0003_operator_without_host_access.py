from django.db import migrations

OPERATOR = "Every container and image operation on the hosts given, except runs with access to the host."


def describe(apps, schema_editor):
    apps.get_model("access", "Role").objects.filter(name="Operator", builtin=True).update(description=OPERATOR)


class Migration(migrations.Migration):
    dependencies = [("access", "0002_builtin_roles")]
    operations = [migrations.RunPython(describe, migrations.RunPython.noop)]
