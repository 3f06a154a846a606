"""The generated surface as a user's ``mypy --strict`` sees it: the raw and streaming views keep
each method's exact signature and give ``APIResponse[T]`` of what it returns; the two forms of a
body method (keywords, ``request=``) type-check and mixing them does not; a GET method has no
``idempotency_key``. Checked on the golden package (issue 11, points 3 and 4)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

KIT_SRC = Path(__file__).resolve().parents[2] / "src"
GOLDEN = Path(__file__).parent / "golden" / "notes_sdk"

USER_CODE = textwrap.dedent(
    """
    from notes_sdk import AsyncNotesAPI, NotesAPI, models
    from sdkgen.runtime import APIResponse, FutureHandle, Stream


    def sync(api: NotesAPI) -> None:
        raw: APIResponse[models.Note] = api.notes.with_raw_response.get_note("n1")
        note: models.Note = raw.parse()
        made: models.Note = api.notes.create_note(request=models.NewNote(text="x"))
        also: models.Note = api.notes.create_note(text="x", color="red", idempotency_key="k")
        with api.notes.with_streaming_response.get_note("n1") as resp:
            status: int = resp.status_code
            chunks: list[bytes] = list(resp.iter_bytes(1024))
            parsed: models.Note = resp.parse()
        job = api.notes.with_raw_response.start_export(format=models.TextFormat()).parse()
        handle: FutureHandle[models.ExportHandle, models.Export] = job
        events: Stream[models.NoteEvent] = api.notes.with_raw_response.watch("n1").parse()
        api.notes.create_note(request=models.NewNote(text="x"), text="y")  # E
        api.notes.create_note(color="red")  # E
        api.notes.get_note("n1", idempotency_key="k")  # E
        api.notes.with_raw_response.get_note(1)  # E
        bad: APIResponse[models.NotePage] = api.notes.with_raw_response.get_note("n1")  # E


    async def aio(api: NotesAPI, aapi: AsyncNotesAPI) -> None:
        raw = await aapi.notes.with_raw_response.get_note("n1")
        note: models.Note = await raw.parse()
        async with aapi.notes.with_streaming_response.create_note(text="x") as resp:
            lines: list[str] = [line async for line in resp.iter_lines()]
        made: models.Note = await aapi.notes.create_note(request=models.NewNote(text="x"))
        await aapi.notes.create_note(request=models.NewNote(text="x"), text="y")  # E
    """
)


@pytest.mark.timeout(300)
def test_the_generated_surface_type_checks_as_documented(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    shutil.copytree(GOLDEN, tmp_path / "notes_sdk")
    (tmp_path / "user_code.py").write_text(USER_CODE)
    (tmp_path / "mypy.ini").write_text("[mypy]\nplugins = pydantic.mypy\n")
    env = {**os.environ, "MYPYPATH": str(KIT_SRC)}  # this checkout's runtime
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--config-file",
            "mypy.ini",
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            "user_code.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=290,
        check=False,
        env=env,
    )
    output = proc.stdout + proc.stderr
    expected = {i for i, line in enumerate(USER_CODE.splitlines(), 1) if line.endswith("# E")}
    errors = {int(m.group(1)) for m in re.finditer(r"^user_code\.py:(\d+): error", output, re.M)}
    assert errors == expected, output
