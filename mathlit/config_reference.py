"""The configuration reference: every key of the schema (mathlit/config.py) with its type, its default value
(the composed default config) and its meaning, generated so that it cannot drift from the code.

A key's meaning is its comment in the schema, else the comment beside it (or on the line above it) in a yaml
file of conf/. The docs site renders it (docs/hooks.py); tests/test_config_reference.py fails on a key with
neither.

    python -m mathlit.config_reference > reference.md
"""

import dataclasses
import enum
import inspect
import io
import json
import re
import tokenize
import types
import typing
from importlib.resources import files
from pathlib import Path

from omegaconf import OmegaConf

from mathlit.config import MathlitConfig


@dataclasses.dataclass(frozen=True)
class Key:
    path: str  # data.fields.question; a list item's keys as multitask.stages[].kind
    type: str
    default: str
    description: str


def schema_comments(cls: type) -> dict[str, str]:
    """field name -> its comment in the class's source: on its line, else on the comment lines right above."""
    source = inspect.getsource(cls)
    comments: dict[str, str] = {}
    above: list[str] = []
    lines = source.splitlines()
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    trailing = {t.start[0]: t.string for t in tokens if t.type == tokenize.COMMENT}
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("# "))
            continue
        if match := re.match(r"\s+(\w+):", line):
            own = trailing.get(number, "").lstrip("# ")
            comments[match.group(1)] = own or " ".join(above)
        above = []
    return {name: text for name, text in comments.items() if text}


def yaml_comments(conf: Path) -> dict[str, str]:
    """dotted key -> its comment in conf/*.yaml (the first file that has one), keys placed by each file's group
    or `# @package`."""
    found: dict[str, str] = {}
    for path in sorted(conf.rglob("*.yaml")):
        group = path.parent.relative_to(conf).as_posix()
        if group.startswith("hydra"):
            continue
        text = path.read_text()
        package = re.match(r"# @package (\S+)", text)
        declared = package.group(1) if package else None
        prefix = "" if declared == "_global_" else declared or ("" if group == "." else group)
        stack: list[tuple[int, str]] = []  # (indent, key) of the open mappings
        above: list[str] = []
        header = True  # the comments before a file's first key describe the file, not the key
        for line in text.splitlines():
            stripped = line.strip()
            if stripped.startswith("#"):
                above.append(stripped.lstrip("# "))
                continue
            match = re.match(r"(\s*)([\w.]+):(.*)", line)
            if not match:
                above = []
                continue
            indent, name, rest = len(match.group(1)), match.group(2), match.group(3)
            while stack and stack[-1][0] >= indent:
                stack.pop()
            if name == "defaults" and indent == 0:
                above = []
                continue
            if header:
                above, header = [], False
            key = ".".join(k for k in [prefix, *(k for _, k in stack), name] if k)
            own = rest.split(" #", 1)[1].strip().lstrip("# ") if " #" in rest else ""
            if text := own or " ".join(above):
                found.setdefault(key, text)
            stack.append((indent, name))
            above = []
    return found


def _type_name(hint) -> tuple[str, type | None]:
    """A readable type, and the dataclass to recurse into (a nested group, or a list's items)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    optional = type(None) in typing.get_args(hint)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        name, inner = _type_name(args[0])
        return (f"{name} or null" if optional else name), inner
    if origin is list:
        name, inner = _type_name(args[0])
        return f"list of {name}", inner
    if origin is dict:
        return "mapping", None
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return " \\| ".join(f"`{m.value}`" for m in hint), None
    if dataclasses.is_dataclass(hint):
        return "group", hint
    return getattr(hint, "__name__", str(hint)), None


def _default(values, path: str) -> str:
    node = values
    for part in path.replace("[]", ".0").split("."):
        if isinstance(node, list):
            node = node[int(part)] if len(node) > int(part) else None
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return ""
    if isinstance(node, dict) and node:
        return ""  # a group, listed key by key
    text = node if isinstance(node, str) else json.dumps(node)  # null, true, [..] as in yaml
    text = text.replace("\n", "\\n").replace("|", "\\|")
    return f"`{text[:100]}{'...' if len(text) > 100 else ''}`"


def keys(default_config: dict | None = None) -> list[Key]:
    """Every leaf key of the schema, in schema order."""
    conf = Path(str(files("mathlit.conf")))
    from_yaml = yaml_comments(conf)
    values = default_config or {}
    found: list[Key] = []

    def walk(cls: type, prefix: str, yaml_prefix: str) -> None:
        comments = schema_comments(cls)
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            path, yaml_path = f"{prefix}{f.name}", f"{yaml_prefix}{f.name}"
            type_name, inner = _type_name(hints[f.name])
            if inner is not None and not type_name.startswith("list"):
                walk(inner, f"{path}.", f"{yaml_path}.")
                continue
            description = comments.get(f.name) or from_yaml.get(yaml_path, "")
            found.append(Key(path, type_name, _default(values, path), description))
            if inner is not None:  # a list of groups: its items' keys too
                walk(inner, f"{path}[].", f"{yaml_path}.")

    walk(MathlitConfig, "", "")
    return found


def default_config() -> dict:
    """`python -m mathlit --cfg job` as a dict, interpolations unresolved."""
    from hydra import compose, initialize_config_module

    with initialize_config_module("mathlit.conf", version_base="1.3"):
        cfg = compose("config", overrides=["run_dir=outputs/TASK/TIME"])
    return OmegaConf.to_container(cfg, resolve=False, enum_to_str=True)


def options(conf: Path) -> dict[str, list[str]]:
    return {
        group.name: sorted(p.stem for p in group.glob("*.yaml"))
        for group in sorted(conf.iterdir())
        if group.is_dir() and group.name not in ("hydra", "__pycache__")
    }


def markdown() -> str:
    conf = Path(str(files("mathlit.conf")))
    lines = [
        "# Configuration reference",
        "",
        "Generated from the schema (`mathlit/config.py`: types and meanings) and `conf/` (values and comments) "
        "each time the site is built. The default is the value of `python -m mathlit` with no override; "
        "a group option (`data=gsm8k`, `model=llama2_7b`, ...) or `experiment=` changes many of them "
        "(`python -m mathlit <overrides> --cfg job` prints the composed config).",
        "",
        "## Config groups",
        "",
        "| group | options |",
        "|---|---|",
    ]
    lines += [f"| `{group}` | {', '.join(f'`{o}`' for o in names)} |" for group, names in options(conf).items()]
    section = None
    for key in keys(default_config()):
        top = key.path.split(".")[0] if "." in key.path else "top level"
        if top != section:
            section = top
            lines += ["", f"## `{top}`" if top != "top level" else "## Top level", ""]
            lines += ["| key | type | default | meaning |", "|---|---|---|---|"]
        description = key.description.replace("|", "\\|").replace("<", "&lt;")
        lines.append(f"| `{key.path}` | {key.type} | {key.default} | {description} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
