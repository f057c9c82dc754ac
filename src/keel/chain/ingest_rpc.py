"""Raw JSON-RPC transport for bulk ingestion: batched requests, retries with backoff, range errors.

The ingester reads thousands of block headers and log pages; web3.py's per-call formatting is
the cost there, so this transport posts plain JSON-RPC (batched when asked) over one aiohttp
session and returns the node's JSON as is (hex strings).  Transport failures (refused or reset
connections, timeouts, HTTP 5xx, 429) are retried with exponential backoff; a node answer that
says a log query is too large ("too many results", "query returned more than 10000 results",
"response size exceeded", "block range too large", ...) or a timed-out log query raises
:class:`RangeTooLarge`, which the ingester answers by shrinking its block range.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import Any

import aiohttp

from keel.chain.errors import RpcUnavailableError
from keel.errors import ChainError, ValidationError

__all__ = ["RangeTooLarge", "RawRpc", "RpcAnswerError", "is_range_error"]

_RANGE_PATTERNS = re.compile(
    r"too many|more than \d+ results|limit exceeded|response size|block range|range is too large|"
    r"exceed|query timeout|timed out|too large|max results",
    re.IGNORECASE,
)


def is_range_error(message: str) -> bool:
    """Whether a node's error message says the log query was too large (answered by a smaller range)."""
    return bool(_RANGE_PATTERNS.search(message))


class RangeTooLarge(ChainError):
    """The node refused or timed out on a log query: retry with a smaller block range."""


class RpcAnswerError(ChainError):
    """The node answered with a JSON-RPC error (not a transport failure)."""

    def __init__(self, method: str, message: str) -> None:
        self.method = method
        self.node_message = message
        super().__init__(f"rpc {method}: {message}")


@dataclass
class RawRpc:
    """One HTTP JSON-RPC endpoint.  ``attempts`` tries per request, delays ``base_delay_s * 2**k``
    (capped at ``max_delay_s``); ``timeout_s`` bounds each HTTP request."""

    url: str
    attempts: int = 5
    base_delay_s: float = 0.2
    max_delay_s: float = 5.0
    timeout_s: float = 30.0
    _session: aiohttp.ClientSession | None = None
    _next_id: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.url, str) or not self.url.startswith(("http://", "https://")):
            raise ValidationError("rpc", self.url, "must be an http:// or https:// URL")

    async def __aenter__(self) -> RawRpc:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                connector=aiohttp.TCPConnector(limit=16),
            )
        return self._session

    async def _post(self, what: str, payload: Any, *, range_query: bool) -> Any:
        last: str = ""
        for attempt in range(self.attempts):
            try:
                async with self._http().post(
                    self.url, data=json.dumps(payload), headers={"content-type": "application/json"}
                ) as resp:
                    if resp.status == 429 or resp.status >= 500:
                        text = (await resp.text())[:200]
                        if range_query and is_range_error(text):
                            raise RangeTooLarge(f"rpc {what}: {text}")
                        last = f"HTTP {resp.status}"
                    elif resp.status >= 400:
                        text = (await resp.text())[:200]
                        if range_query and is_range_error(text):
                            raise RangeTooLarge(f"rpc {what}: {text}")
                        raise RpcAnswerError(what, f"HTTP {resp.status} {text}")
                    else:
                        return await resp.json(content_type=None)
            except TimeoutError as exc:
                if range_query:
                    raise RangeTooLarge(f"rpc {what}: timed out after {self.timeout_s:g}s") from exc
                last = f"timed out after {self.timeout_s:g}s"
            except aiohttp.ClientError as exc:
                last = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"
            except (json.JSONDecodeError, ValueError) as exc:
                last = f"not JSON ({exc})"
            except OSError as exc:
                last = f"{type(exc).__name__}: {exc}"
            if attempt + 1 < self.attempts:
                await asyncio.sleep(min(self.max_delay_s, self.base_delay_s * 2**attempt))
        raise RpcUnavailableError(f"rpc={self.url!r}: {what} failed after {self.attempts} attempts ({last})")

    def _request(self, method: str, params: list[Any]) -> dict[str, Any]:
        rid = self._next_id
        self._next_id += 1
        return {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}

    @staticmethod
    def _result(method: str, answer: Any, range_query: bool) -> Any:
        if not isinstance(answer, dict):
            raise RpcAnswerError(method, f"unexpected answer {str(answer)[:80]}")
        err = answer.get("error")
        if err:
            message = str(err.get("message", err)) if isinstance(err, dict) else str(err)
            if range_query and is_range_error(message):
                raise RangeTooLarge(f"rpc {method}: {message}")
            raise RpcAnswerError(method, message)
        return answer.get("result")

    async def call(self, method: str, params: list[Any]) -> Any:
        """One request; returns ``result`` (node JSON).  eth_getLogs errors that mean "too large"
        raise :class:`RangeTooLarge`."""
        range_query = method == "eth_getLogs"
        answer = await self._post(method, self._request(method, params), range_query=range_query)
        return self._result(method, answer, range_query)

    async def batch(self, method: str, params_list: list[list[Any]], *, size: int = 100) -> list[Any]:
        """Many requests of one method, posted as JSON-RPC batches of ``size``; results in order."""
        out: list[Any] = []
        for i in range(0, len(params_list), size):
            reqs = [self._request(method, p) for p in params_list[i : i + size]]
            answers = await self._post(f"{method} x{len(reqs)}", reqs, range_query=False)
            if isinstance(answers, dict):  # a node that refuses batches answers one error object
                raise RpcAnswerError(method, str(answers.get("error", answers))[:200])
            by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
            for r in reqs:
                if r["id"] not in by_id:
                    raise RpcAnswerError(method, f"batch answer lacks id {r['id']}")
                out.append(self._result(method, by_id[r["id"]], False))
        return out
