"""bench/gpu_check.py reruns: each check measures a fresh run in an emptied folder, and a rerun in the same
environment redoes only what failed (the GPU budget plans one rerun). The checks themselves: stand-ins."""

import importlib.util
import json

from tests.conftest import ROOT


def load_gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "bench" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_rerun_redoes_only_the_failed_checks_each_in_a_fresh_folder(tmp_path, capsys):
    gpu_check = load_gpu_check()
    runs = []

    def check(name, fails_first):
        def run(args, out):
            runs.append(name)
            leftover = out.exists() and any(out.iterdir())  # a resumed, finished stage would train zero steps
            out.mkdir(parents=True, exist_ok=True)
            (out / "last.ckpt").write_text("finished")
            if fails_first and runs.count(name) == 1:
                raise RuntimeError("out of memory")
            return {"fresh": not leftover}

        return (name, run)

    gpu_check.CHECKS = {"a": check("a", False), "b": check("b", True)}
    argv = ["--dry-run", "--out", str(tmp_path)]
    assert gpu_check.main(argv) == 1 and runs == ["a", "b"]
    assert gpu_check.main(argv) == 0 and runs == ["a", "b", "b"]  # a passed: reused and said so
    table = capsys.readouterr().out.split("| check | result |")[-1]
    assert "| a | fresh=True, reused=True |" in table and "| b | fresh=True |" in table
    assert gpu_check.main([*argv, "--fresh"]) == 0 and runs == ["a", "b", "b", "a", "b"]
    recorded = json.loads((tmp_path / "results.json").read_text())
    assert recorded["results"] == {"a": {"fresh": True}, "b": {"fresh": True}}
