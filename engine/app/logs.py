"""The command's logs on stderr: human lines by default, or one JSON object a line (`--log-format json`) for a
log shipper; secrets redacted from both.

A JSON line holds `ts` (UTC, ISO 8601), `level`, `logger`, `message`, and whatever structured fields the call
gave (`log.info(..., extra={"venue": ...})`), plus `exc` with the traceback of a logged exception.

What is redacted, wherever it appears in a line (message, fields, traceback): the values of the environment
variables a scenario names for its venue's credentials (`api_key_env`, `secret_env`), registered once the
scenario is read, and anything that looks like a request signature or an API key header (`signature=...`,
`"signature": "..."`, `X-MBX-APIKEY: ...`), which an HTTP library logging its requests would otherwise print.
A secret is never in a log line, whoever logged it, so the check is made on the line, not left to each caller.
"""
from __future__ import annotations

import logging
import os
import re
import sys
from datetime import datetime, timezone
from typing import Any, Mapping, TextIO

import orjson

FORMATS = ("human", "json")
REDACTED = "[redacted]"
# a signature or API key as a query parameter, a JSON field or a header, up to the end of its value
# (quotes may be JSON-escaped: the check is made on the encoded line)
_LOOKS_SECRET = re.compile(r"""((?:signature|x-mbx-apikey|apikey)(?:\\?["'])?\s*[=:]\s*(?:\\?["'])?)"""
                           r"""[^&\s"'\\,}\]]+""", re.IGNORECASE)
# what every LogRecord has: anything else on a record is a structured field its caller gave
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class Redactor:
    """The secrets a log line must not hold: known values, and whatever looks like a signature or key."""

    def __init__(self) -> None:
        self._values: set[str] = set()

    def hide(self, *values: str) -> None:
        self._values.update(value for value in values if value)

    def hide_credentials(self, venue: Any, environ: Mapping[str, str] = os.environ) -> None:
        """The values of the environment variables `venue` (a scenario's `[venue]`) takes its credentials from."""
        self.hide(*(environ.get(name, "") for name in (venue.api_key_env, venue.secret_env)))

    def __call__(self, text: str) -> str:
        for value in sorted(self._values, key=len, reverse=True):   # a longer secret before a part of it
            text = text.replace(value, REDACTED)
        return _LOOKS_SECRET.sub(lambda match: match.group(1) + REDACTED, text)


class HumanFormatter(logging.Formatter):
    """`LEVEL logger: message`, redacted."""

    def __init__(self, redact: Redactor):
        super().__init__("%(levelname)s %(name)s: %(message)s")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts, level, logger, message, the record's structured fields; redacted."""

    def __init__(self, redact: Redactor):
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in line:
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        # redact the encoded line: every field, nested or not, and a secret's JSON-escaped form alike
        return self.redact(orjson.dumps(line, default=str).decode())


class _CommandHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler `configure` installs, told apart from any other (a test runner's) when it is replaced."""


def configure(level: str, log_format: str = "human", stream: TextIO | None = None) -> Redactor:
    """Send every log record at `level` and above to `stream` (stderr) in `log_format`; return the redactor,
    for the command to register the secrets it reads."""
    redact = Redactor()
    handler = _CommandHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter(redact) if log_format == "json" else HumanFormatter(redact))
    root = logging.getLogger()
    for old in root.handlers[:]:
        if isinstance(old, _CommandHandler):   # configured again (a test calling main twice): one handler
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return redact
