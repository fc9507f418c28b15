"""The set-up files agree with each other and with what is installed."""
import re
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def pins() -> dict[str, str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return dict(re.match(r"([\w.-]+)==([\w.]+)$", ln).groups() for ln in lines if ln and not ln.startswith("#"))


def test_installed_versions_are_the_pinned_ones():
    for package, pinned in pins().items():
        assert version(package) == pinned, package
    assert version("torch").split("+")[0] == "2.13.0"


def test_conda_environment_uses_the_same_pins():
    env = (ROOT / "environment.yml").read_text()
    assert "torch==2.13.0" in env and "-r requirements.txt" in env


def test_make_installs_torch_pinned_and_first():
    makefile = (ROOT / "Makefile").read_text()
    assert "TORCH := torch==2.13.0" in makefile
    assert makefile.index("$(TORCH)") < makefile.index("-r requirements.txt")
    assert "make test" in (ROOT / ".ci" / "run").read_text()
