"""envs/*.yaml (for --use-conda users) pin exactly what envs/requirements.txt pins for pip users."""

import re

import pytest
import yaml

from sedrepro.config import REPO

ENVS = sorted((REPO / "envs").glob("*.yaml"))


def requirement_pins():
    pins = {}
    for line in (REPO / "envs" / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower().replace("-", "_")] = version
    return pins


def env_pins(path):
    spec = yaml.safe_load(path.read_text())
    pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict) and "pip" in d)
    post = path.with_name(path.stem + ".post-deploy.sh")
    extra = re.findall(r"([A-Za-z0-9_.-]+==[^\s]+)", post.read_text()) if post.exists() else []
    pins = {}
    for item in list(pip) + extra:
        assert "==" in item, f"{path.name}: '{item}' is not pinned with =="
        name, version = item.split("==")
        pins[name.lower().replace("-", "_")] = version
    return pins


def test_there_are_envs():
    assert {p.stem for p in ENVS} >= {"data", "torch", "eval"}


@pytest.mark.parametrize("path", ENVS, ids=lambda p: p.name)
def test_env_pins_match_requirements(path):
    reqs = requirement_pins()
    for name, version in env_pins(path).items():
        assert name in reqs, f"{path.name}: {name} is not in envs/requirements.txt"
        assert version == reqs[name], f"{path.name}: {name}=={version} but envs/requirements.txt pins {reqs[name]}"


def test_every_rule_names_an_existing_env():
    for smk in (REPO / "rules").glob("*.smk"):
        text = smk.read_text()
        n_rules = len(re.findall(r"^rule ", text, flags=re.M))
        envs = re.findall(r'conda:\s*\n\s*"\.\./(envs/[^"]+)"', text)
        assert len(envs) == n_rules, f"{smk.name}: {n_rules} rules but {len(envs)} conda: directives"
        for env in envs:
            assert (REPO / env).exists(), f"{smk.name} names {env}, which does not exist"


def test_test_requirements_are_pinned_and_installed_by_bootstrap():
    """envs/requirements-test.txt (test-only packages) pins every line with ==, repeats no pin of
    envs/requirements.txt, and envs/bootstrap.sh installs it."""
    reqs = requirement_pins()
    for line in (REPO / "envs" / "requirements-test.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            assert "==" in line, f"requirements-test.txt: '{line}' is not pinned with =="
            name = line.split("==")[0].lower().replace("-", "_")
            assert name not in reqs, f"requirements-test.txt: {name} is already pinned in requirements.txt"
    assert "envs/requirements-test.txt" in (REPO / "envs" / "bootstrap.sh").read_text()
