"""Process-level settings that make the batched CPU computation fast.

The batched trainer allocates and frees the same few large tensors every minibatch (the gathered
images, the states of the recurrence, the weight gradients: tens of MB each at E = 100). glibc's
malloc serves blocks that large with ``mmap`` and gives them back with ``munmap`` when freed, so
every minibatch pays the kernel's page faults again to touch fresh memory: measured here, an 80 MB
``index_select`` takes 24 ms into fresh memory and 10 ms into reused memory, and the whole training
step at E = 100 drops from 0.25 s to 0.19 s. :func:`keep_freed_memory` asks malloc to keep freed
memory in the process for reuse instead, the job PyTorch's performance guide gives to jemalloc or
tcmalloc, without an extra library. The cost is that the process keeps its peak memory reserved.

:func:`matmul_precision` sets the precision of the float32 matrix products for a block of work
(``train.matmul``): float32 throughout (the default), or bfloat16 inputs with float32 sums on CPUs
with bfloat16 hardware (``"bf16"``), or TensorFloat-32 on NVIDIA GPUs from Ampere on (``"tf32"``).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys

import torch

from .config import MATMUL

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


# train.matmul: the precision of the float32 matrix products, and torch's name for it. Set through
# torch.set_float32_matmul_precision, which sets both backends' fp32_precision (mkldnn on the CPU:
# "medium" is bf16; CUDA: "high" and "medium" are TF32) and keeps torch.get_float32_matmul_precision
# working: after a backend's setting alone is changed, that getter raises (torch's compiler calls it)
_TORCH_NAME = {"float32": "highest", "bf16": "medium", "tf32": "high"}


def check_matmul(matmul: str, device) -> None:
    """Refuse, with one line, a ``train.matmul`` that ``device`` cannot run as asked: "bf16" needs
    a CPU with bfloat16 hardware (AVX512-BF16 or AMX), "tf32" an NVIDIA GPU of compute capability
    8.0 or later. Elsewhere torch would quietly compute in float32 and the table would name a
    precision it was not made with."""
    device = torch.device(device)
    if matmul not in MATMUL:
        raise ValueError(f"train.matmul must be one of {', '.join(MATMUL)}, got {matmul!r}")
    if matmul == "bf16":
        if device.type != "cpu":
            raise ValueError(f"train.matmul = 'bf16' runs on the CPU (device 'cpu'), got device {str(device)!r}: "
                             "on an NVIDIA GPU use 'tf32'")
        if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
            raise ValueError("train.matmul = 'bf16' needs a CPU with bfloat16 instructions (AVX512-BF16 or AMX); "
                             "this one has none: use 'float32'")
    if matmul == "tf32":
        if device.type != "cuda":
            raise ValueError(f"train.matmul = 'tf32' runs on NVIDIA GPUs (device 'cuda'), got device {str(device)!r}: "
                             "on a CPU with bfloat16 hardware use 'bf16'")
        if not torch.cuda.is_available():
            raise ValueError("train.matmul = 'tf32' runs on NVIDIA GPUs, and torch sees none here "
                             "(torch.cuda.is_available() is False): use 'float32'")
        if torch.cuda.get_device_capability(device) < (8, 0):
            raise ValueError("train.matmul = 'tf32' needs an NVIDIA GPU of compute capability 8.0 (Ampere) or later, "
                             f"this one is {'.'.join(map(str, torch.cuda.get_device_capability(device)))}: use 'float32'")


@contextlib.contextmanager
def matmul_precision(matmul: str, device):
    """Within the block, the float32 matrix products on ``device`` (bmm, baddbmm, matmul, einsum)
    run at ``matmul``: "float32" exactly, "bf16" with bfloat16 inputs (8 bits of mantissa) and
    float32 sums, "tf32" with TensorFloat-32 inputs (10 bits). Their inputs and outputs stay float32,
    and so does everything else (the elementwise work, the optimizers' updates, index_add). Checked
    first (:func:`check_matmul`); the previous setting comes back after the block."""
    check_matmul(matmul, device)
    backends = (torch.backends.mkldnn.matmul, torch.backends.cuda.matmul)
    before = [backend.fp32_precision for backend in backends]
    torch.set_float32_matmul_precision(_TORCH_NAME[matmul])
    try:
        yield
    finally:
        for backend, value in zip(backends, before):
            backend.fp32_precision = value
