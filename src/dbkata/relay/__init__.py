"""A PostgreSQL wire-protocol relay the harness owns: the evidence of what code sent to the database.

``current()`` is the relay of the running test (set by the ``dbkata_relay`` fixture); the probes
decide from it.
"""

from __future__ import annotations

from dbkata.relay.log import LimitHit, WireConnection, WireError, WireStatement
from dbkata.relay.relay import Relay

__all__ = ["LimitHit", "Relay", "WireConnection", "WireError", "WireStatement", "current", "set_current"]

_current: Relay | None = None


def current() -> Relay | None:
    """The relay the running test's code reaches the database through, if any."""
    return _current


def set_current(relay: Relay | None) -> None:
    """Make ``relay`` the one probes read (the fixture sets it, and clears it after the test)."""
    global _current
    _current = relay
