"""Transitional: the shared test helpers moved to tests/helpers.py (plain functions) and tests/conftest.py
(fixtures). Only `require_tools` is re-exported, for test modules still importing it from here; delete this file
once none does."""

from helpers import require_tools  # noqa: F401
