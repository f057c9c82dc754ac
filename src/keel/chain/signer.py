"""Key custody: the :class:`Signer` interface and an encrypted-keystore implementation.

A signer turns an unsigned EIP-1559 transaction dict into raw signed bytes.  Keel never
holds a private key outside a signer: :class:`KeystoreSigner` decrypts an eth-account
keystore (scrypt/pbkdf2 + AES, the standard Ethereum V3 JSON) with a password taken from an
environment variable or a prompt, keeps the key in a private slot, and its ``repr``, errors
and pickling never show it.  A remote or hardware signer implements the same protocol.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast, runtime_checkable

from eth_account import Account
from eth_utils.address import to_checksum_address

from keel.chain.errors import KeystoreError
from keel.errors import ValidationError

__all__ = [
    "DEFAULT_PASSWORD_ENV",
    "HARDHAT_DEV_KEYS",
    "DevSigner",
    "KeystoreSigner",
    "SignedTx",
    "Signer",
    "write_keystore",
]

DEFAULT_PASSWORD_ENV = "KEEL_KEYSTORE_PASSWORD"


@dataclass(frozen=True, slots=True)
class SignedTx:
    """A signed transaction: ``raw`` bytes to broadcast and its ``tx_hash`` (0x-hex)."""

    raw: bytes
    tx_hash: str

    def __repr__(self) -> str:
        return f"SignedTx(tx_hash={self.tx_hash}, {len(self.raw)} bytes)"


@runtime_checkable
class Signer(Protocol):
    """Anything that can sign transactions for one account (keystore, remote, hardware)."""

    @property
    def address(self) -> str:
        """Checksummed address of the account."""
        ...

    async def sign_transaction(self, tx: Mapping[str, Any]) -> SignedTx:
        """Sign an EIP-1559 transaction dict (``chainId``, ``nonce``, ``gas``, ``maxFeePerGas``, ...)."""
        ...


class _Sealed:
    """Holds the account object; prints nothing about it and refuses to be pickled or copied."""

    __slots__ = ("_account",)

    def __init__(self, account: Any) -> None:
        self._account = account

    def __repr__(self) -> str:
        return "<sealed>"

    def __reduce__(self) -> Any:
        raise TypeError("a signer's key cannot be pickled")

    def __copy__(self) -> Any:
        raise TypeError("a signer's key cannot be copied")

    def __deepcopy__(self, memo: Any) -> Any:
        raise TypeError("a signer's key cannot be copied")


class KeystoreSigner:
    """Signs locally with a key decrypted from an eth-account keystore file.

    The password comes from ``password`` if given, else the environment variable
    ``password_env`` (default ``KEEL_KEYSTORE_PASSWORD``), else ``prompt`` (e.g.
    ``getpass.getpass``) if given; otherwise :class:`KeystoreError`.  A wrong password
    raises :class:`KeystoreError` naming the file, never the key.
    """

    __slots__ = ("_address", "_path", "_sealed")

    def __init__(
        self,
        path: str | Path,
        *,
        password: str | None = None,
        password_env: str = DEFAULT_PASSWORD_ENV,
        prompt: Callable[[str], str] | None = None,
    ) -> None:
        self._path = Path(path)
        try:
            data = json.loads(self._path.read_text())
        except OSError as exc:
            raise KeystoreError(f"keystore={str(self._path)!r}: cannot read: {exc.strerror}") from None
        except json.JSONDecodeError:
            raise KeystoreError(f"keystore={str(self._path)!r}: not a keystore JSON file") from None
        if not isinstance(data, dict) or ("crypto" not in data and "Crypto" not in data):
            raise KeystoreError(f"keystore={str(self._path)!r}: not an encrypted keystore (no 'crypto' section)")
        if password is None:
            password = os.environ.get(password_env)
        if password is None and prompt is not None:
            password = prompt(f"Password for {self._path.name}: ")
        if password is None:
            raise KeystoreError(
                f"keystore={str(self._path)!r}: locked (set ${password_env} or run interactively to be prompted)"
            )
        try:
            key = Account.decrypt(data, password)
        except ValueError:
            raise KeystoreError(f"keystore={str(self._path)!r}: wrong password (MAC mismatch)") from None
        except Exception as exc:  # malformed kdf parameters and the like
            raise KeystoreError(f"keystore={str(self._path)!r}: cannot decrypt ({type(exc).__name__})") from None
        account = Account.from_key(key)
        del key
        self._sealed = _Sealed(account)
        self._address = to_checksum_address(account.address)
        stated = data.get("address")
        if stated and to_checksum_address("0x" + str(stated).removeprefix("0x")) != self._address:
            raise KeystoreError(f"keystore={str(self._path)!r}: decrypted key does not match the stated address")

    @property
    def address(self) -> str:
        return self._address

    async def sign_transaction(self, tx: Mapping[str, Any]) -> SignedTx:
        for field in ("chainId", "nonce", "gas", "maxFeePerGas", "maxPriorityFeePerGas"):
            if field not in tx:
                raise ValidationError(field, None, "missing from the transaction to sign")
        try:
            signed = self._sealed._account.sign_transaction(dict(tx))
        except Exception as exc:
            # eth-account's messages describe the transaction fields, never the key.
            raise ValidationError("transaction", type(exc).__name__, str(exc).splitlines()[0][:160]) from None
        return SignedTx(raw=bytes(signed.raw_transaction), tx_hash="0x" + bytes(signed.hash).hex())

    def __repr__(self) -> str:
        return f"KeystoreSigner(address={self._address}, keystore={self._path.name})"

    def __reduce__(self) -> Any:
        raise TypeError("a signer cannot be pickled")


def write_keystore(path: str | Path, private_key: bytes | str, password: str, *, iterations: int | None = None) -> str:
    """Encrypt ``private_key`` with ``password`` (scrypt) into an eth-account keystore at ``path``; returns the address.

    ``iterations`` (scrypt n) may be lowered for tests; the default is eth-account's (2**18).
    """
    if not password:
        raise ValidationError("password", "<empty>", "a keystore needs a non-empty password")
    kwargs: dict[str, Any] = {} if iterations is None else {"iterations": iterations}
    data = Account.encrypt(cast(Any, private_key), password, kdf="scrypt", **kwargs)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # never readable by others, not even briefly
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps(data))
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)
    tmp.replace(target)
    return to_checksum_address(
        str(data["address"]) if str(data["address"]).startswith("0x") else "0x" + data["address"]
    )


# The first accounts of Hardhat's default dev mnemonic ("test test ... junk"): PUBLIC keys that
# every Hardhat node funds; they are for local test chains only and never hold real value.
HARDHAT_DEV_KEYS: tuple[str, ...] = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
)


class DevSigner(KeystoreSigner):
    """A signer over a raw key for LOCAL TEST CHAINS (Hardhat dev accounts, eth-tester accounts).

    Same sealing as :class:`KeystoreSigner`; production keys belong in a keystore.
    """

    __slots__ = ()

    def __init__(self, private_key: str | bytes) -> None:
        try:
            account = Account.from_key(private_key)
        except Exception:
            raise KeystoreError("dev key: not a valid secp256k1 private key") from None
        self._path = Path("<dev>")
        self._sealed = _Sealed(account)
        self._address = to_checksum_address(account.address)

    def __repr__(self) -> str:
        return f"DevSigner(address={self._address})"
