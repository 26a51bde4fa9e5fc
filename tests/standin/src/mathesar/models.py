"""Models of the Mathesar TEST DOUBLE.

Server / Database / ConfiguredRole / UserDatabaseRoleMap / DataFile loosely
follow real Mathesar; Record is stand-in only (data that must survive
upgrades and restores).
"""
import os

from django.conf import settings
from django.db import models
from encrypted_fields.fields import EncryptedCharField


def user_directory_path(instance, filename):
    # Like real Mathesar: MEDIA_ROOT/<username>/<filename>
    return os.path.join(instance.user.username, filename)


class Server(models.Model):
    host = models.CharField(max_length=255)
    port = models.IntegerField()

    def to_dict(self):
        return {"id": self.id, "host": self.host, "port": self.port}

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["host", "port"], name="standin_unique_server"),
        ]


class Database(models.Model):
    name = models.CharField(max_length=128)
    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="databases")
    nickname = models.CharField(max_length=255, null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name", "server"], name="standin_unique_database"),
        ]

    def to_dict(self):
        return {"id": self.id, "name": self.name, "server_id": self.server_id, "nickname": self.nickname}


class ConfiguredRole(models.Model):
    name = models.CharField(max_length=255)
    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="roles")
    password = EncryptedCharField(max_length=255)

    def to_dict(self):
        return {"id": self.id, "name": self.name, "server_id": self.server_id}


class UserDatabaseRoleMap(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    database = models.ForeignKey(Database, on_delete=models.CASCADE)
    configured_role = models.ForeignKey(ConfiguredRole, on_delete=models.CASCADE)
    server = models.ForeignKey(Server, on_delete=models.CASCADE)


class DataFile(models.Model):
    file = models.FileField(upload_to=user_directory_path)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    created_at = models.DateTimeField(auto_now_add=True)

    @property
    def base_name(self):
        # Like real Mathesar: the default table name of an import.
        return os.path.splitext(os.path.basename(self.file.name))[0]


class Record(models.Model):
    """Stand-in only: a plain row for upgrade / backup-restore tests."""
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    def to_dict(self):
        return {"id": self.id, "text": self.text, "created_at": self.created_at.isoformat()}


# build.sh --migration-extra drops models_extra.py (and its migration) here.
try:
    from .models_extra import *  # noqa
except ImportError:
    pass
