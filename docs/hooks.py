"""MkDocs hooks: pages and files made at build time, so that they cannot drift from the code.

- reference/configuration.md: every config key from the schema and conf/ (mathlit/config_reference.py);
- plots/...: the result plots, where bench/ writes them (bench/plots/).
"""

import sys
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]


def on_files(files: Files, config) -> Files:
    sys.path.insert(0, str(ROOT))  # the checkout's mathlit, installed or not
    from mathlit.config_reference import markdown

    files.append(File.generated(config, "reference/configuration.md", content=markdown()))
    plots = ROOT / "bench" / "plots"
    for png in sorted(plots.rglob("*.png")):
        uri = f"plots/{png.relative_to(plots).as_posix()}"
        files.append(File(uri, str(ROOT / "bench"), config.site_dir, config.use_directory_urls))
    return files
