# Added by tests/standin/build.sh --migration-extra (TEST DOUBLE).
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [("mathesar", "0002_database_nickname")]

    operations = [
        migrations.CreateModel(
            name="UpgradeMarker",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("note", models.CharField(blank=True, max_length=255, null=True)),
            ],
        ),
    ]
