"""The CI examples users copy cannot run here, so they are kept valid by schema and by their parts.

GitHub Actions and GitLab CI files are checked against the schemas that check-jsonschema vendors
(offline); the Kubernetes manifests against kubernetes-validate's bundled schemas (offline, strict:
a misspelt field fails). The commands they run must be options `qtask-verify --help` shows, and
the GitHub gate script is run for every exit code.
"""

from __future__ import annotations

import copy
import os
import re
import shlex
import stat
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "examples" / "ci"
GITHUB = CI / "github-actions.yml"
GITLAB = CI / "gitlab-ci.yml"
KUBERNETES = CI / "kubernetes-job.yaml"
DOCKERFILE = CI / "Dockerfile"
QTASK_VERIFY = Path(sys.executable).parent / "qtask-verify"


def _check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text("utf-8"))


def _manifests() -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(KUBERNETES.read_text("utf-8")))


def _job() -> dict[str, Any]:
    return next(d for d in _manifests() if d["kind"] == "Job")


def _github_steps() -> dict[str, dict[str, Any]]:
    steps = _yaml(GITHUB)["jobs"]["verify"]["steps"]
    return {s.get("name", s.get("uses", "")): s for s in steps}


@pytest.mark.parametrize(
    ("schema", "path", "breakage"),
    [
        ("vendor.github-workflows", GITHUB, ("runs-on: ubuntu-latest", "run-on: ubuntu-latest")),
        (
            "vendor.gitlab-ci",
            GITLAB,
            ("when: always\n    expire_in", "when: sometimes\n    expire_in"),
        ),
    ],
    ids=["github", "gitlab"],
)
def test_ci_file_matches_its_vendor_schema(
    schema: str, path: Path, breakage: tuple[str, str], tmp_path: Path
) -> None:
    result = _check_jsonschema(schema, path)
    assert result.returncode == 0, result.stdout + result.stderr
    # The same check rejects a broken copy (so a pass above means something).
    text = path.read_text("utf-8")
    assert breakage[0] in text
    broken = tmp_path / path.name
    broken.write_text(text.replace(*breakage), "utf-8")
    assert _check_jsonschema(schema, broken).returncode != 0


def test_kubernetes_manifests_are_valid_against_the_kubernetes_schemas() -> None:
    kinds = []
    for manifest in _manifests():
        kubernetes_validate.validate(manifest, latest_version(), strict=True)
        kinds.append(manifest["kind"])
    assert kinds == ["PersistentVolumeClaim", "Job"]
    typo = copy.deepcopy(_job())
    typo["spec"]["template"]["spec"]["containers"][0]["evnFrom"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, latest_version(), strict=True)


def test_kubernetes_job_runs_once_with_secrets_and_keeps_reports() -> None:
    job = _job()
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert job["spec"]["backoffLimit"] == 0
    assert pod["restartPolicy"] == "Never"
    assert container["envFrom"] == [{"secretRef": {"name": "qtask-verify-staging"}}]
    assert not any(re.search("PASSWORD|_URL", e["name"]) for e in container.get("env", []))
    args = container["args"]
    report_dir = args[args.index("--report-dir") + 1]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["reports"] == report_dir
    claim = next(v for v in pod["volumes"] if v["name"] == "reports")
    assert claim["persistentVolumeClaim"]["claimName"] == _manifests()[0]["metadata"]["name"]


def _invocations() -> list[list[str]]:
    """Every qtask-verify command line in the examples, as argument lists."""
    commands: list[list[str]] = []
    scripts = [s.get("run", "") for s in _github_steps().values()]
    scripts += _yaml(GITLAB)["verify-staging"]["script"]
    for script in scripts:
        for line in script.splitlines():
            if line.strip().startswith("qtask-verify "):
                commands.append(shlex.split(line.strip()))
    container = _job()["spec"]["template"]["spec"]["containers"][0]
    commands.append([*container["command"], *container["args"]])
    return commands


def test_examples_use_only_options_qtask_verify_has() -> None:
    if not QTASK_VERIFY.exists():
        pytest.skip("the qtask-verify console script is not installed in this environment")
    help_text = subprocess.run(
        [str(QTASK_VERIFY), "--help"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    known = set(re.findall(r"(--[a-z][a-z-]*)", help_text))
    profiles = tomllib.loads((ROOT / "environments.toml").read_text("utf-8"))["profiles"]
    invocations = _invocations()
    assert len(invocations) == 3
    for argv in invocations:
        assert argv[0] == "qtask-verify"
        options = {a for a in argv if a.startswith("--")}
        assert options <= known, f"{argv}: unknown options {options - known}"
        assert argv[argv.index("--env") + 1] in profiles


def test_github_passes_every_setting_from_secrets_and_uploads_reports_always() -> None:
    job = _yaml(GITHUB)["jobs"]["verify"]
    settings = [
        "QTASK_API_URL",
        "QTASK_DATABASE_URL",
        "QTASK_AMQP_URL",
        "QTASK_MANAGEMENT_URL",
        "QTASK_MANAGEMENT_USER",
        "QTASK_MANAGEMENT_PASSWORD",
    ]
    for name in settings:
        assert job["env"][name] == f"${{{{ secrets.{name} }}}}"
    upload = _github_steps()["Upload the reports"]
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == "reports/"


def _bash(script: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a step's script as plain Debian would: `python3` exists, an unversioned `python` not.

    Development machines often have a `python` on PATH, which would hide a script calling it;
    a stub that fails like a missing command stands in front of it.
    """
    plain_debian = tmp_path / "plain-debian-bin"
    plain_debian.mkdir(exist_ok=True)
    stub = plain_debian / "python"
    stub.write_text("#!/bin/sh\necho 'python: command not found' >&2\nexit 127\n")
    stub.chmod(0o755)
    path = f"{plain_debian}:{env.pop('PATH', os.environ['PATH'])}"
    return subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=tmp_path,
        env={"PATH": path, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_github_verify_step_records_the_exit_code_without_failing(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "qtask-verify"
    fake.write_text("#!/bin/sh\nexit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    output = tmp_path / "output"
    result = _bash(
        _github_steps()["Verify the deployment"]["run"],
        tmp_path,
        PATH=f"{bin_dir}:{os.environ['PATH']}",
        RERUN_FAILED="1",
        GITHUB_OUTPUT=str(output),
    )
    assert result.returncode == 0, result.stderr
    assert output.read_text().strip() == "exit_code=3"


@pytest.mark.parametrize(
    ("code", "passes"), [("0", True), ("3", True), ("1", False), ("2", False), ("", False)]
)
def test_github_gate_fails_on_no_go_and_errors(code: str, passes: bool, tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "verdict.health.json").write_text(
        '{"status": "fail", "description": "verification of staging: NO-GO", "notes": ["x"]}'
    )
    summary = tmp_path / "summary.md"
    script = _github_steps()["Gate on the verdict"]["run"].replace("${{ github.run_id }}", "42")
    result = _bash(script, tmp_path, CODE=code, GITHUB_STEP_SUMMARY=str(summary))
    assert (result.returncode == 0) is passes, result.stdout + result.stderr
    assert "command not found" not in result.stderr
    assert "### verification of staging: NO-GO\n- x\n" in summary.read_text()


def test_gitlab_keeps_reports_and_junit_and_tolerates_only_go_with_risks() -> None:
    job = _yaml(GITLAB)["verify-staging"]
    assert job["artifacts"]["when"] == "always"
    assert "reports/" in job["artifacts"]["paths"]
    assert job["artifacts"]["reports"]["junit"] == "reports/junit.xml"
    assert job["allow_failure"] == {"exit_codes": [3]}
    assert job["environment"] == {"name": "staging", "action": "verify"}


def test_dockerfile_copies_only_what_the_repository_has() -> None:
    sources = []
    for line in DOCKERFILE.read_text("utf-8").splitlines():
        if line.startswith("COPY "):
            sources += line.split()[1:-1]
    assert {"src", "features", "steps", "environments.toml", "pyproject.toml"} <= set(sources)
    missing = [s for s in sources if not (ROOT / s).exists()]
    assert not missing, f"the image cannot build: {missing} not in the repository"
