"""Added by build.sh --migration-extra (TEST DOUBLE): makes a "v2" archive
whose schema visibly differs (table mathesar_upgrademarker)."""
from django.db import models


class UpgradeMarker(models.Model):
    note = models.CharField(max_length=255, null=True, blank=True)
