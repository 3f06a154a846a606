"""``tinkex sample``: sample completions from a base model or saved sampler weights."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

from ._app import Context, add_command, non_negative_int, positive_int
from ._errors import EXIT_OK, CLIError

__all__ = ["register"]

TOKENIZER_HINT = (
    "a text prompt needs a tokenizer: install one with pip install 'tinkex[tokenizer]' "
    "(transformers), or pass token ids with --tokens 1,2,3, which works without"
)


def _tokens(text: str) -> list[int]:
    parts = [p for p in text.replace(",", " ").split() if p]
    try:
        tokens = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected token ids like 1,2,3, got {text!r}") from None
    if not tokens or any(t < 0 for t in tokens):
        raise argparse.ArgumentTypeError(
            f"expected one or more non-negative token ids, got {text!r}"
        )
    return tokens


def _temperature(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text!r}")
    return value


def _top_p(text: str) -> float:
    value = _temperature(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text!r}")
    return value


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    p = add_command(
        commands,
        "sample",
        common,
        _sample,
        help="sample completions of a prompt",
        description="Sample completions of a prompt from a base model or saved sampler "
        "weights. Text prompts (--prompt, --prompt-file) are tokenized with the model's "
        "tokenizer, which needs transformers (pip install 'tinkex[tokenizer]'); --tokens "
        "takes token ids and works without.",
        epilog="examples:\n"
        "  tinkex sample --base-model Qwen/Qwen3-8B --prompt 'The capital of France is'\n"
        "  tinkex sample --model-path tinker://RUN/sampler_weights/final --tokens 1,2,3 "
        "--num-samples 4\n"
        "  echo 'Once upon a time' | tinkex sample --base-model M --prompt-file - -f json",
    )
    prompt = p.add_argument_group("prompt (one of)").add_mutually_exclusive_group(required=True)
    prompt.add_argument("--prompt", metavar="TEXT", help="the prompt text")
    prompt.add_argument(
        "--prompt-file", metavar="FILE", help="read the prompt text from FILE ('-': stdin)"
    )
    prompt.add_argument(
        "--tokens", type=_tokens, metavar="IDS", help="the prompt as token ids: 1,2,3"
    )
    model = p.add_argument_group("model (one of)").add_mutually_exclusive_group(required=True)
    model.add_argument("--model-path", metavar="PATH", help="tinker:// path of sampler weights")
    model.add_argument("--base-model", metavar="NAME", help="a base model ('tinkex model list')")
    params = p.add_argument_group("sampling")
    params.add_argument(
        "--max-tokens",
        type=positive_int,
        default=64,
        metavar="N",
        help="tokens to generate at most (default: 64)",
    )
    params.add_argument(
        "--temperature",
        type=_temperature,
        default=1.0,
        metavar="T",
        help="sampling temperature; 0 is greedy (default: 1.0)",
    )
    params.add_argument("--top-p", type=_top_p, default=1.0, metavar="P", help="nucleus sampling")
    params.add_argument(
        "--top-k", type=positive_int, default=None, metavar="K", help="sample from the K likeliest"
    )
    params.add_argument("--seed", type=non_negative_int, metavar="N", help="random seed")
    params.add_argument(
        "-n",
        "--num-samples",
        type=positive_int,
        default=1,
        metavar="N",
        help="completions to sample (default: 1)",
    )
    stop = params.add_mutually_exclusive_group()
    stop.add_argument(
        "--stop", action="append", metavar="TEXT", help="stop at this string (repeatable)"
    )
    stop.add_argument(
        "--stop-token",
        action="append",
        type=non_negative_int,
        metavar="ID",
        help="stop at this token id (repeatable)",
    )


def tokenizer_available() -> bool:
    return importlib.util.find_spec("transformers") is not None


def _read_prompt(args: argparse.Namespace) -> str | None:
    if args.prompt is not None:
        return str(args.prompt)
    if args.prompt_file is None:
        return None
    if args.prompt_file == "-":
        return sys.stdin.read()
    path = Path(args.prompt_file)
    try:
        return path.read_text(encoding="utf-8")
    except OSError as err:
        raise CLIError(f"cannot read the prompt file {path}: {err.strerror or err}") from err
    except UnicodeDecodeError as err:
        raise CLIError(f"the prompt file {path} is not UTF-8 text: {err}") from err


def _sample(ctx: Context) -> int:
    from ..types import ModelInput, SamplingParams
    from ._checkpoint import parse_path

    args = ctx.args
    text = _read_prompt(args)
    if text is not None and not text.strip():
        raise CLIError("the prompt is empty")
    if text is not None and not tokenizer_available():
        raise CLIError(TOKENIZER_HINT)
    if args.model_path is not None:
        parse_path(args.model_path)
    stop: list[str] | list[int] | None = args.stop or args.stop_token or None
    params = SamplingParams(
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        top_k=args.top_k if args.top_k is not None else -1,
        seed=args.seed,
        stop=stop,
    )
    service = ctx.service()
    with ctx.out.progress("sampling", total=args.num_samples) as bar:
        sampler = service.create_sampling_client(
            model_path=args.model_path, base_model=args.base_model
        ).result()
        tokenizer = None
        if text is not None:
            tokenizer = _load_tokenizer(sampler)
            prompt = ModelInput.from_ints(list(tokenizer.encode(text)))
        else:
            prompt = ModelInput.from_ints(args.tokens)
        response = sampler.sample(prompt, args.num_samples, params).result()
        bar.advance(args.num_samples)
    samples: list[dict[str, Any]] = []
    for seq in response.sequences:
        decoded = tokenizer.decode(seq.tokens) if tokenizer is not None else None
        samples.append(
            {
                "tokens": list(seq.tokens),
                "text": decoded,
                "stop_reason": seq.stop_reason,
                "logprobs": seq.logprobs,
            }
        )
    if ctx.out.json:
        ctx.out.emit_json(
            {
                "model_path": args.model_path,
                "base_model": sampler.base_model or args.base_model,
                "prompt_tokens": prompt.to_ints(),
                "samples": samples,
            }
        )
        return EXIT_OK
    for i, s in enumerate(samples, 1):
        if len(samples) > 1:
            ctx.out.line(
                f"--- sample {i}/{len(samples)} ({s['stop_reason']}, {len(s['tokens'])} tokens) ---"
            )
        body = s["text"] if s["text"] is not None else " ".join(map(str, s["tokens"]))
        ctx.out.line(body)
    return EXIT_OK


def _load_tokenizer(sampler: Any) -> Any:
    try:
        return sampler.get_tokenizer()
    except ImportError as err:
        raise CLIError(TOKENIZER_HINT) from err
    except (OSError, ValueError) as err:
        model = sampler.base_model or "this model"
        raise CLIError(
            f"cannot load the tokenizer of {model}: {err}; pass token ids with --tokens instead"
        ) from err
