"""Kraken instruments from REST AssetPairs metadata, under canonical symbols (venues.md §0.1).

Kraken spells one asset several ways: AssetPairs `base`/`quote` and the REST pair keys use legacy codes
(`XXBT`, `ZUSD`, `XXBTZUSD`), the WS v1 `wsname` uses alternative codes (`XBT/USD`), and WS v2 and the
rest of the world say `BTC/USD`. The canonical symbol is built from the pair's `base` and `quote` fields
through an alias table, never by splitting `wsname` or the pair key.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.model.numbers import Instrument, parse_fixed

# Kraken's oldest assets carry an X (crypto) or Z (fiat) prefix on a 4-letter code. The set is closed:
# newer assets have none, and stripping a leading X or Z by rule would break codes such as XTZ.
_LEGACY_PREFIXED = frozenset({
    "XETC", "XETH", "XLTC", "XMLN", "XREP", "XXBT", "XXDG", "XXLM", "XXMR", "XXRP", "XZEC",
    "ZAUD", "ZCAD", "ZEUR", "ZGBP", "ZJPY", "ZUSD",
})
_ALIASES = {"XBT": "BTC", "XDG": "DOGE"}


def canonical_asset(code: str) -> str:
    """The canonical code of a Kraken asset code: `XXBT`/`XBT` → `BTC`, `XXDG`/`XDG` → `DOGE`, `ZUSD` → `USD`."""
    if code in _LEGACY_PREFIXED:
        code = code[1:]
    return _ALIASES.get(code, code)


def kraken_instruments(asset_pairs: Mapping[str, Mapping[str, Any]]) -> list[Instrument]:
    """One instrument per pair of an AssetPairs `result` that trades on the WebSocket API.

    Pairs without a `wsname` (the `.d` dark-pool books) are left out. `venue_symbol` is the `wsname`
    (`XBT/USD`, what WS v1 frames carry); prices count `10**-pair_decimals`, quantities `10**-lot_decimals`,
    and `tick_size` is read where AssetPairs gives one. Two pairs with one canonical symbol are an error.
    """
    instruments: list[Instrument] = []
    keys: dict[str, str] = {}  # canonical symbol → the AssetPairs key it came from
    for key, pair in asset_pairs.items():
        wsname = pair.get("wsname")
        if wsname is None:
            continue
        base, quote = canonical_asset(pair["base"]), canonical_asset(pair["quote"])
        price_decimals = pair["pair_decimals"]
        tick = pair.get("tick_size")
        instrument = Instrument(symbol=f"{base}/{quote}", venue="kraken", venue_symbol=wsname, base=base,
                                quote=quote, price_decimals=price_decimals, qty_decimals=pair["lot_decimals"],
                                tick_size=1 if tick is None else parse_fixed(tick, price_decimals))
        if instrument.symbol in keys:
            raise ValueError(f"AssetPairs {keys[instrument.symbol]!r} and {key!r} are both {instrument.symbol}")
        keys[instrument.symbol] = key
        instruments.append(instrument)
    return instruments
