"""What a withdrawal can refuse with (given)."""

from __future__ import annotations


class AccountNotFound(Exception):
    """No account has this id."""


class InsufficientFunds(Exception):
    """The balance is smaller than the amount asked for."""
