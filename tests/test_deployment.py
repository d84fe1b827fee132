"""The deployment files, checked by reading them (no Docker engine runs here): the compose
stack, `.env.example` and the Dockerfile. Each check is shown to fail when something is
removed."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from contacts_kit.settings import Settings
from scripts.settings_reference import env_example, env_name

ROOT = Path(__file__).parent.parent
REQUIRED_SERVICES = {"app", "migrate", "postgres", "redis", "mailpit"}
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:[:?-][^}]*)?\}")
APP_VARIABLES_NOT_SETTINGS = {"WORKERS"}


def _env_example_names(text: str) -> set[str]:
    return {
        line.split("=", 1)[0].strip()
        for line in text.splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }


def compose_problems(compose: dict[str, Any], compose_text: str, env_names: set[str]) -> list[str]:
    """Everything wrong with a compose document; empty when it is sound."""
    problems: list[str] = []
    services: dict[str, Any] = compose.get("services", {})
    for missing in sorted(REQUIRED_SERVICES - set(services)):
        problems.append(f"service {missing} is missing")
    for variable in sorted(set(VARIABLE.findall(compose_text)) - env_names):
        problems.append(f"${{{variable}}} is not in .env.example")
    settings = {env_name(name) for name in Settings.model_fields}
    for name, service in services.items():
        build = service.get("build")
        if build is None and "image" not in service:
            problems.append(f"{name}: neither image nor build")
        if build is not None:
            context = build if isinstance(build, str) else build.get("context", ".")
            if not (ROOT / context / "Dockerfile").is_file():
                problems.append(f"{name}: no Dockerfile in build context {context}")
        for dependency, condition in (service.get("depends_on") or {}).items():
            wanted = condition.get("condition") if isinstance(condition, dict) else None
            if wanted is None:
                problems.append(f"{name}: depends_on {dependency} without a condition")
            elif dependency not in services:
                problems.append(f"{name}: depends_on unknown service {dependency}")
            elif wanted == "service_healthy" and "healthcheck" not in services[dependency]:
                problems.append(f"{name}: waits for {dependency} to be healthy, it has no check")
        if name in ("app", "migrate"):
            for variable in service.get("environment") or {}:
                if variable not in settings and variable not in APP_VARIABLES_NOT_SETTINGS:
                    problems.append(f"{name}: {variable} is not a contacts-kit setting")
    app = services.get("app", {})
    conditions = {
        dependency: (condition or {}).get("condition")
        for dependency, condition in (app.get("depends_on") or {}).items()
    }
    expected = {
        "migrate": "service_completed_successfully",
        "postgres": "service_healthy",
        "redis": "service_healthy",
    }
    for dependency, condition in expected.items():
        if conditions.get(dependency) != condition:
            problems.append(f"app must wait for {dependency}: {condition}")
    for name in ("postgres", "redis"):
        if name in services and "healthcheck" not in services[name]:
            problems.append(f"{name} has no health check")
    postgres = services.get("postgres", {})
    if not postgres.get("volumes"):
        problems.append("postgres keeps its data in no volume")
    return problems


@pytest.fixture(scope="module")
def compose_text() -> str:
    return (ROOT / "docker-compose.yml").read_text()


@pytest.fixture(scope="module")
def env_names() -> set[str]:
    return _env_example_names((ROOT / ".env.example").read_text())


def test_the_compose_stack_is_sound(compose_text: str, env_names: set[str]) -> None:
    compose = yaml.safe_load(compose_text)
    assert compose_problems(compose, compose_text, env_names) == []


@pytest.mark.parametrize("service", sorted(REQUIRED_SERVICES))
def test_removing_a_service_is_noticed(
    compose_text: str, env_names: set[str], service: str
) -> None:
    compose = copy.deepcopy(yaml.safe_load(compose_text))
    del compose["services"][service]
    assert compose_problems(compose, compose_text, env_names)


@pytest.mark.parametrize("variable", ["POSTGRES_PASSWORD", "APP_PORT", "WORKERS"])
def test_removing_a_variable_from_env_example_is_noticed(
    compose_text: str, env_names: set[str], variable: str
) -> None:
    compose = yaml.safe_load(compose_text)
    assert variable in env_names
    assert compose_problems(compose, compose_text, env_names - {variable})


def test_a_misspelt_setting_or_a_missing_health_check_is_noticed(
    compose_text: str, env_names: set[str]
) -> None:
    compose = copy.deepcopy(yaml.safe_load(compose_text))
    compose["services"]["app"]["environment"]["CONTACTS_KIT_DATABSE_URL"] = "x"
    del compose["services"]["redis"]["healthcheck"]
    problems = compose_problems(compose, compose_text, env_names)
    assert any("DATABSE" in problem for problem in problems)
    assert any("redis" in problem and "check" in problem for problem in problems)


def test_env_example_is_generated_from_the_settings() -> None:
    text = (ROOT / ".env.example").read_text()
    assert text == env_example(), "run: python -m scripts.settings_reference"
    names = _env_example_names(text)
    missing = [env_name(field) for field in Settings.model_fields if env_name(field) not in names]
    assert missing == []
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_env_example_holds_no_secret() -> None:
    values = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    for name in (
        "CONTACTS_KIT_JWT_SECRET",
        "CONTACTS_KIT_MAIL_PASSWORD",
        "CONTACTS_KIT_CLOUDINARY_URL",
    ):
        assert values[name] == ""
    assert values["POSTGRES_PASSWORD"].startswith("change-me")


def test_the_dockerfile_is_multi_stage_unprivileged_and_serves_with_workers() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", dockerfile, re.MULTILINE)) >= 2
    users = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert users
    assert users[-1] not in ("root", "0")
    assert re.search(r"contacts-kit serve .*--workers", dockerfile)
    assert "pip install" in dockerfile
    assert ".whl" in dockerfile


def test_the_scale_topology_is_sound(env_names: set[str]) -> None:
    """docker-compose.scale.yml: every variable in .env.example, every app variable a setting,
    every dependency waited for by a condition its service can meet, every mounted file here."""
    text = (ROOT / "docker-compose.scale.yml").read_text()
    compose = yaml.safe_load(text)
    services: dict[str, Any] = compose["services"]
    assert {"postgres", "replica", "pgbouncer", "pgbouncer-replica", "redis-cluster"} <= set(
        services
    )
    assert sum(1 for name in services if name.startswith("redis-") and name[-1].isdigit()) == 6
    assert {"migrate", "app1", "app2"} <= set(services)
    assert set(VARIABLE.findall(text)) <= env_names
    settings = {env_name(name) for name in Settings.model_fields}
    for name in ("migrate", "app1", "app2"):
        for variable in services[name].get("environment") or {}:
            assert variable in settings or variable in APP_VARIABLES_NOT_SETTINGS, variable
    app = services["app1"]["environment"]
    assert app["CONTACTS_KIT_DATABASE_PGBOUNCER"] == "true"
    assert "pgbouncer-replica" in app["CONTACTS_KIT_DATABASE_REPLICA_URLS"]
    assert app["CONTACTS_KIT_REDIS_URL"].startswith("redis+cluster://")
    for name, service in services.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in services, (name, dependency)
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], (name, dependency)
        for volume in service.get("volumes") or []:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).is_file(), (name, source)
    assert services["app2"]["depends_on"] == services["app1"]["depends_on"]


def test_the_scale_lab_names_what_it_misses_before_starting_anything(tmp_path: Path) -> None:
    # No venv, no PostgreSQL programs, no PgBouncer, no Redis: one line for each, and nothing
    # started (the lab's directory is never made).
    empty = tmp_path / "bin"
    empty.mkdir()
    for tool in ("bash", "ls", "sort", "tail", "id", "dirname", "cat"):
        found = shutil.which(tool)
        assert found is not None
        (empty / tool).symlink_to(found)
    lab = tmp_path / "lab"
    result = subprocess.run(
        [str(ROOT / "scripts" / "scale-lab"), "up"],
        env={
            "PATH": str(empty),
            "PYTHON": str(tmp_path / "no-venv" / "python"),
            "PG_BIN": str(tmp_path / "no-postgres"),
            "CONTACTS_KIT_LAB_DIR": str(lab),
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert any(line.startswith("no Python with contacts-kit") for line in lines), lines
    assert any(line.startswith("no PostgreSQL server programs") for line in lines), lines
    assert any("redis-server" in line for line in lines), lines
    assert not lab.exists()
