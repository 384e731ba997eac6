"""The command lines the manifests run are ones `medxai` accepts: each is parsed by the real CLI with
`--help` appended (Click rejects an unknown option while parsing, before --help answers)."""

import pytest
from typer.testing import CliRunner

from medxai.cli import app
from tests.k8s.conftest import VARIANTS, pod_specs


def medxai_commands(objects: list[dict]) -> dict[str, list[str]]:
    """'Kind/name' -> the medxai arguments of each container that runs medxai (also under torchrun -m)."""
    commands = {}
    for name, spec in pod_specs(objects).items():
        for container in spec["containers"]:
            argv = container.get("command", []) + container.get("args", [])
            if not argv:  # our image's entrypoint is medxai
                continue
            if argv[0] == "torchrun":
                argv = argv[argv.index("medxai"):]
            if argv[0] == "medxai":
                commands[name] = argv[1:]
            elif container["image"].split("/")[-1].startswith("medxai"):
                commands[name] = argv
    return commands


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_medxai_command_line_in_the_manifests_parses(objects, variant):
    commands = medxai_commands(objects[variant])
    assert {"Deployment/explain-service", "Deployment/dashboard", "CronJob/medxai-export",
            "CronJob/medxai-train"} <= set(commands)
    for name, argv in commands.items():
        result = CliRunner().invoke(app, argv + ["--help"])
        assert result.exit_code == 0, f"{name}: medxai {' '.join(argv)}\n{result.output}"
