"""Hostile inputs for every `keel` command: generated files and configs, bad numbers, bad options.

Each case must end in exit 2 with exactly one line on stderr, ``error: ...``, naming the key,
option or file the user wrote (never a traceback, never a silent result), or in a correct result
where the input is in fact valid.  Commands run in-process through ``keel.cli.main`` (fast);
a few run the console script in a subprocess to check the real entry point.

Classes covered (#21): binary files, non-UTF-8 text, empty files, NUL bytes, rows cut short,
NaN / inf / zero / negative / huge numbers in data files, inf / NaN / huge values in every float
field of the scenario config (enumerated from the pydantic model, so new fields are fuzzed too),
cross-field rules, negative seeds, huge ages, negative numbers as positional values.
"""

from __future__ import annotations

import math
import random
import subprocess
import sys
import tomllib
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydantic
import pytest

from keel.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "eth_options_desk.toml"
KLINES = ROOT / "data" / "binance_btcusdt_1m_crashes" / "BTCUSDT-1m-2025-10-10_2028-2237.csv"
CHAIN = ROOT / "data" / "deribit_option_chain_snapshots_2021-02" / "btc_option_chain_2021-02-09T1338Z.csv"


# --------------------------------------------------------------------------------------- helpers
def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def assert_refused(code: int, err: str, *names: str) -> None:
    """Exit 2, one line ``error: ...`` naming one of ``names``, no traceback."""
    lines = err.strip().splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    assert any(n in lines[0] for n in names), (names, lines[0])


def hostile_bytes() -> dict[str, bytes]:
    rng = random.Random(21)
    return {
        "binary": bytes(rng.randrange(256) for _ in range(2048)),
        "non_utf8": b"name,price\nbtc,1.0\n" + b"caf\xe9,\xff\xfe\n",
        "empty": b"",
        "nul": b"a,b\n1,\x00\n",
        "utf16": "open_time,close\n1,2\n".encode("utf-16"),
    }


def write(tmp: Path, name: str, data: bytes | str) -> Path:
    path = tmp / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


# ------------------------------------------------------------------------- a small TOML writer
def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def to_toml(data: dict[str, Any], prefix: str = "") -> str:
    scalars = [(k, v) for k, v in data.items() if not isinstance(v, dict) and not _is_table_list(v)]
    tables = [(k, v) for k, v in data.items() if isinstance(v, dict)]
    table_lists = [(k, v) for k, v in data.items() if _is_table_list(v)]
    out = [f"{k} = {_toml_value(v)}" for k, v in scalars]
    for k, v in tables:
        out.append(f"\n[{prefix}{k}]")
        out.append(to_toml(v, f"{prefix}{k}."))
    for k, items in table_lists:
        for item in items:
            out.append(f"\n[[{prefix}{k}]]")
            out.append(to_toml(item, f"{prefix}{k}."))
    return "\n".join(out)


def _is_table_list(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


# -------------------------------------------------------- every float field of the scenario config
def base_config() -> dict[str, Any]:
    """The example desk config plus every optional section, so each field can be fuzzed in place."""
    data = tomllib.loads(EXAMPLE.read_text())
    if isinstance(data.get("agents"), dict):  # the legacy name of [counterparties]
        data["counterparties"] = data.pop("agents")
    data["perp"] = {"funding_file": "data/binance_perp_funding_rates/none.csv"}
    data["market_maker"] = {}
    return data


def _is_float(annotation: Any) -> bool:
    if annotation is float:
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_is_float(a) for a in typing.get_args(annotation) if a is not type(None))
    if origin is typing.Annotated:
        return _is_float(typing.get_args(annotation)[0])
    return False


def _model(annotation: Any) -> type[pydantic.BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model(arg)
        if found is not None:
            return found
    return None


def float_fields() -> Iterator[tuple[tuple[str, ...], bool]]:
    """(key path, is a list of tables) for every float field reachable from ScenarioConfig."""
    from keel.sim.config import ScenarioConfig

    def walk(model: type[pydantic.BaseModel], path: tuple[str, ...], listed: bool) -> Iterator[Any]:
        for name, info in model.model_fields.items():
            key = info.alias or name
            ann = info.annotation
            sub = _model(ann)
            if sub is not None and sub is not model:
                is_list = typing.get_origin(ann) is list or any(
                    typing.get_origin(a) is list for a in typing.get_args(ann)
                )
                yield from walk(sub, (*path, key), listed or is_list)
            elif _is_float(ann):
                yield (*path, key), listed

    yield from walk(ScenarioConfig, (), False)


# valid values for the required keys of a section the fuzzer has to create
REQUIRED = {
    "chain": "data/none.csv", "funding_file": "data/none.csv", "expiry": "2024-01-12T08:00:00Z",
    "class": "keel.agents:DeltaHedger", "name": "src9", "start_block": 1, "blocks": 1, "a": 0.01, "b": 0.01,
    "rho": 0.0, "m": 0.0, "sigma": 0.1, "kind": "gbm",
}  # fmt: skip


def _skeleton(model: type[pydantic.BaseModel] | None) -> dict[str, Any]:
    if model is None:
        return {}
    return {
        (info.alias or name): REQUIRED[info.alias or name]
        for name, info in model.model_fields.items()
        if info.is_required() and (info.alias or name) in REQUIRED
    }


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> str | None:
    """Set ``path`` (first element of any list of tables) to value; the dotted key pydantic reports."""
    from keel.sim.config import ScenarioConfig

    cur: Any = data
    model: type[pydantic.BaseModel] | None = ScenarioConfig
    shown: list[str] = []
    for key in path[:-1]:
        info = model.model_fields.get(key) if model is not None else None
        if info is None and model is not None:
            info = next((f for f in model.model_fields.values() if f.alias == key), None)
        sub = _model(info.annotation) if info is not None else None
        is_list = info is not None and "list[" in str(info.annotation)
        nxt = cur.get(key)
        if nxt is None:
            nxt = cur[key] = [_skeleton(sub)] if is_list else _skeleton(sub)
        shown.append(key)
        if isinstance(nxt, list):
            if not nxt:
                nxt.append(_skeleton(sub))
            nxt = nxt[0]
            shown.append("0")
        cur = nxt
        model = sub
    cur[path[-1]] = value
    return ".".join([*shown, path[-1]])


FLOAT_FIELDS = sorted(float_fields())
BAD_FLOATS = [math.inf, -math.inf, math.nan, 1e300]


def test_fuzz_reaches_the_fields_named_in_the_issue() -> None:
    dotted = {".".join(p) for p, _ in FLOAT_FIELDS}
    for key in (
        "chain.base_fee_gwei", "desk.initial_usd", "hedge.max_cost_bps", "hedge.tip_gwei",
        "counterparties.noise_median_usd", "desk.contracts", "market.s0", "options.rate", "options.svi.a",
        "options.svi.sigma", "market.rate", "perp.leverage_min",
    ):  # fmt: skip
        assert key in dotted, key
    assert len(FLOAT_FIELDS) >= 60


@pytest.mark.parametrize("value", BAD_FLOATS, ids=["inf", "-inf", "nan", "1e300"])
def test_every_float_field_refuses_non_finite_and_huge(
    value: float, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen = 0
    for path, _ in FLOAT_FIELDS:
        data = base_config()
        key = _set(data, path, value)
        if key is None:
            continue
        cfg = write(tmp_path, "bad.toml", to_toml(data))
        code, _, err = run(["simulate", str(cfg), "--out", str(tmp_path / "out"), "--quiet"], capsys)
        assert_refused(code, err, key)
        seen += 1
    assert seen >= 60


def test_issue_examples_name_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases: list[tuple[tuple[str, ...], Any, str]] = [
        (("desk", "contracts"), math.inf, "desk.contracts=inf"),
        (("desk", "contracts"), 1e300, "desk.contracts=1e+300"),
        (("market", "s0"), 1e300, "market.s0=1e+300"),
        (("agents", "noise_median_usd"), math.inf, "agents.noise_median_usd"),  # the legacy table keeps its name
        (("desk", "strikes_pct"), [105.0, math.nan], "desk.strikes_pct.1"),
        (("desk", "strikes_pct"), [], "desk.strikes_pct"),
        (("seed",), -1, "seed=-1"),
        (
            ("options", "svi"),
            [{"expiry": "2024-01-12T08:00:00Z", "a": -0.5, "b": 0.02, "rho": -0.2, "m": 0.0, "sigma": 0.05}],
            "options.svi.0.a",
        ),
        (("perp",), {"funding_file": "x.csv", "leverage_min": 60.0, "leverage_max": 10.0}, "perp.leverage_min"),
        (("desk", "roll_hours"), 24 * 30.0, "desk.roll_hours"),
        (("pool", "liquidity"), 2**130, "pool.liquidity"),
    ]
    for path, value, expected in cases:
        data = base_config()
        data.pop("perp")
        data.pop("market_maker")
        if path[0] == "agents":
            data["agents"] = data.pop("counterparties")
        _set(data, path, value)
        cfg = write(tmp_path, "bad.toml", to_toml(data))
        code, _, err = run(["simulate", str(cfg), "--out", str(tmp_path / "out"), "--quiet"], capsys)
        assert_refused(code, err, expected)
        assert "LOK" not in err and "quantity=" not in err


@pytest.mark.parametrize("kind", sorted(hostile_bytes()))
def test_hostile_config_files(kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write(tmp_path, f"{kind}.toml", hostile_bytes()[kind])
    code, _, err = run(["simulate", str(cfg), "--out", str(tmp_path / "out"), "--quiet"], capsys)
    assert_refused(code, err, str(cfg), cfg.name)


def test_config_toml_oddities(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = EXAMPLE.read_text()
    for bad in (
        text[: len(text) // 2] + "\n[desk\n",  # cut short mid-table
        "x = " + "[" * 5000 + "]" * 5000,  # deeply nested
        text.replace("contracts = 1000", "contracts = 1e400"),  # TOML float overflow -> inf
        text.replace("contracts = 1000", 'contracts = "lots"'),
        text + "\n[desk]\ncontracts = 1\n",  # duplicate table
    ):
        cfg = write(tmp_path, "odd.toml", bad)
        code, _, err = run(["simulate", str(cfg), "--out", str(tmp_path / "out"), "--quiet"], capsys)
        assert_refused(code, err, "config", "desk", "x", str(cfg))


def test_missing_and_directory_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for target in (tmp_path / "nope.toml", tmp_path):
        code, _, err = run(["simulate", str(target), "--out", str(tmp_path / "out"), "--quiet"], capsys)
        assert_refused(code, err, str(target))


# ---------------------------------------------------------------------------------- data files
KLINE_HEADER = "open_time,open,high,low,close,volume,close_time,quote_volume,count,tbv,tbqv,ignore\n"


def kline_rows(closes: list[str]) -> str:
    rows = []
    for i, c in enumerate(closes):
        t = 1760128080000 + 60_000 * i
        rows.append(f"{t},100,101,99,{c},1,{t + 59_999},1,1,1,1,0")
    return KLINE_HEADER + "\n".join(rows) + "\n"


@pytest.mark.parametrize(
    "closes",
    [["100", "nan", "101"], ["100", "0", "101"], ["100", "-5", "101"], ["100", "inf", "101"], ["100", "1e400"],
     ["100", "abc"], ["100", ""]],
    ids=["nan", "zero", "negative", "inf", "overflow", "text", "empty"],
)  # fmt: skip
def test_oracle_replay_refuses_bad_closes(
    closes: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "klines.csv", kline_rows(closes))
    code, out, err = run(["oracle", "replay", str(path)], capsys)
    assert_refused(code, err, "klines.csv")
    assert "nan" not in out and "inf" not in out


def test_oracle_replay_truncated_and_hostile_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = kline_rows(["100", "101", "102"])
    cut = write(tmp_path, "cut.csv", text[: len(text) - 30])
    code, _, err = run(["oracle", "replay", str(cut)], capsys)
    assert_refused(code, err, "cut.csv")
    for kind, data in hostile_bytes().items():
        path = write(tmp_path, f"{kind}.csv", data)
        code, _, err = run(["oracle", "replay", str(path)], capsys)
        assert_refused(code, err, f"{kind}.csv")
    code, _, err = run(["oracle", "replay", str(tmp_path)], capsys)
    assert_refused(code, err, str(tmp_path))


@pytest.mark.parametrize(
    ("option", "value"),
    [("--noise-bps", "inf"), ("--noise-bps", "nan"), ("--noise-bps", "-1"), ("--noise-bps", "1e300"),
     ("--corrupt", "inf"), ("--corrupt", "nan"), ("--corrupt", "0"), ("--corrupt", "-2"),
     ("--seed", "-1"), ("--seed", str(2**64)), ("--max-age-s", str(10**20)), ("--max-age-s", "-5"),
     ("--max-age-s", "0"), ("--sources", "0"), ("--sources", "100000"), ("--seed", "abc")],
)  # fmt: skip
def test_oracle_replay_bad_options(option: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["oracle", "replay", str(KLINES), option, value], capsys)
    assert_refused(code, err, option)


def test_oracle_replay_good_input_gives_finite_statistics(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["oracle", "replay", str(KLINES), "--noise-bps", "1000", "--seed", "0"], capsys)
    assert code == 0
    assert "nan" not in out and "inf" not in out


DERIBIT_HEADER = CHAIN.read_text().splitlines()[0]


@pytest.mark.parametrize("command", ["chain", "surface"])
def test_chain_files(command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = CHAIN.read_text().splitlines()
    variants = dict(hostile_bytes().items())
    variants["header_only"] = (DERIBIT_HEADER + "\n").encode()
    variants["cut_rows"] = ("\n".join(lines[:30]) + "\n" + lines[30][:40] + "\n").encode()
    variants["huge"] = (
        "\n".join([lines[0], *(ln.replace(ln.split(",")[0], "1e400", 1) for ln in lines[1:40])])
    ).encode()
    extra = ["--png", str(tmp_path / "p.png")] if command == "surface" else []
    for kind, data in variants.items():
        path = write(tmp_path, f"{kind}.csv", data)
        code, out, err = run([command, str(path), *extra], capsys)
        if code == 0:  # bad rows dropped and counted, the rest is a correct result
            assert kind in ("cut_rows", "huge") and "nan" not in out.lower(), (kind, out)
            continue
        assert_refused(code, err, f"{kind}.csv")


# ------------------------------------------------------------------------------------- route
@pytest.mark.parametrize(
    "amount",
    ["-1", "0", "nan", "inf", "-inf", "1e300", "abc", "1e-30", "0x10", "--1"],
)
def test_route_bad_amounts(amount: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["route", "USDC", "WETH", amount], capsys)
    assert_refused(code, err, "amount", amount)


@pytest.mark.parametrize("gwei", ["nan", "inf", "-1", "1e300", "x"])
def test_route_bad_gas(gwei: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["route", "USDC", "WETH", "100", "--gas-gwei", gwei], capsys)
    assert_refused(code, err, "--gas-gwei")


def test_route_bad_tokens_and_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["route", "DOGE", "WETH", "1"], capsys)
    assert_refused(code, err, "sell")
    code, _, err = run(["route", "USDC", "USDC", "1"], capsys)
    assert_refused(code, err, "buy")
    day = tmp_path / "uniswap_v3_usdc_weth_005_2024-01-05"
    day.mkdir()
    tick = day / "ethereum-0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640-2024-01-05.tick.csv"
    for _kind, data in hostile_bytes().items():
        tick.write_bytes(data)
        code, _, err = run(["route", "USDC", "WETH", "100", "--data", str(tmp_path)], capsys)
        assert_refused(code, err, "--data", str(tick))


def test_route_valid_negative_looking_option_still_works(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["route", "USDC", "WETH", "1000", "--real-only", "--json"], capsys)
    assert code == 0 and '"amount_in": "1000' in out


# ---------------------------------------------------------------------------- other commands
def test_stress_bad_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["stress", "no_such_scenario"], capsys)
    assert_refused(code, err, "scenario", "no_such_scenario")
    code, _, err = run(["stress", "--margin", "yolo", "ftx_collapse"], capsys)
    assert_refused(code, err, "margin", "scenario")
    code, _, err = run(["stress", "--seed", "-1", "--list"], capsys)
    assert code in (0, 2)


def test_keystore_hostile_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for kind, data in hostile_bytes().items():
        path = write(tmp_path, f"{kind}.json", data)
        code, _, err = run(["keystore", "address", str(path)], capsys)
        assert_refused(code, err, f"{kind}.json")
    for text in ('{"address": 5}', "[]", '{"crypto": {}}', "{" * 3000):
        path = write(tmp_path, "odd.json", text)
        code, _, err = run(["keystore", "address", str(path)], capsys)
        assert_refused(code, err, "odd.json")


def test_testbed_hostile_addresses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for kind, data in hostile_bytes().items():
        d = tmp_path / kind
        d.mkdir()
        write(d, "addresses.json", data)
        code, _, err = run(["testbed", "fund", "0x" + "11" * 20, "--dir", str(d)], capsys)
        assert_refused(code, err, "addresses.json")
    for price in ("nan", "inf", "-1", "0", "1e400", "abc"):
        code, _, err = run(["testbed", "up", "--dir", str(tmp_path / "tb"), "--eth-price", price], capsys)
        assert_refused(code, err, "eth_price", "--eth-price")


def test_live_run_hostile_config_and_keystore(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path, "bad.toml", EXAMPLE.read_text().replace("contracts = 1000", "contracts = inf"))
    code, _, err = run(["run", "--live", "--rpc", "http://127.0.0.1:9", str(bad)], capsys)
    assert_refused(code, err, "desk.contracts", "rpc", "addresses")
    for kind, data in hostile_bytes().items():
        cfg = write(tmp_path, f"{kind}.toml", data)
        code, _, err = run(["run", "--live", "--rpc", "http://127.0.0.1:9", str(cfg)], capsys)
        assert_refused(code, err, f"{kind}.toml", "rpc", "addresses")


def test_runs_and_serve_bad_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = write(tmp_path, "junk.db", hostile_bytes()["binary"])
    code, _, err = run(["runs", "list", "--db", f"sqlite:///{junk}"], capsys)
    assert_refused(code, err, "junk.db", "db")
    code, _, err = run(["runs", "show", "nope", "--db", f"sqlite:///{tmp_path / 'fresh.db'}"], capsys)
    assert_refused(code, err, "nope", "run")
    for port in ("-1", "0", "70000", "abc"):
        code, _, err = run(["serve", "--port", port], capsys)
        assert_refused(code, err, "--port")


def test_catalog_hostile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["catalog", "list", "--catalog", str(tmp_path / "none")], capsys)
    assert code in (0, 2)
    if code == 2:
        assert_refused(code, err, "catalog", "none")
    junk = tmp_path / "cat"
    junk.mkdir()
    for kind, data in hostile_bytes().items():
        write(junk, f"{kind}.parquet", data)
        write(junk, "manifest.json", data)
        code, _, err = run(["catalog", "list", "--catalog", str(junk)], capsys)
        if code != 0:
            assert_refused(code, err, "cat", kind, "manifest")


# -------------------------------------------------------------------- the real console script
@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["route", "USDC", "WETH", "-1"], ("amount",)),
        (["oracle", "replay", str(KLINES), "--seed", "-1"], ("--seed",)),
        (["oracle", "replay", str(KLINES), "--max-age-s", str(10**30)], ("--max-age-s",)),
        (["simulate", "BINARY"], ("BINARY",)),
    ],
)
def test_console_script_one_line_no_traceback(argv: list[str], names: tuple[str, ...], tmp_path: Path) -> None:
    binary = write(tmp_path, "binary.toml", hostile_bytes()["binary"])
    argv = [str(binary) if a == "BINARY" else a for a in argv]
    names = tuple(str(binary) if n == "BINARY" else n for n in names)
    proc = subprocess.run([sys.executable, "-m", "keel", *argv], capture_output=True, text=True, timeout=120)
    assert_refused(proc.returncode, proc.stderr, *names)


@pytest.mark.parametrize("seed", ["-1", str(2**70), "nan"])
def test_simulate_bad_seed(seed: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["simulate", str(EXAMPLE), "--seed", seed, "--out", str(tmp_path), "--quiet"], capsys)
    assert_refused(code, err, "seed")


def test_hostile_journal_files(tmp_path: Path) -> None:
    """The live journal (`keel run --live --journal FILE`): a hostile file is one ChainError naming it."""
    from keel.chain import TxJournal
    from keel.errors import KeelError

    cases = {**hostile_bytes(), "not_records": b'[1]\n{"x": 1}\n', "nested": b"[" * 5000 + b"\n{}\n"}
    for kind, data in cases.items():
        if kind in ("empty",):
            continue  # an empty journal is a fresh one
        path = write(tmp_path, f"{kind}.jsonl", data)
        with pytest.raises(KeelError, match=f"{kind}.jsonl") as exc:
            TxJournal(path)
        assert "\n" not in str(exc.value)
        with pytest.raises(KeelError) as again:  # the refusal released the file lock
            TxJournal(path)
        assert "in use" not in str(again.value)


@pytest.mark.parametrize(
    ("option", "value"),
    [("--from", "-1"), ("--from", "abc"), ("--to", "-5"), ("--span", "0"), ("--span", "-3"), ("--max-span", "0"),
     ("--poll", "nan"), ("--poll", "inf"), ("--poll", "-1"), ("--confirmations", "-1")],
)  # fmt: skip
def test_ingest_bad_options(option: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["ingest", "--rpc", "http://127.0.0.1:9", "--pool", "0x" + "88" * 20, "--from", "1",
            "--catalog", str(tmp_path / "cat")]  # fmt: skip
    argv += [option, value]
    code, _, err = run(argv, capsys)
    assert_refused(code, err, option, option.lstrip("-").replace("-", "_"), "from", "rpc")


def test_sweep_hostile_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for kind, data in hostile_bytes().items():
        cfg = write(tmp_path, f"{kind}.toml", data)
        code, _, err = run(["sweep", str(cfg), "--grid", "hedge.band=1,2", "--out", str(tmp_path / "o")], capsys)
        assert_refused(code, err, f"{kind}.toml", *(["name=None: required key"] if kind == "empty" else []))
    bad = write(tmp_path, "bad.toml", EXAMPLE.read_text().replace("contracts = 1000", "contracts = nan"))
    code, _, err = run(["sweep", str(bad), "--grid", "hedge.band=1,2", "--out", str(tmp_path / "o")], capsys)
    assert_refused(code, err, "desk.contracts")
    for grid in ("hedge.band=nan,1", "desk.contracts=1e300", "hedge.band=1:inf:3", "nokey"):
        code, _, err = run(["sweep", str(EXAMPLE), "--grid", grid, "--out", str(tmp_path / "o")], capsys)
        assert_refused(code, err, "grid", "hedge.band", "desk.contracts", "nokey")


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("max_age_s = 120\n[[oracle.sources]]", "max_age_s = 1e300\n[[oracle.sources]]", "oracle.sources.0.max_age_s"),
        ("breaker_band_bps = 2500", "breaker_band_bps = 2500\ntwap_window_s = 1e19", "oracle.twap_window_s"),
        ("breaker_band_bps = 2500", "breaker_band_bps = 2500\nema_window_s = 1e12", "oracle.ema_window_s"),
        ("quorum = 1", "quorum = 100000000000000000000", "oracle.quorum"),
    ],
    ids=["max_age", "twap", "ema", "quorum"],
)
def test_oracle_windows_beyond_int64_nanoseconds_refused(
    old: str, new: str, key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Oracle windows are turned into int64 nanoseconds: a value that would overflow is refused by key."""
    text = EXAMPLE.read_text()
    assert old in text
    cfg = write(tmp_path, "oracle.toml", text.replace(old, new, 1))
    code, _, err = run(["simulate", str(cfg), "--out", str(tmp_path / "out"), "--quiet"], capsys)
    assert_refused(code, err, key)
    assert key in err
