"""``force`` (issue #10, finding 6): it replaces only an empty directory or a previous tinkex
download of the same checkpoint (recognised by its ``.tinkex-download.json`` record) holding
nothing else; anything else is refused with the path and the reason, before any request, and
nothing is deleted. Never a system directory."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import tinkex as tinker
from tests.download.conftest import RUN, add_checkpoint, no_leftovers, tree
from tests.fake_tinker import FakeTinker
from tinkex._download import MARKER_NAME, OutputExistsError, UnsafeArchiveError
from tinkex._download.place import refuse_system

EXTERNAL = f"tinker://{RUN}/external_weights/export-1"
OTHER = f"tinker://{RUN}/external_weights/export-2"
SAMPLER = f"tinker://{RUN}/sampler_weights/final"


def _refused(rest: tinker.RestClient, server: FakeTinker, out: Path, *says: str) -> None:
    with pytest.raises(OutputExistsError) as info:
        rest.download_checkpoint(EXTERNAL, out, force=True, progress=False)
    message = str(info.value)
    assert str(out) in message
    for text in says:
        assert text in message
    assert server.requests == []  # refused before any request


def test_every_download_records_what_it_is(
    server: FakeTinker, rest: tinker.RestClient, out: Path
) -> None:
    add_checkpoint(server, EXTERNAL)
    rest.download_checkpoint(EXTERNAL, out, progress=False)
    record = json.loads((out / MARKER_NAME).read_text())
    assert record["tinker_path"] == EXTERNAL
    assert set(record["entries"]) == set(tree(out))


def test_the_archive_route_records_it_too(
    server: FakeTinker, rest: tinker.RestClient, out: Path
) -> None:
    server.archive_mode = "redirect"
    add_checkpoint(server, SAMPLER)
    rest.download_checkpoint(SAMPLER, out, progress=False)
    assert json.loads((out / MARKER_NAME).read_text())["tinker_path"] == SAMPLER


def test_force_replaces_an_empty_directory(
    server: FakeTinker, rest: tinker.RestClient, out: Path
) -> None:
    out.mkdir()
    add_checkpoint(server, EXTERNAL)
    rest.download_checkpoint(EXTERNAL, out, force=True, progress=False)
    assert set(tree(out)) == {"adapter_config.json", "adapter_model.safetensors"}
    no_leftovers(out.parent)


def test_force_replaces_a_previous_download_of_the_same_checkpoint(
    server: FakeTinker, rest: tinker.RestClient, out: Path
) -> None:
    server.external_files[EXTERNAL] = {"old.bin": b"old", "sub/x.bin": b"x"}
    rest.download_checkpoint(EXTERNAL, out, progress=False)
    server.external_files[EXTERNAL] = {"new.bin": b"new"}
    rest.download_checkpoint(EXTERNAL, out, force=True, progress=False)
    assert tree(out) == {"new.bin": b"new"}


def test_force_refuses_a_directory_that_is_not_a_download(
    server: FakeTinker, rest: tinker.RestClient, out: Path
) -> None:
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    _refused(rest, server, out, "not a tinkex download", "nothing was deleted")
    assert (out / "thesis.tex").read_text() == "years of work"


def test_force_refuses_a_download_of_another_checkpoint(
    server: FakeTinker, rest: tinker.RestClient, out: Path
) -> None:
    server.external_files[OTHER] = {"other.bin": b"other"}
    rest.download_checkpoint(OTHER, out, progress=False)
    server.requests.clear()
    _refused(rest, server, out, OTHER, f"not {EXTERNAL}")
    assert tree(out) == {"other.bin": b"other"}


def test_force_refuses_a_download_with_files_added(
    server: FakeTinker, rest: tinker.RestClient, out: Path
) -> None:
    server.external_files[EXTERNAL] = {"w.bin": b"w"}
    rest.download_checkpoint(EXTERNAL, out, progress=False)
    (out / "notes").mkdir()
    (out / "notes" / "eval.txt").write_text("mine")
    server.requests.clear()
    _refused(rest, server, out, "'notes", "did not write")
    assert (out / "notes" / "eval.txt").read_text() == "mine"


def test_force_refuses_a_forged_or_broken_record(
    server: FakeTinker, rest: tinker.RestClient, out: Path
) -> None:
    out.mkdir()
    (out / "data.bin").write_bytes(b"data")
    (out / MARKER_NAME).write_text("{not json")
    _refused(rest, server, out, "not a tinkex download")
    assert (out / "data.bin").exists()


def test_force_refuses_a_file(server: FakeTinker, rest: tinker.RestClient, out: Path) -> None:
    out.write_text("a file")
    _refused(rest, server, out, "not a directory")
    assert out.read_text() == "a file"


def test_force_refuses_a_symlink_even_to_a_previous_download(
    server: FakeTinker, rest: tinker.RestClient, out: Path
) -> None:
    real = out.parent / "real"
    server.external_files[EXTERNAL] = {"w.bin": b"w"}
    rest.download_checkpoint(EXTERNAL, real, progress=False)
    out.symlink_to(real)
    server.requests.clear()
    _refused(rest, server, out, "symbolic link")
    assert os.readlink(out) == str(real)
    assert tree(real) == {"w.bin": b"w"}


def test_force_refuses_the_home_directory_even_when_empty(
    server: FakeTinker,
    rest: tinker.RestClient,
    out: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out.mkdir()
    monkeypatch.setenv("HOME", str(out))
    _refused(rest, server, out, "home")
    assert out.is_dir()


@pytest.mark.skipif(os.name != "posix", reason="POSIX system paths")
@pytest.mark.parametrize(
    "path", ["/", "/usr", "/etc", "/tmp", "/usr/lib/x86_64-linux-gnu", "/proc/1"]
)
def test_system_directories_are_never_replaced(path: str) -> None:
    with pytest.raises(OutputExistsError, match="refusing to replace"):
        refuse_system(Path(path))


def test_an_archive_may_not_bring_its_own_record(
    server: FakeTinker, rest: tinker.RestClient, out: Path
) -> None:
    server.external_files[EXTERNAL] = {MARKER_NAME: b'{"tinkex_download": 1}', "w.bin": b"w"}
    with pytest.raises(UnsafeArchiveError, match="reserves"):
        rest.download_checkpoint(EXTERNAL, out, progress=False)
    assert not out.exists()
    no_leftovers(out.parent)


def test_files_added_during_the_download_are_noticed_before_replacing(
    server: FakeTinker, rest: tinker.RestClient, out: Path
) -> None:
    """The check runs again just before placement: the download may take hours."""
    server.external_files[EXTERNAL] = {"w.bin": b"w"}
    rest.download_checkpoint(EXTERNAL, out, progress=False)

    def meanwhile(name: str, done: int, total: int | None) -> None:
        (out / "added-meanwhile.txt").write_text("mine")

    with pytest.raises(OutputExistsError, match="added-meanwhile"):
        rest.download_checkpoint(EXTERNAL, out, force=True, progress=meanwhile)
    assert (out / "added-meanwhile.txt").read_text() == "mine"
    assert tree(out) == {"w.bin": b"w", "added-meanwhile.txt": b"mine"}
    no_leftovers(out.parent)
