"""The configuration reference the docs site renders: every schema key, each with a meaning."""

from mathlit.config import SamplerConfig
from mathlit.config_reference import default_config, keys, markdown, schema_comments, yaml_comments
from tests.conftest import ROOT


def test_every_key_of_the_schema_has_a_description():
    found = keys(default_config())
    assert len(found) > 150 and {"optim.lr", "data.fields.question", "multitask.stages[].kind", "seed"} <= {
        k.path for k in found
    }
    assert [k.path for k in found if not k.description] == []


def test_descriptions_come_from_the_schema_then_the_yaml_comments():
    assert schema_comments(SamplerConfig)["base_url"] == "e.g. http://127.0.0.1:8000/v1"
    comments = yaml_comments(ROOT / "conf")
    assert comments["eval.rerank_top_k"] == "solution-cluster re-ranking keeps the K largest answer clusters"
    assert comments["verifier.head"].startswith("token")  # conf/verifier/*.yaml: under verifier.
    assert "model.name" not in comments or "tiny" not in comments["model.name"]  # a file's header is no key's


def test_the_page_lists_each_key_with_its_default():
    page = markdown()
    assert "| `optim.schedule` | `cosine` \\| `linear` \\| `constant` |" in page
    assert "| `eval.n` | int | `16` |" in page
