"""A second engine process for the journal's tests: what it does is the first argument.

- `hold PATH`: open the journal, print `ready PID`, then hold it until stdin closes (or a signal ends it);
- `try-open PATH`: open the journal and close it; print `opened`, or the error's type and message;
- `kill-at PATH N`: open with `kill_at_write=N`, write groups of 3 TradingStateChanged messages one after the
  other, printing `subscribed SEQ` for each entry a subscriber gets and `wrote SEQ...` after each write returns;
- `disk-full PATH`: write a group, then cap the size of files this process may write (RLIMIT_FSIZE, as a
  full disk does) and write a group too large for the WAL; print what each write and the service raised.

Run with the worktree on PYTHONPATH.
"""
from __future__ import annotations

import os
import resource
import signal
import sys

import trio

from engine.journal import Journal
from engine.messages import TradingMode, TradingStateChanged


def hold(path: str) -> None:
    with Journal.open(path, sync="full", scenario="holder", started_ns=0):
        print(f"ready {os.getpid()}", flush=True)
        sys.stdin.read()


def try_open(path: str) -> None:
    try:
        Journal.open(path, sync="full", scenario="second engine", started_ns=0).close()
        print("opened")
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}")


def kill_at(path: str, n: int) -> None:
    async def main(journal: Journal) -> None:
        journal.subscribe([TradingStateChanged], lambda entry: print(f"subscribed {entry.seq}", flush=True))
        async with trio.open_nursery() as nursery:
            await nursery.start(journal.run)
            for i in range(1000):
                seqs = await journal.write("chaos", [(i, TradingStateChanged(TradingMode.HALTED, i, f"{i}.{k}"))
                                                     for k in range(3)])
                print("wrote", *seqs, flush=True)

    with Journal.open(path, sync="full", scenario="chaos", started_ns=0, kill_at_write=n) as journal:
        trio.run(main, journal)


def disk_full(path: str) -> None:
    async def main(journal: Journal) -> None:
        async def service(task_status=trio.TASK_STATUS_IGNORED) -> None:
            try:
                await journal.run(task_status=task_status)
            except Exception as exc:
                print(f"service raised {type(exc).__name__}: {exc}", flush=True)

        async with trio.open_nursery() as nursery:
            await nursery.start(service)
            await journal.write("orders", [(1, TradingStateChanged(TradingMode.HALTED, 1, "fits"))])
            print("first write durable", flush=True)
            wal = os.path.getsize(f"{path}-wal")
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing us
            resource.setrlimit(resource.RLIMIT_FSIZE, (wal, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
            for attempt in ("second", "third"):
                try:
                    await journal.write("orders", [(2, TradingStateChanged(TradingMode.HALTED, 2, "x" * 1000))] * 50)
                    print(f"{attempt} write durable", flush=True)
                except Exception as exc:
                    print(f"{attempt} write raised {type(exc).__name__}: {exc}", flush=True)

    with Journal.open(path, sync="full", scenario="disk-full", started_ns=0) as journal:
        trio.run(main, journal)


if __name__ == "__main__":
    command, journal_path, *rest = sys.argv[1:]
    {"hold": lambda: hold(journal_path), "try-open": lambda: try_open(journal_path), "kill-at": lambda: kill_at(journal_path, int(rest[0])),
     "disk-full": lambda: disk_full(journal_path)}[command]()
