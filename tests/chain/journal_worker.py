"""Subprocess for the kill-mid-flight test: ``python journal_worker.py URL JOURNAL KEYSTORE PHASE RECIPIENT``.

phase ``first``: broadcast intents pay-0..pay-2, sign and journal pay-3 without broadcasting it,
print READY and wait to be killed.  Phase ``second``: recover, submit pay-0..pay-4 again, wait for
all of them and print a JSON summary.  The keystore password comes from $KEEL_KEYSTORE_PASSWORD.
"""

from __future__ import annotations

import asyncio
import json
import sys

from keel.chain import ChainClient, GasPolicy, KeystoreSigner, TransactionManager, TxJournal, TxRequest


async def main(url: str, journal_path: str, keystore: str, phase: str, recipient: str) -> None:
    client = await ChainClient.connect(url, expected_chain_id=31337)
    tm = await TransactionManager.open(client, KeystoreSigner(keystore), TxJournal(journal_path), GasPolicy())
    if phase == "first":
        for i in range(3):
            await tm.submit(f"pay-{i}", TxRequest(to=recipient, value=2**i))
        await tm.prepare("pay-3", TxRequest(to=recipient, value=2**3))
        print("READY", flush=True)
        await asyncio.sleep(3600)
        return
    still = await tm.recover()
    hashes = {}
    for i in range(5):
        p = await tm.submit(f"pay-{i}", TxRequest(to=recipient, value=2**i))
        r = await tm.wait(p, timeout_s=20)
        hashes[p.intent] = r.tx_hash
    summary = {"signed_now": tm.sign_count, "pending_at_recover": [p.intent for p in still], "hashes": hashes}
    print(json.dumps(summary), flush=True)
    tm.journal.close()
    await client.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
