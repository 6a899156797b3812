"""The simulated Diego around a fake (``FakeBBS.diego``): cells with capacity, their reps and
an auctioneer that place, start, crash, evacuate and run work on the fake's clock.

``cells`` holds what a rep reports (rep ``CellState``) and upstream's placement filters,
``auction`` the auctioneer's scheduler, ``reps`` what the auctioneer and reps do in answer
to the BBS's calls, ``port`` how they call the BBS, and ``sim`` the public ``Diego`` with
its clock and work queue.
"""

from __future__ import annotations

from fakebbs._diego.cells import CellState
from fakebbs._diego.reps import TaskOutcome, Timings
from fakebbs._diego.sim import Diego

__all__ = ["CellState", "Diego", "TaskOutcome", "Timings"]
