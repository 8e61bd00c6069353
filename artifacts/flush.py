"""Flush-behind for big uploads: `FlushBehind(fd)` pushes written bytes to disk while more arrive.

Why: an upload must be on disk before a database row names it, so it ends with fsync(). The
kernel starts writing dirty pages on its own only past dirty_background_ratio (gigabytes on a
big machine), so without help a 500 MiB layer is written out entirely by that last fsync, after
the network is done: a quarter of a second or more of the push spent waiting on the disk alone.
Here, each time another FLUSH_EVERY bytes were written, one background fdatasync() starts (never
two at once), so the disk works while the socket is still being read and the final fsync has
only the tail left.
"""
from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor

FLUSH_EVERY = 64 * 1024 * 1024
_flusher = ThreadPoolExecutor(max_workers=2, thread_name_prefix="flush-behind")


class FlushBehind:
    def __init__(self, fd: int, every: int = FLUSH_EVERY):
        self.fd = fd
        self.every = every
        self.pending = 0
        self.running: Future | None = None

    def wrote(self, count: int) -> None:
        """Count bytes just written; start a background flush when enough are waiting and none runs."""
        self.pending += count
        if self.pending >= self.every and (self.running is None or self.running.done()):
            self.pending = 0
            self.running = _flusher.submit(os.fdatasync, self.fd)

    def finish(self) -> None:
        """Wait for the flush in progress (the caller's fsync follows and covers the rest)."""
        if self.running is not None:
            try:
                self.running.result()
            except OSError:
                pass  # the caller's own fsync reports a disk error
            self.running = None
