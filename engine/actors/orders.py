"""The order manager actor: the only writer of order state.

A thin loop around `engine.model.order_manager.OrderManager`: each message is decided by the pure core, journaled
with what it decided, and only then are the venue requests sent and the timers set (`JournaledActor`). A fresh
incarnation (the first, or one restarted after a crash, or a new engine process resuming a journal) rebuilds
its order table by replaying its journaled inputs, then asks the venue for its account of our orders before it
takes new ones. Fills and order updates reach the ledger through the journal, not from here, so no crash
between journaling and sending can make the ledger miss one.
"""
from __future__ import annotations

from typing import Any, Callable

from engine.actors.journaled import JournaledActor, Staged
from engine.messages import (VENUE_ANSWERS, VENUE_REQUESTS, BookView, CancelAll, CancelOrder, ChildOrder,
                             OrderManagerStarted, OrdersSettled, QuoteIntent, RunFailure)
from engine.model.order_manager import INPUTS, Decisions, OrderManager
from engine.runtime import ActorContext, Ports


class OrderManagerActor(JournaledActor):
    ports = Ports(accepts=(ChildOrder, QuoteIntent, *VENUE_ANSWERS, BookView, CancelOrder, CancelAll),
                  outputs={"venue": VENUE_REQUESTS, "control": (OrdersSettled, RunFailure)})

    def __init__(self, journal: Any, make_core: Callable[[], OrderManager]):
        super().__init__(journal)
        self.make_core = make_core
        self.core: OrderManager | None = None
        self._handled_ns = 0

    async def start(self, ctx: ActorContext) -> None:
        core = self.core = self.make_core()
        entries = await self.journal.read(actors=[ctx.name], kinds=INPUTS)
        replayed = core.rebuild(entries, self.journal.run_id)
        if replayed:
            ctx.log.info("rebuilt %d orders from %d journaled inputs", len(core.table), replayed)
        staged = Staged()
        now = self._handled_ns = ctx.clock.now_ns()
        self._take(OrderManagerStarted(now), now, staged)
        await self.commit(staged, ctx)

    def decide(self, msg: Any, ctx: ActorContext, staged: Staged) -> None:
        now = self._event_time(msg, ctx)
        if type(msg) is BookView:
            for cancel in self.core.on_view(msg, now):
                self._take(cancel, now, staged)
        elif self.core.must_wait(msg):
            ctx.inbox.defer(msg)
        else:
            self._take(msg, now, staged)

    def _event_time(self, msg: Any, ctx: ActorContext) -> int:
        """When `msg` happens for the order manager: a child order, quotes or a view at its own time (decided inside a
        replay window, while the clock stands at the window's last event), and not before what it handled last
        (a child order deferred during reconciliation is placed once that is done); a message the clock
        delivered (the venue's answers, timers) at the clock's time, which is its arrival."""
        kind = type(msg)
        if kind is ChildOrder or kind is BookView or kind is QuoteIntent:
            now = max(msg.ts_ns, self._handled_ns)
        else:
            now = ctx.clock.now_ns()
        self._handled_ns = now
        return now

    def _take(self, msg: Any, now: int, staged: Staged) -> None:
        out = Decisions()
        self.core.handle(msg, now, out)
        staged.rows.append((now, msg))
        staged.rows.extend((now, fact) for fact in out.journal)
        staged.sends.extend(("venue", request) for request in out.venue)
        staged.sends.extend(("control", news) for news in out.control)
        staged.timers.extend(out.timers)
        staged.restore_deferred = staged.restore_deferred or out.restore_deferred

    def after_batch(self, ctx: ActorContext) -> None:
        ctx.inbox.watch_state = self.core.wants_views()
