"""``tinker://`` checkpoint paths, parsed into a typed value and back."""

from __future__ import annotations

from typing import Literal

from .._generated import models

__all__ = ["SCHEME", "ParsedCheckpointTinkerPath"]

SCHEME = "tinker://"
_TYPES: dict[str, Literal["training", "sampler", "external"]] = {
    "weights": "training",
    "sampler_weights": "sampler",
    "external_weights": "external",
}


class ParsedCheckpointTinkerPath(models.ParsedCheckpointTinkerPath):
    """A parsed ``tinker://<training_run_id>/<kind>/<name>`` path.

    ``checkpoint_id`` keeps the kind (``weights/step-5``): it is what checkpoint URLs take.

    Example::

        p = ParsedCheckpointTinkerPath.from_tinker_path("tinker://run-1/sampler_weights/step-5")
        assert (p.training_run_id, p.checkpoint_type, p.checkpoint_id) == (
            "run-1", "sampler", "sampler_weights/step-5")
    """

    @classmethod
    def from_tinker_path(cls, tinker_path: str) -> ParsedCheckpointTinkerPath:
        """Parse a ``tinker://<run id>/<weights|sampler_weights|external_weights>/<name>`` path.

        Args:
            tinker_path: The path.

        Raises:
            ValueError: It is not such a path.

        Example::

            p = ParsedCheckpointTinkerPath.from_tinker_path("tinker://run-1/weights/step-10")
            assert (p.training_run_id, p.checkpoint_id) == ("run-1", "weights/step-10")
        """
        if not isinstance(tinker_path, str) or not tinker_path.startswith(SCHEME):
            raise ValueError(
                f"expected a path like 'tinker://<run id>/weights/<name>', got {tinker_path!r}"
            )
        parts = tinker_path[len(SCHEME) :].split("/")
        if len(parts) != 3 or not all(parts):
            raise ValueError(
                f"expected 'tinker://<run id>/<weights|sampler_weights|external_weights>/<name>', "
                f"got {tinker_path!r}"
            )
        run, segment, name = parts
        kind = _TYPES.get(segment)
        if kind is None:
            raise ValueError(
                f"unknown checkpoint kind {segment!r} in {tinker_path!r}; expected one of "
                f"{', '.join(_TYPES)}"
            )
        return cls(
            tinker_path=tinker_path,
            training_run_id=run,
            checkpoint_type=kind,
            checkpoint_id=f"{segment}/{name}",
        )

    def to_tinker_path(self) -> str:
        """The ``tinker://`` path again."""
        return f"{SCHEME}{self.training_run_id}/{self.checkpoint_id}"
