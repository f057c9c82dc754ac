"""Double-entry ledger of collateral balances in exact integer base units.

Every movement of money is a :meth:`Ledger.transfer` between two holders of the same
asset, so the per-asset total of all balances changes only by external deposits and
withdrawals.  :meth:`Ledger.imbalance` recomputes that identity from scratch; it is
exactly ``0`` (an ``int``) unless the ledger was corrupted, which is what every risk
test asserts.

Holders are plain strings.  Besides user accounts the clearing house uses the reserved
holders :data:`INSURANCE` (the insurance fund), :data:`FEES` (trading and liquidation fees
plus rounding dust), :data:`SOCIALIZED` (losses written off to all users; its balance is
zero or negative and its magnitude is the socialized loss) and :data:`CLEARING` (the
variation-margin pot, empty between settlements).

Balances of user accounts may go negative only as *recorded debt*: a transfer that may take
its source below zero must say so (``allow_debt=True``: settlement of premium, variation margin,
funding, fees, expiry and liquidation), and the ledger records the debt it creates.  Any other
transfer or withdrawal that would overdraw its source is refused and changes nothing.
:meth:`Ledger.solvency_violations` lists every balance below zero without a recorded debt (empty
in a consistent ledger), so money cannot appear from nowhere even while :meth:`imbalance` is 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from keel.errors import RiskError, ValidationError

__all__ = ["CLEARING", "FEES", "INSURANCE", "RESERVED_HOLDERS", "SOCIALIZED", "Ledger", "LedgerEntry"]

INSURANCE = "@insurance"
FEES = "@fees"
SOCIALIZED = "@socialized"
CLEARING = "@clearing"
EXTERNAL = "@external"
RESERVED_HOLDERS = frozenset({INSURANCE, FEES, SOCIALIZED, CLEARING})


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One movement: ``amount`` base units of ``asset`` from ``src`` to ``dst`` (``@external``
    for deposits and withdrawals) at step ``seq``, with a short ``reason``."""

    seq: int
    src: str
    dst: str
    asset: str
    amount: int
    reason: str


def _amount(field: str, amount: object) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValidationError(field, amount, "must be an int in base units (floats are not exact)")
    if amount < 0:
        raise ValidationError(field, amount, "must be non-negative")
    return amount


class Ledger:
    """Exact balances per ``(holder, asset)``; every change is recorded as a :class:`LedgerEntry`.

    ``keep_entries=False`` keeps only the balances and the running totals (long stress runs).
    """

    def __init__(self, *, keep_entries: bool = True) -> None:
        self._balances: dict[tuple[str, str], int] = {}
        self._by_holder: dict[str, dict[str, int]] = {}
        self._external: dict[str, int] = {}
        self._debt: dict[tuple[str, str], int] = {}
        self._entries: list[LedgerEntry] = []
        self._keep = keep_entries
        self._seq = 0

    # -- mutations -------------------------------------------------------------------
    def _record(self, src: str, dst: str, asset: str, amount: int, reason: str) -> None:
        self._seq += 1
        if self._keep:
            self._entries.append(LedgerEntry(self._seq, src, dst, asset, amount, reason))

    def deposit(self, holder: str, asset: str, amount: int, reason: str = "deposit") -> None:
        """Money entering the system (a user deposit or an insurance-fund seed)."""
        amount = _amount("amount", amount)
        self._check_names(holder, asset)
        self._add(holder, asset, amount)
        self._external[asset] = self._external.get(asset, 0) + amount
        self._record(EXTERNAL, holder, asset, amount, reason)

    def withdraw(self, holder: str, asset: str, amount: int, reason: str = "withdraw") -> None:
        """Money leaving the system; refused if it would overdraw the holder."""
        amount = _amount("amount", amount)
        self._check_names(holder, asset)
        have = self._balances.get((holder, asset), 0)
        if amount > have:
            raise RiskError(f"withdraw: {holder} holds {have} {asset} base units, cannot withdraw {amount}")
        self._add(holder, asset, -amount)
        self._external[asset] = self._external.get(asset, 0) - amount
        self._record(holder, EXTERNAL, asset, amount, reason)

    def transfer(self, src: str, dst: str, asset: str, amount: int, reason: str, *, allow_debt: bool = False) -> None:
        """Move ``amount`` base units of ``asset`` from ``src`` to ``dst``.

        Without ``allow_debt`` the transfer is refused (``RiskError``, nothing changes) when it
        would take ``src`` below zero; with it, the shortfall is recorded as ``src``'s debt.
        """
        amount = _amount("amount", amount)
        self._check_names(src, asset)
        self._check_names(dst, asset)
        if not isinstance(reason, str):
            raise ValidationError("reason", reason, "must be a string")
        if amount == 0 or src == dst:
            return
        new_src = self._balances.get((src, asset), 0) - amount
        if new_src < 0 and not allow_debt and new_src < -self._debt.get((src, asset), 0):
            raise RiskError(
                f"transfer: {src} holds {new_src + amount} {asset} base units, cannot pay {amount} ({reason})"
            )
        self._add(src, asset, -amount)
        self._add(dst, asset, amount)
        if allow_debt and new_src < 0:
            self._debt[(src, asset)] = -new_src
        self._record(src, dst, asset, amount, reason)

    def _add(self, holder: str, asset: str, delta: int) -> None:
        key = (holder, asset)
        new = self._balances.get(key, 0) + delta
        self._balances[key] = new
        self._by_holder.setdefault(holder, {})[asset] = new
        debt = self._debt.get(key)
        if debt is not None and new > -debt:  # repaid (in part or whole)
            if new >= 0:
                del self._debt[key]
            else:
                self._debt[key] = -new

    def transfer_signed(
        self, src: str, dst: str, asset: str, amount: int, reason: str, *, allow_debt: bool = False
    ) -> None:
        """Transfer ``amount`` from ``src`` to ``dst``; a negative amount flows the other way."""
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise ValidationError("amount", amount, "must be an int in base units (floats are not exact)")
        if amount >= 0:
            self.transfer(src, dst, asset, amount, reason, allow_debt=allow_debt)
        else:
            self.transfer(dst, src, asset, -amount, reason, allow_debt=allow_debt)

    @staticmethod
    def _check_names(holder: str, asset: str) -> None:
        if not isinstance(holder, str) or not holder or holder == EXTERNAL:
            raise ValidationError("holder", holder, "must be a non-empty name other than @external")
        if not isinstance(asset, str) or not asset:
            raise ValidationError("asset", asset, "must be a non-empty asset symbol")

    # -- queries ---------------------------------------------------------------------
    def balance(self, holder: str, asset: str) -> int:
        return self._balances.get((holder, asset), 0)

    def balances(self, holder: str) -> dict[str, int]:
        """Every asset ``holder`` has touched, sorted by asset name."""
        mine = self._by_holder.get(holder)
        return dict(sorted(mine.items())) if mine else {}

    def assets(self) -> tuple[str, ...]:
        return tuple(sorted({a for (_, a) in self._balances} | set(self._external)))

    def holders(self) -> tuple[str, ...]:
        return tuple(sorted({h for (h, _) in self._balances}))

    def total(self, asset: str) -> int:
        return sum(b for (_, a), b in self._balances.items() if a == asset)

    def net_deposits(self, asset: str) -> int:
        return self._external.get(asset, 0)

    def imbalance(self, asset: str | None = None) -> int:
        """Sum over assets of ``|Σ balances − net external deposits|``: exactly 0 when consistent."""
        assets = (asset,) if asset is not None else self.assets()
        return sum(abs(self.total(a) - self.net_deposits(a)) for a in assets)

    def debt(self, holder: str, asset: str) -> int:
        """The debt (>= 0 base units) settlement recorded against ``holder`` in ``asset``."""
        return self._debt.get((holder, asset), 0)

    def solvency_violations(self) -> tuple[str, ...]:
        """Every ``holder asset balance`` below zero by more than its recorded debt (empty when solvent)."""
        out = []
        for (holder, asset), bal in sorted(self._balances.items()):
            if bal < 0 and -bal > self._debt.get((holder, asset), 0):
                out.append(f"{holder} {asset}: balance {bal} without recorded debt (debt {self.debt(holder, asset)})")
        return tuple(out)

    def state(self) -> tuple[object, ...]:
        """A comparable snapshot of everything the ledger holds (for all-or-nothing checks)."""
        return (
            tuple(sorted(self._balances.items())),
            tuple(sorted(self._external.items())),
            tuple(sorted(self._debt.items())),
            self._seq,
            len(self._entries),
        )

    def entries(self) -> Iterator[LedgerEntry]:
        return iter(self._entries)

    @property
    def n_entries(self) -> int:
        return self._seq
