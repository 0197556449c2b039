"""Every config key must be proven to reach its component by some test.

Tests declare what they prove with ``@pytest.mark.config_keys("train.learning_rate", ...)``;
this meta-test reads those markers from the test sources and fails for any leaf key of
:class:`ticketsim.config.Config` that no test covers. A marker counts only on a test
function that asserts something: an ``assert`` whose condition is not a constant, or a
``pytest.raises`` block. A marker on a test that checks nothing proves nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

from ticketsim.config import leaf_keys

TESTS = Path(__file__).parent


def _marker_keys(node: ast.expr) -> list[str]:
    """The keys of a ``@pytest.mark.config_keys(...)`` decorator (empty for any other)."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "config_keys"):
        return []
    return [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]


def _is_raises(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "raises")


def asserts_something(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether the test body holds a non-constant ``assert`` or a ``pytest.raises`` block."""
    for node in ast.walk(fn):
        if isinstance(node, ast.Assert) and not isinstance(node.test, ast.Constant):
            return True
        if isinstance(node, ast.With | ast.AsyncWith) and any(
                _is_raises(item.context_expr) for item in node.items):
            return True
    return False


def scan(source: str, name: str = "<test>") -> tuple[dict[str, list[str]], list[str]]:
    """(key -> test files proving it, markers on tests that assert nothing) of one test file."""
    found: dict[str, list[str]] = {}
    empty: list[str] = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        keys = [k for d in node.decorator_list for k in _marker_keys(d)]
        if not keys:
            continue
        if not asserts_something(node):
            empty.append(f"{name}::{node.name}")
            continue
        for k in keys:
            found.setdefault(k, []).append(name)
    return found, empty


def covered_keys() -> tuple[dict[str, list[str]], list[str]]:
    found: dict[str, list[str]] = {}
    empty: list[str] = []
    for path in TESTS.rglob("test_*.py"):
        keys, none = scan(path.read_text(encoding="utf-8"), path.name)
        for k, files in keys.items():
            found.setdefault(k, []).extend(files)
        empty += none
    return found, empty


def test_every_config_key_is_proven_by_a_test() -> None:
    covered, _ = covered_keys()
    missing = [k for k in leaf_keys() if k not in covered]
    assert not missing, f"config keys without a test that reads them back from the component: {missing}"


def test_markers_name_real_keys() -> None:
    real = set(leaf_keys())
    stale = {k: v for k, v in covered_keys()[0].items() if k not in real}
    assert not stale, f"config_keys markers name keys that do not exist: {stale}"


def test_marked_tests_assert_something() -> None:
    _, empty = covered_keys()
    assert not empty, f"config_keys markers on tests without an assertion: {empty}"


def test_a_marker_without_an_assertion_does_not_count() -> None:
    source = (
        "import pytest\n"
        "@pytest.mark.config_keys('a.b')\n"
        "def test_nothing():\n    run()\n    assert True\n"
        "@pytest.mark.config_keys('c.d')\n"
        "def test_value():\n    assert run() == 3\n"
        "@pytest.mark.config_keys('e.f')\n"
        "def test_error():\n    with pytest.raises(ValueError):\n        run()\n"
    )
    keys, empty = scan(source, "t.py")
    assert keys == {"c.d": ["t.py"], "e.f": ["t.py"]}
    assert empty == ["t.py::test_nothing"]
