"""`python -m mathesar.install`: migrate and collect static files.

Like the real installer it imports cairosvg first, so it fails when the
system library libcairo.so.2 is missing.
"""
import os
import sys
import traceback


def main():
    import cairosvg  # noqa: F401  (needs libcairo.so.2, as in real Mathesar)
    import django
    from django.core.management import call_command

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
    django.setup()
    call_command("migrate", interactive=False)
    call_command("collectstatic", interactive=False, clear=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:
        traceback.print_exc()
        print(f"mathesar.install failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        raise SystemExit(1)
