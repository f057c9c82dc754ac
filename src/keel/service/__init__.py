"""The operator surface: ``keel serve`` (REST + WebSocket + dashboard + Prometheus metrics + control).

Layer 4: imports keel.runtime and keel.store, never imported by them.  :func:`create_app` builds
the FastAPI application over a :class:`RunHub` (runs in this process) and a store;
:func:`simulate_with_service` runs a simulation with the service up (``keel simulate --serve``).
"""

from keel.service.app import create_app
from keel.service.hub import HubSubscriber, LiveRun, RunHub
from keel.service.server import ServiceThread, resolve_token, serving, simulate_with_service, start_service

__all__ = [
    "HubSubscriber",
    "LiveRun",
    "RunHub",
    "ServiceThread",
    "create_app",
    "resolve_token",
    "serving",
    "simulate_with_service",
    "start_service",
]
