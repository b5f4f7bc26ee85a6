"""The EMA crossover: silent during warm-up, one signal per crossing, exact integer arithmetic."""
from __future__ import annotations

from decimal import Decimal

from engine.messages import BookView, Side
from engine.strategies.ema_cross import EmaCross


def view(mid: int, ts: int) -> BookView:
    return BookView("BTC/USDT", ts, ts, ((mid - 1, 1),), ((mid + 1, 1),))


def run(strategy: EmaCross, mids: list[int]):
    return [s for i, m in enumerate(mids) if (s := strategy.on_view(view(m, i))) is not None]


def test_signals_once_per_crossing_after_warm_up():
    mids = [1000] * 10 + [1000 + 10 * i for i in range(30)] + [1290 - 20 * i for i in range(40)]
    signals = run(EmaCross("e", "BTC/USDT", 3, 8), mids)
    assert [(s.side, s.strength) for s in signals] == [(Side.BUY, 1), (Side.SELL, 1)]
    assert signals[0].ts_ns >= 8
    assert "crossed above" in signals[0].reason and "crossed below" in signals[1].reason


def test_long_only_goes_flat_instead_of_short():
    mids = [1000] * 10 + [1000 + 10 * i for i in range(30)] + [1290 - 20 * i for i in range(40)]
    signals = run(EmaCross("e", "BTC/USDT", 3, 8, long_only=True), mids)
    assert [(s.side, s.strength) for s in signals] == [(Side.BUY, 1), (Side.SELL, Decimal(0))]


def test_flat_market_gives_no_signal_and_a_view_without_a_side_is_ignored():
    s = EmaCross("e", "BTC/USDT", 3, 8)
    assert run(s, [1000] * 50) == []
    assert s.on_view(BookView("BTC/USDT", 1, 1, (), ((1001, 1),))) is None
