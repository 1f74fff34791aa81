"""Common random numbers: every random number belongs to one (entity, day, slot) and nothing else.

Each number is a hash of (seed, a stable 64-bit key of the entity id, the day ordinal, a slot
number) pushed through SplitMix64, so changing one entity's settings never reshuffles another
entity's noise, and an agent run and a baseline run on the same seed see the same luck wherever
they did not act differently. Python's `hash()` is salted per process, so ids are keyed with
BLAKE2b. Hashing is counter-based and vectorises: a whole day of ad sets, ads and search terms is
drawn in a few numpy operations. World building, which runs once, uses ordinary numpy Generators
seeded from the same keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date

import numpy as np

_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_MIX_1 = 0xBF58476D1CE4E5B9
_MIX_2 = 0x94D049BB133111EB
_SLOT_STEP = np.uint64(0xD1B54A32D192ED03)


def entity_key(text: str) -> int:
    """A process-independent 64-bit key of an entity id (or any string)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def entity_keys(texts: Iterable[str]) -> np.ndarray:
    """`entity_key` of each text, as a uint64 array."""
    return np.fromiter((entity_key(text) for text in texts), dtype=np.uint64)


def _splitmix64(value: int) -> int:
    value = (value + _GOLDEN) & _MASK64
    value = ((value ^ (value >> 30)) * _MIX_1) & _MASK64
    value = ((value ^ (value >> 27)) * _MIX_2) & _MASK64
    return value ^ (value >> 31)


def _mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64 on a uint64 array (numpy array arithmetic wraps modulo 2**64)."""
    values = values + np.uint64(_GOLDEN)
    values = (values ^ (values >> np.uint64(30))) * np.uint64(_MIX_1)
    values = (values ^ (values >> np.uint64(27))) * np.uint64(_MIX_2)
    return values ^ (values >> np.uint64(31))


def day_salt(seed: int, day: date | None, purpose: str = "") -> int:
    """A 64-bit value standing for (seed, day, purpose); combined with entity keys to make stream keys."""
    salt = _splitmix64(seed & _MASK64) ^ _splitmix64(day.toordinal() if day is not None else 0)
    return _splitmix64(salt ^ (entity_key(purpose) if purpose else 0))


def stream_keys(keys: np.ndarray, salt: int) -> np.ndarray:
    """One stream key per entity for the (seed, day, purpose) behind `salt`."""
    return _mix(keys ^ np.uint64(salt))


def uniforms(streams: np.ndarray, first_slot: int | np.ndarray, slots: int) -> np.ndarray:
    """Uniform numbers in (0, 1): row i holds slots first_slot .. first_slot + slots - 1 of stream i."""
    first = np.asarray(first_slot, dtype=np.uint64).reshape(-1, 1)
    counters = streams.reshape(-1, 1) + (first + np.arange(slots, dtype=np.uint64)) * _SLOT_STEP
    hashed = _mix(_mix(counters))
    return ((hashed >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


def normals(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Standard normal numbers from two arrays of uniforms (Box-Muller)."""
    return np.sqrt(-2.0 * np.log(first)) * np.cos(2.0 * np.pi * second)


def uniform(seed: int, entity_id: str, day: date | None = None, purpose: str = "") -> float:
    """One uniform number in (0, 1) for (entity, day, purpose), without numpy arrays."""
    value = _splitmix64(_splitmix64(entity_key(entity_id) ^ day_salt(seed, day, purpose)))
    return ((value >> 11) + 0.5) * 2.0**-53


def stream(seed: int, entity_id: str, day: date | None = None, purpose: str = "") -> np.random.Generator:
    """A numpy Generator owned by (entity, day, purpose): for world building and other one-off draws."""
    return np.random.default_rng([seed & _MASK64, entity_key(entity_id), day_salt(seed, day, purpose)])
