"""The router actor: turns approved orders into child orders for venues, seeing the book through views, and hands
approved quotes to the order manager, which keeps them working at the one venue."""
from __future__ import annotations

from engine.messages import BookView, ChildOrder, ParentOrder, QuoteIntent
from engine.model.routing import SingleVenueRouter
from engine.runtime import Actor, ActorContext, Ports


class RouterActor(Actor):
    ports = Ports(accepts=(ParentOrder, QuoteIntent, BookView), outputs={"orders": (ChildOrder, QuoteIntent)})

    def __init__(self, router: SingleVenueRouter):
        self.router = router

    async def handle(self, batch: list, ctx: ActorContext) -> None:
        for msg in batch:
            if type(msg) is BookView:
                self.router.on_view(msg)
            elif type(msg) is ParentOrder:
                for child in self.router.route(msg):
                    await ctx.emit("orders", child)
            elif type(msg) is QuoteIntent:
                await ctx.emit("orders", msg)
