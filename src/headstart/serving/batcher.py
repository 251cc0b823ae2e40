"""MicroBatcher: requests that arrive together share one forward pass.

A transformer on a CPU is far cheaper per text in a batch of 32 than in 32 batches of one, and
a server gets many small requests at once. Each request puts its texts in a queue and awaits
them; one worker takes what is queued (waiting ``wait`` seconds for more to join the first),
runs the model in a single thread beside the event loop — so the server keeps answering
``/healthz`` and refusing overload while the model works — and hands every request its own
slice of the results.

The queue is bounded in texts, not requests: a request that would overflow it is refused at once
with :class:`QueueFull` (the app answers 503 with ``Retry-After``), so overload costs the client a
retry, never the server its memory.

Example::

    batcher = MicroBatcher(lambda items: [len(x) for x in items], max_batch=32)
    await batcher.start()
    await batcher.submit(["a", "bb"])   # -> [1, 2]
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


class QueueFull(Exception):
    """More texts are waiting than ``max_queue`` allows."""


@dataclass
class _Job:
    items: Sequence[Any]
    future: asyncio.Future


class MicroBatcher:
    def __init__(
        self,
        fn: Callable[[list[Any]], Sequence[Any]],
        *,
        max_batch: int = 32,
        wait: float = 0.002,
        max_queue: int = 2048,
    ) -> None:
        self.fn = fn
        self.max_batch = max_batch
        self.wait = wait
        self.max_queue = max_queue
        self.waiting = 0  # texts queued or running
        self.batches = 0  # forward passes run (for /healthz and tests)
        self._jobs: deque[_Job] = deque()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        # One thread: the model is not run twice at once; torch parallelises inside the call.
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="headstart-model")

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Finish what is queued, then stop (the server calls this on shutdown)."""
        while self._jobs:
            await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._pool.shutdown(wait=True)

    async def submit(self, items: Sequence[Any]) -> list[Any]:
        if not items:
            return []
        if self.waiting + len(items) > self.max_queue:
            raise QueueFull(f"{self.waiting} texts are waiting (at most {self.max_queue})")
        assert self._wake is not None, "start() first"
        future = asyncio.get_running_loop().create_future()
        self._jobs.append(_Job(items, future))
        self.waiting += len(items)
        self._wake.set()
        return await future

    async def _run(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            if not self._jobs:
                self._wake.clear()
                await self._wake.wait()
            if self.wait > 0 and sum(len(j.items) for j in self._jobs) < self.max_batch:
                await asyncio.sleep(self.wait)  # let requests that arrive together share the batch
            jobs, items = self._take()
            try:
                results = await loop.run_in_executor(self._pool, self.fn, items)
            except Exception as exc:  # the model failed: every request of the batch gets the error
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(exc)
            else:
                start = 0
                for job in jobs:
                    if not job.future.done():  # a client that went away has a cancelled future
                        job.future.set_result(list(results[start : start + len(job.items)]))
                    start += len(job.items)
            finally:
                self.waiting -= len(items)
                self.batches += 1

    def _take(self) -> tuple[list[_Job], list[Any]]:
        """Whole requests up to ``max_batch`` texts (a larger request alone is run whole: the
        predictor batches inside it)."""
        jobs = [self._jobs.popleft()]
        items = list(jobs[0].items)
        while self._jobs and len(items) + len(self._jobs[0].items) <= self.max_batch:
            job = self._jobs.popleft()
            jobs.append(job)
            items.extend(job.items)
        return jobs, items
