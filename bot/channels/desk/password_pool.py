"""Password sign-ins on their own threads (hashing, and their database steps), bounded."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from bot.channels.desk.passwords import Check, Passwords

T = TypeVar("T")

# One hashing thread: a flood of sign-ins uses at most one core, the pages keep the others.
DEFAULT_WORKERS = 1
# Sign-ins admitted beyond the running ones; more than this are refused at once (503).
DEFAULT_WAITING = 16
# Threads for the sign-ins' own database steps (throttle counters, session), apart from pages'.
DB_WORKERS = 2


class PoolBusy(RuntimeError):
    """Raised when every sign-in slot is taken (the caller answers 503 without hashing)."""


class PasswordPool:
    """Run sign-in work on dedicated executors; admit only a bounded number of sign-ins.

    Hashing runs on `workers` threads; a sign-in's database steps run on `db_executor`, so a
    flood of sign-ins never queues in front of the pages' database calls.
    """

    def __init__(
        self,
        passwords: Passwords | None = None,
        *,
        workers: int = DEFAULT_WORKERS,
        waiting: int = DEFAULT_WAITING,
    ) -> None:
        if workers < 1 or waiting < 0:
            raise ValueError("a password pool needs at least one worker and no negative queue")
        self.passwords = passwords or Passwords()
        self.workers = workers
        self.capacity = workers + waiting
        self.admitted = 0
        self.running = 0
        self.peak_running = 0
        self.refused = 0
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="desk-pw")
        self.db_executor: Executor | None = ThreadPoolExecutor(
            max_workers=DB_WORKERS, thread_name_prefix="desk-pw-db"
        )

    @contextmanager
    def admission(self) -> Iterator[None]:
        """Hold one sign-in slot for the block, or raise PoolBusy when all are taken."""
        # Runs on the event loop thread only, so the counter needs no lock.
        if self.admitted >= self.capacity:
            self.refused += 1
            raise PoolBusy(f"{self.admitted} sign-ins in progress")
        self.admitted += 1
        try:
            yield
        finally:
            self.admitted -= 1

    async def verify(self, password: str, stored: str | None) -> Check:
        """Check a password on the pool (None: against the dummy hash, the same work)."""
        return await self._run(lambda: self.passwords.verify(password, stored))

    async def warm(self) -> None:
        """Make the dummy hash now, so the first unknown name costs no more than any other."""
        await self._run(lambda: self.passwords.dummy_hash)

    async def hash(self, password: str) -> str:
        """Hash a password on the pool."""
        return await self._run(lambda: self.passwords.hash(password))

    async def _run(self, work: Callable[[], T]) -> T:
        def counted() -> T:
            with self._lock:
                self.running += 1
                self.peak_running = max(self.peak_running, self.running)
            try:
                return work()
            finally:
                with self._lock:
                    self.running -= 1

        return await asyncio.get_running_loop().run_in_executor(self._executor, counted)

    def close(self) -> None:
        """Stop the worker threads once their current work is done."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self.db_executor is not None:
            self.db_executor.shutdown(wait=False, cancel_futures=True)
