"""The real USDC/WETH 0.05% pool (Ethereum mainnet 0x88e6...5640) on 2024-01-05.

1. Every raw log of the day, decoded with UniswapV3Pool's event ABI (keel.venues.events), equals the
   independently decoded row of tick.csv (demeter-fetch).
2. Every swap whose pool liquidity did not change (it stayed inside one initialized range) is reproduced
   exactly -- sqrtPriceX96, tick, liquidity, amount0, amount1 -- by a Keel pool holding only the previous
   event's price, tick and liquidity.  The share of the day's swaps so checked is printed and bounded below.
"""

from __future__ import annotations

import ast
import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from keel.domain import PoolState, TickState
from keel.venues.events import PoolEvent, decode_log, replay_swap
from keel.venues.uniswap_v3 import Pool

DAY = Path(__file__).resolve().parents[2] / "data" / "uniswap_v3_usdc_weth_005_2024-01-05"
STEM = "ethereum-0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640-2024-01-05"
FULL_RANGE = 887270  # widest usable tick at spacing 10


def _rows(kind: str) -> list[dict[str, str]]:
    with (DAY / f"{STEM}.{kind}.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def _ts(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp())


def _int(text: str) -> int:
    return int(float(text)) if "." in text else int(text)


@pytest.fixture(scope="module")
def day() -> list[tuple[PoolEvent, dict[str, str]]]:
    raw = _rows("raw")
    ticks = {(r["block_number"], r["pool_log_index"]): r for r in _rows("tick")}
    assert len(raw) == len(ticks) == 6234
    out = []
    for r in raw:
        ev = decode_log(
            ast.literal_eval(r["topics"]),
            r["data"],
            block_number=int(r["block_number"]),
            log_index=int(r["log_index"]),
            block_timestamp=_ts(r["block_timestamp"]),
            transaction_hash=r["transaction_hash"],
        )
        out.append((ev, ticks[(r["block_number"], r["log_index"])]))
    return out


def test_decoded_logs_equal_tick_csv(day: list[tuple[PoolEvent, dict[str, str]]]) -> None:
    counts: dict[str, int] = {}
    for ev, row in day:
        kind = row["tx_type"]
        counts[kind] = counts.get(kind, 0) + 1
        assert ev.name == kind.capitalize(), (ev, row)
        assert ev.transaction_hash == row["transaction_hash"]
        if kind == "SWAP":
            assert (ev["amount0"], ev["amount1"]) == (int(row["amount0"]), int(row["amount1"]))
            assert ev["sqrtPriceX96"] == int(row["sqrtPriceX96"])
            assert ev["liquidity"] == int(row["total_liquidity"])
            assert ev["tick"] == _int(row["current_tick"])
            assert (ev["sender"], ev["recipient"]) == (row["sender"], row["receipt"])
        else:
            assert (ev["tickLower"], ev["tickUpper"]) == (_int(row["tick_lower"]), _int(row["tick_upper"]))
            assert (ev["amount0"], ev["amount1"]) == (int(row["amount0"]), int(row["amount1"]))
            assert row["sender"] == (ev["sender"] if kind == "MINT" else ev["owner"])
            if kind == "COLLECT":
                assert ev["recipient"] == row["receipt"]
            else:
                assert ev["amount"] == int(row["liquidity"])
    assert counts == {"SWAP": 6046, "MINT": 54, "BURN": 69, "COLLECT": 65}


def _single_range_pool(prev: dict[str, str]) -> Pool:
    liquidity = int(prev["total_liquidity"])
    state = PoolState(
        kind="uniswap_v3",
        token0="USDC",
        token1="WETH",
        fee=500,
        tick_spacing=10,
        sqrt_price_x96=int(prev["sqrtPriceX96"]),
        tick=_int(prev["current_tick"]),
        liquidity=liquidity,
        ticks=(
            TickState(-FULL_RANGE, liquidity, liquidity),
            TickState(FULL_RANGE, liquidity, -liquidity),
        ),
    )
    return Pool.from_state(state)


def test_single_range_swaps_reproduced_exactly(day: list[tuple[PoolEvent, dict[str, str]]]) -> None:
    total_swaps = sum(1 for ev, _ in day if ev.name == "Swap")
    checked = 0
    kinds: dict[str, int] = {}
    mismatches = []
    prev: dict[str, str] | None = None
    for ev, row in day:
        if ev.name == "Swap" and prev is not None and prev["total_liquidity"] == row["total_liquidity"]:
            pool = _single_range_pool(prev)
            try:
                kind = replay_swap(pool, ev)
            except Exception as exc:  # collected, reported below
                mismatches.append((ev.block_number, ev.log_index, str(exc)[:300]))
            else:
                checked += 1
                kinds[kind] = kinds.get(kind, 0) + 1
                assert (pool.sqrt_price_x96, pool.tick, pool.liquidity) == (
                    ev["sqrtPriceX96"],
                    ev["tick"],
                    ev["liquidity"],
                )
        prev = row
    share = checked / total_swaps
    print(
        f"\nreal day: {checked}/{total_swaps} swaps ({share:.1%}) reproduced exactly from the previous state; {kinds}"
    )
    assert not mismatches, mismatches[:5]
    assert share > 0.85
