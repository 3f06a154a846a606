"""tinkex's public names, pinned (as httpx's ``test_exported_members``): adding or removing one
is a decision made here, in review, not a side effect. Each resolves, is listed by ``dir()``,
and the static view type checkers read (the ``TYPE_CHECKING`` imports) says the same."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import tinkex

PUBLIC = [
    "APIConnectionError", "APIError", "APIFuture", "APIResponseValidationError", "APIStatusError",
    "APITimeoutError", "AdamOptimizerConfig", "AdamParams", "AdminClient", "AmbiguousOutcomeError",
    "AuthenticationError", "BackcompatSamplingClientFuture", "BackcompatTrainingClientFuture",
    "BadRequestError", "BillingError", "Checkpoint", "CheckpointNotFoundError", "CheckpointType",
    "CircuitOpenError", "ClientClosedError", "ConfigError", "ConflictError", "CorruptArchiveError", "Datum",
    "DimuonOptimizerConfig", "DimuonParams", "DmelChunk", "DownloadError", "EncodedTextChunk",
    "ExperimentalWarning", "ForwardBackwardOutput", "FutureCancelledError", "FutureExpiredError",
    "FutureTimeoutError", "SampleResultsPollError", "SampleResultTimeoutError", "GoneError",
    "InputTypeError", "InternalServerError", "InvalidInputError", "InvalidTinkerPathError",
    "LoraConfig", "LossHandle", "ModelID", "ModelInput", "ModelInputChunk", "NotFoundError",
    "OptimParams", "OptimStepRequest", "OptimStepResponse", "OutputExistsError",
    "PaginationLoopError", "ParsedCheckpointTinkerPath", "PaymentRequiredError", "PerDatumLossFn",
    "PermissionDeniedError", "PromptProvenanceSpan", "RateLimitError", "RequestFailedError",
    "RequestOptions", "RequestTimeoutError", "ResponseLostError", "ResponseTooLargeError",
    "RestClient", "RetryConfig", "SDKError", "SampleRequest", "SampleResponse",
    "SampledProvenanceSpan", "SampledSequence", "SamplingClient", "SamplingParams",
    "ServerUnreachableError", "ServiceClient", "StopReason", "TensorData", "TensorDtype", "Timeout",
    "TinkerError", "TrainingClient", "TrainingRun", "UnprocessableEntityError",
    "UnsafeArchiveError", "WireInputError", "__title__", "__version__", "auth", "install_as_tinker",
    "lowlevel", "recovery", "RecoveryError", "RecoveryExhaustedError", "regularizers",
    "RegularizerError",
    "runtime", "types",
]  # fmt: skip


def test_the_public_names_are_exactly_these() -> None:
    assert sorted(tinkex.__all__) == sorted(PUBLIC)
    assert sorted(dir(tinkex)) == sorted(PUBLIC)  # tab completion sees the lazy names too


def test_every_public_name_resolves() -> None:
    for name in PUBLIC:
        assert getattr(tinkex, name) is not None, name


def _static_imports() -> dict[str, tuple[str, str]]:
    """Public name -> (module, name there), as the ``if TYPE_CHECKING:`` block of ``tinkex/__init__.py`` imports it."""
    tree = ast.parse(Path(tinkex.__file__).read_text())
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    found: dict[str, tuple[str, str]] = {}
    for node in ast.walk(block):
        if isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            for alias in node.names:
                assert alias.asname is not None, f"{alias.name}: `import X as X` re-exports it"
                found[alias.asname] = (module, alias.name)
    return found


def test_type_checkers_see_the_objects_the_package_gives() -> None:
    static = _static_imports()
    assert set(static) == set(PUBLIC) - {"__title__", "__version__"}
    for public, (module, name) in static.items():
        if module == ".":  # `from . import types as types`: a submodule
            target = importlib.import_module(f"tinkex.{name}")
        else:
            target = getattr(importlib.import_module(module, "tinkex"), name)
        assert getattr(tinkex, public) is target, public


def test_the_static_imports_are_written_from_the_exports_map() -> None:
    # The names are declared once, in _EXPORTS; `make codegen` writes the TYPE_CHECKING block.
    from sdkgen.codegen.lazy_exports import rewrite

    path = Path(tinkex.__file__)
    source = path.read_text()
    assert rewrite(source, path) == source, f"stale: run python -m sdkgen exports {path}"


def test_every_public_client_method_says_what_it_does() -> None:
    clients = (
        tinkex.ServiceClient,
        tinkex.TrainingClient,
        tinkex.SamplingClient,
        tinkex.RestClient,
    )
    undocumented = [
        f"{cls.__name__}.{name}"
        for cls in clients
        for name, member in vars(cls).items()
        if not name.startswith("_")
        and callable(member)
        and not (getattr(member, "__doc__", None) or "").strip()
    ]
    assert undocumented == []
