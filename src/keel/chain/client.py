"""Async JSON-RPC client on web3.py with retries, chain-id check and typed reads.

Every read goes through :meth:`ChainClient.request`, which retries transport failures
(connection refused or reset, timeouts, a node restarting, HTTP 5xx) with exponential
backoff per :class:`RetryPolicy`, and turns a final failure into
:class:`~keel.chain.errors.RpcUnavailableError` naming the endpoint (never a key or payload).
Node-side errors (a revert, "nonce too low") are not retried: they are answers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import aiohttp
from eth_typing import ChecksumAddress
from eth_utils.address import is_address, to_checksum_address
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.contract import AsyncContract
from web3.exceptions import MethodUnavailable, ProviderConnectionError, TimeExhausted, Web3RPCError

from keel.chain.artifacts import load_artifact
from keel.chain.errors import RpcUnavailableError, WrongChainError
from keel.errors import ChainError, ValidationError

__all__ = ["ChainClient", "RetryPolicy", "checksum"]

T = TypeVar("T")

_TRANSIENT: tuple[type[BaseException], ...] = (
    aiohttp.ClientError,
    asyncio.TimeoutError,
    TimeoutError,
    ConnectionError,
    OSError,
    ProviderConnectionError,
    TimeExhausted,
)


def checksum(field: str, address: object) -> ChecksumAddress:
    """The checksummed form of ``address``; :class:`ValidationError` naming ``field`` if it is not one."""
    if not isinstance(address, str) or not is_address(address):
        raise ValidationError(field, address, "not a 20-byte hex address")
    return to_checksum_address(address)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries of transport failures: ``attempts`` tries, delays ``base_delay_s * 2**k`` capped at ``max_delay_s``.

    ``timeout_s`` bounds each single request.
    """

    attempts: int = 5
    base_delay_s: float = 0.2
    max_delay_s: float = 3.0
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValidationError("attempts", self.attempts, "must be at least 1")
        if self.base_delay_s < 0 or self.max_delay_s < 0 or self.timeout_s <= 0:
            raise ValidationError("retry delays", (self.base_delay_s, self.max_delay_s, self.timeout_s), "bad values")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed try number ``attempt`` (0-based)."""
        return float(min(self.max_delay_s, self.base_delay_s * (2**attempt)))


def _describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:120]}" if text else type(exc).__name__


class ChainClient:
    """One EVM node over async web3.py.  Build it with :meth:`connect` (URL) or :meth:`from_web3`.

    ``chain_id`` is read from the node once and checked against the expected one.
    Amounts are ints in wei / token base units; blocks are ints or ``"latest"``/``"pending"``.
    """

    def __init__(self, w3: AsyncWeb3[Any], chain_id: int, *, endpoint: str, retry: RetryPolicy) -> None:
        self.w3 = w3
        self.chain_id = chain_id
        self.endpoint = endpoint
        self.retry = retry
        self.pending_estimates = True

    def __repr__(self) -> str:
        return f"ChainClient(endpoint={self.endpoint!r}, chain_id={self.chain_id})"

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    async def connect(
        cls, url: str, *, expected_chain_id: int | None = None, retry: RetryPolicy | None = None
    ) -> ChainClient:
        """Connect to ``url`` (http/https), check it answers and serves ``expected_chain_id``."""
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValidationError("rpc", url, "must be an http:// or https:// URL")
        policy = retry or RetryPolicy()
        provider = AsyncHTTPProvider(
            url,
            request_kwargs={"timeout": aiohttp.ClientTimeout(total=policy.timeout_s)},
            exception_retry_configuration=None,
        )
        return await cls.from_web3(AsyncWeb3(provider), expected_chain_id=expected_chain_id, retry=policy, endpoint=url)

    @classmethod
    async def from_web3(
        cls,
        w3: AsyncWeb3[Any],
        *,
        expected_chain_id: int | None = None,
        retry: RetryPolicy | None = None,
        endpoint: str = "in-process",
    ) -> ChainClient:
        """Wrap an existing :class:`AsyncWeb3` (e.g. eth-tester in process)."""
        policy = retry or RetryPolicy()
        probe = cls(w3, 0, endpoint=endpoint, retry=policy)
        try:
            chain_id = int(await probe.request("eth_chainId", lambda: w3.eth.chain_id))
        except BaseException:
            await probe.close()
            raise
        if expected_chain_id is not None and chain_id != expected_chain_id:
            await probe.close()
            raise WrongChainError(
                f"chain_id={chain_id}: node at {endpoint} is not the expected chain {expected_chain_id}"
            )
        probe.chain_id = chain_id
        return probe

    async def close(self) -> None:
        """Close the HTTP session (no-op in process)."""
        disconnect = getattr(self.w3.provider, "disconnect", None)
        if disconnect is not None:
            with contextlib.suppress(Exception):  # closing a dead session must not mask the real error
                await disconnect()

    # ---- retried requests ---------------------------------------------------------------------
    async def request(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run ``call`` with the retry policy; ``what`` names it in the error."""
        last: BaseException | None = None
        for attempt in range(self.retry.attempts):
            try:
                return await asyncio.wait_for(call(), timeout=self.retry.timeout_s)
            except Web3RPCError:
                raise  # the node answered (revert, not found, nonce too low): not a transport failure
            except _TRANSIENT as exc:
                last = exc
            if attempt + 1 < self.retry.attempts:
                await asyncio.sleep(self.retry.delay(attempt))
        assert last is not None
        raise RpcUnavailableError(
            f"rpc={self.endpoint!r}: {what} failed after {self.retry.attempts} attempts ({_describe(last)})"
        )

    async def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        """A raw JSON-RPC call (e.g. ``evm_snapshot``); node errors raise :class:`ChainError`."""

        async def call() -> Any:
            return await self.w3.provider.make_request(cast(Any, method), params or [])

        response = await self.request(method, call)
        if response.get("error"):
            err = response["error"]
            msg = err.get("message", err) if isinstance(err, dict) else err
            raise ChainError(f"rpc {method}: {msg}")
        return response.get("result")

    # ---- reads ------------------------------------------------------------------------------
    async def block_number(self) -> int:
        return int(await self.request("eth_blockNumber", lambda: self.w3.eth.block_number))

    async def get_block(self, block: int | str) -> dict[str, Any]:
        data = await self.request("eth_getBlockByNumber", lambda: self.w3.eth.get_block(cast(Any, block)))
        return dict(data)

    async def block_transactions(self, number: int) -> list[dict[str, Any]]:
        """The transactions of canonical block ``number`` (full objects: ``from``, ``nonce``, ``hash``)."""
        data = await self.request(
            "eth_getBlockByNumber", lambda: self.w3.eth.get_block(cast(Any, number), full_transactions=True)
        )
        return [dict(cast(Any, t)) for t in data.get("transactions", ())]

    async def genesis_hash(self) -> str:
        """Hash of block 0 (0x-hex): with the chain id, what makes a chain this chain."""
        h = await self.block_hash(0)
        if h is None:
            raise ChainError(f"rpc={self.endpoint!r}: node has no genesis block")
        return h

    async def block_hash(self, number: int) -> str | None:
        """Hash of canonical block ``number`` (None beyond the head)."""
        try:
            block = await self.get_block(number)
        except Exception as exc:
            if "not found" in str(exc).lower() or type(exc).__name__ == "BlockNotFound":
                return None
            raise
        h = block.get("hash")
        return None if h is None else "0x" + bytes(h).hex()

    async def balance(self, address: str, block: int | str = "latest") -> int:
        addr = checksum("address", address)
        return int(await self.request("eth_getBalance", lambda: self.w3.eth.get_balance(addr, cast(Any, block))))

    async def nonce(self, address: str, block: int | str = "pending") -> int:
        addr = checksum("address", address)
        return int(
            await self.request(
                "eth_getTransactionCount", lambda: self.w3.eth.get_transaction_count(addr, cast(Any, block))
            )
        )

    async def code(self, address: str) -> bytes:
        addr = checksum("address", address)
        return bytes(await self.request("eth_getCode", lambda: self.w3.eth.get_code(addr)))

    async def estimate_gas(self, tx: dict[str, Any], block: int | str = "pending") -> int:
        """``eth_estimateGas`` at ``block`` ("pending" by default: see :mod:`keel.chain.gas`).

        A backend without pending-block estimates (eth-tester) answers at "latest" instead;
        ``pending_estimates`` records which one the node gave.
        """
        if block == "pending" and not self.pending_estimates:
            block = "latest"
        try:
            return int(
                await self.request("eth_estimateGas", lambda: self.w3.eth.estimate_gas(cast(Any, tx), cast(Any, block)))
            )
        except MethodUnavailable:
            if block != "pending":
                raise
            self.pending_estimates = False
            return await self.estimate_gas(tx, "latest")

    async def max_priority_fee(self) -> int:
        try:
            return int(await self.request("eth_maxPriorityFeePerGas", lambda: self.w3.eth.max_priority_fee))
        except (Web3RPCError, ValueError, NotImplementedError):
            return 10**9

    async def send_raw(self, raw: bytes) -> str:
        """Broadcast a signed transaction; returns its hash (0x-hex)."""
        h = await self.request("eth_sendRawTransaction", lambda: self.w3.eth.send_raw_transaction(raw))
        return "0x" + bytes(h).hex()

    async def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        """The receipt, or None if the node has not mined ``tx_hash`` (or it left the chain)."""
        try:
            r = await self.request(
                "eth_getTransactionReceipt", lambda: self.w3.eth.get_transaction_receipt(cast(Any, tx_hash))
            )
        except Exception as exc:
            if type(exc).__name__ == "TransactionNotFound":
                return None
            raise
        return None if r is None else dict(r)

    async def transaction(self, tx_hash: str) -> dict[str, Any] | None:
        """The transaction as the node knows it (pending or mined), or None."""
        try:
            t = await self.request("eth_getTransactionByHash", lambda: self.w3.eth.get_transaction(cast(Any, tx_hash)))
        except Exception as exc:
            if type(exc).__name__ == "TransactionNotFound":
                return None
            raise
        return None if t is None else dict(t)

    # ---- contracts ----------------------------------------------------------------------------
    def contract(self, artifact: str, address: str) -> AsyncContract:
        """An async web3 contract for the named artifact (see :mod:`keel.chain.artifacts`) at ``address``."""
        art = load_artifact(artifact)
        contract: AsyncContract = self.w3.eth.contract(address=checksum("address", address), abi=art.abi_list)
        return contract

    async def call(self, what: str, fn: Any, block: int | str = "latest") -> Any:
        """``fn.call()`` for a bound contract function, retried; ``what`` names it in errors."""
        return await self.request(what, lambda: fn.call(block_identifier=block))
