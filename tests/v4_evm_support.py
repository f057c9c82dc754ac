"""The real Uniswap v4-core 1.0.2 contracts in pyrevm (Cancun rules: transient storage).

Deploys from ``node_modules/@uniswap/v4-core/out`` (compiled artifacts; nothing compiled here):
``PoolManager``, the test routers ``PoolSwapTest`` and ``PoolModifyLiquidityTestNoChecks``, and test
ERC-20s (v2-core's ``ERC20``).  State is read back the way ``StateLibrary`` does, through
``extsload`` slots (:mod:`keel.venues.uniswap_v4.state_slots`).  Used by tests/venues/test_v4_evm.py
and bench/amm.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eth_abi import decode, encode
from eth_utils import keccak

from keel.venues.uniswap_v4 import PoolKey
from keel.venues.uniswap_v4 import state_slots as slots
from tests.evm_support import EVM, EVMRevert

ROOT = Path(__file__).resolve().parents[1]
V4_OUT = ROOT / "node_modules" / "@uniswap" / "v4-core" / "out"
KEY_T = "(address,address,uint24,int24,address)"
MAX_UINT256 = 2**256 - 1

__all__ = ["V4World", "v4_artifact"]


def v4_artifact(name: str) -> tuple[list[dict[str, Any]], bytes]:
    """(abi, creation bytecode) of a v4-core contract from ``out/NAME.sol/NAME.json``."""
    data = json.loads((V4_OUT / f"{name}.sol" / f"{name}.json").read_text())
    return data["abi"], bytes.fromhex(data["bytecode"]["object"].removeprefix("0x"))


def _signed128(x: int) -> int:
    x &= (1 << 128) - 1
    return x - (1 << 128) if x >= 1 << 127 else x


def split_delta(packed: int) -> tuple[int, int]:
    """BalanceDelta (int256) -> (amount0, amount1): amount0 in the upper 128 bits."""
    packed %= 1 << 256
    return _signed128(packed >> 128), _signed128(packed)


class V4World:
    """PoolManager + test routers + sorted test tokens, all approved for the routers."""

    def __init__(self, n_tokens: int = 2, evm: EVM | None = None) -> None:
        self.evm = evm or EVM()
        e = self.evm
        self.manager = self._deploy("PoolManager", ["address"], [e.me])
        self.swap_router = self._deploy("PoolSwapTest", ["address"], [self.manager])
        # the NoChecks variant: the checked one asserts an add never nets positive, which accrued fees can make
        self.liquidity_router = self._deploy("PoolModifyLiquidityTestNoChecks", ["address"], [self.manager])
        tokens = sorted((e.deploy("ERC20", ["uint256"], [2**200]) for _ in range(n_tokens)), key=lambda a: int(a, 16))
        self.tokens = tokens
        for token in tokens:
            for spender in (self.swap_router, self.liquidity_router):
                e.call(token, "approve(address,uint256)", [spender, MAX_UINT256])
        e.call(self.manager, "setProtocolFeeController(address)", [e.me])

    def _deploy(self, name: str, types: list[str], args: list[Any]) -> str:
        _, code = v4_artifact(name)
        return str(self.evm.raw.deploy(self.evm.me, code + encode(types, args), gas=30_000_000))

    # ------------------------------------------------------------------ calls
    def _send(self, to: str, signature: str, types: list[str], args: list[Any], value: int = 0,
              caller: str | None = None) -> tuple[bytes, int]:  # fmt: skip
        e = self.evm
        calldata = keccak(text=signature)[:4] + encode(types, args)
        try:
            out = e.raw.message_call(caller or e.me, to, calldata, value=value, gas=1_000_000_000)
        except RuntimeError as exc:
            raise EVMRevert("", str(exc)) from None
        return bytes(out), int(e.raw.result.gas_used)

    def initialize(self, key: PoolKey, sqrt_price_x96: int) -> int:
        out, _ = self._send(
            self.manager, f"initialize({KEY_T},uint160)", [KEY_T, "uint160"], [key.as_tuple(), sqrt_price_x96]
        )
        return int(decode(["int24"], out)[0])

    def modify_liquidity(self, key: PoolKey, tick_lower: int, tick_upper: int, liquidity_delta: int,
                         salt: bytes = bytes(32), value: int = 0) -> tuple[tuple[int, int], int]:  # fmt: skip
        sig = f"modifyLiquidity({KEY_T},(int24,int24,int256,bytes32),bytes)"
        out, gas = self._send(
            self.liquidity_router, sig, [KEY_T, "(int24,int24,int256,bytes32)", "bytes"],
            [key.as_tuple(), (tick_lower, tick_upper, liquidity_delta, salt), b""], value,
        )  # fmt: skip
        return split_delta(int(decode(["int256"], out)[0])), gas

    def swap(self, key: PoolKey, zero_for_one: bool, amount_specified: int, limit: int,
             value: int = 0) -> tuple[tuple[int, int], int]:  # fmt: skip
        sig = f"swap({KEY_T},(bool,int256,uint160),(bool,bool),bytes)"
        out, gas = self._send(
            self.swap_router, sig, [KEY_T, "(bool,int256,uint160)", "(bool,bool)", "bytes"],
            [key.as_tuple(), (zero_for_one, amount_specified, limit), (False, False), b""], value,
        )  # fmt: skip
        return split_delta(int(decode(["int256"], out)[0])), gas

    def set_protocol_fee(self, key: PoolKey, fee: int) -> None:
        self._send(self.manager, f"setProtocolFee({KEY_T},uint24)", [KEY_T, "uint24"], [key.as_tuple(), fee])

    def update_dynamic_lp_fee(self, key: PoolKey, fee: int, caller: str) -> None:
        self.evm.raw.set_balance(caller, 10**18)
        self._send(self.manager, f"updateDynamicLPFee({KEY_T},uint24)", [KEY_T, "uint24"], [key.as_tuple(), fee],
                   caller=caller)  # fmt: skip

    def protocol_fees_accrued(self, currency: str) -> int:
        out, _ = self._send(self.manager, "protocolFeesAccrued(address)", ["address"], [currency])
        return int(decode(["uint256"], out)[0])

    # ------------------------------------------------------------------ StateLibrary reads
    def sload(self, slot: int) -> int:
        return int(self.evm.raw.storage(self.manager, slot))

    def slot0(self, key: PoolKey) -> tuple[int, int, int, int]:
        return slots.decode_slot0(self.sload(slots.pool_state_slot(key.to_id())))

    def pool_scalars(self, key: PoolKey) -> tuple[int, int, int]:
        """(feeGrowthGlobal0, feeGrowthGlobal1, liquidity)."""
        s = slots.pool_state_slot(key.to_id())
        return self.sload(s + 1), self.sload(s + 2), self.sload(s + 3)

    def tick_info(self, key: PoolKey, tick: int) -> tuple[int, int, int, int]:
        t = slots.tick_slot(slots.pool_state_slot(key.to_id()), tick)
        gross, net = slots.decode_tick_word(self.sload(t))
        return gross, net, self.sload(t + 1), self.sload(t + 2)

    def tick_bitmap(self, key: PoolKey, word: int) -> int:
        return self.sload(slots.tick_bitmap_slot(slots.pool_state_slot(key.to_id()), word))

    def position(self, key: PoolKey, owner: str, lower: int, upper: int, salt: bytes) -> tuple[int, int, int]:
        p = slots.position_slot(slots.pool_state_slot(key.to_id()), owner, lower, upper, salt)
        return self.sload(p), self.sload(p + 1), self.sload(p + 2)

    def extsload(self, slot: int) -> int:
        """The same word through the contract's own ``extsload(bytes32)`` (checks the slot maths)."""
        out, _ = self._send(self.manager, "extsload(bytes32)", ["bytes32"], [slot.to_bytes(32, "big")])
        return int.from_bytes(out[:32], "big")
