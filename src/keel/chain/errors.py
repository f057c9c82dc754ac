"""Errors raised by :mod:`keel.chain`; all are :class:`keel.errors.ChainError` (one line, no key material)."""

from __future__ import annotations

from keel.errors import ChainError

__all__ = [
    "ForeignJournalError",
    "InsufficientFundsError",
    "KeystoreError",
    "PreflightError",
    "RpcUnavailableError",
    "TxDroppedError",
    "TxRevertedError",
    "WrongChainError",
]


class RpcUnavailableError(ChainError):
    """The RPC endpoint did not answer (after the retry policy gave up)."""


class WrongChainError(ChainError):
    """The node reports a different chain id than the one configured."""


class KeystoreError(ChainError):
    """The keystore cannot be read or unlocked (missing file, no password, wrong password)."""


class PreflightError(ChainError):
    """A transaction failed a check made before signing (bad field, simulation revert)."""


class InsufficientFundsError(PreflightError):
    """Balance or allowance too small for the transaction; raised before signing."""


class TxDroppedError(ChainError):
    """A transaction left the chain (reorg) and its nonce was consumed by another transaction."""


class TxRevertedError(ChainError):
    """A mined transaction reverted (status 0)."""


class ForeignJournalError(ChainError):
    """A journal bound to another chain (chain id, genesis) or account, or with no binding at all."""
