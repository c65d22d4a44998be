"""Process-level settings that make the batched CPU computation fast.

The batched trainer allocates and frees the same few large tensors every minibatch (the gathered
images, the states of the recurrence, the weight gradients: tens of MB each at E = 100). glibc's
malloc serves blocks that large with ``mmap`` and gives them back with ``munmap`` when freed, so
every minibatch pays the kernel's page faults again to touch fresh memory: measured here, an 80 MB
``index_select`` takes 24 ms into fresh memory and 10 ms into reused memory, and the whole training
step at E = 100 drops from 0.25 s to 0.19 s. :func:`keep_freed_memory` asks malloc to keep freed
memory in the process for reuse instead, the job PyTorch's performance guide gives to jemalloc or
tcmalloc, without an extra library. The cost is that the process keeps its peak memory reserved.
"""

from __future__ import annotations

import ctypes
import os
import sys

_M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
_M_MMAP_MAX = -4
_MMAP_MAX_DEFAULT = 65536  # glibc's default, restored if the second setting fails
_OFF = {"0", "false", "off", "no"}
_done: bool | None = None


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to serve large blocks from its heap and never trim it (once per process).

    :func:`modlib.train.train` and the metrics call this, so it applies to the whole process from
    then on (a notebook kernel included): freed memory stays reserved for reuse, and the process
    does not give memory back to the system until it ends. Does nothing, and returns False, where
    malloc is not glibc's (macOS, Windows, musl) or when the environment variable
    ``MODLIB_KEEP_FREED_MEMORY`` is 0, false, off or no. Returns True when the setting is in force.
    """
    global _done
    if _done is not None:
        return _done
    _done = False
    if not sys.platform.startswith("linux") or os.environ.get("MODLIB_KEEP_FREED_MEMORY", "1").lower() in _OFF:
        return _done
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter already uses
    except (OSError, AttributeError):
        return _done
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    if not mallopt(_M_MMAP_MAX, 0):  # musl's mallopt does nothing and returns 0
        return _done
    if not mallopt(_M_TRIM_THRESHOLD, 2**31 - 1):
        mallopt(_M_MMAP_MAX, _MMAP_MAX_DEFAULT)
        return _done
    _done = True
    return _done


def in_force() -> bool:
    """Whether :func:`keep_freed_memory` has been applied in this process."""
    return _done is True
