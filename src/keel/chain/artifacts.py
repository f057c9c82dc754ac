"""Contract artifacts: ABI and creation bytecode of the real Uniswap contracts and Keel's Vyper contracts.

The Uniswap artifacts come from the pinned npm packages (``@uniswap/v3-core@1.0.1``,
``@uniswap/v3-periphery@1.4.4``, ``@uniswap/v2-core@1.0.1``, ``@uniswap/v2-periphery@1.1.0-beta.0``)
under ``node_modules``; nothing is compiled from Solidity.  Keel's own contracts (the collateral
vault and a mintable test token) are Vyper sources in ``contracts/`` compiled offline by the
``vyper`` package, cached per source hash.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from keel.errors import ChainError, ValidationError

__all__ = [
    "ARTIFACT_NAMES",
    "Artifact",
    "compile_vyper",
    "contracts_dir",
    "load_artifact",
    "node_modules_dir",
]

# name -> (package, path inside the package)
_NPM: dict[str, tuple[str, str]] = {
    "ERC20": ("@uniswap/v2-core", "build/ERC20.json"),
    "WETH9": ("@uniswap/v2-periphery", "build/WETH9.json"),
    "UniswapV2Factory": ("@uniswap/v2-core", "build/UniswapV2Factory.json"),
    "UniswapV2Pair": ("@uniswap/v2-core", "build/UniswapV2Pair.json"),
    "UniswapV2Router02": ("@uniswap/v2-periphery", "build/UniswapV2Router02.json"),
    "UniswapV3Factory": ("@uniswap/v3-core", "artifacts/contracts/UniswapV3Factory.sol/UniswapV3Factory.json"),
    "UniswapV3Pool": ("@uniswap/v3-core", "artifacts/contracts/UniswapV3Pool.sol/UniswapV3Pool.json"),
    "SwapRouter": ("@uniswap/v3-periphery", "artifacts/contracts/SwapRouter.sol/SwapRouter.json"),
    "QuoterV2": ("@uniswap/v3-periphery", "artifacts/contracts/lens/QuoterV2.sol/QuoterV2.json"),
    "TickLens": ("@uniswap/v3-periphery", "artifacts/contracts/lens/TickLens.sol/TickLens.json"),
    "NonfungiblePositionManager": (
        "@uniswap/v3-periphery",
        "artifacts/contracts/NonfungiblePositionManager.sol/NonfungiblePositionManager.json",
    ),
}
# name -> Vyper source file in contracts/
_VYPER: dict[str, str] = {"CollateralVault": "CollateralVault.vy", "KeelToken": "KeelToken.vy"}

# The Hardhat node (hardhat.config.js) and eth-tester both run this fork.
VYPER_EVM_VERSION = "cancun"

ARTIFACT_NAMES: tuple[str, ...] = tuple(sorted((*_NPM, *_VYPER)))


@dataclass(frozen=True, slots=True)
class Artifact:
    """One contract: ``abi`` (the JSON ABI list) and ``bytecode`` (creation code, 0x-hex)."""

    name: str
    abi: tuple[dict[str, Any], ...]
    bytecode: str
    source: str

    def __repr__(self) -> str:
        return (
            f"Artifact({self.name!r}, {len(self.abi)} ABI entries, {len(self.bytecode) // 2 - 1} bytes, {self.source})"
        )

    @property
    def abi_list(self) -> list[dict[str, Any]]:
        return list(self.abi)


def _repo_root() -> Path:
    here = Path(__file__).resolve()
    for parent in (Path.cwd(), *here.parents):
        if (parent / "node_modules" / "@uniswap").is_dir():
            return parent
    return here.parents[3]


def node_modules_dir() -> Path:
    """``$KEEL_NODE_MODULES`` or the ``node_modules`` of the checkout (found from the cwd or this file)."""
    env = os.environ.get("KEEL_NODE_MODULES")
    path = Path(env) if env else _repo_root() / "node_modules"
    if not (path / "@uniswap").is_dir():
        raise ChainError(f"node_modules={str(path)!r}: no @uniswap packages (run `npm ci` or `make setup`)")
    return path


def contracts_dir() -> Path:
    """``$KEEL_CONTRACTS`` or the checkout's ``contracts/`` (Keel's Vyper sources)."""
    env = os.environ.get("KEEL_CONTRACTS")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "contracts"


def _hex(code: str) -> str:
    return code if code.startswith("0x") else "0x" + code


@cache
def _load_npm(name: str) -> Artifact:
    package, rel = _NPM[name]
    path = node_modules_dir() / package / rel
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ChainError(f"artifact={name!r}: cannot read {path}: {exc.strerror}") from exc
    code = data.get("bytecode")
    if isinstance(code, dict):  # waffle layout
        code = code.get("object", "")
    if not code:
        code = data.get("evm", {}).get("bytecode", {}).get("object", "")
    return Artifact(name=name, abi=tuple(data["abi"]), bytecode=_hex(str(code)), source=f"{package}/{rel}")


def _cache_dir() -> Path:
    env = os.environ.get("KEEL_TESTBED_DIR")
    return (Path(env) if env else _repo_root() / ".testbed") / "vyper-cache"


@cache
def compile_vyper(path: Path) -> Artifact:
    """Compile a Vyper source offline (``vyper`` package); cached on disk by the source's SHA-256."""
    try:
        source = path.read_text()
    except OSError as exc:
        raise ChainError(f"contract={str(path)!r}: cannot read: {exc.strerror}") from exc
    import vyper

    digest = hashlib.sha256(f"{vyper.__version__}\0{VYPER_EVM_VERSION}\0{source}".encode()).hexdigest()[:24]
    cached = _cache_dir() / f"{path.stem}-{digest}.json"
    if cached.is_file():
        data = json.loads(cached.read_text())
    else:
        from vyper.compiler.settings import Settings

        settings = Settings(evm_version=VYPER_EVM_VERSION)
        out = vyper.compile_code(source, output_formats=["abi", "bytecode"], settings=settings)
        data = {"abi": out["abi"], "bytecode": out["bytecode"]}
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp")
            tmp.write_text(json.dumps(data))
            tmp.replace(cached)
        except OSError:
            pass  # a read-only checkout just recompiles next time
    return Artifact(name=path.stem, abi=tuple(data["abi"]), bytecode=_hex(data["bytecode"]), source=str(path))


def load_artifact(name: str) -> Artifact:
    """The artifact called ``name`` (one of :data:`ARTIFACT_NAMES`)."""
    if name in _NPM:
        return _load_npm(name)
    if name in _VYPER:
        return compile_vyper(contracts_dir() / _VYPER[name])
    raise ValidationError("artifact", name, f"unknown; known: {', '.join(ARTIFACT_NAMES)}")
