"""Train, validation and test examples for a `data` config, with every dropped row accounted for."""

import hashlib
import logging
from dataclasses import dataclass, field

from mathlit.config import DataConfig
from mathlit.data import arith
from mathlit.data.formats import Example, load_examples
from mathlit.errors import ConfigError, DataError

log = logging.getLogger(__name__)


@dataclass
class Splits:
    train: list[Example]
    val: list[Example]
    test: list[Example]
    report: dict = field(default_factory=dict)  # counts of what was loaded, skipped, excluded, subsampled


def _stable_order(examples: list[Example]) -> list[Example]:
    """A seed-free order (by hash of id): subsets taken from its front are nested, 1/8 within 1/4 within 1/2."""
    return sorted(examples, key=lambda e: hashlib.sha1(e.id.encode()).hexdigest())


def _load(path: str, key: str, cfg: DataConfig, report: dict) -> list[Example]:
    examples, skipped = load_examples(
        path, key, cfg.on_bad_row, fields=cfg.fields, answer_type=cfg.answer_type, max_row_bytes=cfg.max_row_bytes
    )
    if not examples:  # a file the config names must give rows (RFT's files, read elsewhere, may be empty)
        bad = f", {len(skipped)} skipped as bad; first: {skipped[0]}" if skipped else ""
        raise DataError(f"{path}: no rows (set by {key}{bad})")
    if skipped:
        log.warning("skipped %d bad rows of %s (data.on_bad_row=skip); first: %s", len(skipped), path, skipped[0])
        report.setdefault("skipped_rows", {})[path] = len(skipped)
    return examples


def _generated(cfg: DataConfig) -> bool:
    """data=arith generates its problems: a file set for it would be ignored, so it is refused."""
    if cfg.name != "arith":
        return False
    for key in ("path", "test_path", "exclude_path", "more_paths"):
        if getattr(cfg, key):
            raise ConfigError(
                f"data.{key} is set but data=arith generates its problems: use data=custom data.{key}=..."
            )
    return True


def load_test(cfg: DataConfig, report: dict | None = None) -> list[Example]:
    """The test examples alone (an eval-only run needs no training file), capped by data.max_test_examples."""
    if _generated(cfg):
        return _capped(arith.generate(cfg.arith)[1], cfg)
    if not cfg.test_path:
        return []
    return _capped(_load(cfg.test_path, "data.test_path", cfg, {} if report is None else report), cfg)


def _capped(test: list[Example], cfg: DataConfig) -> list[Example]:
    return test[: cfg.max_test_examples] if cfg.max_test_examples is not None else test


def cap_synthetic(examples: list[Example], limit: int | None, report: dict) -> list[Example]:
    """At most `limit` synthetic rows (task=synth's, marked meta.synthetic), chosen in the seed-free order so that
    a smaller cap's rows are a subset of a larger one's; other rows are all kept."""
    synthetic = [e for e in examples if e.meta.get("synthetic")]
    if limit is None or len(synthetic) <= limit:
        return examples
    kept = {id(e) for e in _stable_order(synthetic)[:limit]}
    report["synthetic_dropped"] = len(synthetic) - limit
    return [e for e in examples if not e.meta.get("synthetic") or id(e) in kept]


def load_splits(cfg: DataConfig) -> Splits:
    if not 0 < cfg.train_fraction <= 1:
        raise ConfigError(f"data.train_fraction must be in (0, 1], got {cfg.train_fraction}")
    report: dict = {}
    if _generated(cfg):
        train, test = arith.generate(cfg.arith)
        test = _capped(test, cfg)
    else:
        if not cfg.path:
            raise ConfigError(f"data.path is not set for data={cfg.name}")
        train = _load(cfg.path, "data.path", cfg, report)
        for i, path in enumerate(cfg.more_paths):
            train += _load(path, f"data.more_paths[{i}]", cfg, report)
        test = load_test(cfg, report)
    if cfg.exclude_path:
        banned = {e.question for e in _load(cfg.exclude_path, "data.exclude_path", cfg, report)}
        kept = [e for e in train if e.question not in banned]
        report["excluded"] = len(train) - len(kept)
        train = kept

    ordered = _stable_order(train)
    if cfg.val_examples >= len(ordered):
        raise ConfigError(f"data.val_examples={cfg.val_examples} leaves no training examples out of {len(ordered)}")
    val = ordered[len(ordered) - cfg.val_examples :] if cfg.val_examples else []
    pool = ordered[: len(ordered) - cfg.val_examples]
    n = max(1, round(len(pool) * cfg.train_fraction))
    if cfg.max_train_examples is not None:
        n = min(n, cfg.max_train_examples)
    train = pool[:n]
    report.update(train_pool=len(pool), train_original=len(train), val=len(val))

    augmented = []
    for i, path in enumerate(cfg.augment_paths):
        rows = _load(path, f"data.augment_paths[{i}]", cfg, report)
        report.setdefault("augmented", {})[path] = len(rows)
        augmented += rows
    train += cap_synthetic(augmented, cfg.synthetic_max, report)
    report.update(train=len(train), test=len(test))
    return Splits(train, val, test, report)
