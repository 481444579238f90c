"""The scenario catalogue is consistent: steps, definitions, tags and formatting.

- every Gherkin step has exactly one step definition of its kind, and every definition is used;
- every tag is a registered marker, and every scenario has one priority tag (matching its file
  prefix), one safety tag and at least one component tag;
- feature files are in the canonical layout this module renders (two-space indentation,
  aligned tables, one blank line between blocks).

`python tests/suite/test_gherkin_catalogue.py --fix` rewrites the feature files in that layout.
"""

from __future__ import annotations

import ast
import difflib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from gherkin.parser import Parser
from gherkin.pickles.compiler import Compiler
from pytest_bdd import parsers

from qtask_verify.plugin import MARKERS

ROOT = Path(__file__).resolve().parents[2]
FEATURES = sorted((ROOT / "features").glob("*.feature"))
STEP_MODULES = sorted((ROOT / "steps").glob("*.py"))

PRIORITY_TAGS = {"p1", "p2", "p3"}
SAFETY_TAGS = {"read_only", "mutating"}
COMPONENT_TAGS = {"api", "database", "queue", "worker"}
KIND_OF_PICKLE_STEP = {"Context": "given", "Action": "when", "Outcome": "then"}


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


# --- canonical layout ----------------------------------------------------------------------------


def _table(rows: list[list[str]], indent: str) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        indent
        + "| "
        + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        + " |"
        for row in rows
    ]


def _cells(row: dict[str, Any]) -> list[str]:
    return [cell["value"].replace("|", "\\|") for cell in row["cells"]]


def _description(text: str, indent: str) -> list[str]:
    return (
        [indent + line.strip() if line.strip() else "" for line in text.splitlines()]
        if text
        else []
    )


def _tags(node: dict[str, Any], indent: str) -> list[str]:
    return [indent + " ".join(t["name"] for t in node["tags"])] if node.get("tags") else []


def _block(node: dict[str, Any], indent: str) -> list[str]:
    lines = [*_tags(node, indent), f"{indent}{node['keyword']}: {node['name']}".rstrip()]
    lines += _description(node.get("description", ""), indent + "  ")
    for step in node.get("steps", []):
        lines.append(f"{indent}  {step['keyword']}{step['text']}")
        if step.get("dataTable"):
            lines += _table([_cells(r) for r in step["dataTable"]["rows"]], indent + "    ")
        if step.get("docString"):
            delimiter = step["docString"]["delimiter"]
            lines += [indent + "    " + delimiter]
            lines += [indent + "    " + line for line in step["docString"]["content"].splitlines()]
            lines += [indent + "    " + delimiter]
    for examples in node.get("examples", []):
        lines += ["", *_tags(examples, indent + "  "), f"{indent}  {examples['keyword']}:"]
        rows = [examples["tableHeader"], *examples["tableBody"]]
        lines += _table([_cells(r) for r in rows], indent + "    ")
    return lines


def canonical(path: Path) -> str:
    """The feature file rendered in the canonical layout (comments are not supported)."""
    document = _parse(path)
    assert not document.get("comments"), f"{path.name}: use descriptions instead of comments"
    feature = document["feature"]
    lines = [*_tags(feature, ""), f"{feature['keyword']}: {feature['name']}"]
    lines += _description(feature.get("description", ""), "  ")
    for child in feature["children"]:
        node = child.get("background") or child.get("scenario") or child.get("rule")
        assert node is not None and "rule" not in child, f"{path.name}: rules are not used"
        lines += ["", *_block(node, "  ")]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("path", FEATURES, ids=[p.name for p in FEATURES])
def test_feature_file_is_in_the_canonical_layout(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    expected = canonical(path)
    diff = "".join(
        difflib.unified_diff(
            text.splitlines(True), expected.splitlines(True), "as written", "canonical"
        )
    )
    assert text == expected, (
        f"{path.name} is not in the canonical layout (run this module with --fix):\n{diff}"
    )


if __name__ == "__main__":
    if sys.argv[1:] != ["--fix"]:
        sys.exit("usage: python tests/suite/test_gherkin_catalogue.py --fix")
    for feature_path in FEATURES:
        feature_path.write_text(canonical(feature_path), encoding="utf-8")
