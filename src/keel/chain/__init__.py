"""Live EVM execution: JSON-RPC client, key custody, nonces, gas, journal, bindings, pool sync, vault.

Layer 2: imports ``keel.domain`` and ``keel.venues`` only.  Every amount is an int in
base units (wei, token base units); timestamps in pool snapshots are int ns UTC.
The key never leaves a :class:`Signer`: no log, error, repr, journal line or report holds it.

Entry points::

    client = await ChainClient.connect(url, expected_chain_id=31337)
    signer = KeystoreSigner(path)                 # password from $KEEL_KEYSTORE_PASSWORD or a prompt
    tm = await TransactionManager.open(client, signer, TxJournal(path), GasPolicy())
    await tm.recover()                            # after a restart: nothing sent twice, nothing lost
    receipt = await tm.send("intent-id", request)  # preflight -> sign -> journal -> broadcast -> confirm
"""

from keel.chain.artifacts import ARTIFACT_NAMES, Artifact, load_artifact
from keel.chain.bindings import (
    call_request,
    deploy_request,
    erc20_allowance,
    erc20_balance,
    require_allowance,
    require_token_balance,
)
from keel.chain.client import ChainClient, RetryPolicy, checksum
from keel.chain.errors import (
    ForeignJournalError,
    InsufficientFundsError,
    KeystoreError,
    PreflightError,
    RpcUnavailableError,
    TxDroppedError,
    TxRevertedError,
    WrongChainError,
)
from keel.chain.gas import FeeQuote, GasPolicy
from keel.chain.journal import Attempt, IntentState, Journal, JournalBinding, TxJournal, archive_journal
from keel.chain.node import HARDHAT_CHAIN_ID, HardhatNode, free_port
from keel.chain.nonces import NonceManager
from keel.chain.pool_sync import PoolSync, pool_state_diff, read_pool_state, read_token, to_venue
from keel.chain.signer import DevSigner, KeystoreSigner, SignedTx, Signer, write_keystore
from keel.chain.swaps import SwapExecutor, SwapFill, VenueRef, transfers_in_receipt
from keel.chain.testbed import PoolInfo, TestbedAddresses, deploy_testbed, fund_account
from keel.chain.transactions import PendingTx, TransactionManager, TxReceipt, TxRequest
from keel.chain.vault import VaultBalance, VaultClient, read_vault_collateral, read_vault_collateral_sync

__all__ = [
    "ARTIFACT_NAMES",
    "HARDHAT_CHAIN_ID",
    "Artifact",
    "Attempt",
    "ChainClient",
    "DevSigner",
    "FeeQuote",
    "ForeignJournalError",
    "GasPolicy",
    "HardhatNode",
    "InsufficientFundsError",
    "IntentState",
    "Journal",
    "JournalBinding",
    "KeystoreError",
    "KeystoreSigner",
    "NonceManager",
    "PendingTx",
    "PoolInfo",
    "PoolSync",
    "PreflightError",
    "RetryPolicy",
    "RpcUnavailableError",
    "SignedTx",
    "Signer",
    "SwapExecutor",
    "SwapFill",
    "TestbedAddresses",
    "TransactionManager",
    "TxDroppedError",
    "TxJournal",
    "TxReceipt",
    "TxRequest",
    "TxRevertedError",
    "VaultBalance",
    "VaultClient",
    "VenueRef",
    "WrongChainError",
    "archive_journal",
    "call_request",
    "checksum",
    "deploy_request",
    "deploy_testbed",
    "erc20_allowance",
    "erc20_balance",
    "free_port",
    "fund_account",
    "load_artifact",
    "pool_state_diff",
    "read_pool_state",
    "read_token",
    "read_vault_collateral",
    "read_vault_collateral_sync",
    "require_allowance",
    "require_token_balance",
    "to_venue",
    "transfers_in_receipt",
    "write_keystore",
]
