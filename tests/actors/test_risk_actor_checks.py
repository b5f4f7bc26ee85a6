"""The risk actor follows the journal's fills for its checks: each once, across a restart."""
from __future__ import annotations

from decimal import Decimal

from engine.actors.risk import RiskActor
from engine.messages import BookView, Fill, Liquidity, ParentOrder, RiskRejection, Side, Signal, Urgency
from engine.model.numbers import Instrument
from engine.model.risk import RiskGate, RiskLimits
from engine.model.risk_checks import CheckLimits
from engine.model.sizing import Sizing, SizingRule
from tests.actors.test_actors import context, journal  # noqa: F401 - the fixture

BTC = Instrument("BTC/USDT", "binance", "BTCUSDT", "BTC", "USDT", 2, 3)
CHECKS = CheckLimits(balance_check=True, cash={"USDT": Decimal("100")})


def gate() -> RiskGate:
    return RiskGate(RiskLimits(Decimal("1000000"), 10_000, 50, 10), {"BTC/USDT": BTC}, checks=CHECKS,
                    sizing=Sizing({"s": SizingRule("fixed", quantity=1_000)}))   # strength 1: 1 BTC


async def test_the_gate_s_cash_follows_each_journaled_fill_once_across_a_restart(journal):  # noqa: F811
    ctx, out = context("risk", "orders")
    view = BookView("BTC/USDT", 1, 1, ((9_900, 5_000),), ((10_100, 5_000),))     # mid 100.00
    await journal.write("orders", [(1, Fill("c-1", "P0", "binance", "BTC/USDT", Side.BUY, 500, 10_000, Decimal(0),
                                              "USDT", Liquidity.TAKER, 1, 20_000))])   # 50 USDT spent
    [entry] = await journal.read(kinds=[Fill])
    for _ in range(2):   # an incarnation, then the next after a crash, each handed the entry again by its mailbox
        actor = RiskActor(journal, gate())
        await actor.begin(ctx)                       # folds the journal's fills
        assert actor.gate.checks.balances.cash["USDT"] == Decimal("50")
        await actor.step([view, entry], ctx)         # and skips the one it already holds
        assert actor.gate.checks.balances.cash["USDT"] == Decimal("50")
    too_much = Signal("s", "BTC/USDT", 2, Side.BUY, Decimal(1), Urgency.AGGRESSIVE, 20_000)   # 1 BTC at 100.10
    enough = Signal("s", "BTC/USDT", 3, Side.BUY, Decimal("0.499"), Urgency.AGGRESSIVE, 20_000)   # 0.499: 49.9499
    await actor.step([too_much, enough], ctx)
    decisions = [e.msg for e in await journal.read(actors=["risk"], kinds=[RiskRejection, ParentOrder])]
    assert [type(d).__name__ for d in decisions] == ["RiskRejection", "ParentOrder"]
    assert decisions[0].rule == "balance" and out["orders"].sent[0].qty == 499
