"""A running engine seen from outside: Prometheus metrics, health and the operator's control, on one port."""
from engine.app.observe.server import Endpoint, EndpointSettings, serve

__all__ = ["Endpoint", "EndpointSettings", "serve"]
