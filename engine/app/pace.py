"""The pace of a replay: market time advancing `speed` times as fast as wall time (`run --speed X`).

A replay runs on its virtual clock as fast as the machine allows; paced, the replay driver waits on the wall
clock before delivering each batch, until the wall time elapsed since its first batch is the market time
elapsed divided by `speed`. Only the driver waits: the virtual clock, and so every figure the run computes,
is the same as unpaced (the report differs in its `runtime` section at most). The wall clock is trio's
(`trio.current_time`, `trio.sleep_until`), so a test can run a paced replay on trio's autojumping clock.
"""
from __future__ import annotations

import trio

from engine.app.stopping import StopRequest


class Pace:
    """Holds the replay driver back until a market instant is due at `speed` times real time.

    The first instant reached is the start: it is delivered at once, and fixes the wall instant every later
    one is measured from. A stop asked for ends the wait at once, so a paced replay stops as promptly as an
    unpaced one (it then ends where its driver stands)."""

    def __init__(self, speed: float, stop: StopRequest):
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.speed = speed
        self.stop = stop
        self._start: tuple[int, float] | None = None   # (market ns, wall s) of the first batch

    def due_at(self, ts_ns: int) -> float:
        """The wall instant (trio's clock) at which market time `ts_ns` is due; the first call starts the pace."""
        if self._start is None:
            self._start = (ts_ns, trio.current_time())
        start_ns, start_wall = self._start
        return start_wall + (ts_ns - start_ns) / 1e9 / self.speed

    async def reach(self, ts_ns: int) -> None:
        """Return once market time `ts_ns` is due on the wall clock, or a stop has been asked for."""
        wait_s = self.due_at(ts_ns) - trio.current_time()
        if wait_s > 0:
            await self.stop.within(wait_s)
