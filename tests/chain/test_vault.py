"""The Vyper collateral vault, compiled offline and run in py-evm (eth-tester): deposits, withdrawals,
option margin, cash settlement against the oracle price checked against an independent Fraction
payoff, the reader the margin engine uses, and errors raised before signing."""

from __future__ import annotations

from fractions import Fraction

import pytest

from keel.chain import (
    InsufficientFundsError,
    PreflightError,
    TxRevertedError,
    VaultClient,
    call_request,
    deploy_request,
    erc20_balance,
    read_vault_collateral,
)
from keel.errors import ValidationError
from tests.chain.conftest import run
from tests.chain.evm_tester import evm_client, evm_manager

pytestmark = pytest.mark.evm

USDC = 10**6
ETH = 10**18


def _payoff(is_call: bool, strike: int, price: int, size: int, margin: int) -> int:
    intrinsic = max(Fraction(price - strike), 0) if is_call else max(Fraction(strike - price), 0)
    return min(int(intrinsic * size / ETH), margin)


def test_vault_deposit_withdraw_settle() -> None:
    async def go() -> None:
        client = await evm_client()
        desk = await evm_manager(client, 0)  # operator and oracle
        writer = await evm_manager(client, 1)
        holder = await evm_manager(client, 2)
        usdc = (await desk.send("usdc", deploy_request("KeelToken", "USD Coin", "USDC", 6))).contract_address
        assert usdc is not None
        vault_addr = (
            await desk.send("vault", deploy_request("CollateralVault", usdc, 18, desk.address))
        ).contract_address
        assert vault_addr is not None
        token = client.contract("KeelToken", usdc)
        await desk.send("mint", call_request(token, "mint", writer.address, 100_000 * USDC))

        w = VaultClient(client, writer, vault_addr)
        op = VaultClient(client, desk, vault_addr)
        # no allowance yet: a clear error, nothing signed
        signed = writer.sign_count
        with pytest.raises(InsufficientFundsError, match="allowance"):
            await w.deposit("dep", 60_000 * USDC)
        assert writer.sign_count == signed
        await writer.send("approve", call_request(token, "approve", vault_addr, 2**256 - 1))
        await w.deposit("dep", 60_000 * USDC)
        with pytest.raises(InsufficientFundsError, match="balance"):
            await w.deposit("dep-too-much", 60_000 * USDC)  # only 40k left in the wallet
        await w.withdraw("wd", 10_000 * USDC)
        with pytest.raises(InsufficientFundsError, match="free collateral"):
            await w.withdraw("wd-too-much", 50_001 * USDC)
        with pytest.raises(ValidationError, match="amount"):
            await w.withdraw("wd-zero", 0)
        assert await erc20_balance(client, usdc, writer.address) == 50_000 * USDC

        head = await client.get_block("latest")
        expiry = int(head["timestamp"]) + 3600
        # a written call (strike 2000, 3 ETH, margin 2500) and a written put (strike 1900, 2 ETH, margin 4000)
        cases = [(True, 2000 * USDC, 3 * ETH, 2500 * USDC), (False, 1900 * USDC, 2 * ETH, 4000 * USDC)]
        ids = []
        for i, (is_call, strike, size, margin) in enumerate(cases):
            ids.append(
                await op.open_option(
                    f"open-{i}",
                    writer=writer.address,
                    holder=holder.address,
                    is_call=is_call,
                    strike=strike,
                    size=size,
                    expiry_s=expiry,
                    margin=margin,
                )
            )
        bal = await read_vault_collateral(client, vault_addr, [writer.address, holder.address])
        assert bal[writer.address].locked == 6500 * USDC and bal[writer.address].total == 50_000 * USDC
        # settling before expiry fails before signing (no price), posting before expiry reverts in preflight
        with pytest.raises(PreflightError, match="no settlement price"):
            await op.settle("early", ids[0])
        with pytest.raises(PreflightError, match="not expired"):
            await op.post_settlement_price("early-price", expiry, 2345_678901)
        client.w3.provider.ethereum_tester.time_travel(expiry + 1)  # type: ignore[attr-defined]
        price = 2345_678901  # 2345.678901 USDC per ETH
        await op.post_settlement_price("price", expiry, price)
        paid = 0
        for i, (is_call, strike, size, margin) in enumerate(cases):
            expected = _payoff(is_call, strike, price, size, margin)
            assert await op.payoff(ids[i]) == expected
            await op.settle(f"settle-{i}", ids[i])
            paid += expected
        # call: (2345.678901-2000)*3 = 1037.036703 USDC (under its margin); put: out of the money
        assert paid == 1037_036703
        bal = await read_vault_collateral(client, vault_addr, [writer.address, holder.address])
        assert bal[holder.address].free == paid and bal[holder.address].locked == 0
        assert bal[writer.address].free == 50_000 * USDC - paid and bal[writer.address].locked == 0
        with pytest.raises(PreflightError, match="already settled"):
            await op.settle("again", ids[0])
        with pytest.raises(PreflightError, match="unknown"):
            await op.settle("unknown", 99)
        # only the oracle posts prices: a different account's post reverts in preflight
        hv = VaultClient(client, holder, vault_addr)
        with pytest.raises((PreflightError, TxRevertedError), match="not oracle"):
            await hv.post_settlement_price("rogue", expiry + 1, 1)
        await VaultClient(client, holder, vault_addr).withdraw("holder-out", paid)
        assert await erc20_balance(client, usdc, holder.address) == paid

    run(go())
