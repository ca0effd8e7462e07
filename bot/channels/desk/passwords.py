"""Password hashes of local desk accounts: argon2id, and the old scrypt format read for upgrade."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP's first argon2id recommendation: 46 MiB, one pass, one lane (one core per hash).
ARGON2_TIME_COST = 1
ARGON2_MEMORY_KIB = 47_104
ARGON2_PARALLELISM = 1
LEGACY_PREFIX = "scrypt$"
DUMMY_PASSWORD = "lotsen: no such account"  # hashed once; no account can have it as its hash


@dataclass(frozen=True)
class Check:
    """The outcome of checking a password: whether it matched, and whether to store a new hash."""

    ok: bool
    needs_rehash: bool = False


def _legacy_scrypt_matches(password: str, stored: str) -> bool:
    """Check a hash in the desk's first format, `scrypt$N$r$p$salt$digest` (hex)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = hashlib.scrypt(
            password.encode("utf-8"),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(digest) // 2,
            maxmem=256 * 1024 * 1024,
        )
    except ValueError:
        return False
    return hmac.compare_digest(computed.hex(), digest)


class Passwords:
    """Hash and check passwords with argon2id; old scrypt hashes verify and ask for a rehash."""

    def __init__(
        self,
        *,
        time_cost: int = ARGON2_TIME_COST,
        memory_kib: int = ARGON2_MEMORY_KIB,
        parallelism: int = ARGON2_PARALLELISM,
    ) -> None:
        self.hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
        )

    def hash(self, password: str) -> str:
        """Return a new salted argon2id hash in the standard PHC string format."""
        return self.hasher.hash(password)

    @cached_property
    def dummy_hash(self) -> str:
        """Return a hash with today's parameters that no one signs in with (for unknown names)."""
        return self.hash(DUMMY_PASSWORD)

    def verify(self, password: str, stored: str | None) -> Check:
        """Check a password against a stored hash (None: a dummy one, the same work, no match)."""
        if stored is None:
            self._argon2_matches(password, self.dummy_hash)
            return Check(ok=False)
        if stored.startswith(LEGACY_PREFIX):
            ok = _legacy_scrypt_matches(password, stored)
            return Check(ok=ok, needs_rehash=ok)
        if not self._argon2_matches(password, stored):
            return Check(ok=False)
        return Check(ok=True, needs_rehash=self.hasher.check_needs_rehash(stored))

    def _argon2_matches(self, password: str, stored: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
