"""UniswapV3Pool event logs: decoding with the contract's event ABI, and pool replay.

:data:`V3_POOL_EVENTS` is the event ABI of ``UniswapV3Pool`` (v3-core 1.0.1) --
names, types and ``indexed`` flags exactly as in the npm artifact (a test checks
that) -- and topic0 of each event is the keccak of its canonical signature.
:func:`decode_log` turns one raw log (topics + data) into a :class:`PoolEvent`;
:func:`replay` applies Mint/Burn/Collect/Swap events to a :class:`Pool` and checks
that the pool reproduces every logged amount, price, tick and liquidity.

A Swap log does not say whether the swap was exact-input, exact-output or stopped
by a price limit, so replay tries those three (in that order) on the pool and keeps
the one that reproduces the log exactly; when none does (the pool's tick table is
incomplete, say) it raises :class:`ReplayMismatch`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_utils.crypto import keccak

from keel.errors import KeelError, ValidationError
from keel.venues.base import Revert
from keel.venues.uniswap_v3.pool import Pool
from keel.venues.uniswap_v3.tick_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO

__all__ = [
    "V3_POOL_EVENTS",
    "PoolEvent",
    "ReplayMismatch",
    "SwapKind",
    "decode_log",
    "event_topic",
    "pool_from_events",
    "replay",
    "replay_swap",
]

# name -> [(parameter, solidity type, indexed)], as in UniswapV3Pool.json's ABI
V3_POOL_EVENTS: dict[str, list[tuple[str, str, bool]]] = {
    "Burn": [
        ("owner", "address", True),
        ("tickLower", "int24", True),
        ("tickUpper", "int24", True),
        ("amount", "uint128", False),
        ("amount0", "uint256", False),
        ("amount1", "uint256", False),
    ],
    "Collect": [
        ("owner", "address", True),
        ("recipient", "address", False),
        ("tickLower", "int24", True),
        ("tickUpper", "int24", True),
        ("amount0", "uint128", False),
        ("amount1", "uint128", False),
    ],
    "CollectProtocol": [
        ("sender", "address", True),
        ("recipient", "address", True),
        ("amount0", "uint128", False),
        ("amount1", "uint128", False),
    ],
    "Flash": [
        ("sender", "address", True),
        ("recipient", "address", True),
        ("amount0", "uint256", False),
        ("amount1", "uint256", False),
        ("paid0", "uint256", False),
        ("paid1", "uint256", False),
    ],
    "IncreaseObservationCardinalityNext": [
        ("observationCardinalityNextOld", "uint16", False),
        ("observationCardinalityNextNew", "uint16", False),
    ],
    "Initialize": [("sqrtPriceX96", "uint160", False), ("tick", "int24", False)],
    "Mint": [
        ("sender", "address", False),
        ("owner", "address", True),
        ("tickLower", "int24", True),
        ("tickUpper", "int24", True),
        ("amount", "uint128", False),
        ("amount0", "uint256", False),
        ("amount1", "uint256", False),
    ],
    "SetFeeProtocol": [
        ("feeProtocol0Old", "uint8", False),
        ("feeProtocol1Old", "uint8", False),
        ("feeProtocol0New", "uint8", False),
        ("feeProtocol1New", "uint8", False),
    ],
    "Swap": [
        ("sender", "address", True),
        ("recipient", "address", True),
        ("amount0", "int256", False),
        ("amount1", "int256", False),
        ("sqrtPriceX96", "uint160", False),
        ("liquidity", "uint128", False),
        ("tick", "int24", False),
    ],
}


def event_topic(name: str) -> str:
    """topic0 (0x-hex) of a UniswapV3Pool event: keccak256 of its canonical signature."""
    signature = f"{name}({','.join(t for _, t, _ in V3_POOL_EVENTS[name])})"
    return "0x" + keccak(text=signature).hex()


_BY_TOPIC: dict[str, str] = {event_topic(name): name for name in V3_POOL_EVENTS}


@dataclass(frozen=True, slots=True)
class PoolEvent:
    """One decoded pool log.  ``args`` maps the ABI parameter names to Python values.

    ints for integer types (signed ones sign-extended), lowercase 0x-hex strings for
    addresses.  ``block_timestamp`` is uint32 seconds (0 when unknown).
    """

    name: str
    args: Mapping[str, Any]
    block_number: int = 0
    log_index: int = 0
    block_timestamp: int = 0
    transaction_hash: str = ""
    address: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.args[key]


def _as_bytes(value: str | bytes, label: str) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    text = value[2:] if value[:2] in ("0x", "0X") else value
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise ValidationError(label, value, "not hex") from exc


def _word(raw: bytes, typ: str) -> Any:
    value = int.from_bytes(raw, "big")
    if typ == "address":
        return "0x" + raw[12:].hex()
    if typ.startswith("int"):
        bits = int(typ[3:])
        value &= (1 << bits) - 1
        return value - (1 << bits) if value >> (bits - 1) else value
    bits = int(typ[4:])
    if value >> bits:
        raise ValidationError("log.data", raw.hex(), f"value does not fit {typ}")
    return value


def decode_log(
    topics: Sequence[str | bytes],
    data: str | bytes,
    *,
    block_number: int = 0,
    log_index: int = 0,
    block_timestamp: int = 0,
    transaction_hash: str = "",
    address: str = "",
) -> PoolEvent:
    """Decode one UniswapV3Pool log; raises ValidationError for an unknown topic or a malformed log."""
    if not topics:
        raise ValidationError("topics", topics, "a pool event has at least topic0")
    topic0 = "0x" + _as_bytes(topics[0], "topics[0]").hex()
    name = _BY_TOPIC.get(topic0)
    if name is None:
        raise ValidationError("topics[0]", topic0, "not a UniswapV3Pool event")
    spec = V3_POOL_EVENTS[name]
    indexed = [p for p in spec if p[2]]
    plain = [p for p in spec if not p[2]]
    if len(topics) != 1 + len(indexed):
        raise ValidationError("topics", len(topics), f"{name} has {1 + len(indexed)} topics")
    body = _as_bytes(data, "data")
    if len(body) != 32 * len(plain):
        raise ValidationError("data", len(body), f"{name} data is {32 * len(plain)} bytes")
    args: dict[str, Any] = {}
    for (pname, typ, _), topic in zip(indexed, topics[1:], strict=True):
        args[pname] = _word(_as_bytes(topic, f"topics.{pname}").rjust(32, b"\0"), typ)
    for i, (pname, typ, _) in enumerate(plain):
        args[pname] = _word(body[32 * i : 32 * i + 32], typ)
    return PoolEvent(
        name,
        args,
        block_number=block_number,
        log_index=log_index,
        block_timestamp=block_timestamp,
        transaction_hash=transaction_hash,
        address=address,
    )


class ReplayMismatch(KeelError):
    """The pool could not reproduce a logged event exactly."""

    def __init__(self, event: PoolEvent, detail: str) -> None:
        self.event = event
        super().__init__(
            f"event {event.name} at block {event.block_number} log {event.log_index} not reproduced: {detail}"
        )


SwapKind = str  # 'exact_in', 'exact_out' or 'to_limit'


def replay_swap(pool: Pool, event: PoolEvent) -> SwapKind:
    """Apply a logged Swap to ``pool``; returns how it was reproduced ('exact_in', 'exact_out', 'to_limit').

    Raises :class:`ReplayMismatch` (pool unchanged) when no reading of the log reproduces
    its amounts, sqrtPriceX96, tick and liquidity exactly.
    """
    a0, a1 = int(event["amount0"]), int(event["amount1"])
    logged = (a0, a1, int(event["sqrtPriceX96"]), int(event["tick"]), int(event["liquidity"]))
    zero_for_one = a0 > 0 or (a0 == 0 and a1 < 0) or (a0 == 0 and a1 == 0 and logged[2] < pool.sqrt_price_x96)
    amount_in, amount_out = (a0, -a1) if zero_for_one else (a1, -a0)
    limit_far = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
    candidates: list[tuple[SwapKind, int, int]] = []
    if amount_in > 0:
        candidates.append(("exact_in", amount_in, limit_far))
    if amount_out > 0:
        candidates.append(("exact_out", -amount_out, limit_far))
    candidates.append(("to_limit", (1 << 255) - 1, logged[2]))
    tried: list[str] = []
    for kind, amount, limit in candidates:
        try:
            result = pool.quote_detailed(zero_for_one, amount, limit)
        except Revert as exc:
            tried.append(f"{kind}: revert {exc.reason!r}")
            continue
        got = (result.amount0, result.amount1, result.sqrt_price_x96, result.tick, result.liquidity)
        if got == logged:
            pool.swap(zero_for_one, amount, limit)
            return kind
        tried.append(f"{kind}: {got}")
    raise ReplayMismatch(event, f"logged {logged}; tried {'; '.join(tried)}")


def replay(pool: Pool, events: Iterable[PoolEvent], *, strict: bool = True) -> dict[str, int]:
    """Apply pool events in order; returns counts per event kind (and swap kind) applied.

    Each Mint/Burn/Collect must return the logged amounts; a Swap must reproduce the
    log (:func:`replay_swap`).  ``pool.block_timestamp`` follows the events' timestamps
    when they carry one.  With ``strict=False`` a Swap that cannot be reproduced is
    counted under 'swap_mismatch' and the pool is left unchanged by it.
    """
    counts: dict[str, int] = {}
    for ev in events:
        if ev.block_timestamp:
            pool.block_timestamp = ev.block_timestamp
        key = ev.name
        if ev.name == "Mint":
            got: tuple[int, int] = pool.mint(ev["owner"], ev["tickLower"], ev["tickUpper"], ev["amount"])
            if got != (ev["amount0"], ev["amount1"]):
                raise ReplayMismatch(ev, f"mint amounts {got} != logged {(ev['amount0'], ev['amount1'])}")
        elif ev.name == "Burn":
            got = pool.burn(ev["owner"], ev["tickLower"], ev["tickUpper"], ev["amount"])
            if got != (ev["amount0"], ev["amount1"]):
                raise ReplayMismatch(ev, f"burn amounts {got} != logged {(ev['amount0'], ev['amount1'])}")
        elif ev.name == "Collect":
            got = pool.collect(ev["owner"], ev["tickLower"], ev["tickUpper"], ev["amount0"], ev["amount1"])
            if got != (ev["amount0"], ev["amount1"]):
                raise ReplayMismatch(ev, f"collect amounts {got} != logged {(ev['amount0'], ev['amount1'])}")
        elif ev.name == "Swap":
            try:
                key = "swap_" + replay_swap(pool, ev)
            except ReplayMismatch:
                if strict:
                    raise
                key = "swap_mismatch"
        elif ev.name == "IncreaseObservationCardinalityNext":
            pool.increase_observation_cardinality_next(ev["observationCardinalityNextNew"])
        elif ev.name == "SetFeeProtocol":
            pool.set_fee_protocol(ev["feeProtocol0New"], ev["feeProtocol1New"])
        elif ev.name == "CollectProtocol":
            pool.collect_protocol(ev["amount0"], ev["amount1"])
        elif ev.name == "Flash":
            pool.flash(ev["amount0"], ev["amount1"], ev["paid0"], ev["paid1"])
        elif ev.name == "Initialize":
            pool.initialize(ev["sqrtPriceX96"])
        counts[key] = counts.get(key, 0) + 1
    return counts


def pool_from_events(fee: int, tick_spacing: int, events: Sequence[PoolEvent], **pool_kwargs: Any) -> Pool:
    """A pool rebuilt from its complete log stream, starting with its Initialize event."""
    if not events or events[0].name != "Initialize":
        raise ValidationError("events", events[0].name if events else None, "must start with Initialize")
    pool = Pool(fee, tick_spacing, 0, block_timestamp=events[0].block_timestamp, **pool_kwargs)
    replay(pool, events)
    return pool
