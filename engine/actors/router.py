"""The router actor: turns approved orders into child orders for venues, seeing the book through views."""
from __future__ import annotations

from engine.messages import BookView, ChildOrder, ParentOrder
from engine.model.routing import SingleVenueRouter
from engine.runtime import Actor, ActorContext, Ports


class RouterActor(Actor):
    ports = Ports(accepts=(ParentOrder, BookView), outputs={"orders": ChildOrder})

    def __init__(self, router: SingleVenueRouter):
        self.router = router

    async def handle(self, batch: list, ctx: ActorContext) -> None:
        for msg in batch:
            if type(msg) is BookView:
                self.router.on_view(msg)
            elif type(msg) is ParentOrder:
                for child in self.router.route(msg):
                    await ctx.emit("orders", child)
