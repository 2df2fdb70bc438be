"""Static memory plan for the aot runtime: one arena, intermediate tensors placed by liveness.

Each buffer lives from the operator that writes it to the last operator that reads it (inclusive). Buffers
are placed largest first at the lowest offset that overlaps no buffer alive at the same time (a greedy
first-fit by size, the strategy TFLM's own GreedyMemoryPlanner uses). An operator's inputs and outputs are
alive together, so no kernel ever writes over a tensor it is still reading."""
from __future__ import annotations

from dataclasses import dataclass

ALIGNMENT = 4


def _align(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


@dataclass
class Buffer:
    key: int  # the tensor index that owns the storage
    size: int  # bytes
    first: int  # index of the operator that writes it
    last: int  # index of the last operator that reads it
    offset: int = -1


def plan(buffers: list[Buffer]) -> int:
    """Set each buffer's offset; return the arena size in bytes (0 when there is nothing to place)."""
    placed: list[Buffer] = []
    for buf in sorted(buffers, key=lambda b: (-b.size, b.first, b.key)):
        alive = [p for p in placed if p.first <= buf.last and buf.first <= p.last]
        candidates = sorted({0, *(_align(p.offset + p.size) for p in alive)})
        for offset in candidates:
            if all(offset + buf.size <= p.offset or p.offset + p.size <= offset for p in alive):
                buf.offset = offset
                break
        placed.append(buf)
    return max((b.offset + b.size for b in buffers), default=0)


def check(buffers: list[Buffer]) -> None:
    """Raise if two buffers alive at the same time share a byte (a guard on the planner itself)."""
    for i, a in enumerate(buffers):
        for b in buffers[i + 1:]:
            if a.first <= b.last and b.first <= a.last:
                if a.offset < b.offset + b.size and b.offset < a.offset + a.size:
                    raise AssertionError(f"buffers of tensors {a.key} and {b.key} overlap while both alive")
