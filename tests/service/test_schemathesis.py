"""Property-based API testing with schemathesis against the app's own OpenAPI schema.

Every operation is called with generated requests, valid (positive) and invalid
(negative), bounded by ``MAX_EXAMPLES``; every default check runs on each response:
no 5xx, status codes, content types and bodies that match the schema, and the
positive-data check (a request valid under the schema gets 2xx or 404, so a blanket
4xx handler cannot hide a bug) with its negative counterpart.
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402

MAX_EXAMPLES = 25


def _fuzz(op, mode, runs, statuses, failures) -> None:  # type: ignore[no-untyped-def]
    label = op.label

    @given(case=op.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case) -> None:  # type: ignore[no-untyped-def]
        runs[(label, mode.value)] = runs.get((label, mode.value), 0) + 1
        try:
            response = case.call_and_validate()
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        except Exception as exc:  # collect every failing case, report them together
            failures.append(f"{label} [{mode.value}]: {str(exc)[:800]}")

    try:
        run()
    except Unsatisfiable:  # no inputs to make invalid (GET /health, GET /stats)
        assert mode == GenerationMode.NEGATIVE, label


def test_no_5xx_and_positive_data_accepted(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(max_k=20, max_text_chars=2000, max_batch=5)
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    runs: dict[tuple[str, str], int] = {}
    statuses: dict[int, int] = {}
    failures: list[str] = []
    for result in schema.get_all_operations():
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(result.ok(), mode, runs, statuses, failures)
    total = sum(runs.values())
    print(f"schemathesis: {total} cases over {len(runs)} operation/mode pairs, "
          f"statuses {dict(sorted(statuses.items()))}, {len(failures)} failures")
    assert not failures, "\n\n".join(failures[:6])
    assert not [s for s in statuses if s >= 500]
    assert statuses.get(200, 0) > 20 and total >= 100
