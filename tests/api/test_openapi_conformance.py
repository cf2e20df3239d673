"""The OpenAPI document tells the truth: schemathesis, all checks, every operation.

Issue 15 (8) found 11 server errors, 100 undocumented status codes, 72 undocumented
content types and 29 schema-valid requests refused. This runs the same kind of run
(examples, coverage, fuzzing and stateful phases; every check) against the in-process
app as the engineer of supplier A in the seeded world, bounded and seeded so that it
repeats, and wants no failure at all.

Nothing is excluded: every operation of the document is exercised. The world holds no
model that could train for long and no partner to call (the outbound policy refuses
loopback partners in this install), so no operation runs for minutes or leaves the host.

A schema cannot say everything the code checks. Where a schema-valid request is refused
with 422 for a reason no JSON schema can state, the operation is listed in
``REFUSED_FOR_REASONS_NO_SCHEMA_STATES`` with that reason; for those operations (only)
a 422 to generated valid data is accepted. Everything else a schema can state (lengths,
bounds, patterns, enums, item counts, control characters) is stated in it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema

from tests.factories import World

SEED = 20261130
MAX_EXAMPLES = 3  # per operation and phase: about 5,000 cases, ~1 minute on one core

_REF = (
    "names a stored thing by id in the body or form ({}): one that is absent or foreign is "
    "a 422 naming the field"
)
_FILE = "judges an uploaded file's bytes ({}): a schema cannot say what decodes"
_PARAMETER = (
    "names a process parameter the part's records must carry: an unknown one is a 422 "
    "naming the field"
)
_NULL_FORM = "takes an optional date in a multipart form: a generated null is sent as text"
REFUSED_FOR_REASONS_NO_SCHEMA_STATES: dict[tuple[str, str], str] = {
    ("POST", "/api/lots"): _REF.format("part_id, line_id"),
    ("POST", "/api/parts"): _REF.format("oem_part_id"),
    ("POST", "/api/process-records"): _REF.format("part_id, lot_id, line_id"),
    ("POST", "/api/inspection-models"): _REF.format("part_id"),
    ("POST", "/api/kpi-reports"): _REF.format("part_id, send_to")
    + "; period_end must follow period_start",
    ("POST", "/api/tokens"): "expires_at must lie in the future (a schema has no 'now')",
    ("POST", "/api/users"): "the password must not be a common one, a run of keys or the "
    "e-mail: a policy, not a shape",
    ("POST", "/api/connectors"): "config is checked against its kind's settings, with rules "
    "between fields (exactly one of asset or asset_level, channels for binary payloads)",
    ("PATCH", "/api/connectors/{connector_id}"): "config is checked against the stored "
    "connector's kind, which the request does not carry",
    ("POST", "/api/inspections"): _FILE.format("image") + "; " + _NULL_FORM,
    ("POST", "/api/inspection-models/{model_id}/inspect"): _FILE.format("image")
    + "; "
    + _NULL_FORM,
    ("POST", "/api/inspection-models/{model_id}/inspect-batch"): _FILE.format("images")
    + "; "
    + _NULL_FORM,
    ("POST", "/api/parts/{part_id}/images"): _FILE.format("images"),
    ("POST", "/api/imports/sensor-readings"): _FILE.format("a .csv or .parquet table"),
    ("POST", "/api/imports/process-records"): _FILE.format("a table, and its JSON mapping"),
    ("POST", "/api/packages/import"): _FILE.format("a signed model package"),
    ("PUT", "/api/live-checks"): _REF.format("subject_id")
    + "; which rules apply depends on subject_kind, and only parameter checks name a parameter",
    ("GET", "/api/parts/{part_id}/process-charts"): _PARAMETER,
    ("GET", "/api/dashboard/process"): _PARAMETER,
    ("PUT", "/api/parts/{part_id}/process-specs/{parameter}"): "a rule between fields: at "
    "least one of lower and upper, and lower below upper",
    ("POST", "/api/root-cause/requests"): "a rule between fields: at least one lot or "
    "serial; and the organisation asked must be one of the caller's suppliers",
    ("POST", "/api/part-defects/trace/root-cause"): "the lots must be lots the caller's own "
    "defect records trace to that supplier (a state no schema holds)",
}


def _config(world: World) -> SchemathesisConfig:
    accepted = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "headers": world.a.auth("engineer"),
            "generation": {"max-examples": MAX_EXAMPLES},
            "checks": {"enabled": True},
            "operations": [
                {
                    "include-path": path,
                    "include-method": method,
                    "checks": {"positive_data_acceptance": {"expected-statuses": accepted}},
                }
                for method, path in REFUSED_FOR_REASONS_NO_SCHEMA_STATES
            ],
        }
    )


def _run(app: Any, world: World) -> dict[str, Any]:
    """Run schemathesis over ``app`` and tally operations, cases, checks and failures."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=_config(world))
    tally: dict[str, Any] = {
        "operations": set(),
        "cases": 0,
        "checks": Counter(),
        "failures": [],
        "errors": [],
    }
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            tally["operations"].add(recorder.label)
            tally["cases"] += len(recorder.cases)
            for case_id, nodes in recorder.checks.items():
                for node in nodes:
                    tally["checks"][(node.name, node.status.value)] += 1
                    if node.failure_info is not None:
                        tally["failures"].append(_described(recorder, case_id, node))
        elif isinstance(event, events.NonFatalError):
            tally["errors"].append(f"{event.label}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            tally["errors"].append(f"fatal: {event.exception!r}")
    return tally


def _described(recorder: Any, case_id: str, node: Any) -> str:
    failure = node.failure_info.failure
    interaction = recorder.interactions.get(case_id)
    answer = ""
    if interaction is not None and interaction.response is not None:
        body = (interaction.response.content or b"")[:300]
        answer = f" -> {interaction.response.status_code} {body!r}"
    return (
        f"{recorder.label}: {node.name}: {failure.title}{answer}\n"
        f"  {node.failure_info.code_sample[:500]}"
    )


def summary(tally: dict[str, Any], operations: int) -> str:
    """One line per run and one per check, as schemathesis's own summary counts them."""
    names = sorted({name for name, _ in tally["checks"]})
    lines = [
        f"schemathesis: {len(tally['operations'] - {'Stateful tests'})} of {operations} "
        f"operations, {tally['cases']} cases, {len(tally['failures'])} failures, "
        f"{len(tally['errors'])} errors"
    ]
    for name in names:
        passed = tally["checks"][(name, "success")]
        failed = tally["checks"][(name, "failure")]
        lines.append(f"  {name}: {passed} passed, {failed} failed")
    return "\n".join(lines)


def _operations(app: Any) -> set[str]:
    return {
        f"{method.upper()} {path}"
        for path, item in app.openapi()["paths"].items()
        for method in item
    }


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_conformance_failure(
    client, world: World, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    operations = _operations(client.app)
    listed = {f"{m} {p}" for m, p in REFUSED_FOR_REASONS_NO_SCHEMA_STATES}
    assert listed <= operations, f"listed but not in the document: {listed - operations}"

    tally = _run(client.app, world)

    with capsys.disabled():
        print("\n" + summary(tally, len(operations)))
    problems = tally["errors"] + tally["failures"]
    assert not problems, "\n".join(problems)
    untested = operations - tally["operations"]
    assert not untested, f"operations schemathesis did not exercise: {sorted(untested)}"
    assert tally["checks"][("not_a_server_error", "success")] >= len(operations)
