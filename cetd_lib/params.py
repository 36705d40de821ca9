"""Typed parameter sets: YAML files in `params/` fill frozen config dataclasses.

Stricter than papermill (which only warns on an unknown parameter): an unknown key, a wrong
type or a missing required value is a `ParamsError` naming the file and the dotted key.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from cetd_lib.apps.app import DataConfig
from cetd_lib.config_field import help_field
from cetd_lib.evaluation.ablation import AblationConfig
from cetd_lib.evaluation.calibration import CalibrationConfig
from cetd_lib.models.config import ExtractorConfig
from cetd_lib.multitask.data.config import MultitaskDataConfig
from cetd_lib.multitask.model.train_config import MultitaskTrainConfig
from cetd_lib.mutation_rl.config import MutationRLConfig
from cetd_lib.reconstruction.config import OrchestraConfig
from cetd_lib.review.config import ReviewConfig
from cetd_lib.sandbox.config import HarnessConfig
from cetd_lib.tracking.dashboard import DashboardConfig
from cetd_lib.tracking.trackers import normalise_report_to
from cetd_lib.train.config import GuardConfig, Stage1Config, Stage2Config


class ParamsError(ValueError):
    """A parameter file or override does not fit the config schema."""


@dataclass(frozen=True)
class RunConfig:
    seed: int = help_field(
        "Seeds python, numpy and torch; every random choice derives from it.", default=42
    )
    outputs_dir: str = help_field(
        "Root of run records (runs/<run_id>/), reports and bench.", default="outputs"
    )
    device: str = help_field("'cpu', 'cuda' or 'auto' (cuda when available).", default="cpu")
    report_to: tuple[str, ...] = help_field(
        "Trackers that mirror every live metric and get the TRL trainers' logs, TRL's convention: "
        "any of tensorboard, mlflow, trackio; [] or [none] = the run record and dashboard only.",
        default=(),
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "report_to", normalise_report_to(self.report_to, "run.report_to"))


#: Requirement sources (evaluation.ladder) a phase-2 evaluation may add as controls.
CONTROL_SOURCES = ("signature_only", "gold_shuffled")


@dataclass(frozen=True)
class EvalConfig:
    context_level: int = help_field(
        "Degradation level of the code the extractor reads (1 full ... 3 signatures; 4, the "
        "gold requirements, is refused: it hands the extractor the answer).",
        default=1,
    )
    max_new_tokens: int = help_field("Generation cap for requirements.", default=256)
    bleu_target: float = help_field("Seed target: BLEU vs gold above this.", default=0.6)
    pass_rate_target: float = help_field(
        "Seed target: mean reconstruction pass rate above this.", default=0.5
    )
    share_above_75_target: float = help_field(
        "Seed target: share of apps above 75% pass.", default=0.3
    )
    holdout: bool = help_field(
        "Also evaluate the holdout apps (<apps_dir>/holdout/, never trained on) as their own "
        "row set beside the test split.",
        default=True,
    )
    control_sources: tuple[str, ...] = help_field(
        "Controls evaluated beside the trained sources, to show what the reward pays for: "
        "'signature_only' (the app's public signatures alone: a reward that pays for names "
        "scores it like gold) and 'gold_shuffled' (another app's gold: must score ~0).",
        default=(),
    )
    paired_test: Literal["wilcoxon", "sign"] = help_field(
        "Per-app paired test of the source comparisons (Holm-corrected per row set).",
        default="wilcoxon",
    )
    n_resamples: int = help_field(
        "Bootstrap resamples for every confidence interval.", default=2000
    )
    confidence: float = help_field(
        "Confidence level of the intervals; 1 - confidence is the level of the corrected tests "
        "that decide the expected ranking.",
        default=0.95,
    )

    def __post_init__(self) -> None:
        from cetd_lib.apps.degrade import check_extractor_level

        check_extractor_level(self.context_level, "eval.context_level")
        unknown = sorted(set(self.control_sources) - set(CONTROL_SOURCES))
        if unknown:
            raise ValueError(
                f"eval.control_sources: {unknown} unknown; expected some of {list(CONTROL_SOURCES)}"
            )
        if self.n_resamples < 100 or not 0.5 <= self.confidence < 1:
            raise ValueError("eval: n_resamples must be >= 100 and confidence in [0.5, 1)")


@dataclass(frozen=True)
class Params:
    run: RunConfig = field(default_factory=RunConfig)
    data: DataConfig = field(default_factory=DataConfig)
    extractor: ExtractorConfig = field(default_factory=ExtractorConfig)
    harness: HarnessConfig = field(default_factory=HarnessConfig)
    orchestra: OrchestraConfig = field(default_factory=OrchestraConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    multitask_data: MultitaskDataConfig = field(default_factory=MultitaskDataConfig)
    ablation: AblationConfig = field(default_factory=AblationConfig)
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)
    dashboard: DashboardConfig = field(default_factory=DashboardConfig)
    stage1: Stage1Config = field(default_factory=Stage1Config)
    stage2: Stage2Config = field(default_factory=Stage2Config)
    guard: GuardConfig = field(default_factory=GuardConfig)
    mutation_rl: MutationRLConfig = field(default_factory=MutationRLConfig)
    multitask_train: MultitaskTrainConfig = field(default_factory=MultitaskTrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check `value` against the annotation `tp`; ints are accepted for floats, nothing else."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(tp):
            if option is type(None):
                if value is None:
                    return None
                continue
            try:
                return _coerce(value, option, where)
            except ParamsError:
                continue
        raise ParamsError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ParamsError(
                f"{where}: expected one of {list(typing.get_args(tp))}, got {value!r}"
            )
        return value
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ParamsError(f"{where}: expected a list, got {value!r}")
        (item_tp, *_) = typing.get_args(tp) or (Any,)
        items = [_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ParamsError(f"{where}: expected a mapping, got {value!r}")
        _, val_tp = typing.get_args(tp) or (Any, Any)
        return {k: _coerce(v, val_tp, f"{where}.{k}") for k, v in value.items()}
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float) and isinstance(value, bool):
        raise ParamsError(f"{where}: expected {tp.__name__}, got a boolean {value!r}")
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ParamsError(f"{where}: expected {tp.__name__}, got {type(value).__name__} {value!r}")
    return value


def _build(cls: type, data: Any, where: str) -> Any:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ParamsError(f"{where}: expected a mapping for {cls.__name__}, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            known = ", ".join(fields)
            raise ParamsError(
                f"{where}.{key}: unknown key for {cls.__name__}{hint}; known keys: {known}".lstrip(
                    "."
                )
            )
    kwargs = {}
    for name, f in fields.items():
        key = f"{where}.{name}".lstrip(".")
        if name in data:
            kwargs[name] = _coerce(data[name], hints[name], key)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ParamsError(f"{key}: required value missing ({_type_name(hints[name])})")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:  # __post_init__ checks
        raise ParamsError(f"{where or cls.__name__}: {exc}") from exc


def parse_override(text: str) -> tuple[list[str], Any]:
    """`a.b=value` -> (['a', 'b'], value), the value read as YAML (so 3 is int, true is bool)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ParamsError(f"override {text!r}: expected KEY=VALUE, e.g. run.seed=7")
    return key.strip().split("."), yaml.safe_load(raw) if raw.strip() else None


def _apply_override(data: dict, path: list[str], value: Any) -> None:
    node = data
    for part in path[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ParamsError(f"override {'.'.join(path)}: {part!r} is not a section")
    node[path[-1]] = value


def load_params(
    path: str | Path | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
    *,
    schema: type = Params,
) -> Any:
    """Load a YAML params file (None = all defaults) and apply `key.sub=value` overrides."""
    source = str(path) if path is not None else "<defaults>"
    data: dict[str, Any] = {}
    if path is not None:
        try:
            text = Path(path).read_text()
        except FileNotFoundError:
            raise ParamsError(f"{source}: params file not found") from None
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ParamsError(f"{source}: not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise ParamsError(f"{source}: expected a mapping of sections at the top level")
    items = (
        overrides.items()
        if isinstance(overrides, dict)
        else (parse_override(o) for o in (overrides or []))
    )
    for key, value in items:
        _apply_override(data, key.split(".") if isinstance(key, str) else key, value)
    try:
        params = _build(schema, data, "")
    except ParamsError as exc:
        raise ParamsError(f"{source}: {exc}") from None
    return _resolve_paths(params, project_root(path)) if schema is Params else params


def project_root(params_file: str | Path | None) -> Path:
    """The nearest ancestor of the params file holding pyproject.toml (else its folder, or cwd)."""
    if params_file is None:
        return Path.cwd()
    start = Path(params_file).resolve().parent
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").exists():
            return folder
    return start


def _resolve_paths(params: Params, root: Path) -> Params:
    """Relative paths in a params file mean: relative to the project root, not to the cwd
    (a notebook's kernel runs in notebooks/, the CLI wherever it was started)."""

    def absolute(value: str | None) -> str | None:
        return value if value is None or Path(value).is_absolute() else str(root / value)

    return dataclasses.replace(
        params,
        run=dataclasses.replace(params.run, outputs_dir=absolute(params.run.outputs_dir)),
        data=dataclasses.replace(params.data, apps_dir=absolute(params.data.apps_dir)),
    )


def describe(schema: type = Params, prefix: str = "") -> list[tuple[str, str, str]]:
    """(dotted key, default, help) for every field: the params reference in the README."""
    rows = []
    hints = typing.get_type_hints(schema)
    for f in dataclasses.fields(schema):
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(hints[f.name]):
            rows.extend(describe(hints[f.name], key + "."))
        else:
            default = f.default if f.default is not dataclasses.MISSING else "(required)"
            rows.append((key, repr(default), f.metadata.get("help", "")))
    return rows
