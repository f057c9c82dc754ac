"""The kernel: ordering, timers, bus, seeded streams, replay equivalence, action routing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from keel.engine import Actor, Block, Engine, EventQueue, MessageBus, Priority, SimClock, Topic, derive_rng
from keel.errors import ValidationError


def test_queue_orders_by_time_then_priority_then_insertion() -> None:
    q = EventQueue()
    out: list[str] = []
    q.push(20, out.append, "t20")
    q.push(10, out.append, "t10-p5", priority=5)
    q.push(10, out.append, "t10-p1-a", priority=1)
    q.push(10, out.append, "t10-p1-b", priority=1)
    cancelled = q.push(5, out.append, "cancelled")
    q.cancel(cancelled)
    assert len(q) == 4
    while (entry := q.pop()) is not None:
        entry[3](entry[4])
    assert out == ["t10-p1-a", "t10-p1-b", "t10-p5", "t20"]


def test_clock_never_runs_backwards() -> None:
    clock = SimClock(100)
    clock.advance_to(100)
    with pytest.raises(ValidationError, match="backwards"):
        clock.advance_to(99)


def test_streams_are_reproducible_and_independent() -> None:
    a1 = derive_rng(42, "alice").random(5)
    a2 = derive_rng(42, "alice").random(5)
    b = derive_rng(42, "bob").random(5)
    other_seed = derive_rng(43, "alice").random(5)
    assert np.array_equal(a1, a2)
    assert not np.array_equal(a1, b)
    assert not np.array_equal(a1, other_seed)
    with pytest.raises(ValidationError, match="seed"):
        derive_rng(-1, "x")


@dataclass(frozen=True)
class Ping:
    n: int


PING = Topic("ping", Ping)


def test_bus_is_typed_and_ordered() -> None:
    bus = MessageBus()
    got: list[tuple[str, int]] = []
    bus.subscribe(PING, lambda m: got.append(("first", m.n)))
    bus.subscribe(PING, lambda m: got.append(("second", m.n)))
    assert bus.publish(PING, Ping(1)) == 2
    assert got == [("first", 1), ("second", 1)]
    with pytest.raises(ValidationError, match="carries Ping"):
        bus.publish(PING, "not a ping")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="already carries"):
        bus.subscribe(Topic("ping", int), lambda m: None)


class Recorder(Actor):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.log: list[tuple[str, int, object]] = []

    def on_start(self) -> None:
        self.ctx.set_timer("tick", interval_ns=25)
        self.ctx.set_timer("once", at_ns=60)
        self.ctx.subscribe(PING)

    def on_quote(self, instrument: str, ts_ns: int, bid: float, ask: float) -> None:
        self.log.append(("quote", ts_ns, bid))
        if bid == 3.0:
            self.ctx.publish(PING, Ping(ts_ns))

    def on_timer(self, name: str, ts_ns: int) -> None:
        assert self.ctx.now_ns == ts_ns
        self.log.append((name, ts_ns, self.ctx.rng.integers(0, 1000)))
        if ts_ns >= 75:
            self.ctx.cancel_timer("tick")

    def on_event(self, topic: str, message: object) -> None:
        self.log.append((topic, self.ctx.now_ns, message))


def _run(replay: bool) -> list[tuple[str, int, object]]:
    engine = Engine(seed=7)
    actor = Recorder("r")
    engine.add_actor(actor)
    ts = np.array([0, 10, 50, 50, 100], dtype=np.int64)
    bid = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    if replay:
        engine.replay_quotes("X", ts, bid, bid + 1)
    else:
        engine.start()
        for t, b in zip(ts.tolist(), bid.tolist(), strict=True):
            engine.publish_quote("X", t, b, b + 1)
    engine.run()
    engine.stop()
    return actor.log


def test_timers_quotes_and_events_interleave_in_time_order() -> None:
    log = _run(replay=True)
    kinds = [(k, t) for k, t, _ in log]
    assert kinds == [
        ("quote", 0),
        ("quote", 10),
        ("tick", 25),
        ("tick", 50),  # a timer due at t runs before a quote at t
        ("quote", 50),
        ("ping", 50),
        ("quote", 50),
        ("once", 60),
        ("tick", 75),  # cancels itself: no tick at 100
        ("quote", 100),
    ]


def test_replay_fast_path_equals_one_by_one_delivery() -> None:
    assert _run(replay=True) == _run(replay=False)


def test_replay_refuses_unsorted_or_ragged_input() -> None:
    engine = Engine()
    engine.add_actor(Recorder("r"))
    with pytest.raises(ValidationError, match="non-decreasing"):
        engine.replay_quotes("X", np.array([2, 1]), np.ones(2), np.ones(2))
    with pytest.raises(ValidationError, match="length"):
        engine.replay_quotes("X", np.array([1, 2]), np.ones(3), np.ones(2))


def test_actions_route_by_type_and_blocks_reach_only_block_actors() -> None:
    engine = Engine()

    @dataclass(frozen=True)
    class Buy:
        qty: int

    @dataclass(frozen=True)
    class BigBuy(Buy):
        pass

    seen: list[tuple[str, int]] = []
    engine.on_action(Buy, lambda who, a: seen.append((who, a.qty)) or a.qty * 2)

    class Trader(Actor):
        blocks: list[int]

        def on_block(self, block: Block) -> None:
            self.blocks.append(block.number)
            assert self.ctx.submit(BigBuy(block.number)) == 2 * block.number

    trader = Trader("t")
    trader.blocks = []
    engine.add_actor(trader)
    engine.add_actor(Recorder("quiet"))
    engine.start()
    engine.every(0, 12, lambda ts: engine.publish_block(Block(ts // 12, ts, 10**9)), Priority.SYSTEM)
    engine.run(until_ns=36)
    assert trader.blocks == [0, 1, 2, 3]
    assert seen == [("t", 0), ("t", 1), ("t", 2), ("t", 3)]
    with pytest.raises(ValidationError, match="no handler"):
        trader.ctx.submit("hello")
    with pytest.raises(ValidationError, match="already attached"):
        engine.add_actor(Recorder("quiet"))


def test_recorder_writes_parquet(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import polars as pl

    engine = Engine()
    actor = Recorder("r")
    engine.add_actor(actor)
    engine.start()
    actor.ctx.record("fill", "ETH", 1.5, 2300.0, detail="x")
    actor.ctx.record("gas", value=3.0)
    path = tmp_path / "events.parquet"
    engine.recorder.write_parquet(path)
    frame = pl.read_parquet(path)
    assert frame["kind"].to_list() == ["fill", "gas"]
    assert frame["quantity"][0] == 1.5 and frame["value"][1] == 3.0
    assert engine.recorder.count("fill") == 1
