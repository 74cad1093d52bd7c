"""A "fix it" task in level 1: how far a student's copy of a given function strays from the original.

The fix is code the student edits (an editable module holding a copy of one given function); the
harness reads it as text, never imports it, and compares it with the given function: how many lines
were replaced, added or removed (comments, blank lines and the docstring do not count), and whether
the module holds anything besides imports and that function.
"""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class FixDiff:
    """What a fix changed, compared with the given function."""

    changed: int  # lines replaced, added or removed in the function (a replaced line counts once)
    lines: tuple[str, ...]  # the diff, as ``- old`` / ``+ new`` lines
    problems: tuple[str, ...]  # why the module cannot be compared (no such function, other code...)


def function_lines(source: str, name: str) -> list[str]:
    """The code lines of function ``name`` in ``source``: stripped, without comments, blanks or docstring."""
    tree = ast.parse(source)
    node = next(
        (n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == name), None
    )
    if node is None:
        raise LookupError(f"no function {name}() at the top level")
    body = node.body
    skip = set()
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        skip = set(range(body[0].lineno, (body[0].end_lineno or body[0].lineno) + 1))
    lines = source.splitlines()[node.lineno - 1 : node.end_lineno]
    return [
        line.strip()
        for number, line in enumerate(lines, start=node.lineno)
        if line.strip() and not line.strip().startswith("#") and number not in skip
    ]


def compare_fix(given: str, fixed: str, name: str) -> FixDiff:
    """Compare function ``name`` of the student's module ``fixed`` with the same function in ``given``."""
    try:
        tree = ast.parse(fixed)
        theirs = function_lines(fixed, name)
    except SyntaxError as exc:
        return FixDiff(0, (), (f"it does not parse: {exc.msg} (line {exc.lineno})",))
    except LookupError as exc:
        return FixDiff(0, (), (str(exc),))
    body = tree.body[1:] if tree.body and _docstring(tree.body[0]) else tree.body
    others = [
        f"line {n.lineno}: {ast.unparse(n).splitlines()[0][:60]}"
        for n in body
        if not isinstance(n, ast.Import | ast.ImportFrom) and getattr(n, "name", None) != name
    ]
    problems = tuple(f"it holds code besides the imports and {name}(): {o}" for o in others)
    ours = function_lines(given, name)
    diff = []
    changed = 0
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=ours, b=theirs, autojunk=False).get_opcodes():
        if tag != "equal":
            changed += max(i2 - i1, j2 - j1)
            diff += [f"- {line}" for line in ours[i1:i2]] + [f"+ {line}" for line in theirs[j1:j2]]
    return FixDiff(changed, tuple(diff), problems)


def _docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
