"""``tinkex checkpoint push-hf``: a checkpoint's LoRA adapter uploaded to the Hugging Face Hub.

Needs ``huggingface_hub`` (``pip install 'tinkex[hf]'``) and a Hub login (``hf auth login`` or
``$HF_TOKEN``); ``$HF_ENDPOINT`` chooses another Hub (a mirror, or a local one in tests).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._app import Context, add_command
from ._errors import EXIT_OK, CLIError

if TYPE_CHECKING:
    from ..types import ParsedCheckpointTinkerPath

__all__ = ["register"]

#: What is downloaded with a checkpoint but is no part of the adapter.
_NOT_UPLOADED = [".tinkex-download.json"]


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_command(
        sub,
        "push-hf",
        common,
        _push_hf,
        help="upload a checkpoint to the Hugging Face Hub as a PEFT adapter",
        description="Download a checkpoint (tinker://RUN/weights/NAME or "
        "tinker://RUN/external_weights/NAME) and upload its LoRA adapter to a Hugging Face Hub "
        "repository, with a model card unless it has one. Needs huggingface_hub (pip install "
        "'tinkex[hf]') and a Hub login ('hf auth login' or HF_TOKEN); HF_ENDPOINT picks "
        "another Hub.",
        epilog="examples:\n  tinkex checkpoint push-hf tinker://RUN/weights/final -r ada/my-lora\n"
        "  tinkex checkpoint push-hf tinker://RUN/weights/final --public --create-pr",
    )
    p.add_argument("path", metavar="PATH", help="tinker:// path of the checkpoint")
    p.add_argument(
        "-r",
        "--repo",
        dest="repo_id",
        metavar="REPO_ID",
        help="the Hub repository, e.g. ada/my-lora (default: tinker-<base model>-<run id> "
        "in your namespace, on a branch named after the checkpoint)",
    )
    p.add_argument("--public", action="store_true", help="a public repository (default: private)")
    p.add_argument("--revision", metavar="BRANCH", help="the branch to upload to")
    p.add_argument("--commit-message", metavar="TEXT", help="the commit's message")
    p.add_argument(
        "--create-pr", action="store_true", help="open a pull request instead of committing"
    )
    p.add_argument(
        "--allow-pattern",
        dest="allow_patterns",
        action="append",
        metavar="GLOB",
        help="upload only files matching GLOB (repeatable)",
    )
    p.add_argument(
        "--ignore-pattern",
        dest="ignore_patterns",
        action="append",
        metavar="GLOB",
        help="skip files matching GLOB (repeatable)",
    )
    p.add_argument(
        "--no-model-card", action="store_true", help="do not write a README.md model card"
    )


def repo_name(text: str) -> str:
    """``text`` as a Hub repository or branch name: letters, digits, ``-_.``; runs of anything
    else become one ``-``.

    Args:
        text: e.g. ``"tinker-Qwen3-8B-run:1"``.

    Example::

        repo_name("tinker-Qwen3 8B/run 1")  # 'tinker-Qwen3-8B-run-1'
    """
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-_ .")


def _model_card(tinker_path: str, repo_id: str, info: Any) -> str:
    base = info.base_model if info is not None else None
    lines = ["---"]
    if base:
        lines.append(f"base_model: {base}")
    lines += ["library_name: peft", "tags:", "- tinker", "- lora"]
    lines += [f"tinker_path: {tinker_path}", "---", "", f"# {repo_id}", ""]
    lines.append(f"A LoRA adapter trained with Tinker, uploaded from `{tinker_path}` by tinkex.")
    lines.append("")
    if base:
        lines += ["Load it with PEFT on top of its base model:", "", "```python"]
        lines += ["from peft import PeftModel", "from transformers import AutoModelForCausalLM", ""]
        lines += [f'base = AutoModelForCausalLM.from_pretrained("{base}")']
        lines += [f'model = PeftModel.from_pretrained(base, "{repo_id}")', "```", ""]
    if info is not None and info.lora_rank is not None:
        lines += [f"- LoRA rank: {info.lora_rank}", ""]
    return "\n".join(lines)


def _weights_info(ctx: Context, path: str) -> Any:
    """The base model and LoRA settings, or None when the server cannot say."""
    from sdkgen.runtime import APIError

    try:
        return ctx.rest().get_weights_info_by_tinker_path(path).result()
    except APIError:
        return None


def _checked_adapter(folder: Path) -> None:
    weights = ("adapter_model.safetensors", "adapter_model.bin")
    if not (folder / "adapter_config.json").is_file() or not any(
        (folder / w).is_file() for w in weights
    ):
        found = ", ".join(sorted(p.name for p in folder.iterdir())) or "nothing"
        raise CLIError(
            "the checkpoint holds no PEFT adapter (adapter_config.json and "
            f"adapter_model.safetensors or .bin); it holds: {found}"
        )


def _name_base_model(folder: Path, info: Any) -> None:
    """Write the base model into adapter_config.json when it is missing (PEFT loads by it)."""
    if info is None or not info.base_model:
        return
    config_path = folder / "adapter_config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except ValueError:
        return
    if isinstance(config, dict) and not isinstance(config.get("base_model_name_or_path"), str):
        config["base_model_name_or_path"] = info.base_model
        config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def _default_names(parsed: ParsedCheckpointTinkerPath, info: Any) -> tuple[str, str]:
    base = info.base_model.rsplit("/", 1)[-1] if info is not None and info.base_model else None
    repo = repo_name(f"tinker-{base or 'adapter'}-{parsed.training_run_id}")
    return repo, repo_name(parsed.checkpoint_id.replace("/", "-"))


def _one_line(err: BaseException) -> str:
    """huggingface_hub's multi-line message as one line: the status, then the Hub's words."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    said = [line for line in lines[1:] if not line.startswith("For more information")]
    return "; ".join(lines[:1] + said[-1:])


def _push_hf(ctx: Context) -> int:
    from ._checkpoint import parse_path

    args = ctx.args
    parsed = parse_path(args.path)
    try:
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError
    except ImportError:
        raise CLIError(
            "checkpoint push-hf needs huggingface_hub: pip install 'tinkex[hf]', then "
            "'hf auth login' (or set HF_TOKEN)"
        ) from None
    hub = HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None)
    try:
        hub.whoami()
    except Exception as err:  # no token, a refused one, or no Hub at the endpoint
        raise CLIError(
            f"not logged in to the Hugging Face Hub at {hub.endpoint}: run 'hf auth login' or "
            f"set HF_TOKEN ({type(err).__name__}: {_one_line(err)})"
        ) from err
    info = _weights_info(ctx, args.path)
    repo_id, revision = args.repo_id, args.revision
    if repo_id is None:
        repo_id, default_revision = _default_names(parsed, info)
        revision = revision or default_revision
    ignore = list(args.ignore_patterns or []) + _NOT_UPLOADED
    if not args.allow_patterns:
        ignore.append("checkpoint_complete")
    with tempfile.TemporaryDirectory(prefix="tinkex-push-hf-") as tmp:
        folder = Path(
            ctx.rest().download_checkpoint(
                args.path, Path(tmp) / "checkpoint", progress=ctx.out.interactive
            )
        )
        _checked_adapter(folder)
        _name_base_model(folder, info)
        readme = folder / "README.md"
        try:
            repo_id = hub.create_repo(repo_id, private=not args.public, exist_ok=True).repo_id
            if not args.no_model_card and not readme.exists():
                readme.write_text(_model_card(args.path, repo_id, info), encoding="utf-8")
            if revision and revision != "main":
                hub.create_branch(repo_id, branch=revision, exist_ok=True)
            commit = hub.upload_folder(
                folder_path=folder,
                repo_id=repo_id,
                revision=revision,
                commit_message=args.commit_message or f"Upload {args.path}",
                create_pr=args.create_pr,
                allow_patterns=args.allow_patterns,
                ignore_patterns=ignore,
            )
        except HfHubHTTPError as err:
            raise CLIError(
                f"the Hugging Face Hub at {hub.endpoint} refused the upload: {_one_line(err)}"
            ) from err
    url = getattr(commit, "pr_url", None) or getattr(commit, "commit_url", None)
    if ctx.out.json:
        ctx.out.emit_json(
            {
                "path": args.path,
                "repo_id": repo_id,
                "revision": revision,
                "public": bool(args.public),
                "url": url,
            }
        )
    else:
        where = f" (branch {revision})" if revision else ""
        visibility = "public" if args.public else "private"
        ctx.out.line(f"uploaded {args.path} to {repo_id}{where}, {visibility}: {url}")
    return EXIT_OK
