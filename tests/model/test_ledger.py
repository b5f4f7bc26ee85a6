"""The ledger folds journaled fills and order updates, each once, into positions and exposure."""
from __future__ import annotations

from decimal import Decimal

from engine.messages import Exposure, Fill, JournalEntry, Liquidity, OrderUpdate, ReconcileFinding, Side
from engine.model.ledger import Ledger
from engine.model.numbers import Instrument

BTC = Instrument("BTC/USDT", "binance", "BTCUSDT", "BTC", "USDT", 2, 3)


def entry(seq: int, msg) -> JournalEntry:
    return JournalEntry(seq, seq * 10, 1, "orders", msg)


def update(coid: str, state: str, qty: int, cum: int, side: Side = Side.BUY) -> OrderUpdate:
    return OrderUpdate(coid, "P1", "BTC/USDT", side, state, qty, cum, 1)


def fill(coid: str, qty: int, price: int = 1_000_000, side: Side = Side.BUY, trade_id: str = "t") -> Fill:
    return Fill(coid, "P1", "binance", "BTC/USDT", side, qty, price, Decimal("0.01"), "USDT", Liquidity.TAKER, 1,
                2_000_000, trade_id=trade_id)


def test_position_and_exposure_follow_the_fold_and_every_entry_counts_once():
    ledger = Ledger({"BTC/USDT": BTC})
    entries = [entry(1, update("a", "pending", 10, 0)), entry(2, update("b", "submitted", 4, 0, Side.SELL)),
               entry(3, fill("a", 3)), entry(4, update("a", "partially_filled", 10, 3)),
               entry(5, ReconcileFinding("BTC/USDT", "a", 5, "missed_fill"))]
    assert ledger.fold(entries) == {"BTC/USDT"}
    exposure = ledger.exposure("BTC/USDT", 99)
    assert (exposure.position, exposure.open_buy_qty, exposure.open_sell_qty, exposure.ts_ns) == (3, 7, 4, 99)
    assert ledger.fold(entries) == set()           # handed again (a rebuild, then the mailbox): counted once
    assert ledger.portfolio.position("BTC/USDT") == 3 and len(ledger.fills) == 1
    ledger.fold([entry(6, fill("a", 7, trade_id="u")), entry(7, update("a", "filled", 10, 10)),
                 entry(8, update("b", "cancelled", 4, 0, Side.SELL))])
    exposure = ledger.exposure("BTC/USDT", 100)
    assert (exposure.position, exposure.open_buy_qty, exposure.open_sell_qty) == (10, 0, 0)
    assert ledger.open_orders() == [] and ledger.high_seq == 8
    assert ledger.stats.as_dict()["orders"] == 2 and ledger.stats.as_dict()["fills"] == 2


def test_an_order_whose_outcome_is_unknown_still_counts_as_open():
    ledger = Ledger({"BTC/USDT": BTC})
    ledger.fold([entry(1, update("a", "unknown", 5, 0))])
    assert ledger.exposure("BTC/USDT", 1).open_buy_qty == 5 and ledger.open_orders() == ["a"]


def test_exposure_counts_what_is_left_of_every_open_order_on_each_side():
    ledger = Ledger({"BTC/USDT": BTC}, stats=False)
    ledger.fold([entry(1, update("a", "partially_filled", 10, 4)), entry(2, update("b", "submitted", 3, 0)),
                 entry(3, update("c", "partially_filled", 8, 2, Side.SELL)), entry(4, update("d", "pending", 1, 0, Side.SELL)),
                 entry(5, update("e", "filled", 7, 7))])
    assert ledger.exposure("BTC/USDT", 5) == Exposure("BTC/USDT", 5, 0, 9, 7)
    assert ledger.stats is None and ledger.fold([entry(5, fill("a", 1))]) == set()   # seq 5 was folded
