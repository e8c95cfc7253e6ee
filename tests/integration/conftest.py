"""Integration fixtures: the real Docker engine and the real sandbox image (built by make setup)."""

import pytest

from core.settings import load_settings
from sandbox import reaper
from sandbox.docker_sandbox import DockerSandbox


def pytest_collection_modifyitems(items):
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def settings(tmp_path_factory):
    home = tmp_path_factory.mktemp("hfhome")
    return load_settings(env={"HYPOFORGE_HOME": str(home)})


@pytest.fixture(scope="session")
def docker_sandbox(settings):
    sb = DockerSandbox(settings.sandbox)
    sb.preflight()  # fails loudly, with the reason, when the engine or image is missing
    yield sb
    sb.close()


def own_containers(sb: DockerSandbox) -> list[str]:
    label = f"{reaper.OWNER_LABEL}={reaper.owner_id()}"
    return [c.name for c in reaper.listed(sb.client, label=label)]
