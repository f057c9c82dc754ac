"""One runtime for simulation and live (layer 4, beside keel.cli and keel.service).

Public API: :func:`build_world` (one registered builder per config section; :func:`register_builder`),
:class:`World`, :func:`run_simulation` (the summary dict ``summary.json`` holds), :class:`Simulation`
(steppable, checkpointable), :class:`Environment` (the protocol ``keel.sim.ChainSim`` and the live
environment implement), :class:`RunControl` and :class:`RunSubscriber`, user strategies
(:func:`register_agent`, :class:`AgentSpec`; ``[[agents]] class = "package.module:ClassName"``).
"""

from keel.engine import Environment, RunControl, RunSubscriber
from keel.runtime.distributed import RayBackend
from keel.runtime.simulate import Simulation, run_scenario, run_simulation, sim_environment, summarize
from keel.runtime.strategies import AgentSpec, register_agent, registered_agents, resolve_agent
from keel.runtime.sweeps import optimize, stress_grid, sweep
from keel.runtime.world import SECTIONS, World, build_world, register_builder

__all__ = [
    "SECTIONS",
    "AgentSpec",
    "Environment",
    "RayBackend",
    "RunControl",
    "RunSubscriber",
    "Simulation",
    "World",
    "build_world",
    "optimize",
    "register_agent",
    "register_builder",
    "registered_agents",
    "resolve_agent",
    "run_scenario",
    "run_simulation",
    "sim_environment",
    "stress_grid",
    "summarize",
    "sweep",
]
