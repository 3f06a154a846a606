"""`python -m sdkgen exports`: a package's TYPE_CHECKING imports written from its _EXPORTS map."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest
import sdkgen.runtime
from sdkgen.codegen.__main__ import main
from sdkgen.codegen.lazy_exports import BEGIN, END, ExportsError, rewrite

PACKAGE = textwrap.dedent(
    f'''\
    """A package with lazily loaded names."""

    from __future__ import annotations

    from typing import TYPE_CHECKING

    _EXPORTS: dict[str, str] = {{
        "Client": "._client",
        "Error": "._errors",
        "AError": "._errors",
        "OldClient": "._client:Client",
        "Spec": "other.pkg",
    }}
    _MODULES = {{"types", "auth"}}

    {BEGIN}
    if TYPE_CHECKING:
        from ._gone import Stale as Stale
    {END}
    '''
)


def static_imports(source: str) -> dict[str, tuple[str, str]]:
    """Public name -> (module, name there), as the TYPE_CHECKING block imports it."""
    block = next(
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    found: dict[str, tuple[str, str]] = {}
    for node in ast.walk(block):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                module = "." * node.level + (node.module or "")
                found[alias.asname or alias.name] = (module, alias.name)
    return found


def plain_imports(source: str) -> set[str]:
    """The names of the TYPE_CHECKING block imported without `as` (not re-exported by it)."""
    return {
        alias.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.module != "__future__"
        for alias in node.names
        if alias.asname is None and alias.name != "TYPE_CHECKING"
    }


def test_the_block_imports_every_name_of_the_map(tmp_path: Path) -> None:
    path = tmp_path / "__init__.py"
    new = rewrite(PACKAGE, path)
    assert static_imports(new) == {
        "Client": ("._client", "Client"),
        "OldClient": ("._client", "Client"),
        "Error": ("._errors", "Error"),
        "AError": ("._errors", "AError"),
        "Spec": ("other.pkg", "Spec"),
        "types": (".", "types"),
        "auth": (".", "auth"),
    }
    assert plain_imports(new) == set()  # no literal __all__: every name `X as X`
    assert "Stale" not in new
    assert new.splitlines()[-1] == END  # what is outside the markers stays
    assert new.startswith('"""A package with lazily loaded names."""')
    assert rewrite(new, path) == new  # written once, current from then on


def test_names_a_literal_all_lists_are_imported_plainly(tmp_path: Path) -> None:
    source = PACKAGE.replace("_MODULES =", '__all__ = ["Client", "OldClient", "types"]\n_MODULES =')
    new = rewrite(source, tmp_path / "__init__.py")
    # __all__ re-exports them; a renamed one still needs its `as`
    assert plain_imports(new) == {"Client", "types"}
    assert static_imports(new)["OldClient"] == ("._client", "Client")
    assert static_imports(new)["Error"] == ("._errors", "Error")


def test_check_fails_on_a_stale_block_and_writing_fixes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "__init__.py"
    path.write_text(PACKAGE)
    assert main(["exports", str(path), "--check"]) == 1
    assert "differ from _EXPORTS" in capsys.readouterr().err
    assert path.read_text() == PACKAGE  # --check writes nothing
    assert main(["exports", str(path)]) == 0
    assert main(["exports", str(path), "--check"]) == 0
    assert "Client" in static_imports(path.read_text())


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (PACKAGE.replace(BEGIN, "# begin"), "expected one"),
        (PACKAGE.replace(END, "# end"), "expected one"),
        (PACKAGE.replace("_EXPORTS: dict[str, str] =", "NAMES ="), "no `_EXPORTS`"),
        (PACKAGE.replace('"Spec": "other.pkg",', '"Spec": SPEC,'), "must be a literal"),
        (PACKAGE.replace('_MODULES = {"types", "auth"}', '_MODULES = "types"'), "`_MODULES`"),
    ],
)
def test_a_file_it_cannot_read_is_an_error(tmp_path: Path, source: str, message: str) -> None:
    with pytest.raises(ExportsError, match=message):
        rewrite(source, tmp_path / "__init__.py")


def test_the_runtimes_own_block_is_current() -> None:
    path = Path(sdkgen.runtime.__file__)
    source = path.read_text()
    assert rewrite(source, path) == source, "run: python -m sdkgen exports " + str(path)
    assert set(static_imports(source)) == set(sdkgen.runtime.__all__)
