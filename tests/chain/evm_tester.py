"""eth-tester (py-evm) in process, behind the same ChainClient as a real node."""

from __future__ import annotations

from web3 import AsyncWeb3
from web3.providers.eth_tester import AsyncEthereumTesterProvider

from keel.chain import ChainClient, DevSigner, GasPolicy, TransactionManager, TxJournal

# eth-tester's funded accounts use the private keys 1, 2, 3, ... (public test keys).
TESTER_KEYS = tuple("0x" + f"{i:064x}" for i in range(1, 6))


async def evm_client() -> ChainClient:
    return await ChainClient.from_web3(AsyncWeb3(AsyncEthereumTesterProvider()))


async def evm_manager(client: ChainClient, index: int = 0, journal: TxJournal | None = None) -> TransactionManager:
    signer = DevSigner(TESTER_KEYS[index])
    return await TransactionManager.open(client, signer, journal or TxJournal(None), GasPolicy())
