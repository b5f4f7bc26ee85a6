"""The operator's control over HTTP: `POST /control/<action>` with `Authorization: Bearer <token>`.

Each accepted request becomes an `OperatorCommand(source="http")` delivered to the actor named "control", which
holds the kill switch and journals the command before it carries it out (who asked what, and when, survives the
process). The
token is the value of the environment variable the scenario names (`[control] token_env`); without it the
control is not served at all, and a wrong or missing token is refused (401) before anything else is read.
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass

from engine.messages import OperatorAction, OperatorCommand
from engine.runtime import Mailbox

ACTIONS = {action.value.replace("_", "-"): action for action in OperatorAction}
"""The path segment of each action: halt, reduce, resume, flatten, cancel-all."""
CONTROL_ACTOR = "control"
REASON_LIMIT = 200


class ControlRefused(Exception):
    """A request the control does not carry out: `status` is the HTTP status that says why."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status


@dataclass
class Control:
    token: str
    inbox: Mailbox | None      # the control actor's mailbox (None: this run has no control actor)

    def check(self, authorization: str, segment: str) -> OperatorAction:
        """The action asked for, once the bearer token matches; `ControlRefused` otherwise."""
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.token.encode()):
            raise ControlRefused(401, "a bearer token is required (Authorization: Bearer <token>)")
        action = ACTIONS.get(segment)
        if action is None:
            raise ControlRefused(404, f"unknown action {segment!r}: one of {', '.join(ACTIONS)}")
        if self.inbox is None:
            raise ControlRefused(503, "this run has no control actor to take operator commands")
        return action

    @staticmethod
    def command(action: OperatorAction, now_ns: int, reason: str) -> OperatorCommand:
        return OperatorCommand(action, now_ns, "http", reason[:REASON_LIMIT])
