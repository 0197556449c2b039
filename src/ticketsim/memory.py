"""Give the heap a finished stage freed back to the operating system.

A training stage leaves its process at ~3.6 GB resident after it returns (MiniLM, batch
32, 128 tokens: the freed activations and optimizer state stay in glibc's heap), and
``ticketsim run`` goes on to evaluate and index in the same process; a cross-fitting
evaluate trains k fold models one after another (SeaMonkey: 8.1 GB peak). Measured on
SeaMonkey's fold pairs, 4 trainings in one process: 3.6-3.7 GB after each without a trim,
0.65-0.68 GB with one.
"""

from __future__ import annotations

import ctypes
import gc
import sys


def release_memory() -> bool:
    """Collect garbage, then ask glibc to return free heap pages (``malloc_trim``).

    Returns whether a trim ran (False off glibc Linux, where it is a no-op).
    """
    gc.collect()
    if not sys.platform.startswith("linux"):
        return False
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # musl and other C libraries
        return False
    trim(0)
    return True
