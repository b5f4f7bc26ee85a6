"""Whether the engine is ready to trade, and if not, every reason why: the body of `/health`.

Ready means all of: each book live, each instrument's orders reconciled with the venue since the run (or its
order stream) started, the kill switch active, no actor given up, no stop under way. An orchestrator's probe
reads only the status code (200 ready, 503 not); an operator reads the reasons.
"""
from __future__ import annotations

from engine.app.observe.activity import Activity
from engine.app.observe.watched import Watched
from engine.messages import BookState, TradingMode
from engine.runtime import LifecycleKind


def reasons(watched: Watched, activity: Activity) -> list[str]:
    """Why the engine is not ready (none: it is)."""
    out = []
    if watched.stop.reason is not None:
        out.append(f"stopping ({watched.stop.reason})")
    gave_up = sorted(actor for (actor, kind), n in watched.lifecycle.counts.items()
                     if kind is LifecycleKind.GAVE_UP and n)
    out += [f"{actor} gave up" for actor in gave_up]
    syncs = watched.book.syncs
    for symbol in activity.instruments:
        sync = syncs.get(symbol)
        state = sync.state if sync is not None else BookState.SYNCING
        if state is not BookState.LIVE:
            out.append(f"book {symbol} {state.value}")
    out += [f"orders of {symbol} not reconciled with {activity.venue} yet"
            for symbol, done in activity.reconciled.items() if not done]
    if activity.mode is not TradingMode.ACTIVE:
        out.append(f"kill switch {activity.mode.value}" + (f" ({activity.mode_cause})" if activity.mode_cause else ""))
    return out
