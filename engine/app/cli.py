"""The front door: `python -m engine run | chaos | verify-feed | record | venue | validate | schema ...`.

Exit codes: 0 the run completed (verify-feed: the recording is consistent; chaos: no run broke an invariant);
1 the engine failed while running (a supervisor gave up, the venue refused our credentials, orders did not
settle at the end), or verify-feed found an integrity failure, or chaos found a violation; 2 the input is
unusable (a bad scenario, a missing recording, missing credentials, a journal another engine holds), with a
message that names the problem.
"""
from __future__ import annotations

import argparse
import sys
from functools import partial
from typing import Awaitable, Callable, TypeVar
from pathlib import Path

import orjson
import trio

from engine.app import logs, schema
from engine.app import scenario as scenario_file
from engine.app import session
from engine.app.observe import EndpointSettings
from engine.app.progress import ProgressLine, on_terminal
from engine.app.stopping import Interrupted, StopRequest, flatten, run_stoppable
from engine.journal import JournalError
from engine.report.run import amounts
from engine.replay.formats import RecordingFormatError, RecordingTruncated
from engine.runtime import SupervisorGaveUp
from engine.app.verify import VENUES

T = TypeVar("T")


def write_report(report: dict, out_dir: Path) -> Path:
    path = out_dir / "report.json"
    path.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
    return path


def refuse(exc: BaseException) -> int:
    """Say why the input is unusable, a line per problem (each naming the file), and give the exit code 2."""
    for line in str(exc).splitlines():
        print(f"engine: {line}", file=sys.stderr)
    return 2


def cmd_run(args: argparse.Namespace) -> int:
    try:
        scenario = scenario_file.load(args.scenario)
        scenario_file.check_environment(scenario)
        endpoint = _endpoint(args, scenario)
    except scenario_file.ScenarioError as exc:
        return refuse(exc)
    args.redact.hide_credentials(scenario.venue)
    if endpoint is not None and endpoint.control_token:
        args.redact.hide(endpoint.control_token)
    out_dir = Path(args.out) if args.out else Path("out") / scenario.name
    journal = Path(args.journal) if args.journal else None
    if args.speed is not None and scenario.feed.kind == "live":
        return refuse(ValueError(f"{args.scenario}: --speed paces a replay; a live feed comes at its own pace"))
    progress = on_terminal()
    try:
        outcome = trio.run(run_stoppable, _ending_line(progress, lambda stop: session.run(
            scenario, out_dir, journal=journal, kill_at_write=args.kill_at_write, stop=stop,
            speed=args.speed, progress=progress, endpoint=endpoint)), args.duration)
    except Interrupted as exc:   # a second signal: no report, the journal keeps every commit
        print(f"engine: {exc}: no report; the journal keeps what it committed", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:    # Ctrl-C before the signals were watched, or after: nothing was running
        print("engine: interrupted", file=sys.stderr)
        return 130
    except FileNotFoundError as exc:
        print(f"engine: {args.scenario}: {exc}", file=sys.stderr)
        return 2
    except (scenario_file.ScenarioError, JournalError) as exc:
        print(f"engine: {exc}", file=sys.stderr)
        return 2
    except session.RunFailed as exc:
        path = write_report(exc.report, out_dir)
        print(f"engine: run failed: {exc}", file=sys.stderr)
        print(f"report: {path}", file=sys.stderr)
        return 1
    except BaseException as exc:  # noqa: BLE001 - report what stopped the engine, then exit non-zero
        leaves = flatten(exc)
        gave_up = [e for e in leaves if isinstance(e, SupervisorGaveUp)]
        for leaf in gave_up or leaves:
            print(f"engine: run failed: {str(leaf) or type(leaf).__name__}", file=sys.stderr)
        return 1
    path = write_report(outcome.report, out_dir)
    for name, body in outcome.files.items():
        (out_dir / name).write_bytes(body)
    report = outcome.report
    rate = outcome.frames / outcome.wall_s if outcome.wall_s > 0 else float("inf")
    print(f"{scenario.name}: {outcome.frames} feed messages in {outcome.wall_s:.2f} s ({rate:,.0f} msg/s)")
    print(f"orders {report['orders']}, fills {report['fills']}, fill ratio {report['fill_ratio']}, "
          f"avg slippage {report['avg_slippage_bps']} bps")
    print(f"net P&L {amounts(report['net_pnl'])}; fees {amounts(report['fees'])}; "
          f"realized P&L {amounts(report['realized_pnl'])}; position {amounts(report['position'])}")
    restarts = {k: v for k, v in report["actor_restarts"].items() if v}
    if restarts:
        dead = {k: v for k, v in report["dead_letters"].items() if v}
        print(f"actor restarts: {restarts}; dead letters: {dead or 'none'}")
    if report["partial"]:
        print(f"partial: {report['stopped']}")
    print(f"report: {path}")
    return 0


def _endpoint(args: argparse.Namespace, scenario: scenario_file.Scenario) -> EndpointSettings | None:
    """Where `--metrics-port` serves, with the control's token when the scenario names one (refused if unset)."""
    if args.metrics_port is None:
        return None
    return EndpointSettings(args.metrics_host, args.metrics_port, scenario_file.control_token(scenario))


def _load_for(path: str, kinds: tuple[str, ...], purpose: str) -> scenario_file.Scenario | None:
    """The scenario at `path` if its feed is one of `kinds`; else None, having said why on stderr."""
    try:
        scenario = scenario_file.load(path)
        if scenario.feed.kind not in kinds:
            raise scenario_file.ScenarioError(f"{path}: [feed] kind must be {' or '.join(map(repr, kinds))} "
                                              f"{purpose}, got {scenario.feed.kind!r}")
    except scenario_file.ScenarioError as exc:
        refuse(exc)
        return None
    return scenario


def cmd_chaos(args: argparse.Namespace) -> int:
    from engine.app import chaos
    scenario = _load_for(args.scenario, ("synthetic", "recording"), "for chaos, which replays it")
    if scenario is None:
        return 2
    out = Path(args.out) if args.out else Path("out") / scenario.name / "chaos"
    return chaos.main(scenario, args.runs, args.seed, out, kills=not args.no_kills)


def cmd_verify_feed(args: argparse.Namespace) -> int:
    from engine.app import verify
    try:
        summary = verify.verify([Path(f) for f in args.files], args.venue)
    except RecordingTruncated as exc:   # read, and found broken: an integrity failure of the recording
        print(f"engine: verify-feed: {exc}", file=sys.stderr)
        return 1
    except (FileNotFoundError, verify.UnusableInput, RecordingFormatError) as exc:
        print(f"engine: verify-feed: {exc}", file=sys.stderr)
        return 2
    for problem in summary.problems:
        print(f"engine: verify-feed: malformed {problem}", file=sys.stderr)
    if summary.foreign:
        print(f"engine: verify-feed: {summary.malformed} of {summary.messages} messages are not {args.venue} "
              f"market-data frames: this is not a recording of {args.venue}", file=sys.stderr)
    result = summary.as_dict()
    if args.json:
        print(orjson.dumps(result, option=orjson.OPT_SORT_KEYS).decode())
    else:
        for key, value in result.items():
            print(f"{key:24} {value}")
    return 0 if summary.consistent else 1


def cmd_record(args: argparse.Namespace) -> int:
    from engine.app import record
    scenario = _load_for(args.scenario, ("live",), "to record")
    if scenario is None:
        return 2
    out = Path(args.out) if args.out else Path("out") / scenario.name / "capture.gz"
    duration = args.duration if args.duration is not None else scenario.feed.duration_s
    try:
        outcome = trio.run(run_stoppable, partial(record.record, scenario, out, duration))
    except Interrupted as exc:   # a second signal: the capture was closed whole on the way out
        print(f"engine: record: {exc}; {out} is closed", file=sys.stderr)
        return exc.exit_code
    span = outcome.stopped or f"in {duration} s"
    print(f"recorded {outcome.frames} frames and {outcome.snapshots} snapshots ({span}) to {outcome.path} "
          f"({outcome.feed.connects} connections, {outcome.feed.malformed} malformed)")
    return 0


def cmd_venue(args: argparse.Namespace) -> int:
    from engine.app import venue
    try:
        spec = scenario_file.load_venue(args.scenario)
    except scenario_file.ScenarioError as exc:
        return refuse(exc)
    try:
        trio.run(venue.run, spec, args.host, args.port)
    except KeyboardInterrupt:
        return 0
    except BaseException as exc:  # noqa: BLE001 - say what stopped the venue (a port in use), then exit non-zero
        for leaf in flatten(exc):
            print(f"engine: venue: {leaf}", file=sys.stderr)
        return 2 if all(isinstance(leaf, OSError) for leaf in flatten(exc)) else 1
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Check each file as the command that reads it would, and say what is wrong; start nothing."""
    refused = 0
    for name in args.files:
        path = Path(name)
        try:
            if args.venue or schema.is_venue_file(path):
                spec = scenario_file.load_venue(path)
                print(f"{path}: a valid venue file ({spec.venue}, {len(spec.instruments)} instrument(s), "
                      f"{len(spec.accounts)} account(s))")
            else:
                scenario = scenario_file.load(path)
                scenario_file.check_environment(scenario)
                print(f"{path}: a valid scenario ({scenario.feed.kind} feed, {len(scenario.instruments)} "
                      f"instrument(s), {len(scenario.strategies)} strategy(ies))")
        except scenario_file.ScenarioError as exc:
            refused += 1
            refuse(exc)
    return 2 if refused else 0


def cmd_schema(args: argparse.Namespace) -> int:
    model = schema.VenueFile if args.venue else schema.ScenarioFile
    print(orjson.dumps(schema.json_schema(model), option=orjson.OPT_INDENT_2).decode())
    return 0


def _ending_line(progress: ProgressLine | None, command: Callable[[StopRequest], Awaitable[T]],
                 ) -> Callable[[StopRequest], Awaitable[T]]:
    """`command`, ending the progress line however it ends, before anything else is printed."""
    async def watched(stop: StopRequest) -> T:
        try:
            return await command(stop)
        finally:
            if progress is not None:
                progress.finish()
    return watched


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, found {text!r}")
    return value


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number (0 to 65535), found {text!r}")
    return int(text)


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine", description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", default="WARNING", type=str.upper, choices=LOG_LEVELS,
                        help="logging level on stderr (default WARNING)")
    parser.add_argument("--log-format", default="human", choices=logs.FORMATS,
                        help="human lines (default) or one JSON object a line; secrets redacted in both")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a scenario headless and write its report")
    run.add_argument("scenario", help="the scenario file (TOML)")
    run.add_argument("--out", help="directory for report.json and generated feeds (default out/<scenario name>)")
    run.add_argument("--journal", help="the journal to create or resume (default: <out>/journal.sqlite, made "
                                       "afresh for a replay)")
    run.add_argument("--duration", type=float, metavar="SECONDS",
                     help="stop after this many wall-clock seconds, as SIGTERM does: no new orders, open ones "
                          "cancelled, a partial report, exit 0 (a replay: seconds of the replay's own running)")
    run.add_argument("--speed", type=_positive, metavar="X",
                     help="replay at X times the recorded pace (default: as fast as it can); no report figure "
                          "outside `runtime` changes")
    run.add_argument("--metrics-port", type=_port, metavar="P",
                     help="serve Prometheus metrics (/metrics), health (/health) and the operator control "
                          "(POST /control/<action>, with [control] token_env) on this port while it runs")
    run.add_argument("--metrics-host", default="127.0.0.1", metavar="HOST",
                     help="the address --metrics-port listens on (default 127.0.0.1; 0.0.0.0 for a scraper "
                          "elsewhere)")
    run.add_argument("--kill-at-write", type=int, help=argparse.SUPPRESS)  # chaos: SIGKILL at this journal row
    run.set_defaults(func=cmd_run)
    cha = commands.add_parser("chaos", help="crash actors, fail the venue and kill the engine at random, seeded; "
                                             "check the engine against the venue after every run")
    cha.add_argument("scenario", help="a replayed scenario (synthetic or recording)")
    cha.add_argument("--runs", type=int, default=20, help="how many runs (default 20)")
    cha.add_argument("--seed", type=int, default=1, help="run i draws its schedule from seed + 1009 i (default 1)")
    cha.add_argument("--out", help="directory for the runs' reports and journals (default out/<name>/chaos)")
    cha.add_argument("--no-kills", action="store_true", help="only in-process runs: no engine kills")
    cha.set_defaults(func=cmd_chaos)
    rec = commands.add_parser("record", help="record a live feed into the project's capture format")
    rec.add_argument("scenario", help="a scenario whose [feed] kind is \"live\"")
    rec.add_argument("--out", help="the capture file to write (default out/<scenario name>/capture.gz)")
    rec.add_argument("--duration", type=float, help="seconds to record (default: the feed's duration_s)")
    rec.set_defaults(func=cmd_record)
    check = commands.add_parser("verify-feed", help="replay a recording through a venue's codec and book sync")
    check.add_argument("files", nargs="+", help="files of one recording (merged by receive time)")
    check.add_argument("--venue", required=True, choices=VENUES)
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.set_defaults(func=cmd_verify_feed)
    sim = commands.add_parser("venue", help="serve a simulated venue on loopback in its own protocol until stopped")
    sim.add_argument("scenario", help="a scenario with [[instruments]], [feed] and [venue] (accounts, faults)")
    sim.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sim.add_argument("--port", type=int, default=0, help="port to listen on (default 0: any free port, printed)")
    sim.set_defaults(func=cmd_venue)
    val = commands.add_parser("validate", help="check scenario or venue files as the commands that read them "
                                                "would, and start nothing")
    val.add_argument("files", nargs="+", help="scenario or venue files (a venue file has [[venue.accounts]])")
    val.add_argument("--venue", action="store_true", help="read every file as a venue file")
    val.set_defaults(func=cmd_validate)
    sch = commands.add_parser("schema", help="print the JSON Schema of the scenario file (or of the venue file)")
    sch.add_argument("--venue", action="store_true", help="the venue file's schema (python -m engine venue)")
    sch.set_defaults(func=cmd_schema)
    args = parser.parse_args(argv)
    args.redact = logs.configure(args.log_level, args.log_format)
    return args.func(args)
