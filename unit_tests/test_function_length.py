"""No function of the package is over 60 lines (the house rule: a longer one is split by meaning).

A function's length runs from its first decorator (or its ``def``) to its last line, docstring,
comments and blank lines included: what a reader has to hold at once. Nested functions count
on their own and inside the function that holds them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "source_stripe_proxy"
MAX_LINES = 60


def function_lengths(source: str) -> list[tuple[str, int, int]]:
    """(qualified name, first line, length in lines) of every function in ``source``."""
    found: list[tuple[str, int, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                assert child.end_lineno is not None  # set by ast.parse for every statement
                found.append((f"{prefix}{child.name}", first, child.end_lineno - first + 1))
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return found


def test_the_measure_counts_decorators_docstrings_and_nested_functions():
    source = '''
@decorator
def outer():
    """Doc."""

    def inner():
        return 1

    return inner


class Holder:
    async def method(self):
        pass
'''
    assert function_lengths(source) == [("outer", 2, 8), ("outer.inner", 6, 2), ("Holder.method", 13, 2)]


def test_a_function_of_61_lines_is_named():
    body = "".join(f"    x{i} = {i}\n" for i in range(59))
    source = f"def long_one():\n{body}    return 0\n\n\ndef short_one():\n    return 1\n"
    too_long = [(name, length) for name, _, length in function_lengths(source) if length > MAX_LINES]
    assert too_long == [("long_one", 61)]


def test_no_function_of_the_package_is_over_60_lines():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 30, f"the package's modules were not found under {PACKAGE}"
    too_long = [
        f"{path.relative_to(PACKAGE.parent)}:{line} {name} is {length} lines"
        for path in files
        for name, line, length in function_lengths(path.read_text(encoding="utf-8"))
        if length > MAX_LINES
    ]
    if too_long:
        pytest.fail(f"Functions over {MAX_LINES} lines (split them by meaning):\n" + "\n".join(too_long))
