"""The `$ref` graph between named schemas: cycles, and how deep a schema becomes once the
non-object schemas it refers to are written into it (the model emitter inlines them).

Walked without recursion along the graph, so that a chain of thousands of schemas cannot exhaust
the stack here; the depth limit then keeps the emitter's own recursive walks (and those of the
model generator it calls) well inside Python's recursion limit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .loader import Key
from .schema_walk import is_class_schema, iter_refs, ref_name

__all__ = ["MAX_EXPANDED_DEPTH", "Cycle", "SchemaGraph"]

# Objects and lists nested in one schema once the non-object schemas it names are written in.
MAX_EXPANDED_DEPTH = 40


@dataclass(frozen=True)
class Cycle:
    path: Key  # the `$ref` that closes it
    members: tuple[str, ...]  # first == last


class SchemaGraph:
    """Refs between named schemas; only non-object ("alias") targets count, a class breaks a
    cycle (Python can refer to a class before it is defined, not to an alias)."""

    def __init__(self, schemas: Mapping[str, Any]) -> None:
        self.schemas = schemas
        self.aliases = {n for n, s in schemas.items() if not is_class_schema(s)}
        self.edges: dict[str, list[tuple[str, Key]]] = {
            name: [
                (target, path)
                for ref, path in iter_refs(schema, ("schemas", name))
                if isinstance(ref, str) and (target := ref_name(ref) or "") in self.aliases
            ]
            for name, schema in schemas.items()
        }

    def walk(self) -> tuple[list[Cycle], list[str]]:
        """(every cycle among aliases, the aliases with each after those it refers to)."""
        cycles: list[Cycle] = []
        order: list[str] = []
        state: dict[str, int] = {}  # 1: on the current trail, 2: finished
        for root in sorted(self.aliases):
            if root in state:
                continue
            trail = [root]
            stack: list[Iterator[tuple[str, Key]]] = [iter(self.edges[root])]
            state[root] = 1
            while stack:
                step = next(stack[-1], None)
                if step is None:
                    stack.pop()
                    done = trail.pop()
                    state[done] = 2
                    order.append(done)
                    continue
                target, path = step
                if state.get(target) == 1:
                    members = (*trail[trail.index(target) :], target)
                    cycles.append(Cycle(path, members))
                elif target not in state:
                    state[target] = 1
                    trail.append(target)
                    stack.append(iter(self.edges[target]))
        return cycles, order

    def too_deep(self, order: list[str]) -> list[tuple[str, int]]:
        """Schemas nested deeper than :data:`MAX_EXPANDED_DEPTH` once aliases are written in,
        each reported once: not those that are only deep because they name a deep alias."""
        depths: dict[str, int] = {}
        for name in [*order, *sorted(set(self.schemas) - self.aliases)]:
            depths[name] = self._depth(self.schemas[name], depths)
        over = {name for name, depth in depths.items() if depth > MAX_EXPANDED_DEPTH}
        named_by_over = {target for name in over for target, _ in self.edges[name]}
        return [(name, depths[name]) for name in sorted(over - named_by_over)]

    def _depth(self, node: Any, depths: dict[str, int]) -> int:
        if isinstance(node, dict):
            ref = node.get("$ref")
            target = ref_name(ref) if isinstance(ref, str) else None
            inner = depths.get(target or "", 0) if target in self.aliases else 0
            return 1 + max([inner, *(self._depth(v, depths) for v in node.values())])
        if isinstance(node, list):
            return 1 + max([0, *(self._depth(v, depths) for v in node)])
        return 0
