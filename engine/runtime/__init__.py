"""The actor runtime: supervisors, actors, mailboxes and edges, the injected clock.

Everything the engine's actors need from the runtime is importable from here; the modules behind it are
private.
"""
from ._actor import Actor, ActorContext, ActorRunner, Batch, actor_runner
from ._crashes import CrashPlan, CrashRule, InjectedCrash, InjectedFault
from ._clock import Clock, LiveClock, Periodic, VirtualClock
from ._lifecycle import Lifecycle, LifecycleEvent, LifecycleKind
from ._mailbox import BlockingEdge, ConflatingEdge, DelayedEdge, Edge, LatestValueEdge, Mailbox
from ._ports import Ports, UndeclaredOutput, WiringError
from ._quiescence import Quiescence
from ._supervisor import ChildSpec, Restart, Strategy, Supervisor, SupervisorGaveUp

__all__ = [
    "Actor", "ActorContext", "ActorRunner", "Batch", "actor_runner",
    "CrashPlan", "CrashRule", "InjectedCrash", "InjectedFault",
    "Clock", "LiveClock", "Periodic", "VirtualClock",
    "Lifecycle", "LifecycleEvent", "LifecycleKind",
    "BlockingEdge", "ConflatingEdge", "DelayedEdge", "Edge", "LatestValueEdge", "Mailbox",
    "Ports", "UndeclaredOutput", "WiringError",
    "Quiescence",
    "ChildSpec", "Restart", "Strategy", "Supervisor", "SupervisorGaveUp",
]
