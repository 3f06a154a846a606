"""tinkex's public names, pinned (as httpx's ``test_exported_members``): adding or removing one
is a decision made here, in review, not a side effect. Each resolves, is listed by ``dir()``,
and the static view type checkers read (the ``TYPE_CHECKING`` imports) says the same."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path
from typing import Any

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
    "local", "lowlevel", "metrics", "recovery", "RecoveryError", "RecoveryExhaustedError",
    "regularizers", "RegularizerError", "RolloutError", "RolloutTimeoutError",
    "PickledCredentialsWarning", "rollouts", "runtime", "types",
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


def _public_members(cls: type) -> dict[str, Any]:
    """The functions and properties ``cls`` itself defines under public names."""
    found: dict[str, Any] = {}
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(member, property):
            found[name] = member.fget
        elif isinstance(member, classmethod | staticmethod):
            found[name] = member.__func__
        elif callable(member):
            found[name] = member
    return found


def _ours(obj: object) -> bool:
    """Defined by tinkex or its kit (``tinkex.Timeout`` is httpx's, documented there)."""
    return getattr(obj, "__module__", "").split(".")[0] in ("tinkex", "sdkgen")


def test_every_public_name_and_member_says_what_it_does() -> None:
    """The API reference (``make docs``) is made of these docstrings: none may be missing.
    Type aliases (``StopReason``, ``OptimParams``, ...) carry theirs in the source, where the
    docs site reads them; at run time an alias has none of its own."""
    undocumented = []
    for name in PUBLIC:
        obj = getattr(tinkex, name)
        if name.startswith("__") or not (
            inspect.ismodule(obj) or inspect.isclass(obj) or inspect.isfunction(obj)
        ):
            continue
        if not _ours(obj):
            continue
        if not (obj.__doc__ or "").strip():
            undocumented.append(name)
        if inspect.isclass(obj):
            undocumented += [
                f"{name}.{member_name}"
                for member_name, member in _public_members(obj).items()
                if not (getattr(member, "__doc__", None) or "").strip()
            ]
    assert undocumented == []


CLIENTS = ("ServiceClient", "TrainingClient", "SamplingClient", "RestClient", "APIFuture")


def test_every_client_method_with_arguments_documents_them() -> None:
    """A method that takes arguments says what each is (a Google-style ``Args:`` section, read
    by the docs site; ``make docs`` fails when it names one the signature lacks). An asyncio
    twin refers to its synchronous method instead."""
    missing = []
    for name in CLIENTS:
        for member_name, member in _public_members(getattr(tinkex, name)).items():
            params = [p for p in inspect.signature(member).parameters.values() if p.name != "self"]
            doc = member.__doc__ or ""
            if params and "Args:" not in doc and "for the arguments" not in doc:
                missing.append(f"{name}.{member_name}")
    assert missing == []
