"""The simulated venue: what a run asks of a venue it holds in process.

The in-process venue belongs to the session, as an exchange outlives its clients: its actor may crash and
restart, its records may not. Beside the actor that serves it (which the venue registry makes), a run asks it
for its account of the run and for the faults it fired on purpose, both for the report.
"""
from __future__ import annotations

from typing import Any, Protocol


class SimulatedVenue(Protocol):
    """A venue in the run's own process: its rules and records, messages in, messages out."""

    @property
    def venue(self) -> str:
        """Its name in the run's orders and reports."""
        ...

    def truth(self) -> dict[str, dict[str, Any]]:
        """The venue's account of the run, per instrument, in JSON's types."""
        ...

    def faults_fired(self) -> dict[str, int]:
        """How often each kind of fault fired, by kind name."""
        ...
