"""Catalog files without a chain: chunks, coverage, compaction (a merge interrupted half-way shows no
duplicate), rewind, and what a reader sees of files beyond the coverage."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from keel.chain.ingest_rpc import is_range_error
from keel.marketdata.catalog import EVENT_SCHEMA, Catalog, PoolMeta, column_name

POOL = "0x" + "ab" * 20


def _meta() -> PoolMeta:
    return PoolMeta(
        chain_id=5, address=POOL, kind="uniswap_v2", token0="0x" + "01" * 20, token1="0x" + "02" * 20,
        token0_symbol="USDC", token1_symbol="WETH", token0_decimals=6, token1_decimals=18, fee=3000,
        tick_spacing=0, from_block=100, next_block=100,
    )  # fmt: skip


def _chunk(lo: int, hi: int) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    blocks = list(range(lo, hi + 1))
    ts = [1_700_000_000 + 12 * (b - 100) for b in blocks]
    events = {name: [None] * len(blocks) for name in EVENT_SCHEMA.names}
    events.update(
        block_number=blocks, block_hash=[f"0x{b:064x}" for b in blocks], block_timestamp=ts,
        ts_ns=[t * 10**9 for t in ts], tx_hash=["0x" + "00" * 32] * len(blocks), tx_index=[0] * len(blocks),
        log_index=[0] * len(blocks), event=["Sync"] * len(blocks), reserve0=[str(10**9 + b) for b in blocks],
        reserve1=[str(10**18 + b) for b in blocks],
    )  # fmt: skip
    headers = {
        "block_number": blocks, "block_hash": [f"0x{b:064x}" for b in blocks],
        "parent_hash": [f"0x{b - 1:064x}" for b in blocks], "block_timestamp": ts,
        "base_fee_per_gas": [7] * len(blocks),
    }  # fmt: skip
    return events, headers


def _filled(tmp_path: Path) -> Catalog:
    cat = Catalog(tmp_path / "cat")
    meta = _meta()
    cat.write_meta(meta)
    for lo in range(100, 140, 5):
        ev, hd = _chunk(lo, lo + 4)
        meta = cat.write_chunk(meta, ev, hd, lo, lo + 4, f"0x{lo + 4:064x}")
    return cat


def test_compaction_keeps_rows_and_an_interrupted_merge_shows_no_duplicate(tmp_path: Path) -> None:
    cat = _filled(tmp_path)
    before = cat.events(5, POOL, by="block")
    assert before["block_number"].to_list() == list(range(100, 140))
    files = list(cat.files(5, POOL))
    saved = tmp_path / "saved"
    saved.mkdir()
    for f in files:
        shutil.copy(f, saved / f.name)
    assert cat.compact(5, POOL) == len(files)
    assert len(list(cat.files(5, POOL))) == 2
    assert cat.events(5, POOL, by="block").equals(before)
    # the parts back beside the merged file = a merge killed before deleting them
    day = next(cat.pool_dir(5, POOL).glob("day=*"))
    for f in saved.iterdir():
        shutil.copy(f, day / f.name)
    assert cat.events(5, POOL, by="block").equals(before)
    assert cat.pool_state(5, POOL, 120).reserve0 == 10**9 + 120


def test_files_beyond_coverage_are_invisible_then_cleaned(tmp_path: Path) -> None:
    cat = _filled(tmp_path)
    meta = cat.meta(5, POOL)
    assert meta is not None
    ev, hd = _chunk(140, 144)
    stray = cat.pool_dir(5, POOL) / "day=2023-11-14" / "events-000000000140-000000000144.parquet"
    cat.write_chunk(meta, ev, hd, 140, 144, "0x")  # then "crash" before pool.json: restore the old one
    cat.write_meta(meta)
    assert stray.exists()
    assert cat.events(5, POOL, by="block")["block_number"].max() == 139
    assert cat.clean(5, POOL) == 2 and not stray.exists()


def test_rewind_drops_rows_from_the_fork(tmp_path: Path) -> None:
    cat = _filled(tmp_path)
    cat.compact(5, POOL)
    new = cat.rewind(5, POOL, 117, f"0x{116:064x}")
    assert (new.next_block, new.tip_hash) == (117, f"0x{116:064x}")
    assert cat.events(5, POOL, by="block")["block_number"].to_list() == list(range(100, 117))
    assert cat.blocks(5, POOL)["block_number"].to_list() == list(range(100, 117))
    with pytest.raises(Exception, match="coverage"):
        cat.pool_state(5, POOL, 130)


@pytest.mark.parametrize(
    "message",
    [
        "query returned more than 10000 results",
        "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range",
        "block range is too large",
        "query timeout exceeded",
    ],
)
def test_range_errors_are_recognised(message: str) -> None:
    assert is_range_error(message)


def test_column_names() -> None:
    assert [column_name(n) for n in ("sqrtPriceX96", "tickLower", "amount0In", "to", "feeProtocol0Old")] == [
        "sqrt_price_x96", "tick_lower", "amount0_in", "recipient", "fee_protocol0_old",
    ]  # fmt: skip
    assert not is_range_error("execution reverted")


def test_time_queries_across_a_day_boundary(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "cat")
    meta = _meta()
    cat.write_meta(meta)
    ev, hd = _chunk(100, 119)
    midnight = 1_700_006_400  # 2023-11-15T00:00:00Z
    ts = [midnight - 60 + 12 * i for i in range(20)]
    ev.update(block_timestamp=ts, ts_ns=[t * 10**9 for t in ts])
    hd.update(block_timestamp=ts)
    cat.write_chunk(meta, ev, hd, 100, 119, "0x")
    days = sorted(p.name for p in cat.pool_dir(5, POOL).glob("day=*"))
    assert days == ["day=2023-11-14", "day=2023-11-15"]
    after = cat.events(5, POOL, midnight * 10**9, None)
    before = cat.events(5, POOL, None, "2023-11-15T00:00:00Z")
    assert after["block_timestamp"].min() == midnight and before["block_timestamp"].max() == midnight - 12
    assert after.height + before.height == 20
    assert cat.events(5, POOL, "2023-11-14T23:59:30Z", "2023-11-15T00:00:30Z").height == 5
