"""The decryptor's typed failure: one IKE SA cannot be attacked, and why."""

from __future__ import annotations

__all__ = ["AttackFailure"]


class AttackFailure(ValueError):
    """This SA cannot be attacked; the message says why (it goes into report.json)."""
