"""User strategies and built-in agents, registered the same way.

An ``[[agents]]`` entry names a class, ``class = "package.module:ClassName"``, with ``params``
validated by that class's own pydantic model.  A user strategy is:

* an ``keel.engine.Actor`` subclass (or any object the engine runs: ``name``, ``stage``, hooks);
* with a class attribute ``Params``: a ``pydantic.BaseModel`` subclass (unknown keys should be
  forbidden: ``model_config = ConfigDict(extra="forbid")``);
* constructed as ``ClassName(name, params, environment)``, where ``environment`` is the
  :class:`keel.engine.Environment` (block clock, ``submit(tx)``, ``balance``, ``venues``,
  ``pool_state``), the simulated chain or a live one.

It reads the pipeline's topics (``keel.oracle.ORACLE_READINGS``, ``keel.risk.RISK_EVENTS``,
``keel.engine.RECEIPTS``) through ``self.ctx.subscribe`` and acts through ``self.ctx.submit``
or ``environment.submit``.  Built-in agents are registered here too (:func:`register_agent`,
by ``keel.runtime.world``): ``keel.agents:PortfolioManager`` (params: ``[desk]``),
``keel.agents:OptionsMarketMaker`` (``[market_maker]``), ``keel.agents:DeltaHedger`` (``[hedge]``).

Modules are imported by name; a module that is not importable from ``sys.path`` is looked up
under the config's root directory (so ``examples.strategies.x:Y`` works from a checkout).
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
from pydantic import BaseModel

from keel.errors import ConfigError

__all__ = ["AgentSpec", "agent_name", "register_agent", "registered_agents", "resolve_agent", "validate_params"]


@dataclass(frozen=True)
class AgentSpec:
    """A registered agent class: its ``key`` (``package.module:ClassName``), its params model, and
    ``build(world, name, params) -> actor`` (``world`` is a ``keel.runtime.World``)."""

    key: str
    params_model: type[BaseModel]
    build: Callable[[Any, str, Any], Any]
    default_name: str = ""


_REGISTRY: dict[str, AgentSpec] = {}


def register_agent(spec: AgentSpec) -> None:
    """Register (or replace) an agent class under ``spec.key``."""
    if not isinstance(spec.params_model, type) or not issubclass(spec.params_model, BaseModel):
        raise ConfigError("agents.class", spec.key, "Params must be a pydantic BaseModel subclass")
    _REGISTRY[spec.key] = spec


def registered_agents() -> tuple[str, ...]:
    return tuple(sorted(_REGISTRY))


def agent_name(spec: AgentSpec) -> str:
    """``spec.default_name``, else the class name in snake case."""
    if spec.default_name:
        return spec.default_name
    cls = spec.key.rsplit(":", 1)[1]
    return re.sub(r"(?<!^)(?=[A-Z])", "_", cls).lower()


class _UserBuild:
    """``cls(name, params, world.environment)``."""

    def __init__(self, cls: type) -> None:
        self.cls = cls

    def __call__(self, world: Any, name: str, params: Any) -> Any:
        return self.cls(name, params, world.environment)


def _import(module: str, root: Path, key: str, spec: str) -> Any:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = exc.name or module
        if not module.startswith(missing.split(".")[0]):
            raise ConfigError(key, spec, f"importing {module} failed: {exc}") from None
    top = module.split(".")[0]
    candidate = root.resolve()
    if not ((candidate / top).is_dir() or (candidate / f"{top}.py").is_file()):
        raise ConfigError(key, spec, f"no module {module!r} (not importable, not under {candidate})")
    sys.path.insert(0, str(candidate))
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise ConfigError(key, spec, f"no module {module!r}: {exc}") from None
    except Exception as exc:  # a user module that fails on import: one line, its own message
        raise ConfigError(key, spec, f"importing {module} failed: {type(exc).__name__}: {exc}") from None
    finally:
        sys.path.remove(str(candidate))


def resolve_agent(spec: str, root: Path = Path("."), *, key: str = "agents.class") -> AgentSpec:
    """The registered agent ``spec`` (``package.module:ClassName``), or a user class loaded and checked."""
    found = _REGISTRY.get(spec)
    if found is not None:
        return found
    module, sep, name = spec.partition(":")
    if not sep or not module or not name:
        raise ConfigError(key, spec, "must be 'package.module:ClassName'")
    mod = _import(module, root, key, spec)
    cls = getattr(mod, name, None)
    if not isinstance(cls, type):
        raise ConfigError(key, spec, f"module {module} has no class {name}")
    params = getattr(cls, "Params", None)
    if not (isinstance(params, type) and issubclass(params, BaseModel)):
        raise ConfigError(key, spec, "the class needs a Params attribute: a pydantic BaseModel of its parameters")
    if not callable(getattr(cls, "on_block", None)) and not callable(getattr(cls, "on_event", None)):
        raise ConfigError(key, spec, "is not an agent (no on_block or on_event hook; subclass keel.engine.Actor)")
    return AgentSpec(spec, params, _UserBuild(cls))


def validate_params(spec: AgentSpec, params: dict[str, Any], key: str) -> BaseModel:
    """``spec.params_model`` validated from ``params``; the first problem is one ConfigError naming ``key.FIELD``."""
    try:
        return spec.params_model.model_validate(params)
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        loc = ".".join(str(p) for p in error.get("loc", ()))
        where = f"{key}.{loc}" if loc else key
        if error.get("type") == "extra_forbidden":
            raise ConfigError(where, error.get("input"), "unknown key") from None
        if error.get("type") == "missing":
            raise ConfigError(where, None, "required key is missing") from None
        raise ConfigError(where, error.get("input"), str(error.get("msg", "invalid"))) from None
