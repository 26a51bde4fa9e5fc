"""Placeholder — part of a TEST DOUBLE of the Mathesar release archive.

The real `db` package holds Mathesar's SQL layer; the stand-in has none.
"""
