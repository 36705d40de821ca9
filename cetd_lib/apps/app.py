"""Phase-2 applications: the on-disk app format, its loader and validation.

An app is `<app_id>/src/*.py`, `<app_id>/tests/test_*.py`, `<app_id>/gold_requirements.md`
(a numbered list, 5-20 items) and an optional `<app_id>/README.md`. Tests import the src
modules by plain name; the runner puts `src/` on `sys.path`.

`python -m cetd_lib validate-apps` runs every app's tests on its own source (see `main`).
"""

from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from cetd_lib.apps.requirements import parse_requirements

MIN_REQUIREMENTS = 5
MAX_REQUIREMENTS = 20
HOLDOUT_DIR = "holdout"


@dataclass(frozen=True)
class App:
    """One application: source modules, original tests and gold requirements, all as text."""

    app_id: str
    sources: dict[str, str]  # module file name ("roman.py") -> source text
    tests: dict[str, str]  # test file name ("test_roman.py") -> test text
    requirements: tuple[str, ...]  # gold items, numbering stripped
    readme: str | None = None
    origin: str = "bundled"  # bundled | humaneval | user | holdout
    root: Path | None = field(default=None, compare=False)

    @property
    def module_names(self) -> list[str]:
        """File names the reconstructor must write (the tests import them)."""
        return sorted(self.sources)

    def content_hash(self) -> str:
        """sha256 over every file's name and text: identifies this exact version of the app."""
        payload = json.dumps(
            [
                self.app_id,
                sorted(self.sources.items()),
                sorted(self.tests.items()),
                list(self.requirements),
                self.readme,
            ],
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class DataConfig:
    """Tunables of the data layer; `params/` YAML fills it."""

    apps_dir: str | None = field(
        default=None,
        metadata={"help": "Apps directory (see docs/apps.md); None = the bundled corpus."},
    )
    include_humaneval: bool = field(
        default=False, metadata={"help": "Add the 164 HumanEval problems as apps."}
    )
    include_apps_dir: bool = field(
        default=True,
        metadata={
            "help": "Load the apps of apps_dir (the bundled corpus when apps_dir is None) and "
            "its holdout/; false with include_humaneval: HumanEval-as-apps only (a study where "
            "the small orchestra scores 0 on every bundled app)."
        },
    )
    max_apps: int | None = field(
        default=None,
        metadata={"help": "Cap on apps per split after splitting (smoke runs); None = all."},
    )
    train_fraction: float = field(
        default=0.7, metadata={"help": "Share of apps hashed into the train split."}
    )
    val_fraction: float = field(
        default=0.15, metadata={"help": "Share of apps hashed into the validation split."}
    )
    test_fraction: float = field(
        default=0.15, metadata={"help": "Share of apps hashed into the test split."}
    )
    split_seed: int = field(
        default=0,
        metadata={"help": "Salt of the app-id hash; changing it reshuffles every split."},
    )
    degrade_rate: float = field(
        default=0.3,
        metadata={
            "help": "Probability per gold item of losing a detail (clause or item) "
            "in seed augmentation."
        },
    )
    degrade_seed: int = field(
        default=0, metadata={"help": "Seed of the requirement-degradation draws."}
    )

    def __post_init__(self) -> None:
        if not (self.include_apps_dir or self.include_humaneval):
            raise ValueError(
                "data: include_apps_dir and include_humaneval are both false, so there are no "
                "apps; set one of them to true"
            )
        fractions = (self.train_fraction, self.val_fraction, self.test_fraction)
        if any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-9:
            raise ValueError(
                f"split fractions {fractions} must be non-negative and sum to 1.0; "
                "adjust train_fraction/val_fraction/test_fraction"
            )
        if not 0.0 <= self.degrade_rate <= 1.0:
            raise ValueError(f"degrade_rate={self.degrade_rate} must lie in [0, 1]")


class AppFormatError(ValueError):
    """An app directory does not follow the app format; says which app, file and what to fix."""

    def __init__(self, app_id: str, file: str, problem: str, expected: str) -> None:
        self.app_id = app_id
        self.file = file
        self.problem = problem
        self.expected = expected
        super().__init__(f"app {app_id!r}, {file}: {problem}; expected {expected}")


def bundled_apps_dir() -> Path:
    """The apps shipped inside the package (`cetd_lib/datasets/apps`)."""
    return Path(__file__).resolve().parents[1] / "datasets" / "apps"


def _read_text(app_id: str, path: Path, rel: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise AppFormatError(app_id, rel, f"not UTF-8 ({exc.reason})", "UTF-8 text") from exc


def _check_parses(app_id: str, rel: str, text: str) -> None:
    try:
        ast.parse(text, filename=rel)
    except SyntaxError as exc:
        raise AppFormatError(
            app_id, rel, f"does not parse: line {exc.lineno}: {exc.msg}", "valid Python 3.11"
        ) from exc


def _read_modules(app_id: str, folder: Path, kind: str) -> dict[str, str]:
    """`<folder>/*.py` as name -> text, each checked to parse; nested packages are refused."""
    nested = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*.py")
        if p.parent != folder and "__pycache__" not in p.parts
    )
    if nested:
        raise AppFormatError(
            app_id,
            f"{kind}/{nested[0]}",
            "module in a sub-directory",
            f"a flat {kind}/ (the runner only puts {kind}/ itself on sys.path)",
        )
    modules = {}
    for path in sorted(folder.glob("*.py")):
        rel = f"{kind}/{path.name}"
        if not path.stem.isidentifier():
            raise AppFormatError(
                app_id,
                rel,
                "file name is not a Python identifier",
                "a module name the tests can import, e.g. roman_numerals.py",
            )
        text = _read_text(app_id, path, rel)
        _check_parses(app_id, rel, text)
        modules[path.name] = text
    return modules


def load_app(path: str | Path, origin: str = "user") -> App:
    """Read and validate one app directory; raises `AppFormatError` on the first problem."""
    root = Path(path)
    app_id = root.name
    if not root.is_dir():
        raise AppFormatError(app_id, str(root), "not a directory", "an app directory")

    src, tests_dir = root / "src", root / "tests"
    if not src.is_dir():
        raise AppFormatError(app_id, "src/", "missing", "a src/ directory with 1-4 .py modules")
    sources = _read_modules(app_id, src, "src")
    if not sources:
        raise AppFormatError(app_id, "src/", "contains no .py file", "1-4 .py modules")

    if not tests_dir.is_dir():
        raise AppFormatError(app_id, "tests/", "missing", "a tests/ directory with test_*.py")
    tests = _read_modules(app_id, tests_dir, "tests")
    if not any(name.startswith("test_") for name in tests):
        raise AppFormatError(
            app_id, "tests/", "contains no test_*.py file", "at least one pytest file test_*.py"
        )

    gold = root / "gold_requirements.md"
    if not gold.is_file():
        raise AppFormatError(
            app_id,
            "gold_requirements.md",
            "missing",
            f"a numbered list of {MIN_REQUIREMENTS}-{MAX_REQUIREMENTS} requirements",
        )
    requirements = parse_requirements(_read_text(app_id, gold, "gold_requirements.md"))
    if not MIN_REQUIREMENTS <= len(requirements) <= MAX_REQUIREMENTS:
        raise AppFormatError(
            app_id,
            "gold_requirements.md",
            f"parses to {len(requirements)} items",
            f"a numbered list ('1. ...') of {MIN_REQUIREMENTS}-{MAX_REQUIREMENTS} items",
        )

    readme_path = root / "README.md"
    readme = _read_text(app_id, readme_path, "README.md") if readme_path.is_file() else None
    return App(
        app_id=app_id,
        sources=sources,
        tests=tests,
        requirements=tuple(requirements),
        readme=readme,
        origin=origin,
        root=root,
    )


def _app_dirs(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_dir() and not p.name.startswith((".", "_")) and p.name != HOLDOUT_DIR
    )


def load_apps(
    apps_dir: str | Path | None = None,
    *,
    include_holdout: bool = False,
    holdout_only: bool = False,
) -> list[App]:
    """All apps under `apps_dir` (None = bundled), sorted by app_id.

    The `holdout/` sub-directory is never loaded unless asked for, so training code that calls
    `load_apps()` cannot see it. An app that fails validation raises: no silent skipping.
    """
    root = bundled_apps_dir() if apps_dir is None else Path(apps_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"apps directory {root} does not exist")
    origin = "bundled" if apps_dir is None else "user"
    apps = [] if holdout_only else [load_app(p, origin=origin) for p in _app_dirs(root)]
    holdout = root / HOLDOUT_DIR
    if (include_holdout or holdout_only) and holdout.is_dir():
        apps += [load_app(p, origin="holdout") for p in _app_dirs(holdout)]
    ids = [app.app_id for app in apps]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise AppFormatError(
            duplicates[0],
            str(root),
            "app id present both in the corpus and in holdout/",
            "every app id to be unique",
        )
    return sorted(apps, key=lambda app: app.app_id)


# ---------------------------------------------------------------------------------------------
# CLI: python -m cetd_lib validate-apps
# ---------------------------------------------------------------------------------------------
