"""``tinker.types.provenance_spans`` of the official SDK: tinkex's own objects at that path."""

from . import PromptProvenanceSpan, ProvenanceSpans, SampledProvenanceSpan

__all__ = ["PromptProvenanceSpan", "ProvenanceSpans", "SampledProvenanceSpan"]
