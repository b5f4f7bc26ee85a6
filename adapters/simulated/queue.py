"""Where one of our resting orders stands in the queue at its price, estimated from L2 data.

A recording shows how much rests at each price, not who is in front of whom. An order that joins a level
joins behind everything displayed there when it arrives; trades at that price eat the queue from the
front, so they move it forward; a level that shrinks for another reason (cancellations) may or may not
have lost quantity in front of it. The models differ only in that last guess, as hftbacktest's do:

- `ConservativeQueue` (hftbacktest's RiskAdverseQueueModel, the default): cancellations never move the
  order forward, except that the quantity ahead can never exceed what the level still shows;
- `ProbabilisticQueue` (hftbacktest's ProbQueueModel with its power function): a decrease that trades do
  not explain happened in front of the order with probability front^n / (front^n + back^n), so an order at
  the back of a long queue advances with most cancellations, one at the front with few.

A position is one integer: the quantity ahead, in the instrument's units. Everything is exact; the
probabilistic estimate is a `Fraction`, rounded up (the conservative side) to an integer.
"""
from __future__ import annotations

from fractions import Fraction
from math import ceil

QUEUE_MODELS = ("conservative", "probabilistic")


class ConservativeQueue:
    """Trades move the order forward; cancellations never do, beyond capping what is ahead at the level's size."""

    def on_trade(self, ahead: int, qty: int) -> tuple[int, int]:
        """A trade of `qty` went through the queue: the new quantity ahead, and how much of it reached the order."""
        if qty <= ahead:
            return ahead - qty, 0
        return 0, qty - ahead

    def on_depth(self, ahead: int, prev_qty: int, new_qty: int, traded: int) -> int:
        """The level went from `prev_qty` to `new_qty`, `traded` of it in trades: the new quantity ahead."""
        return min(ahead, new_qty)


class ProbabilisticQueue(ConservativeQueue):
    """Cancellations move the order forward with the probability that they happened in front of it."""

    def __init__(self, power: int = 2):
        if power < 1:
            raise ValueError(f"the power of the queue probability must be at least 1, got {power}")
        self.power = power

    def on_depth(self, ahead: int, prev_qty: int, new_qty: int, traded: int) -> int:
        cancelled = prev_qty - new_qty - traded
        if cancelled <= 0:
            return min(ahead, new_qty)
        front, back = ahead, max(prev_qty - ahead, 0)
        weights = front ** self.power + back ** self.power
        in_front = Fraction(front ** self.power, weights) if weights else Fraction(0)
        # hftbacktest: front - p_front * cancelled, and what the back cannot have lost comes off the front
        estimate = front - in_front * cancelled + min(back - (1 - in_front) * cancelled, 0)
        return max(0, min(ceil(estimate), new_qty))


QueueModel = ConservativeQueue | ProbabilisticQueue


def queue_model(name: str, power: int = 2) -> QueueModel:
    """The model a scenario names: "conservative" or "probabilistic"."""
    if name == "conservative":
        return ConservativeQueue()
    if name == "probabilistic":
        return ProbabilisticQueue(power)
    raise ValueError(f"unknown queue model {name!r}; known: {', '.join(QUEUE_MODELS)}")
