"""Seeded randomness: one numpy ``Generator`` (PCG64) per named stream, derived from the run seed.

The derivation hashes the stream name with BLAKE2b (never Python's salted ``hash``), so a
name gets the same stream in every process and on every machine.
"""

from __future__ import annotations

import hashlib

import numpy as np

from keel.errors import ValidationError

__all__ = ["derive_rng", "derive_seed_words"]


def derive_seed_words(seed: int, name: str) -> tuple[int, ...]:
    """Four 32-bit words identifying stream ``name`` under run ``seed`` (stable across processes)."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValidationError("seed", seed, "must be a non-negative int")
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=16).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


def derive_rng(seed: int, name: str) -> np.random.Generator:
    """A PCG64 generator for stream ``name`` of run ``seed``; independent of every other name."""
    sequence = np.random.SeedSequence(entropy=seed, spawn_key=derive_seed_words(seed, name))
    return np.random.Generator(np.random.PCG64(sequence))
