"""Live training metrics: one `LiveMetrics.log(step, **metrics)` call per logging step.

Each call appends a row to the run record's `metrics.jsonl` and then, throttled by a clock:

- in a Jupyter kernel, redraws one figure (a panel per metric group) and a table of the latest
  values in place, through an IPython display handle (no widget state to lose);
- headless, prints at most one line per `every_s` seconds (cleanrl prints every step; on CPU runs
  under papermill that floods the executed notebook);
- mirrors every row to the trackers of `report_to` (TensorBoard, MLflow, trackio:
  `cetd_lib.tracking.trackers`; TensorBoard scalars go under `<run>/tensorboard/`).

Metric keys are grouped by prefix, as cleanrl and TRL do: `losses/...`, `rewards/<name>/mean`,
`completions/...`, `charts/...`, `eval/...`. Several training phases share one run record
(stage 1 then stage 2 in a Phase-2 run), so a key may carry a phase in front:
`stage1/losses/train` (`log(step, phase="stage1", ...)`); the view draws a panel per (phase,
group). A list of values is averaged with NaN and None left out (None = "not applicable", as a
TRL reward function returns). HF/TRL trainers log through `LiveMetricsCallback(live)`, which
maps their flat keys ("loss", "learning_rate", ...) onto these groups and adds throughput.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal, TextIO

from cetd_lib.tracking.figures import figure_png, lines_figure
from cetd_lib.tracking.html import latest_table_html
from cetd_lib.tracking.progress import format_duration, headless
from cetd_lib.tracking.runs import RunRecord
from cetd_lib.tracking.series import (
    GROUP_ORDER,
    KNOWN_GROUPS,
    as_number,
    grouped,
    is_missing,
    nanmean,
    nanstd,
    split_phase,
)
from cetd_lib.tracking.trackers import normalise_report_to, open_trackers

DisplayMode = Literal["auto", "notebook", "text", "off"]


class MetricKeyError(ValueError):
    """A metric key without a group prefix (`losses/`, `rewards/<name>/`, `charts/` ...)."""


# ---------------------------------------------------------------------------------------------
# Pure helpers: grouping and NaN-aware averaging
# ---------------------------------------------------------------------------------------------


def reward_metrics(
    name: str, rewards: Sequence[float | None], group_size: int | None = None
) -> dict[str, float]:
    """`rewards/<name>/mean`, `/std` and, for GRPO/RLOO-style groups, `/frac_zero_std`.

    `rewards` is one value per completion (None or NaN: not applicable, left out). With
    `group_size` the completions are consecutive groups of that many per prompt; a group whose
    rewards all agree has zero advantage and teaches nothing (the "fraction of groups with zero
    reward variance" TRL logs as `frac_reward_zero_std`).

    >>> reward_metrics("recon", [0.0, 1.0, None, 1.0], group_size=2)
    {'rewards/recon/mean': 0.6666666666666666, 'rewards/recon/std': 0.4714045207910317, \
'rewards/recon/frac_zero_std': 0.5}
    """
    out = {f"rewards/{name}/mean": nanmean(rewards), f"rewards/{name}/std": nanstd(rewards)}
    if group_size:
        if len(rewards) % group_size:
            raise ValueError(
                f"reward_metrics({name!r}): {len(rewards)} rewards do not split into groups of "
                f"{group_size}; pass one reward per completion, groups consecutive"
            )
        flags = []
        for start in range(0, len(rewards), group_size):
            kept = [r for r in rewards[start : start + group_size] if not is_missing(r)]
            if kept:
                flags.append(float(max(kept) - min(kept) == 0.0))
        out[f"rewards/{name}/frac_zero_std"] = nanmean(flags)
    return out


# What the live figure draws, per phase: (panel, keys or "group/" prefixes). Lines sharing a
# panel share a scale; bookkeeping (total_flos, num_tokens, train_runtime, rule counters) is
# left to the table, where a 1e9 next to a 1e-5 does not flatten every other line.
LIVE_PANELS = (
    ("losses", ("losses/",)),
    ("rewards", ("rewards/mean", "rewards/std", "rewards/frac_zero_std", "rewards/pass_rate")),
    ("eval", ("eval/",)),
    ("kill rate", ("kill_rate/mean", "kill_rate/unusable_on_original")),
    ("guard", ("guard/leak_rate", "guard/reject_rate", "guard/compression_ratio")),
    ("tokens/s", ("charts/tokens_per_s",)),
    ("samples/s", ("charts/samples_per_s",)),
    ("learning rate", ("charts/learning_rate",)),
    ("reconstruction time share", ("charts/reconstruction_time_share",)),
)


def live_panels(
    series: Mapping[str, tuple[Sequence[int], Sequence[float]]],
) -> dict[str, dict[str, tuple[Sequence[int], Sequence[float]]]]:
    """panel title -> {line label: (steps, values)} for the keys `LIVE_PANELS` selects; phases
    in order (keys without one first), `stage2/losses` titled with its phase.

    >>> sorted(live_panels({"stage1/losses/train": ([1], [2.0]), "charts/total_flos": ([1], [9e9]),
    ...                     "stage1/charts/tokens_per_s": ([1], [80.0])}))
    ['stage1/losses', 'stage1/tokens/s']
    """
    panels: dict[str, dict[str, tuple[Sequence[int], Sequence[float]]]] = {}
    keys = sorted(series, key=lambda k: split_phase(k)[0])
    for phase in dict.fromkeys(split_phase(k)[0] for k in keys):
        mine = {split_phase(k)[1]: k for k in keys if split_phase(k)[0] == phase}
        for title, wanted in LIVE_PANELS:
            lines = {
                rest: series[key]
                for rest, key in sorted(mine.items())
                if any(rest == w or (w.endswith("/") and rest.startswith(w)) for w in wanted)
            }
            if lines:
                label = f"{phase}/{title}" if phase else title
                panels[label] = {r.split("/", 1)[1] if "/" in r else r: v for r, v in lines.items()}
    return panels


def in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, or papermill's), False in a terminal/script."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


# ---------------------------------------------------------------------------------------------
# LiveMetrics
# ---------------------------------------------------------------------------------------------


class LiveMetrics:
    """Log training metrics into a run record, with a live view throttled by `clock`.

    >>> live = LiveMetrics(run, every_s=30)                        # doctest: +SKIP
    >>> live.log(step, **{"losses/train": loss, "charts/samples_per_s": sps})  # doctest: +SKIP
    >>> live.close()                                               # doctest: +SKIP

    `accumulate(**metrics)` collects values between logging steps (e.g. one reward per
    micro-batch); the next `log` writes their NaN-filtered means, as TRL averages its metric
    buffers at each logging step. `phase="stage1"` writes `stage1/<key>`: one LiveMetrics (one
    figure) serves every phase of a run.
    """

    def __init__(
        self,
        run: RunRecord,
        *,
        every_s: float = 30.0,
        plot_every_s: float = 10.0,
        display: DisplayMode = "auto",
        report_to: str | Sequence[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        stream: TextIO | None = None,
    ):
        if every_s < 0 or plot_every_s < 0:
            raise ValueError("LiveMetrics: every_s and plot_every_s must be >= 0 seconds")
        self.run = run
        self.every_s = every_s
        self.plot_every_s = plot_every_s
        self.clock = clock
        self.stream = stream
        if display == "auto":
            display = "notebook" if in_notebook() and not headless() else "text"
        self.mode = display
        if self.mode not in ("notebook", "text", "off"):
            raise ValueError(
                f"LiveMetrics: display must be auto|notebook|text|off, not {display!r}"
            )
        self.history: dict[str, tuple[list[int], list[float]]] = {}
        self.latest: dict[str, float] = {}
        self.last_step: int | None = None
        self.last_phase = ""
        self._pending: dict[str, list[Any]] = {}
        self._last_line: float | None = None
        self._last_plot: float | None = None
        self._unshown = False  # a row logged since the view was last refreshed
        self._handles: tuple[Any, Any] | None = None
        self._started = clock()
        self._expected: dict[str, tuple[int, float, int]] = {}  # phase -> (total, t0, step0)
        self.report_to = normalise_report_to(report_to, "LiveMetrics(report_to=...)")
        self.trackers = open_trackers(run, self.report_to)

    @classmethod
    def from_config(cls, run: RunRecord, config: Any, **kwargs: Any) -> LiveMetrics:
        """From a `DashboardConfig` (params.dashboard); pass `report_to=params.run.report_to`
        to mirror the series to trackers."""
        return cls(
            run,
            every_s=config.print_every_s,
            plot_every_s=config.plot_every_s,
            display=config.display,
            **kwargs,
        )

    # -- logging ---------------------------------------------------------------------------
    def expect(self, total_steps: int, *, phase: str = "", start_step: int = 0) -> None:
        """Announce that `phase` runs to step `total_steps` from `start_step`, starting now:
        its lines then read `step k/total` with an ETA from the pace so far."""
        if total_steps > 0:
            self._expected[phase] = (int(total_steps), self.clock(), int(start_step))

    def progress(self) -> str:
        """`step 12/54, ETA 3m05s` for the phase logged last; `step 12` without a total."""
        step = self.last_step
        if step is None:
            return ""
        expected = self._expected.get(self.last_phase)
        if expected is None:
            return f"step {step}"
        total, started, first = expected
        done = step - first
        text = f"step {step}/{total}"
        if done > 0 and step < total:
            left = (self.clock() - started) / done * (total - step)
            text += f", ETA {format_duration(left)}"
        return text

    def accumulate(self, *, phase: str = "", **metrics: Any) -> None:
        """Buffer values (scalars or sequences) until the next `log`, which averages them."""
        for key, value in _phased(phase, metrics).items():
            values = value if _is_sequence(value) else [value]
            self._pending.setdefault(key, []).extend(values)

    def log(self, step: int, *, phase: str = "", **metrics: Any) -> dict[str, Any]:
        """Write one row (step + metrics + buffered means) and refresh the view if due.

        Sequences are averaged with NaN/None left out; NaN is written as null (JSON has no NaN).
        Strings are kept in the record (e.g. `source="gold"`) but not plotted. With `phase`
        every key is written as `<phase>/<key>`; when the phase changes, the old phase's last
        row and the new phase's first row are shown whatever the throttle. Returns the row.
        """
        metrics = _phased(phase, metrics)
        new_phase = self.last_step is not None and phase != self.last_phase
        if new_phase:  # the last row of the phase that ended, before the new one starts
            self._refresh(force=True)
        merged: dict[str, Any] = {k: nanmean(v) for k, v in self._pending.items()}
        self._pending.clear()
        merged.update(metrics)
        row: dict[str, Any] = {}
        for key, value in merged.items():
            if isinstance(value, str) or value is None:
                row[key] = value
                continue
            number = nanmean(value) if _is_sequence(value) else as_number(value)
            if number is None:
                raise TypeError(
                    f"LiveMetrics.log: {key}={value!r} is not a number, a sequence of numbers "
                    "or a string"
                )
            row[key] = None if math.isnan(number) or math.isinf(number) else number
        self.run.log_metrics(int(step), **row)
        self.last_step = int(step)
        self.last_phase = phase
        numbers = {key: value for key, value in row.items() if isinstance(value, float)}
        for key, value in numbers.items():
            steps, values = self.history.setdefault(key, ([], []))
            steps.append(int(step))
            values.append(value)
            self.latest[key] = value
        for tracker in self.trackers:
            tracker.log(numbers, int(step))
        self._unshown = True
        self._refresh(force=new_phase)  # a phase's first row always shows
        return {"step": int(step), **row}

    def close(self) -> None:
        """Show the last row if throttling held it back, and close the trackers."""
        self._refresh(force=True)
        trackers, self.trackers = self.trackers, []
        for tracker in trackers:
            tracker.close()

    def __enter__(self) -> LiveMetrics:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- the view --------------------------------------------------------------------------
    def _refresh(self, force: bool) -> None:
        if not self._unshown or self.mode == "off":
            return
        now = self.clock()
        if self.mode == "text":
            if force or self._last_line is None or now - self._last_line >= self.every_s:
                self._last_line = now
                self._unshown = False
                print(self.format_line(), file=self.stream or sys.stdout, flush=True)
        elif force or self._last_plot is None or now - self._last_plot >= self.plot_every_s:
            self._last_plot = now
            self._unshown = False
            self._draw()

    def format_line(self) -> str:
        """`stage1 step 40/54, ETA 1m52s | 312s | losses/train 1.234 ...`: the latest
        values of the phase logged last (a stage-2 line does not repeat stage 1's numbers)."""
        head = f"{self.last_phase} {self.progress()}".lstrip()
        parts = [head, f"{self.clock() - self._started:.0f}s"]
        for keys in grouped(self.latest).values():
            for key in keys:
                phase, rest = split_phase(key)
                if phase == self.last_phase:
                    parts.append(f"{rest} {self.latest[key]:.4g}")
        return " | ".join(parts)

    def figure(self) -> Any:
        """A matplotlib Figure of the headline metrics (`live_panels`), a panel per phase and
        quantity; the table under it lists every key."""

        return lines_figure(live_panels(self.history), title=f"run {self.run.run_id}")

    def _draw(self) -> None:
        from IPython.display import HTML, DisplayHandle, Image

        image = Image(data=figure_png(self.figure()), format="png")
        table = HTML(latest_table_html(self.latest, self.last_step))
        if self._handles is None:  # first draw: create the outputs that later draws replace
            self._handles = (DisplayHandle(), DisplayHandle())
            self._handles[0].display(image)
            self._handles[1].display(table)
        else:
            self._handles[0].update(image)
            self._handles[1].update(table)


@contextmanager
def training_metrics(
    run: RunRecord | None, live: LiveMetrics | None = None, config: Any = None
) -> Iterator[LiveMetrics | None]:
    """The LiveMetrics a trainer logs into: `live` when the caller passes one (the caller keeps
    closing it: one figure for every phase of a run), else a new one on `run` from `config`
    (a DashboardConfig; LiveMetrics defaults without), closed on exit; None without a run."""
    if live is not None or run is None:
        yield live
        return
    own = LiveMetrics.from_config(run, config) if config is not None else LiveMetrics(run)
    try:
        yield own
    finally:
        own.close()


def _is_sequence(value: Any) -> bool:
    if hasattr(value, "ndim"):  # numpy arrays and torch tensors with at least one dimension
        return value.ndim > 0
    return isinstance(value, (list, tuple))


def _check_key(key: str) -> None:
    if "/" not in key or key.startswith("/") or key.endswith("/"):
        raise MetricKeyError(
            f"metric key {key!r} has no group prefix; name it like 'losses/{key}', "
            f"'rewards/{key}/mean' or 'charts/{key}' (groups: {', '.join(GROUP_ORDER)}, ...)"
        )


def _phased(phase: str, metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Check every key, then put `<phase>/` in front of it."""
    for key in metrics:
        _check_key(key)
    if not phase:
        return dict(metrics)
    if "/" in phase or phase in KNOWN_GROUPS:
        raise MetricKeyError(
            f"phase {phase!r} must be one word that is not a metric group (e.g. 'stage1'); "
            f"groups: {', '.join(KNOWN_GROUPS)}"
        )
    return {f"{phase}/{key}": value for key, value in metrics.items()}


# ---------------------------------------------------------------------------------------------
# transformers / TRL adapter
# ---------------------------------------------------------------------------------------------

# Flat keys HF Trainer and TRL log, mapped onto our groups. Keys that already hold a "/"
# (TRL's "rewards/<fn>/mean", "completions/mean_length") pass through unchanged.
HF_KEY_MAP = {
    "loss": "losses/train",
    "train_loss": "losses/train_mean",  # HF's mean over the whole run, logged once at the end
    "eval_loss": "losses/eval",
    "reward": "rewards/mean",
    "reward_std": "rewards/std",
    "frac_reward_zero_std": "rewards/frac_zero_std",
    "kl": "losses/kl",
    "entropy": "charts/entropy",
}


def hf_metric_key(key: str) -> str:
    """Map an HF/TRL log key onto a grouped key.

    >>> [hf_metric_key(k) for k in ("loss", "eval_loss", "eval_bleu", "learning_rate",
    ...                             "rewards/recon/mean", "eval_rewards/recon/mean")]
    ['losses/train', 'losses/eval', 'eval/bleu', 'charts/learning_rate', 'rewards/recon/mean', \
'eval/rewards/recon/mean']
    """
    if key in HF_KEY_MAP:
        return HF_KEY_MAP[key]
    if "/" in key and not key.startswith("eval_"):
        return key
    if key.startswith("eval_"):
        return f"eval/{key.removeprefix('eval_')}"
    return f"charts/{key}"


def hf_logs_to_metrics(logs: Mapping[str, Any]) -> dict[str, Any]:
    """An HF `on_log` dict as LiveMetrics keys; strings and non-numbers dropped."""
    return {
        hf_metric_key(k): v
        for k, v in logs.items()
        if not isinstance(v, str) and (as_number(v) is not None or _is_sequence(v))
    }


def _make_callback_class() -> type:
    from transformers import TrainerCallback

    class LiveMetricsCallback(TrainerCallback):
        """Forward HF/TRL `Trainer` logs into a `LiveMetrics` (main process only), with throughput.

        `trainer = GRPOTrainer(..., callbacks=[LiveMetricsCallback(live, phase="stage2")])`.
        The step is the trainer's `state.global_step`; the caller keeps owning (and closing)
        `live`. Throughput over the wall time (by `live.clock`) since the previous row that
        advanced the step: `charts/samples_per_s` when `samples_per_step` is given (examples, or
        completions, per optimizer step), `charts/tokens_per_s` from the cumulative `num_tokens`
        TRL logs. HF logs its own `train_samples_per_second` only once, at the end; cleanrl's
        SPS is the model for logging it all along. `extra()` is called at every row and its
        metrics are added (statistics a reward function keeps, the reconstruction time share).
        """

        def __init__(
            self,
            live: LiveMetrics,
            *,
            phase: str = "",
            samples_per_step: float | None = None,
            extra: Callable[[], Mapping[str, Any]] | None = None,
        ):
            self.live = live
            self.phase = phase
            self.samples_per_step = samples_per_step
            self.extra = extra
            self._mark: tuple[float, int, float | None] | None = None

        def on_train_begin(self, args, state, control, **kwargs):
            self.live.expect(state.max_steps, phase=self.phase, start_step=state.global_step)
            # A resumed trainer's token count restarts from a checkpoint: skip its first delta.
            self._mark = (
                self.live.clock(),
                state.global_step,
                0.0 if not state.global_step else None,
            )

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or not getattr(state, "is_world_process_zero", True):
                return
            metrics = hf_logs_to_metrics(logs)
            metrics.update(self._throughput(state.global_step, logs.get("num_tokens")))
            if self.extra is not None:
                metrics.update(self.extra())
            self.live.log(state.global_step, phase=self.phase, **metrics)

        def on_train_end(self, args, state, control, **kwargs):
            self.live._refresh(force=True)

        def pause(self, seconds: float) -> None:
            """Leave `seconds` spent outside training (validation) out of the next throughput."""
            if self._mark is not None:
                since, step, tokens = self._mark
                self._mark = (since + seconds, step, tokens)

        def _throughput(self, step: int, tokens: Any) -> dict[str, float]:
            now = self.live.clock()
            if self._mark is None:  # logged before on_train_begin: start measuring here
                self._mark = (now, step, None)
                return {}
            since, last_step, last_tokens = self._mark
            tokens = as_number(tokens)
            out: dict[str, float] = {}
            elapsed = now - since
            if step <= last_step or elapsed <= 0:  # eval rows and the final summary row
                return out
            if self.samples_per_step:
                out["charts/samples_per_s"] = (step - last_step) * self.samples_per_step / elapsed
            if tokens is not None and last_tokens is not None and tokens > last_tokens:
                out["charts/tokens_per_s"] = (tokens - last_tokens) / elapsed
            self._mark = (now, step, tokens)
            return out

    return LiveMetricsCallback


def attach(trainer: Any, callback: Any) -> None:
    """Add a LiveMetricsCallback to an HF/TRL trainer and drop HF's PrinterCallback, which
    prints every log dict unthrottled (what `disable_tqdm=True` installs) and would flood a
    papermill notebook next to the throttled view."""
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(callback)


_LAZY: dict[str, type] = {}


def __getattr__(name: str) -> Any:
    # transformers takes seconds to import; only the HF adapter needs it.
    if name == "LiveMetricsCallback":
        if name not in _LAZY:
            _LAZY[name] = _make_callback_class()
        return _LAZY[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
