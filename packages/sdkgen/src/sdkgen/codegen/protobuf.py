"""Compiling the manifest's ``.proto`` schema with a pinned protoc (grpcio-tools).

The compiler's output (``<stem>_pb2.py`` and its ``.pyi`` stub) goes into the generated package
as it is; the descriptor set it also writes tells the validator which messages exist, so an
endpoint naming an unknown message is a manifest error with its position, not an import error.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CompiledProto", "ProtoError", "compile_proto"]


class ProtoError(Exception):
    """protoc refused the schema; the message is its own output."""


@dataclass(frozen=True)
class CompiledProto:
    """What one ``.proto`` file compiles to."""

    module: str  # the generated module's name, e.g. ``api_pb2``
    package: str  # the proto package, prefixed to message names on the wire
    messages: frozenset[str]  # top-level message names
    files: dict[str, str] = field(default_factory=dict)  # file name -> source

    def full_name(self, message: str) -> str:
        return f"{self.package}.{message}" if self.package else message


def compile_proto(proto: Path) -> CompiledProto:
    """Compile ``proto`` (imports resolved next to it) and return the emitted sources."""
    from google.protobuf import descriptor_pb2

    proto = proto.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        descriptors = out / "descriptors.bin"
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"-I{proto.parent}",
                f"--python_out={out}",
                f"--pyi_out={out}",
                f"--descriptor_set_out={descriptors}",
                proto.name,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ProtoError((result.stderr or result.stdout).strip())
        fds = descriptor_pb2.FileDescriptorSet.FromString(descriptors.read_bytes())
        stem = proto.stem.replace("-", "_").replace(".", "_")
        module = f"{stem}_pb2"
        files = {
            name: (out / name).read_text(encoding="utf-8")
            for name in (f"{module}.py", f"{module}.pyi")
        }
    described = fds.file[0]
    return CompiledProto(
        module=module,
        package=described.package,
        messages=frozenset(m.name for m in described.message_type),
        files=files,
    )
