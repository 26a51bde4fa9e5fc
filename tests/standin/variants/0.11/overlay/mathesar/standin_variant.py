"""TEST DOUBLE — which Mathesar release line this archive imitates: "0.11"
(modelled on 0.11.0). Put here by tests/standin/build.sh for a VERSION
starting with "0.11."; config/settings/integrations.py reads it to choose
the settings it reads."""
VARIANT = "0.11"
