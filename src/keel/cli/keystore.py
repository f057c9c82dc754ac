"""``keel keystore new|import|address``: the encrypted key file live mode signs with.

A keystore is the standard Ethereum V3 JSON (eth-account: scrypt key derivation, AES-128-CTR),
written with mode 0600 through a temporary file.  The password comes from
``$KEEL_KEYSTORE_PASSWORD`` or, on a terminal, a hidden prompt (asked twice for a new file).
The private key and the password are never printed, logged or written anywhere but the
encrypted file; ``new`` and ``import`` print the address only.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from keel.cli.app import app

keystore_app = typer.Typer(help="Encrypted key files (eth-account keystore JSON, scrypt) for `keel run --live`.")
app.add_typer(keystore_app, name="keystore")

PASSWORD_ENV = "KEEL_KEYSTORE_PASSWORD"


def _password(path: Path, *, confirm: bool) -> str:
    from keel.chain import KeystoreError

    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        if not sys.stdin.isatty():
            raise KeystoreError(f"keystore={str(path)!r}: no password (set ${PASSWORD_ENV} or run on a terminal)")
        import getpass

        password = getpass.getpass(f"Password for {path.name}: ")
        if confirm and getpass.getpass("Repeat the password: ") != password:
            raise KeystoreError(f"keystore={str(path)!r}: the two passwords differ")
    if not password:
        raise KeystoreError(f"keystore={str(path)!r}: the password is empty")
    return password


def _refuse_overwrite(path: Path) -> None:
    from keel.chain import KeystoreError

    if path.exists():
        raise KeystoreError(f"keystore={str(path)!r}: already exists (keel never overwrites a key file)")


@keystore_app.command("new")
def new_command(path: Path = typer.Argument(..., help="where to write the keystore JSON")) -> None:
    """Generate a new key, encrypt it into PATH and print its address (never the key)."""
    from eth_account import Account

    from keel.chain import write_keystore

    _refuse_overwrite(path)
    password = _password(path, confirm=True)
    account = Account.create()
    address = write_keystore(path, account.key, password)
    del account
    typer.echo(address)


@keystore_app.command("import")
def import_command(
    path: Path = typer.Argument(..., help="where to write the keystore JSON"),
    key_file: Path | None = typer.Option(
        None, "--key-file", help="file holding the hex private key ('-': standard input); default: a hidden prompt"
    ),
) -> None:
    """Encrypt an existing private key into PATH and print its address (never the key)."""
    from eth_account import Account

    from keel.chain import KeystoreError, write_keystore

    _refuse_overwrite(path)
    if key_file is None:
        if not sys.stdin.isatty():
            raise KeystoreError("private key: give --key-file FILE (or '-' for standard input) or run on a terminal")
        import getpass

        text = getpass.getpass("Private key (hex, hidden): ")
    elif str(key_file) == "-":
        text = sys.stdin.read()
    else:
        try:
            text = key_file.read_text()
        except OSError as exc:
            raise KeystoreError(f"key_file={str(key_file)!r}: cannot read: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise KeystoreError(f"key_file={str(key_file)!r}: not a hex private key") from None
    text = text.strip()
    try:
        account = Account.from_key(text)
    except Exception:
        raise KeystoreError("private key: not a valid secp256k1 private key (64 hex digits)") from None
    del text
    password = _password(path, confirm=True)
    address = write_keystore(path, account.key, password)
    del account
    typer.echo(address)


@keystore_app.command("address")
def address_command(path: Path = typer.Argument(..., help="a keystore JSON file")) -> None:
    """Print the address a keystore holds (no password needed)."""
    import json

    from eth_utils.address import to_checksum_address

    from keel.chain import KeystoreError

    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise KeystoreError(f"keystore={str(path)!r}: cannot read: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise KeystoreError(f"keystore={str(path)!r}: not a keystore JSON file") from None
    stated = data.get("address") if isinstance(data, dict) else None
    if not isinstance(stated, str) or len(stated.removeprefix("0x")) != 40:
        raise KeystoreError(f"keystore={str(path)!r}: states no address")
    try:
        typer.echo(to_checksum_address("0x" + stated.removeprefix("0x")))
    except ValueError:
        raise KeystoreError(f"keystore={str(path)!r}: states no valid address") from None
