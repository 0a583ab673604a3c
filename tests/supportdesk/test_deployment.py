"""The files a deployer and CI rely on stay valid, and production settings are safe or refused."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from supportdesk.deployment import DEVELOPMENT_SECRETS, PUBLISHED_SECRET_VALUES, InsecureDeployment
from tests.deployments import desk_settings, production_env

ROOT = Path(__file__).resolve().parents[2]
# What a production desk refuses to start without (OMS_API_TOKEN: while it calls a real OMS).
SECRET_NAMES = ("SECRET_KEY", "OMS_WEBHOOK_SECRET", "WIDGET_IDENTITY_SECRET", "OMS_API_TOKEN")


def _need(command: str) -> str:
    path = shutil.which(command)
    if path is None:
        message = f"{command} is not installed; `make test` installs it with apt-get as root."
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def _compose(directory: Path, *args: str) -> subprocess.CompletedProcess:
    """docker-compose on a copy of the repository's file, in a directory whose .env (if any) the
    test wrote: a developer's own .env never decides the outcome. `config` reads no build context."""
    shutil.copy(ROOT / "docker-compose.yml", directory / "docker-compose.yml")
    return subprocess.run([_need("docker-compose"), "-f", "docker-compose.yml", *args], cwd=directory,
                          capture_output=True, text=True, timeout=120, env={"PATH": os.environ["PATH"]})


def test_docker_compose_file_is_valid_and_has_the_whole_stack(tmp_path):
    # given a deployer who copied .env.example to .env
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")

    result = _compose(tmp_path, "config", "--services")

    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == {"db", "redis", "web", "worker", "beat"}


def test_docker_compose_starts_every_service_again_when_it_dies(tmp_path):
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")

    result = _compose(tmp_path, "config")

    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert {name: service.get("restart") for name, service in services.items()} == dict.fromkeys(
        services, "unless-stopped")


def test_docker_compose_takes_every_secret_from_the_env_file(tmp_path):
    # given an .env with values of its own for every secret the desk refuses to run without
    values = {name: f"from-env-file-{name.lower()}" for name in (*SECRET_NAMES, "POSTGRES_PASSWORD")}
    (tmp_path / ".env").write_text("".join(f"{name}={value}\n" for name, value in values.items()))

    result = _compose(tmp_path, "config")

    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    for service in ("web", "worker", "beat"):
        environment = config["services"][service]["environment"]
        for name in SECRET_NAMES:
            assert environment[name] == values[name], (service, name)
        assert f":{values['POSTGRES_PASSWORD']}@" in environment["DATABASE_URL"]
    assert config["services"]["db"]["environment"]["POSTGRES_PASSWORD"] == values["POSTGRES_PASSWORD"]
    # and no service is given a development or published value from the file itself
    given = [value for service in config["services"].values()
             for value in (service.get("environment") or {}).values()]
    assert not [value for value in given if value in PUBLISHED_SECRET_VALUES]


def test_docker_compose_without_an_env_file_says_what_is_missing(tmp_path):
    result = _compose(tmp_path, "config", "--services")

    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr and ".env" in result.stderr


def test_the_env_example_documents_every_secret_and_is_refused_as_it_is():
    example = (ROOT / ".env.example").read_text()
    assigned = dict(line.split("=", 1) for line in example.splitlines() if line and not line.startswith("#"))

    assert set(SECRET_NAMES) | {"POSTGRES_PASSWORD", "DEBUG"} <= set(assigned)
    # Its placeholders are published values: copied unchanged, the desk refuses to start.
    with pytest.raises(InsecureDeployment) as refused:
        desk_settings({**assigned, "DATABASE_URL": f"postgres://postgres:{assigned['POSTGRES_PASSWORD']}@db/sd"})
    for name in (*SECRET_NAMES, "DATABASE_URL"):
        assert name in str(refused.value)


# --- Safe defaults --------------------------------------------------------------------------


def test_debug_is_off_unless_asked_for():
    env = production_env()
    del env["DEBUG"]

    assert desk_settings(env)["DEBUG"] is False


@pytest.mark.parametrize("name", SECRET_NAMES)
@pytest.mark.parametrize("value", [None, "", "  ", *sorted(PUBLISHED_SECRET_VALUES)],
                         ids=lambda value: "unset" if value is None else repr(value))
def test_production_refuses_each_secret_unset_empty_or_published(name, value):
    # given a production environment where one secret is missing, empty or published in the repository
    env = production_env()
    if value is None:
        del env[name]
    else:
        env[name] = value

    with pytest.raises(InsecureDeployment) as refused:
        desk_settings(env)

    # then the refusal names that secret, and only it, with how to set it
    message = str(refused.value)
    assert f"{name} is" in message and "set it to" in message
    assert [other for other in SECRET_NAMES if other != name and other in message] == []


def test_the_development_secrets_are_the_defaults_with_debug_on():
    loaded = desk_settings({"DEBUG": "true"})

    for name, value in DEVELOPMENT_SECRETS.items():
        assert loaded[name] == value


@pytest.mark.parametrize("name", ["MAILGUN_WEBHOOK_SIGNING_KEY", "POSTMARK_INBOUND_BASIC_AUTH"])
def test_an_email_providers_webhook_is_off_unless_its_secret_is_set_and_never_on_a_published_one(name):
    assert desk_settings(production_env())[name] == ""  # off: its endpoint is not mounted
    assert desk_settings(production_env(**{name: "user:" + "x" * 30}))[name] == "user:" + "x" * 30

    with pytest.raises(InsecureDeployment, match=name):
        desk_settings(production_env(**{name: DEVELOPMENT_SECRETS[name]}))


def test_a_desk_without_an_oms_needs_no_oms_token():
    env = production_env(OMS_CLIENT="fake")
    del env["OMS_API_TOKEN"]

    assert desk_settings(env)["OMS_CLIENT"] == "fake"


def test_production_refuses_a_published_database_password():
    env = production_env(DATABASE_URL="postgres://postgres:postgres@db:5432/supportdesk")

    with pytest.raises(InsecureDeployment, match="DATABASE_URL"):
        desk_settings(env)


def test_every_entry_point_prints_the_refusal_as_a_sentence_not_a_traceback():
    env = {**production_env(), "PATH": os.environ["PATH"]}
    del env["SECRET_KEY"]
    entry_points = [
        [sys.executable, "manage.py", "check"],
        [sys.executable, "-c", "import supportdesk.asgi"],  # what uvicorn imports
        [str(Path(sys.executable).parent / "celery"), "-A", "supportdesk", "worker"],
    ]

    for command in entry_points:
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)

        assert result.returncode == 1, (command, result.stderr)
        assert "Traceback" not in result.stderr, command
        assert "SECRET_KEY is not set" in result.stderr, command


def test_check_deploy_is_clean_with_a_production_environment():
    # given only what a deployment must set: DEBUG off, its secrets and its host name
    env = {**production_env(), "PATH": os.environ["PATH"]}

    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr


def test_production_behind_a_tls_proxy_trusts_its_header():
    loaded = desk_settings(production_env(SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https"))

    assert loaded["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")
    assert desk_settings(production_env())["SECURE_PROXY_SSL_HEADER"] is None


@pytest.mark.django_db
def test_plain_http_is_redirected_except_for_the_health_checks(client, settings):
    # given the production default
    settings.SECURE_SSL_REDIRECT = True

    page = client.get("/desk/")
    ready = client.get("/readyz")
    alive = client.get("/healthz")

    assert page.status_code == 301 and page["Location"].startswith("https://")
    assert ready.status_code != 301 and alive.status_code == 200


@pytest.mark.django_db
def test_pages_refuse_framing_but_the_widget_frame_is_embeddable(client):
    page = client.get("/desk/login/")
    frame = client.get("/widget/frame/")

    assert page["X-Frame-Options"] == "DENY"
    assert frame.status_code == 200 and "X-Frame-Options" not in frame


def test_ci_runs_the_command_the_readme_gives():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()

    assert "make test" in ci
    assert "make test" in readme and "make run" in readme


def test_make_run_starts_its_processes_and_restarts_each():
    # Raw: supervisord expands its own %(ENV_...)s. The restart itself: test_worker_outage.py.
    config = configparser.RawConfigParser()
    config.read(ROOT / "supportdesk" / "supervisord.conf")

    programs = {name.removeprefix("program:"): config[name] for name in config.sections()
                if name.startswith("program:")}
    assert set(programs) == {"web", "worker", "beat", "smtp_sink", "smtp_inbound", "fake_oms", "fake_whatsapp",
                             "fake_voice"}
    assert {name: program["autorestart"] for name, program in programs.items()} == dict.fromkeys(programs, "true")
