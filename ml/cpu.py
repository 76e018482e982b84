"""What this CPU can do fast. bfloat16 autocast only pays off where the hardware multiplies bf16 natively
(AVX512-BF16 or AMX); elsewhere PyTorch emulates it and a training step gets 10-15x *slower*
(measured on an AVX2-only AMD EPYC: 0.75 s -> 42 s per PTB-LSTM step, docs/benchmarks.md)."""
from __future__ import annotations

import functools
from pathlib import Path

BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.lru_cache(maxsize=1)
def has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True when the CPU advertises a bf16 dot-product instruction (Linux ``/proc/cpuinfo`` flags).

    Where the flags cannot be read (not Linux) we trust the caller's setting: True.
    """
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return True
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return any(f in flags for f in BF16_FLAGS)


def effective_bf16(requested: bool) -> tuple[bool, str | None]:
    """(use bf16?, warning or None): a bf16 request is turned down on CPUs that would only emulate it."""
    if requested and not has_native_bf16():
        return False, ("bf16 requested but this CPU has no native bf16 (no avx512_bf16/amx_bf16 flag): "
                       "training in float32 instead, which is much faster here")
    return requested, None
