"""What every example shares: where the server is, tokenizing text, and how an example ends.

Exit codes (``examples/run_all.py`` reads them):

* ``0``: the example ran and showed what it shows;
* ``1``: it failed (a traceback and a ``FAILED:`` line say why);
* ``3``: it was skipped: it printed ``SKIP: <reason>`` (the server, or this machine, lacks what
  it needs). A part of an example that is skipped while the rest runs prints
  ``SKIP-PART: <what>: <reason>`` and the example still exits 0;
* ``130``: interrupted (Ctrl-C).

Which server:

1. ``TINKER_BASE_URL`` set (with ``TINKER_API_KEY``): that server, e.g. the hosted service. The base
   model is ``TINKER_BASE_MODEL``, else the first trainable model of
   ``get_server_capabilities()``.
2. ``TINKEX_EXAMPLE_BASE_URL`` set (``examples/run_all.py`` and ``make demo`` do it): a local
   skyrl-tx backend already running there; ``TINKEX_EXAMPLE_BASE_MODEL`` is the model string
   requests must send, ``TINKEX_EXAMPLE_MODEL_DIR`` the directory of its tokenizer.
3. Neither: the example starts a local skyrl-tx backend itself (``tinkex.local``, about 20 s
   once its environment is built) and stops it when it ends, also on Ctrl-C.

In cases 2 and 3 this module sets ``TINKER_BASE_URL`` and ``TINKER_API_KEY`` for the process, so
the examples create their clients as a user would: ``tinker.ServiceClient()``.

Text is tokenized with ``transformers`` when it is installed (``pip install 'tinkex[tokenizer]'``);
for the local backend without it, with the ``tokenizers`` package of the backend's environment.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

import tinkex as tinker
import tinkex.local as local
from tinkex import types

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_SKIP = 3
EXIT_INTERRUPTED = 130

LOCAL_API_KEY = "tml-local-skyrl"  # a placeholder the local backend ignores (tinkex needs none on
# loopback); a self-hosted server elsewhere that checks no key still needs one sent
LORA_RANK = int(os.environ.get("TINKEX_EXAMPLE_LORA_RANK", "8"))  # skyrl-tx here allows <= 8
# Learning rate that makes the loss fall on the tiny random model (1e-2 and more oscillate).
LEARNING_RATE = float(os.environ.get("TINKEX_EXAMPLE_LR", "3e-3"))
MAX_TOKENS = 16  # one value everywhere: each new sampling shape compiles for seconds on CPU

# A small built-in text: one datum per line, each short enough for one 32-token shape.
TRAIN_LINES = [
    "The quick brown fox jumps over the lazy dog.",
    "A journey of a thousand miles begins with a single step.",
    "All that glitters is not gold.",
    "Knowledge is power, and practice makes perfect.",
]
PROMPT = "Question: What is two plus two? Answer:"


class Skip(Exception):
    """Raise (or call :func:`skip`) to end an example as skipped, with the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ExampleFailed(AssertionError):
    """What an example showed was not what it should have been."""


def skip(reason: str) -> NoReturn:
    raise Skip(reason)


def skip_part(what: str, reason: str) -> None:
    """Say that one part of the example is skipped, and why; the rest goes on."""
    print(f"SKIP-PART: {what}: {reason}", flush=True)


def check(condition: bool, message: str) -> None:
    if not condition:
        raise ExampleFailed(message)


def section(title: str) -> None:
    print(f"\n== {title}", flush=True)


def server_lacks(err: BaseException) -> str | None:
    """The reason to skip when ``err`` says the server does not serve an endpoint, else None.

    tinkex raises ``NotFoundError`` naming the endpoint for a route the server does not have.
    """
    if isinstance(err, tinker.NotFoundError):
        body = getattr(err, "body", None)
        detail = body.get("detail") if isinstance(body, dict) else None
        if detail in (None, "Not Found"):  # FastAPI's answer for an unknown route
            return (
                f"the server does not serve `{err.endpoint}` "
                f"({err.method} {err.path} answered 404 Not Found)"
            )
    return None


def optional(what: str, call: Callable[[], Any]) -> tuple[bool, Any]:
    """Run an optional part of an example: ``(True, result)``, or ``(False, None)`` when the
    server does not serve it (then it is skipped with the reason, as ``SKIP-PART``)."""
    try:
        return True, call()
    except tinker.NotFoundError as err:
        reason = server_lacks(err)
        if reason is None:
            raise
        skip_part(what, reason)
        return False, None


# --------------------------------------------------------------------------- tokenizing


class Tokenizer:
    """Text to token ids and back, for the model the examples train."""

    def __init__(self, name: str, model_dir: str | None) -> None:
        self.name = name
        self.model_dir = model_dir or _local_model_dir(name)
        model_dir = self.model_dir
        self._hf: Any = None
        self._python: str | None = None
        try:
            import transformers  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            transformers = None
        if transformers is not None:
            self._hf = transformers.AutoTokenizer.from_pretrained(model_dir or name)
            return
        if model_dir and (Path(model_dir) / "tokenizer.json").exists():
            python = _backend_python()
            if python is not None:
                self._python = python
                return
        skip(
            f"tokenizing text for {name!r} needs transformers "
            "(pip install 'tinkex[tokenizer]'), which is not installed"
        )

    def encode_many(self, texts: Sequence[str]) -> list[list[int]]:
        if self._hf is not None:
            return [list(self._hf.encode(t, add_special_tokens=False)) for t in texts]
        return self._worker({"op": "encode", "texts": list(texts)})

    def encode(self, text: str) -> list[int]:
        return self.encode_many([text])[0]

    def decode(self, tokens: Sequence[int]) -> str:
        if self._hf is not None:
            return str(self._hf.decode(list(tokens)))
        return str(self._worker({"op": "decode", "tokens": [list(tokens)]})[0])

    def token_text(self, token: int) -> str:
        return self.decode([token])

    def _worker(self, request: dict[str, Any]) -> Any:
        assert self._python is not None
        assert self.model_dir is not None
        code = (
            "import json,sys\n"
            "from tokenizers import Tokenizer\n"
            "t = Tokenizer.from_file(sys.argv[1] + '/tokenizer.json')\n"
            "r = json.load(sys.stdin)\n"
            "if r['op'] == 'encode':\n"
            "    out = [t.encode(x, add_special_tokens=False).ids for x in r['texts']]\n"
            "else:\n"
            "    out = [t.decode(ids, skip_special_tokens=False) for ids in r['tokens']]\n"
            "print(json.dumps(out))\n"
        )
        proc = subprocess.run(
            [self._python, "-c", code, self.model_dir],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"tokenizer helper failed: {proc.stderr[-1500:]}")
        return json.loads(proc.stdout)


def _backend_python() -> str | None:
    """The python of the local backend's environment (it has ``tokenizers``), if built."""
    path = local.venv_python()
    return str(path) if path.exists() else None


def _local_model_dir(name: str) -> str | None:
    """The tiny model's directory when ``name`` is the local backend's alias and it is built."""
    path = local.alias_model_dir(name)
    return str(path) if path is not None else None


# --------------------------------------------------------------------------- the example


@dataclasses.dataclass
class Example:
    """What an example's ``main`` gets: the server, its base model, a tokenizer."""

    name: str
    base_url: str
    api_key: str
    local: bool  # the local skyrl-tx backend (not a hosted or user-configured server)
    model_dir: str | None
    _base_model: str | None = None
    _tokenizer: Tokenizer | None = None
    _cleanups: list[Callable[[], None]] = dataclasses.field(default_factory=list)

    @property
    def base_model(self) -> str:
        """The model to train and sample: configured, or the server's first trainable one."""
        if self._base_model is None:
            with tinker.ServiceClient() as service:
                caps = service.get_server_capabilities()
            names = [
                m.model_name for m in caps.supported_models if m.model_name and m.trainable
            ] or [m.model_name for m in caps.supported_models if m.model_name]
            if not names:
                skip("the server lists no models in get_server_capabilities()")
            self._base_model = names[0]
        return self._base_model

    @property
    def tokenizer(self) -> Tokenizer:
        if self._tokenizer is None:
            self._tokenizer = Tokenizer(self.base_model, self.model_dir)
        return self._tokenizer

    def datum(self, tokens: Sequence[int]) -> types.Datum:
        """A next-token (cross-entropy) example: predict ``tokens[1:]`` from ``tokens[:-1]``."""
        return types.Datum(
            model_input=types.ModelInput.from_ints(list(tokens[:-1])),
            loss_fn_inputs={
                "target_tokens": list(tokens[1:]),
                "weights": [1.0] * (len(tokens) - 1),
            },
        )

    def training_data(self, lines: Sequence[str] = TRAIN_LINES) -> list[types.Datum]:
        return [self.datum(ids) for ids in self.tokenizer.encode_many(list(lines))]

    def prompt(self, text: str = PROMPT) -> types.ModelInput:
        return types.ModelInput.from_ints(self.tokenizer.encode(text))

    def unload_at_exit(self, training_client: Any) -> None:
        """Free the training run's server resources (its LoRA slot) when the example ends.

        Uses the low-level client (``tinkex.lowlevel.TinkerAPI``, see the README): the
        high-level TrainingClient has no ``unload_model``. Best effort: a server without
        the endpoint frees the run when the session times out.
        """
        model_id = training_client.model_id
        self._cleanups.append(lambda: unload_model(model_id))

    def _cleanup(self) -> None:
        while self._cleanups:
            fn = self._cleanups.pop()
            try:
                fn()
            except Exception as exc:  # cleanup never hides the example's own outcome
                print(f"(cleanup: {type(exc).__name__}: {exc})", flush=True)


def unload_model(model_id: str, timeout: float = 60.0) -> Any:
    """Release a training run on the server (``POST /api/v1/unload_model``)."""
    from tinkex.lowlevel import TinkerAPI

    with TinkerAPI() as api:  # TINKER_BASE_URL / TINKER_API_KEY
        return api.training.unload_model(model_id=model_id).result(timeout=timeout)


def mean_nll(output: Any, data: Sequence[types.Datum]) -> float:
    """The loss as the mean negative log-likelihood per weighted target token.

    Computed from ``loss_fn_outputs[i]["logprobs"]`` and the weights, which every server returns
    (skyrl-tx answers ``metrics == {}``, so ``metrics["loss:sum"]`` cannot be relied on).
    """
    total = weight = 0.0
    for out, datum in zip(output.loss_fn_outputs, data, strict=True):
        logprobs = out["logprobs"].tolist()
        weights = datum.loss_fn_inputs["weights"].tolist()
        total += sum(-lp * w for lp, w in zip(logprobs, weights, strict=False))
        weight += sum(weights)
    return total / max(weight, 1e-9)


# --------------------------------------------------------------------------- progress


class Progress:
    """A progress bar for a training loop (rich when installed, plain lines otherwise)."""

    def __init__(self, total: int, description: str = "training") -> None:
        self.total = total
        self.description = description
        self.first: float | None = None
        self._rich: Any = None
        self._task: Any = None
        try:
            from rich.progress import (  # type: ignore[import-not-found,unused-ignore]
                BarColumn,
                MofNCompleteColumn,
                Progress as RichProgress,
                TextColumn,
                TimeElapsedColumn,
            )
        except ImportError:
            return
        self._rich = RichProgress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[loss]}"),
            TimeElapsedColumn(),
        )

    def __enter__(self) -> Progress:
        if self._rich is not None:
            self._rich.__enter__()
            self._task = self._rich.add_task(self.description, total=self.total, loss="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._rich is not None:
            self._rich.__exit__(*exc)

    def update(self, step: int, loss: float) -> None:
        if self.first is None:
            self.first = loss
        trend = "" if step == 1 else ("(down)" if loss < self.first else "(NOT down)")
        text = f"loss {loss:.4f} {trend}".rstrip()
        if self._rich is not None:
            self._rich.update(self._task, completed=step, loss=text)
            self._rich.console.print(f"step {step}/{self.total}: {text}")
            return
        width = 24
        filled = round(width * step / self.total)
        bar = "#" * filled + "." * (width - filled)
        print(f"{self.description} [{bar}] {step}/{self.total}  {text}", flush=True)


# --------------------------------------------------------------------------- running


@contextlib.contextmanager
def _target(name: str) -> Iterator[Example]:
    remote_url = os.environ.get("TINKER_BASE_URL")
    if remote_url:
        api_key = os.environ.get("TINKER_API_KEY")
        if not api_key:  # a self-hosted server that checks no key still needs one sent
            api_key = LOCAL_API_KEY
            os.environ["TINKER_API_KEY"] = api_key
        yield Example(
            name=name,
            base_url=remote_url,
            api_key=api_key,
            local=False,
            model_dir=os.environ.get("TINKEX_EXAMPLE_MODEL_DIR"),
            _base_model=os.environ.get("TINKER_BASE_MODEL") or None,
        )
        return
    local_url = os.environ.get("TINKEX_EXAMPLE_BASE_URL")
    if local_url:
        base_model = os.environ.get("TINKEX_EXAMPLE_BASE_MODEL") or None
        yield _local(name, local_url, base_model, os.environ.get("TINKEX_EXAMPLE_MODEL_DIR"))
        return
    # Nothing configured: start the local backend for this one example.
    print("No server configured (TINKER_BASE_URL): starting a local skyrl-tx backend", flush=True)
    with local.running_backend() as backend:
        print(f"local backend at {backend.base_url} (pid {backend.pid}, log {backend.log_path})")
        yield _local(name, backend.base_url, backend.base_model, backend.tokenizer_dir)


def _local(name: str, url: str, base_model: str | None, model_dir: str | None) -> Example:
    os.environ["TINKER_BASE_URL"] = url
    os.environ["TINKER_API_KEY"] = LOCAL_API_KEY
    if model_dir is None and base_model and Path(base_model).is_dir():
        model_dir = base_model
    return Example(
        name=name,
        base_url=url,
        api_key=LOCAL_API_KEY,
        local=True,
        model_dir=model_dir,
        _base_model=base_model,
    )


def run(main: Callable[[Example], None]) -> NoReturn:
    """Run an example's ``main`` and exit with the convention above."""
    name = Path(sys.argv[0]).stem
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # tinkex retries with stamina, whose default hook logs a bare "stamina.retry_scheduled" at
    # WARNING for every retry; tinkex reports retries itself (on_retry, `tinkex` logger).
    logging.getLogger("stamina").setLevel(logging.ERROR)
    t0 = time.monotonic()
    code = EXIT_OK
    try:
        with _target(name) as example:
            try:
                main(example)
            finally:
                example._cleanup()
    except Skip as s:
        print(f"SKIP: {s.reason}", flush=True)
        code = EXIT_SKIP
    except KeyboardInterrupt:
        print(f"\n{name}: interrupted", flush=True)
        code = EXIT_INTERRUPTED
    except Exception as exc:
        if type(exc).__name__ != "BackendError":  # the launcher's own message says it all
            traceback.print_exc()
        print(f"FAILED: {name}: {type(exc).__name__}: {exc}", flush=True)
        code = EXIT_FAILED
    else:
        print(f"\n{name}: done in {time.monotonic() - t0:.1f}s", flush=True)
    sys.stdout.flush()
    sys.exit(code)
