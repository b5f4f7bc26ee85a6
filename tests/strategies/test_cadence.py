"""A strategy's cadence: what a scenario may say, and what each cadence shows the strategy."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from engine.actors.strategy import StrategyActor
from engine.app.scenario import ScenarioError, load
from engine.messages import BookView, Side, Signal, TimerFired, Trade, Urgency
from engine.runtime import ActorContext, VirtualClock
from engine.strategies.api import Strategy
from engine.strategies.cadence import TIMER_KEY, Cadence, parse_cadence

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("text, cadence", [
    ("book", Cadence("book")), ("trades", Cadence("trades")), ("500ms", Cadence("timer", 500_000_000)),
    ("1ms", Cadence("timer", 1_000_000)), ("60000ms", Cadence("timer", 60_000_000_000)),
])
def test_a_cadence_is_parsed_into_what_it_follows(text, cadence):
    assert parse_cadence(text) == cadence
    assert str(cadence) == text


@pytest.mark.parametrize("text", ["", "0ms", "-5ms", "500", "500 ms", "0.5s", "1s", "Book", "ticks", 500, None])
def test_a_bad_cadence_is_refused_saying_what_is_allowed(text):
    with pytest.raises(ValueError, match=r'must be one of "book", "trades", "<N>ms"'):
        parse_cadence(text)


@pytest.mark.parametrize("value, complaint", [('"0ms"', "expected one of"), ("500", "expected a valid string")])
def test_a_scenario_with_a_bad_cadence_is_refused_naming_the_key(tmp_path, value, complaint):
    text = (ROOT / "scenarios" / "quickstart.toml").read_text()
    scenario = tmp_path / "bad.toml"
    scenario.write_text(text.replace('cadence = "500ms"', f"cadence = {value}", 1))
    with pytest.raises(ScenarioError, match=rf"strategy\[0\]\.cadence: {complaint}"):
        load(scenario)


def test_a_strategy_without_a_cadence_sees_every_book_change(tmp_path):
    scenario = tmp_path / "default.toml"
    scenario.write_text((ROOT / "scenarios" / "quickstart.toml").read_text().replace('cadence = "500ms"', ""))
    assert load(scenario).strategies[0].cadence == Cadence("book")


def test_the_first_tick_is_on_the_period_s_grid_after_the_start():
    cadence = parse_cadence("500ms")
    assert cadence.first_tick_ns(1_700_000_000_123_456_789) == 1_700_000_000_500_000_000
    assert cadence.first_tick_ns(1_000_000_000) == 1_500_000_000
    assert not cadence.follows_events and parse_cadence("book").follows_events


TRADE = Trade("BTC/USDT", 5, 1, 1_000, 2, Side.BUY)


def view(ts, bid=999, trades=()):
    return BookView("BTC/USDT", ts, ts, ((bid, 1),), ((1_001, 1),), trades)


class Seen(Strategy):
    """A strategy that wants to be long after every view it is shown, and remembers what it was shown."""

    def __init__(self):
        super().__init__("seen", ("BTC/USDT",))
        self.views = []

    def on_view(self, v):
        self.views.append(v)
        return Signal("seen", v.instrument, v.ts_ns, Side.BUY, Decimal(1), Urgency.AGGRESSIVE, v.mid_x2)


class Outbox:
    def __init__(self):
        self.sent = []

    def send_nowait(self, msg):
        self.sent.append(msg)
        return True

    async def send(self, msg):
        self.sent.append(msg)


async def shown(cadence, batch):
    strategy, out = Seen(), Outbox()
    actor = StrategyActor(lambda: strategy, parse_cadence(cadence))
    await actor.step(batch, ActorContext("strategy", VirtualClock(), outputs={"signals": [out]}))
    return strategy.views, out.sent


async def test_each_cadence_shows_the_strategy_what_it_declared():
    batch = [view(1), view(5, trades=(TRADE,)), view(7, bid=998), TimerFired(TIMER_KEY, 500)]
    assert [v.ts_ns for v in (await shown("book", batch))[0]] == [1, 7]
    assert [v.ts_ns for v in (await shown("trades", batch))[0]] == [5]
    views, signals = await shown("500ms", batch)
    assert views == [BookView("BTC/USDT", 500, 7, ((998, 1),), ((1_001, 1),))]   # the book as of the tick
    assert [(s.ts_ns, s.bid, s.ask) for s in signals] == [(500, 998, 1_001)]   # decided then, on that touch


async def test_a_tick_before_any_view_shows_nothing_and_another_timer_is_not_a_tick():
    assert (await shown("500ms", [TimerFired(TIMER_KEY, 500)]))[0] == []
    assert (await shown("500ms", [view(1), TimerFired("stale", 500)]))[0] == []
