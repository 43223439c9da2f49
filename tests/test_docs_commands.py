"""The commands in the README and on the recipe pages, so that the docs cannot rot.

Every `python -m mathlit ...` (and `sbatch launchers/slurm.sbatch ...`) in their bash blocks composes with the real
config (a sweep with each key's first value) and passes the schema's key check; the cheap ones run at toy scale.
Placeholders: OUT is a run folder, <time> a timestamp, /models/... a model folder.
"""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from mathlit.config import check_keys
from mathlit.tasks import run_task
from tests.conftest import MICRO_MODEL, ROOT, make_cfg

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("[gr]*/*.md"))]  # recipes/, guides/, reference/, results/
FLAGS = {"-m", "--multirun"}  # what Hydra's command line takes besides overrides


def commands(page: Path) -> list[str]:
    """The mathlit command lines of a page's bash blocks, continuation lines joined, comments dropped."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", page.read_text(), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if "python -m mathlit" in line or "launchers/slurm.sbatch" in line:
                found.append(re.sub(r"^.*?\$\((.*)\)\s*$", r"\1", line.strip()))  # A=$(sbatch ...): the sbatch
    return found


def overrides(line: str) -> tuple[list[str], set[str]]:
    """(overrides, flags) of a command line: what follows `mathlit` or the sbatch script."""
    words = shlex.split(line, comments=True)
    start = next(i for i, w in enumerate(words) if w in ("mathlit", "launchers/slurm.sbatch")) + 1
    args = [re.sub(r"<(\w+)>", lambda m: m.group(1).upper(), w) for w in words[start:]]
    return [a for a in args if not a.startswith("-")], {a for a in args if a.startswith("-")}


def first_of_each_sweep(args: list[str]) -> list[str]:
    parsed = OverridesParser.create().parse_overrides(args)
    return [
        f"{o.get_key_element()}={next(iter(o.sweep_string_iterator()))}" if o.is_sweep_override() else a
        for o, a in zip(parsed, args, strict=True)
    ]


CASES = [pytest.param(line, id=f"{page.name}:{line[:70]}") for page in PAGES for line in commands(page)]


def test_the_pages_hold_commands():
    assert len(CASES) > 30
    assert {"README.md", "sft.md", "eval.md", "rft.md", "verifier.md", "report.md"} <= {
        page.name for page in PAGES if commands(page)
    }


@pytest.mark.parametrize("line", CASES)
def test_each_command_composes_with_the_real_config(line):
    args, flags = overrides(line)
    if {"--help", "--cfg"} & flags:
        return  # run below
    args = first_of_each_sweep(args) if flags & FLAGS else args
    with initialize_config_module("mathlit.conf", version_base="1.3"):
        cfg = compose("config", overrides=["run_dir=unused", *args], return_hydra_config=True)
    plain = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    check_keys(plain)


@pytest.mark.parametrize("flag", ["--help", "--cfg job"])
def test_help_and_the_composed_config_print(flag):
    result = subprocess.run(
        [sys.executable, "-m", "mathlit", *flag.split()], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert ("Tasks (task=...)" if flag == "--help" else "task:\n  name: sft") in result.stdout


TOY_EVAL = ["debug=fast", "eval.n=2", "eval.max_examples=4"]
TOY = [*TOY_EVAL, *MICRO_MODEL]


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    """OUT: a run folder with a trained model (hf/) and an evaluation's samples (sampled/): the README's first
    command, then an evaluation of its model in the same folder, at toy scale."""
    folder = tmp_path_factory.mktemp("docs") / "OUT"
    run_task(make_cfg(*TOY, run_dir=folder))
    run_task(make_cfg("task=eval", f"model.path={folder}/hf", *TOY_EVAL, run_dir=folder))
    return folder


def runnable(line: str) -> bool:
    """The cheap tasks whose placeholders a toy run fills: SFT, evaluation and reports of OUT."""
    args, flags = overrides(line)
    options = dict(a.split("=", 1) for a in args if "=" in a)
    return (
        not flags
        and options.get("task", "sft") in ("sft", "eval", "report")
        and not {"model", "experiment", "data.path", "rft.sft_path"} & options.keys()
        and not any("/models/" in a or re.search(r"\b(?!OUT\b)[A-Z_]{3,}\b", a) for a in args)  # other placeholders
    )


@pytest.mark.slow
@pytest.mark.parametrize("line", sorted({c.values[0] for c in CASES if runnable(c.values[0])}))
def test_the_cheap_commands_run_at_toy_scale(line, out, tmp_path):
    args, _ = overrides(line)
    args = [a.replace("OUT", str(out)) for a in args]
    task = dict(a.split("=", 1) for a in args if "=" in a).get("task", "sft")
    run_task(make_cfg(*args, *(TOY_EVAL if task == "eval" else TOY), run_dir=tmp_path / "run"))
    assert (tmp_path / "run" / "metrics.json").exists()
