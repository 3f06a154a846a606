"""What a fan-out saw, per process: how many items and sample requests each worker process had
in flight at its peak, and which limit held it there."""

from __future__ import annotations

import dataclasses

from .._sampler_concurrency import SamplerConcurrency

__all__ = ["ProcessConcurrency", "RolloutReport"]


@dataclasses.dataclass(frozen=True)
class ProcessConcurrency:
    """One worker process of a fan-out: its work and its sampler's concurrency, this run only.

    Attributes:
        host: The machine's name.
        pid: The process id.
        tasks: Tasks (batches of up to ``items_per_task`` items) it ran.
        items: Items it finished (with a result or an error).
        peak_items_in_flight: The most items it ran at once.
        sampler: Its sampler's counts and limits (``SamplingClient.concurrency()``): sample
            requests, their peak in flight, and submissions held back by the client's limit.

    Example::

        for p in stream.report.processes:
            print(p.pid, p.sampler.requests, p.sampler.peak_in_flight)
    """

    host: str
    pid: int
    tasks: int
    items: int
    peak_items_in_flight: int
    sampler: SamplerConcurrency

    def merged(self, newer: ProcessConcurrency) -> ProcessConcurrency:
        """This process's numbers and a later snapshot of them, the larger of each (tasks of a
        thread pool report from one process in any order)."""
        old, new = self.sampler, newer.sampler
        sampler = dataclasses.replace(
            new,
            requests=max(old.requests, new.requests),
            peak_in_flight=max(old.peak_in_flight, new.peak_in_flight),
            submissions_waited=max(old.submissions_waited, new.submissions_waited),
        )
        return dataclasses.replace(
            newer,
            tasks=max(self.tasks, newer.tasks),
            items=max(self.items, newer.items),
            peak_items_in_flight=max(self.peak_items_in_flight, newer.peak_items_in_flight),
            sampler=sampler,
        )

    def binding_limit(self, items_per_task: int) -> str:
        """Which limit kept this process's requests in flight where they were, in words."""
        s = self.sampler
        if s.submissions_waited:
            return (
                f"the sampler's limit: {s.submissions_waited} submissions waited for one of "
                f"its {s.limit} places (RetryConfig.max_connections={s.client_limit}, the "
                f"server's sample_max_concurrent_requests={s.server_limit}) or its byte budget"
            )
        if self.peak_items_in_flight >= items_per_task:
            return (
                f"items_per_task={items_per_task}: each task runs that many items at once "
                f"(the sampler's limit of {s.limit} was never reached)"
            )
        return (
            f"neither: at most {self.peak_items_in_flight} items were given to it at once "
            f"(fewer than items_per_task={items_per_task}; few items, or max_in_flight)"
        )


@dataclasses.dataclass(frozen=True)
class RolloutReport:
    """What one fan-out did: items, time, and each worker process's concurrency.

    ``str(report)`` is a table, one row per process, and the limit that bound each.

    Attributes:
        items: Items finished (with a result or an error) so far.
        seconds: Wall time from the first submission to the last result so far.
        items_per_task: Items each task carries, run at once in its worker.
        max_in_flight: Items submitted and not finished, at most.
        peak_in_flight: The most items submitted and not finished at once.
        processes: One entry per worker process that finished a task.

    Example::

        out = map_rollouts(sampler, rollout, prompts, executor=pool)
        print(out.report)
    """

    items: int
    seconds: float
    items_per_task: int
    max_in_flight: int
    peak_in_flight: int
    processes: tuple[ProcessConcurrency, ...]

    @property
    def requests(self) -> int:
        """Sample requests of every worker's sampler in this run."""
        return sum(p.sampler.requests for p in self.processes)

    def __str__(self) -> str:
        lines = [
            f"{self.items} items in {self.seconds:.1f} s on {len(self.processes)} process(es); "
            f"{self.requests} sample requests; items_per_task={self.items_per_task}, "
            f"max_in_flight={self.max_in_flight} (peak {self.peak_in_flight} items in flight)",
            f"{'process':<24} {'tasks':>5} {'items':>6} {'peak items':>10} {'requests':>8} "
            f"{'peak requests':>13} {'limit':>5} {'waited':>6}",
        ]
        for p in self.processes:
            s = p.sampler
            lines.append(
                f"{f'{p.host}:{p.pid}':<24} {p.tasks:>5} {p.items:>6} "
                f"{p.peak_items_in_flight:>10} {s.requests:>8} {s.peak_in_flight:>13} "
                f"{s.limit:>5} {s.submissions_waited:>6}"
            )
        for p in self.processes:
            lines.append(f"{p.host}:{p.pid} bound by {p.binding_limit(self.items_per_task)}")
        if self.peak_in_flight >= self.max_in_flight:
            lines.append(
                f"the run as a whole was bound by max_in_flight={self.max_in_flight}: no more "
                "items were given out at once"
            )
        return "\n".join(lines)
