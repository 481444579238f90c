"""The scenario catalogue is consistent: steps, definitions, tags and formatting.

- every Gherkin step has exactly one step definition of its kind, and every definition is used;
- every tag is a registered marker, and every scenario has one priority tag (matching its file
  prefix), one safety tag and at least one component tag;
- a scenario that stops, pauses, kills or restarts a component is @disruptive (and @mutating), so
  a profile that does not allow disruption never runs it; the README lists every tag.

The layout of the feature files is reformat-gherkin's (`make lint` checks it, `make format`
applies it).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gherkin.parser import Parser
from gherkin.pickles.compiler import Compiler
from pytest_bdd import parsers

from qtask_verify.plugin.markers import MARKERS

ROOT = Path(__file__).resolve().parents[2]
FEATURES = sorted((ROOT / "features").glob("*.feature"))
STEP_MODULES = sorted((ROOT / "steps").glob("*.py"))

PRIORITY_TAGS = {"p1", "p2", "p3"}
SAFETY_TAGS = {"read_only", "mutating"}
COMPONENT_TAGS = {"api", "database", "queue", "worker"}
KIND_OF_PICKLE_STEP = {"Context": "given", "Action": "when", "Outcome": "then"}
# Step wording of an intervention on the deployment.
INTERVENES = re.compile(r"\b(?:is|are) (?:stopped|paused|killed|restarted)\b")


@dataclass(frozen=True)
class StepDefinition:
    kind: str  # given | when | then
    parser: parsers.StepParser
    where: str


@dataclass(frozen=True)
class GherkinStep:
    kind: str
    text: str
    where: str


def _parse(path: Path) -> dict[str, Any]:
    document = Parser().parse(path.read_text(encoding="utf-8"))
    document["uri"] = str(path.relative_to(ROOT))
    return document


def _step_parser(argument: ast.expr) -> parsers.StepParser:
    if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
        return parsers.string(argument.value)
    if (
        isinstance(argument, ast.Call)
        and isinstance(argument.func, ast.Attribute)
        and isinstance(argument.args[0], ast.Constant)
    ):
        factory = {"parse": parsers.parse, "re": parsers.re, "cfparse": parsers.cfparse}
        return factory[argument.func.attr](argument.args[0].value)
    raise AssertionError(f"unsupported step name: {ast.unparse(argument)}")


def step_definitions() -> list[StepDefinition]:
    """Step definitions found in the steps modules' decorators (without importing them)."""
    found = []
    for module in STEP_MODULES:
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef):
                continue
            for decorator in node.decorator_list:
                if (
                    isinstance(decorator, ast.Call)
                    and isinstance(decorator.func, ast.Name)
                    and decorator.func.id in ("given", "when", "then")
                ):
                    found.append(
                        StepDefinition(
                            decorator.func.id,
                            _step_parser(decorator.args[0]),
                            f"{module.name}:{decorator.lineno}",
                        )
                    )
    return found


def gherkin_steps() -> list[GherkinStep]:
    """Every step of every scenario, examples expanded, with its kind (And/But resolved)."""
    steps = []
    for path in FEATURES:
        document = _parse(path)
        for pickle in Compiler().compile(document):
            for step in pickle["steps"]:
                steps.append(
                    GherkinStep(
                        KIND_OF_PICKLE_STEP[step["type"]],
                        step["text"],
                        f"{path.name}: {pickle['name']}",
                    )
                )
    return steps


def test_every_gherkin_step_has_exactly_one_definition() -> None:
    definitions = step_definitions()
    problems = []
    for step in gherkin_steps():
        matching = [
            d for d in definitions if d.kind == step.kind and d.parser.is_matching(step.text)
        ]
        if len(matching) != 1:
            places = ", ".join(d.where for d in matching) or "none"
            problems.append(f"{step.where}: {step.kind} {step.text!r} -> {places}")
    assert not problems, "steps without exactly one definition:\n" + "\n".join(problems)


def test_every_step_definition_is_used() -> None:
    steps = gherkin_steps()
    unused = [
        f"{d.where}: {d.kind} {d.parser.name!r}"
        for d in step_definitions()
        if not any(s.kind == d.kind and d.parser.is_matching(s.text) for s in steps)
    ]
    assert not unused, "unused step definitions:\n" + "\n".join(unused)


def test_every_scenario_is_tagged_and_every_tag_is_registered() -> None:
    problems = []
    for path in FEATURES:
        prefix = path.name.split("_", 1)[0]
        for pickle in Compiler().compile(_parse(path)):
            tags = {tag["name"].removeprefix("@") for tag in pickle["tags"]}
            where = f"{path.name}: {pickle['name']}"
            problems += [
                f"{where}: tag @{t} is not a registered marker" for t in tags - set(MARKERS)
            ]
            if tags & PRIORITY_TAGS != {prefix}:
                problems.append(
                    f"{where}: priority tags {sorted(tags & PRIORITY_TAGS)}, file says {prefix}"
                )
            if len(tags & SAFETY_TAGS) != 1:
                problems.append(f"{where}: needs exactly one of @read_only / @mutating")
            if not tags & COMPONENT_TAGS:
                problems.append(f"{where}: needs a component tag {sorted(COMPONENT_TAGS)}")
    assert not problems, "\n".join(problems)


def test_the_catalogue_has_the_p1_and_p2_features() -> None:
    names = {path.stem for path in FEATURES}
    assert {
        "p1_health",
        "p1_lifecycle",
        "p2_schema",
        "p2_queue",
        "p2_errors",
        "p2_performance",
    } <= names


def test_every_scenario_that_intervenes_is_disruptive_and_only_those() -> None:
    problems = []
    for path in FEATURES:
        for pickle in Compiler().compile(_parse(path)):
            tags = {tag["name"].removeprefix("@") for tag in pickle["tags"]}
            intervenes = any(INTERVENES.search(step["text"]) for step in pickle["steps"])
            where = f"{path.name}: {pickle['name']}"
            if intervenes != ("disruptive" in tags):
                problems.append(f"{where}: intervenes={intervenes}, tags={sorted(tags)}")
            if "disruptive" in tags and "mutating" not in tags:
                problems.append(f"{where}: @disruptive must also be @mutating")
    assert not problems, "\n".join(problems)


def test_the_readme_lists_every_tag() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert [tag for tag in MARKERS if f"`@{tag}`" not in readme] == []
