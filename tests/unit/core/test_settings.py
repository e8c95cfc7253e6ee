import pytest

from core.errors import ConfigError
from core.settings import DockerExecutor, RayExecutor, load_settings


def test_defaults_and_env(tmp_path):
    s = load_settings(env={"HYPOFORGE_HOME": str(tmp_path), "HYPOFORGE_IMAGE": "img:1"})
    assert s.home == tmp_path
    assert s.sandbox.image == "img:1"
    assert s.sandbox.limits.pids == 512
    assert s.sandbox.limits.memory_mb == 2048


def test_config_file_values(tmp_path):
    cfg = tmp_path / "hf.toml"
    cfg.write_text('home = "/x"\n[sandbox.limits]\nmemory_mb = 512\ncpus = 0.5\n')
    s = load_settings(cfg, env={})
    assert str(s.home) == "/x"
    assert s.sandbox.limits.memory_mb == 512
    assert s.sandbox.limits.cpus == 0.5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[sandbox.limits]\nmemory_mb = 1\n", "sandbox.limits.memory_mb: Input should be greater"),
        ("[sandbox]\nmemroy = 1\n", "sandbox.memroy: Extra inputs are not permitted"),
        ("[sandbox\n", "not valid TOML"),
        ('[executor]\ntype = "k8s"\n', "executor: type is 'docker' (this machine) or 'ray'"),
        ('[executor]\nray_address = "auto"\n', "executor.docker.ray_address: Extra inputs"),
        ('[executor]\ntype = "ray"\nworkers = 2\n', "executor.ray.workers: Extra inputs"),
    ],
)
def test_bad_config_names_the_key(tmp_path, text, message):
    cfg = tmp_path / "hf.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, env={})
    assert message in str(info.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml", env={})


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ("", DockerExecutor(type="docker")),  # no [executor]: this machine
        ("[executor]\n", DockerExecutor(type="docker")),
        ('[executor]\ntype = "local"\n', DockerExecutor(type="local")),  # older files' name
        ('[executor]\ntype = "docker"\n', DockerExecutor(type="docker")),
        ('[executor]\ntype = "ray"\n', RayExecutor(ray_address="auto")),
        (
            '[executor]\ntype = "ray"\nray_address = "ray://head:10001"\n',
            RayExecutor(ray_address="ray://head:10001"),
        ),
    ],
)
def test_the_executor_table_picks_its_kind(tmp_path, table, expected):
    cfg = tmp_path / "hf.toml"
    cfg.write_text(table)
    assert load_settings(cfg, env={}).executor == expected
