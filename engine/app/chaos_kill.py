"""The chaos runs that kill the engine: paper trading against a venue process that outlives it.

A killed engine must not take the truth with it, so these runs trade against `python -m engine venue` in a
process of its own: the scenario's market replayed at speed, the venue's own faults on (seeded). The engine
runs on paper in a second process with `--kill-at-write N` and kills itself with SIGKILL right after its N-th
journal row is durable; it is then started again on the same journal, which it resumes (rebuild, reconcile,
trade on), and ends with its cancel-all. The venue is asked for its account at the end, and held against the
engine's journal with the same checks as every chaos run.
"""
from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import trio

from adapters.binance.client import BinanceClient, read_patiently
from adapters.binance.orders import BinanceOrderCodec, OrderTrade, VenueError, VenueOrder
from adapters.binance.signing import Credentials
from engine.app.chaos_checks import RunResult, violations
from engine.journal import decode
from engine.app.scenario import Scenario
from engine.strategies.cadence import Cadence
from engine.app.session import Evidence

SPEED = 20                 # market seconds per second of the venue's replay
FIRST_RUN_S = 5            # the engine's duration before a restart (it is killed within it, or not at all)
SECOND_RUN_S = 3
WRITES = 30                # the kill is drawn among the first this many journal rows (start-up alone writes ~6)
KEY, SECRET = "chaos-key", "chaos-secret"
RATES = {"drop_connection": "0.01"}
"""The venue's fault rates (per counted event): 5%, but 1% of a stream's frames for a dropped connection, which
at 5% cut every connection after some 20 frames, before a book could ever sync."""
KILL_FAULTS = (("rate_limit", "retry_after_s = 1"), ("server_error", "executed = false"),
               ("server_error", "executed = true"), ("lost_reply", ""), ("duplicate_report", ""),
               ("reordered_reports", ""), ("drop_connection", ""))


def run_killed(scenario: Scenario, index: int, seed: int, run_dir: Path) -> RunResult:
    rng = random.Random(seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    result = RunResult(index, seed, "killed")
    faults = _draw_faults(rng)
    kill_at = rng.randint(1, WRITES)
    with venue_process(scenario, seed, faults, run_dir) as url:
        journal = run_dir / "journal.sqlite"
        first = run_engine(scenario, run_dir / "first", url, journal, FIRST_RUN_S, kill_at)
        if first.returncode == -signal.SIGKILL:
            result.kills = 1
            final, out = run_engine(scenario, run_dir / "second", url, journal, SECOND_RUN_S, None), run_dir / "second"
        else:
            final, out = first, run_dir / "first"
        report_file = out / "report.json"
        if not report_file.exists():
            result.violations.append(f"the engine wrote no report (exit {final.returncode}): "
                                     f"{final.stderr.strip().splitlines()[-1:]}")
            return result
        report = orjson.loads(report_file.read_bytes())
        evidence = Evidence(journal_fills(journal), trio.run(venue_trades, scenario, url), {}, 0)
    result.reconciliations = _reconciliations(journal)
    result.dead_letters = sum(report["dead_letters"].values())
    result.faults.update({f"venue {kind}": 1 for kind, _ in faults})
    if result.kills:
        result.faults["kill"] += 1
    result.violations = violations(report, evidence, scenario.resync_within_ns)
    if final.returncode != 0 and not report.get("failure"):
        result.violations.append(f"the engine exited {final.returncode}")
    return result


@contextmanager
def venue_process(scenario: Scenario, seed: int, faults: list[tuple[str, str]], run_dir: Path) -> Iterator[str]:
    """`python -m engine venue` serving the scenario's market at speed, with `faults`; yields its URL."""
    venue_file = run_dir / "venue.toml"
    venue_file.write_text(_venue_toml(scenario, seed, faults))
    with open(run_dir / "venue.log", "wb") as log:
        venue = subprocess.Popen([sys.executable, "-m", "engine", "venue", str(venue_file), "--port", "0"],
                                 stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            yield venue.stdout.readline().rsplit(" ", 1)[-1].strip()
        finally:
            venue.send_signal(signal.SIGINT)
            try:
                venue.wait(timeout=10)
            except subprocess.TimeoutExpired:
                venue.kill()
                venue.wait()


def _draw_faults(rng: random.Random) -> list[tuple[str, str]]:
    """Some of the venue's fault kinds, one rule each (the venue takes at most one rule per kind)."""
    chosen: dict[str, str] = {}
    for kind, extra in KILL_FAULTS:
        if kind not in chosen and rng.random() < 0.4:
            chosen[kind] = extra
    return list(chosen.items())


def run_engine(scenario: Scenario, out: Path, url: str, journal: Path, duration_s: int,
               kill_at: int | None) -> subprocess.CompletedProcess:
    """The scenario's engine on paper against the venue at `url` for `duration_s`, on `journal`, in a process of
    its own; with `kill_at`, it kills itself at that journal row."""
    command, env = engine_command(scenario, out, url, journal, duration_s)
    if kill_at is not None:
        command += ["--kill-at-write", str(kill_at)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=duration_s + 120)
    (out / "engine.log").write_text(done.stderr)
    return done


def engine_command(scenario: Scenario, out: Path, url: str, journal: Path,
                   duration_s: int) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of `python -m engine run` trading the scenario on paper against the venue
    at `url` for `duration_s`, on `journal`, writing into `out` (its paper scenario is written there now)."""
    out.mkdir(parents=True, exist_ok=True)
    paper = out / "paper.toml"
    paper.write_text(_paper_toml(scenario, url.removeprefix("http://"), duration_s))
    command = [sys.executable, "-m", "engine", "run", str(paper), "--out", str(out), "--journal", str(journal)]
    return command, {**os.environ, "CHAOS_KEY": KEY, "CHAOS_SECRET": SECRET}


def _instruments_toml(scenario: Scenario) -> str:
    from engine.model.numbers import format_fixed
    parts = []
    for inst in scenario.instruments.values():
        parts.append(f'[[instruments]]\nsymbol = "{inst.symbol}"\nvenue = "{inst.venue}"\n'
                     f'venue_symbol = "{inst.venue_symbol}"\nbase = "{inst.base}"\nquote = "{inst.quote}"\n'
                     f"price_decimals = {inst.price_decimals}\nqty_decimals = {inst.qty_decimals}\n"
                     f'tick_size = "{format_fixed(inst.tick_size, inst.price_decimals)}"\n'
                     f'lot_size = "{format_fixed(inst.lot_size, inst.qty_decimals)}"\n')
    return "\n".join(parts)


def _venue_toml(scenario: Scenario, seed: int, faults: list[tuple[str, str]]) -> str:
    feed = scenario.feed
    [connection] = feed.connections   # chaos kills runs of one instrument's market
    if feed.kind == "synthetic":
        market = f'kind = "synthetic"\nseed = {feed.seed}\nduration_s = {feed.duration_s}'
    else:
        files = ", ".join(orjson.dumps(str(f)).decode() for f in connection.files)
        market = f'kind = "recording"\nfiles = [{files}]'
    rules = "".join(f'\n[[venue.faults]]\nkind = "{kind}"\nrate = "{RATES.get(kind, "0.05")}"\n{extra}\n'
                    for kind, extra in faults)
    traded = scenario.instruments[connection.instruments[0]]
    return (f'[engine]\nname = "chaos_venue"\n\n{_instruments_toml(scenario)}\n'
            f'[feed]\n{market}\ninstruments = ["{traded.symbol}"]\nspeed = {SPEED}\n\n'
            f'[venue]\nname = "{scenario.venue.name}"\nmaker_fee = "{scenario.venue.maker_fee}"\n'
            f'taker_fee = "{scenario.venue.taker_fee}"\nseed = {seed}\n\n'
            f'[[venue.accounts]]\napi_key = "{KEY}"\nsecret = "{SECRET}"\n'
            f'balances = {{ {traded.quote} = "10000000", {traded.base} = "1000" }}\n{rules}')


def _strategy_toml(scenario: Scenario) -> str:
    """Each [[strategy]] table as its file wrote it, its cadence on the paper run's wall clock."""
    parts = []
    for strat in scenario.strategies:
        keys = {**strat.written, "name": strat.name, "cadence": str(_wall_cadence(strat.cadence))}
        parts.append("[[strategy]]\n" + "".join(f"{key} = {_toml_value(value)}\n" for key, value in keys.items()))
    return "\n".join(parts)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{key} = {_toml_value(item)}" for key, item in value.items()) + " }"
    return orjson.dumps(value).decode()   # a string, a whole number, or an array of strings: JSON writes them as TOML


def _wall_cadence(cadence: Cadence) -> Cadence | str:
    """The strategy's cadence on the wall clock of a market replayed `SPEED` times faster: a period of market time
    is that much shorter in wall time; a cadence that follows events is the same."""
    return cadence if cadence.follows_events else f"{max(cadence.period_ns // 1_000_000 // SPEED, 1)}ms"


def _paper_toml(scenario: Scenario, base: str, duration_s: int) -> str:
    risk, venue = scenario.risk, scenario.venue
    from engine.model.numbers import format_fixed
    traded = scenario.instruments[scenario.strategies[0].instruments[0]]
    return (f'[engine]\nname = "{scenario.name}"\n\n{_instruments_toml(scenario)}\n'
            f'[feed]\nkind = "live"\ninstruments = {orjson.dumps(list(scenario.feed.instruments)).decode()}\n'
            f'stream_url = "ws://{base}"\n'
            f'rest_url = "http://{base}"\nsilence_s = 5\nduration_s = {duration_s}\n\n'
            f'[book]\ndepth = {scenario.book_depth}\nstale_after_ms = 3000\n'
            f'resync_within_ms = {scenario.resync_within_ns // 1_000_000}\n\n'
            f'{_strategy_toml(scenario)}\n'
            f'[risk]\nmax_order_notional = "{risk.max_order_notional}"\n'
            f'max_position = "{format_fixed(risk.max_position, traded.qty_decimals)}"\n'
            f"price_band_bps = {risk.price_band_bps}\nmax_slippage_bps = {risk.max_slippage_bps}\n\n"
            f'[venue]\nname = "{venue.name}"\nurl = "http://{base}"\nws_api_url = "ws://{base}/ws-api/v3"\n'
            f'api_key_env = "CHAOS_KEY"\nsecret_env = "CHAOS_SECRET"\nmaker_fee = "{venue.maker_fee}"\n'
            f'taker_fee = "{venue.taker_fee}"\ntimeout_ms = 1000\n\n'
            f"[execution]\nack_timeout_ms = 2000\nrequery_ms = 500\nsettle_timeout_ms = 20000\n\n"
            f'[journal]\nsync = "full"\n')


def journal_fills(path: Path) -> list[str]:
    """Every fill's trade id in the journal, read without opening it for writing."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return [decode(kind, body).trade_id for kind, body in
                db.execute("SELECT kind, body FROM events WHERE kind = 'Fill' ORDER BY seq")]


def _reconciliations(path: Path) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return db.execute("SELECT count(*) FROM events WHERE kind = 'ReconcileReply'").fetchone()[0]


async def venue_account(scenario: Scenario, url: str) -> dict[str, tuple[list[VenueOrder], list[OrderTrade]]]:
    """Every order and trade the venue holds for the chaos account, per instrument."""
    codec = BinanceOrderCodec(Credentials(KEY, SECRET), scenario.instruments.values(), venue=scenario.venue.name)
    out = {}
    async with BinanceClient(codec, base_url=url, now_ns=time.time_ns) as client:
        await client.sync_clock()
        for symbol in scenario.instruments:
            orders = await read_patiently(lambda: client.all_orders(symbol, None, order_id=0))
            trades = await read_patiently(lambda: client.my_trades(symbol))
            if isinstance(orders, VenueError) or isinstance(trades, VenueError):
                raise RuntimeError(f"the venue could not say what it traded: {orders}, {trades}")
            out[symbol] = (orders, trades)
    return out


async def venue_trades(scenario: Scenario, url: str) -> dict[str, dict[str, int]]:
    """The venue's own trades of ours, per instrument: trade id → signed quantity."""
    out = {}
    for symbol, (orders, trades) in (await venue_account(scenario, url)).items():
        side = {order.venue_order_id: order.side.sign for order in orders}
        out[symbol] = {item.trade.trade_id: item.trade.qty * side[item.venue_order_id] for item in trades}
    return out
