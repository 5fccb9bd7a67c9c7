"""docker-compose.yml and the Procfile describe the same processes (no Docker engine runs here)."""

from pathlib import Path

import yaml

from app.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_every_procfile_process_with_the_same_command():
    services = compose()["services"]
    for name, command in procfile().items():
        service = "migrate" if name == "release" else name
        assert service in services, f"{service} missing from docker-compose.yml"
        assert " ".join(services[service]["command"]) == command


def test_compose_has_backing_services_with_health_checks():
    services = compose()["services"]
    for name in ("postgres", "redis"):
        assert "healthcheck" in services[name]
    for name in ("web", "worker", "scheduler", "inbound"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://")
        assert env["REDIS_URL"].startswith("redis://")
        assert env["IGNITE_ENV"] == "production"
        assert "SECRET_KEY" in env
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_the_inbound_mx_listens_on_every_interface_and_is_published_on_port_25():
    inbound = compose()["services"]["inbound"]
    assert inbound["environment"]["INBOUND_SMTP_HOST"] == "0.0.0.0"
    assert inbound["ports"] == [f"25:{inbound['environment']['INBOUND_SMTP_PORT']}"]


def test_procfile_commands_exist_in_the_cli():
    choices = build_parser()._subparsers._group_actions[0].choices  # the `ignite` sub-commands
    for command in procfile().values():
        program, subcommand = command.split()[:2]
        assert program == "ignite"
        assert subcommand in choices


def test_dockerfile_copies_what_the_app_needs_at_runtime():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for folder in ("app", "migrations", "static"):
        assert f"COPY {folder} ./{folder}" in dockerfile
    assert "IGNITE_ENV=production" in dockerfile


def test_web_and_worker_share_one_volume_for_the_files_they_hand_over():
    services = compose()
    mounts = {}
    for name in ("web", "worker"):
        folder = services["services"][name]["environment"]["SHARED_FILES_DIR"]
        mounts[name] = next(volume.split(":")[0] for volume in services["services"][name]["volumes"]
                            if volume.split(":")[1] == folder)
    assert mounts["web"] == mounts["worker"] and mounts["web"] in services["volumes"]
