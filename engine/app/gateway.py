"""The order gateway a scenario trades through when its venue is reached over HTTP (`[venue] url`).

The venue is looked up in the registry by `[venue] name`; its gateway is built from the scenario's settings.
Every way this can fail before the run starts (a venue that takes no orders over a network, a missing
credential) is the scenario's problem, said as a `ScenarioError` that names the key.
"""
from __future__ import annotations

from adapters.registry import venue, venues
from engine.app.scenario import Scenario, ScenarioError
from engine.contracts import GatewaySettings, OrderGateway
from engine.runtime import Clock


def order_gateway(scenario: Scenario, clock: Clock, prefix: str) -> OrderGateway:
    """The gateway to the scenario's venue, its client order ids starting with `prefix`."""
    spec = scenario.venue
    try:
        build = venue(spec.name).order_gateway
    except ValueError as exc:
        raise ScenarioError(f"{scenario.path}: [venue] name: {exc}") from None
    if build is None:
        takers = ", ".join(name for name, parts in venues().items() if parts.order_gateway is not None)
        raise ScenarioError(f"{scenario.path}: [venue] name: venue {spec.name!r} takes no orders over a network "
                            f"here (venues that do: {takers}); without [venue] url it is simulated in process")
    settings = GatewaySettings(spec.name, spec.url, spec.ws_api_url, spec.api_key_env, spec.secret_env,
                               spec.recv_window_ns, spec.timeout_s)
    try:
        return build(settings, scenario.instruments, clock.now_ns, prefix)
    except KeyError as exc:
        raise ScenarioError(f"{scenario.path}: [venue] needs its credentials: {exc.args[0]}") from None
