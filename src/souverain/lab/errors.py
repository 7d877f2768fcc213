"""Errors of the lab."""

from __future__ import annotations


class LabError(RuntimeError):
    """A lab operation failed; the message is one line, meant for the user."""
