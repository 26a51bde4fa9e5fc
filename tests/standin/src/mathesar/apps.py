from django.apps import AppConfig


class MathesarConfig(AppConfig):
    name = "mathesar"
    verbose_name = "Mathesar (test double)"
