"""Every config key must be proven to reach its component by some test.

Tests declare what they prove with ``@pytest.mark.config_keys("train.learning_rate", ...)``;
this meta-test reads those markers from the test sources and fails for any leaf key of
:class:`ticketsim.config.Config` that no test covers.
"""

from __future__ import annotations

import ast
from pathlib import Path

from ticketsim.config import leaf_keys

TESTS = Path(__file__).parent


def covered_keys() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in TESTS.rglob("test_*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "config_keys"
            ):
                for arg in node.args:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        found.setdefault(arg.value, []).append(path.name)
    return found


def test_every_config_key_is_proven_by_a_test() -> None:
    covered = covered_keys()
    missing = [k for k in leaf_keys() if k not in covered]
    assert not missing, f"config keys without a test that reads them back from the component: {missing}"


def test_markers_name_real_keys() -> None:
    real = set(leaf_keys())
    stale = {k: v for k, v in covered_keys().items() if k not in real}
    assert not stale, f"config_keys markers name keys that do not exist: {stale}"
