"""Fault-injection helpers: snapshot a tree before a command and prove nothing else changed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest


def snapshot(*roots: Path) -> dict[Path, str]:
    """sha256 of every file under `roots` (a missing root contributes nothing)."""
    found: dict[Path, str] = {}
    for root in roots:
        if root.is_file():
            found[root] = hashlib.sha256(root.read_bytes()).hexdigest()
            continue
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                found[path] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def assert_unchanged(
    before: dict[Path, str], *roots: Path, appended: tuple[Path, ...] = ()
) -> None:
    """Every file of `before` still exists byte-identical, except the ones in `appended` (which a
    run may only grow: their old bytes must still be a prefix of the new ones)."""
    after = snapshot(*roots)
    for path, digest in before.items():
        assert path in after, f"{path} was deleted"
        if path in appended:
            continue
        assert after[path] == digest, f"{path} was changed"


def error_lines(stderr: str, prog: str = "drlrun") -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith(f"{prog}: error:")]


@pytest.fixture
def one_line_error():
    """`one_line_error(proc, fragment)`: exit 2, exactly one error line containing `fragment`,
    and no traceback."""

    def check(proc, fragment: str, prog: str = "drlrun") -> str:
        assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
        lines = error_lines(proc.stderr, prog)
        assert len(lines) == 1, proc.stderr[-3000:]
        assert fragment in lines[0], lines[0]
        assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
        return lines[0]

    return check
