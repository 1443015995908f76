"""The process heap during an evaluation: run.py keeps freed memory in the heap (glibc's `mmap_max=0`, see its
MALLOC_TUNABLES), which makes a training step's same-sized tensors cheap to allocate again, but an evaluation's
full-vocabulary logits (batch x length x vocabulary floats, a few hundred MB a batch) then pile up in the heap:
a tiny-model run on 361 held-out pairs peaked at 5.6 GB against 1.35 GB with glibc's default. Inside
`mapped_temporaries()` allocations of 32 MB and more are mapped and unmapped again (glibc's default behaviour);
after it, the heap is trimmed and the tunables' behaviour is back. Without those tunables (another libc, an explicit
GLIBC_TUNABLES of the user's, CONTRASTLAB_MALLOC=default) it does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_MMAP_MAX = -1, -3, -4  # mallopt's parameters (malloc.h)
DEFAULT_MMAP_MAX = 65536
_LIBC: list = []


def _glibc():
    if not _LIBC:
        libc = None
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL("libc.so.6")
                libc.mallopt, libc.malloc_trim  # noqa: B018  (glibc has both)
            except (OSError, AttributeError):
                libc = None
        _LIBC.append(libc)
    return _LIBC[0]


def keeps_freed_memory() -> bool:
    """Whether this process runs with run.py's tunables (freed memory kept in the heap)."""
    return "mmap_max=0" in os.environ.get("GLIBC_TUNABLES", "") and _glibc() is not None


@contextlib.contextmanager
def mapped_temporaries(threshold: int = 32 << 20):
    if not keeps_freed_memory():
        yield
        return
    libc = _glibc()
    libc.mallopt(M_MMAP_THRESHOLD, threshold)
    libc.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
    try:
        yield
    finally:
        libc.mallopt(M_MMAP_MAX, 0)
        libc.malloc_trim(0)
