"""Fixtures shared by every suite. Suite-specific fixtures live in the suite's conftest.py."""
