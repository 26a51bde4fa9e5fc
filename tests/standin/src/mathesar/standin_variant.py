"""TEST DOUBLE — which Mathesar release line this archive imitates: "0.10"
(modelled on 0.10.1). For a VERSION starting with "0.11.", build.sh puts
variants/0.11/overlay/mathesar/standin_variant.py here instead ("0.11").
config/settings/integrations.py reads it to choose the settings it reads."""
VARIANT = "0.10"
