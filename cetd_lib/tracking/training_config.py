"""`training_config.json`: what a checkpoint was trained with, enough to resume it exactly.

Saved beside every checkpoint (nanoGPT's checkpoints carry `model_args`, `config` and the step
the same way): the model config, the optimizer and schedule settings, the data files with their
sha256, the seed, and the python / numpy / torch (and CUDA) random states.

The random states are encoded as plain JSON: python's Mersenne-Twister state as a list of ints,
numpy's legacy global state as (name, key list, pos, has_gauss, cached_gaussian), torch's byte
tensors as base64. Nothing is pickled, so loading a training_config.json never executes code
(unlike `torch.load` of a pickle from an untrusted checkpoint).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cetd_lib.tracking.runs import utc_now, write_json_atomic

FILENAME = "training_config.json"
FORMAT_VERSION = 1


class TrainingConfigError(ValueError):
    """A training_config.json that cannot be read or does not match the data on disk."""


# ---------------------------------------------------------------------------------------------
# Random states
# ---------------------------------------------------------------------------------------------


def capture_rng_state() -> dict[str, Any]:
    """The python, numpy and torch (and every CUDA device's) global random states, JSON-safe."""
    version, internal, gauss_next = random.getstate()
    state: dict[str, Any] = {
        "python": {"version": version, "state": list(internal), "gauss_next": gauss_next}
    }
    try:
        import numpy as np

        name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
        state["numpy"] = {
            "name": name,
            "keys": [int(k) for k in keys],
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        }
    except ImportError:
        pass  # numpy is optional for the record-keeping alone
    try:
        import torch

        state["torch"] = _b64(torch.get_rng_state())
        if torch.cuda.is_available():
            state["cuda"] = [_b64(s) for s in torch.cuda.get_rng_state_all()]
    except ImportError:
        pass  # torch is optional for the record-keeping alone
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Set the global random states captured by `capture_rng_state`."""
    try:
        py = state["python"]
        random.setstate((py["version"], tuple(py["state"]), py["gauss_next"]))
        if "numpy" in state:
            import numpy as np

            np_state = state["numpy"]
            np.random.set_state(
                (
                    np_state["name"],
                    np.asarray(np_state["keys"], dtype=np.uint32),
                    np_state["pos"],
                    np_state["has_gauss"],
                    np_state["cached_gaussian"],
                )
            )
        if "torch" in state:
            import torch

            torch.set_rng_state(_unb64(state["torch"]))
            if "cuda" in state:
                if not torch.cuda.is_available():
                    raise TrainingConfigError(
                        "the checkpoint holds CUDA random states but no GPU is visible; resume "
                        "on a GPU, or drop rng_state['cuda'] to resume on CPU (not bit-identical)"
                    )
                torch.cuda.set_rng_state_all([_unb64(s) for s in state["cuda"]])
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, TrainingConfigError):
            raise
        raise TrainingConfigError(f"rng_state is malformed ({exc!r})") from exc


def _b64(tensor: Any) -> str:
    return base64.b64encode(tensor.cpu().numpy().tobytes()).decode("ascii")


def _unb64(text: str) -> Any:
    import torch

    return torch.frombuffer(bytearray(base64.b64decode(text)), dtype=torch.uint8)


# ---------------------------------------------------------------------------------------------
# Data hashes
# ---------------------------------------------------------------------------------------------


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def hash_files(paths: Iterable[str | Path]) -> dict[str, str]:
    """path -> sha256 of its bytes: the `data_paths_and_hashes` argument."""
    return {str(p): file_sha256(p) for p in paths}


# ---------------------------------------------------------------------------------------------
# The file
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingConfig:
    model_config: dict[str, Any]
    optimizer: dict[str, Any]
    schedule: dict[str, Any]
    data: dict[str, str]  # path -> sha256
    seed: int
    rng_state: dict[str, Any]
    step: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    saved_at: str | None = None

    def restore_rng(self) -> None:
        restore_rng_state(self.rng_state)

    def verify_data(self) -> None:
        """Raise if a recorded data file is missing or its bytes changed since the save."""
        for path, expected in self.data.items():
            if not Path(path).exists():
                raise TrainingConfigError(
                    f"data file {path} recorded in the checkpoint is missing; restore it or "
                    "start a new run"
                )
            actual = file_sha256(path)
            if actual != expected:
                raise TrainingConfigError(
                    f"data file {path} changed since the checkpoint (sha256 {actual[:12]}… != "
                    f"{expected[:12]}…); resuming would mix two datasets: start a new run"
                )


def _jsonable(value: Any, what: str) -> dict[str, Any]:
    """A mapping, a dataclass, an HF config (`to_dict`), a torch optimizer/scheduler, as a dict."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        out = dict(value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = dataclasses.asdict(value)
    elif hasattr(value, "to_dict"):  # transformers PretrainedConfig, peft LoraConfig
        out = value.to_dict()
    elif hasattr(value, "param_groups") and hasattr(value, "defaults"):  # torch optimizer
        out = {"class": type(value).__name__, **value.defaults}
        out["lr"] = [g.get("lr") for g in value.param_groups]  # current, after any schedule
    elif hasattr(value, "state_dict"):  # torch LR scheduler: numbers only, no lambdas
        state = value.state_dict()
        out = {"class": type(value).__name__}
        out.update({k: v for k, v in state.items() if isinstance(v, (int, float, str, list))})
    else:
        raise TypeError(
            f"save_training_config: {what} must be a mapping, a dataclass, an object with "
            f"to_dict(), or a torch optimizer/scheduler; got {type(value).__name__}"
        )
    try:
        return json.loads(json.dumps(out, default=_json_default))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"save_training_config: {what} is not JSON-serialisable ({exc})") from exc


def _json_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    return str(value)  # e.g. torch.dtype, an enum: recorded by name, read back as a string


def save_training_config(
    directory: str | Path,
    model_config: Any,
    optimizer: Any,
    schedule: Any,
    data_paths_and_hashes: Mapping[str, str],
    seed: int,
    rng_state: Mapping[str, Any] | None = None,
    *,
    step: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write `<directory>/training_config.json` (atomically) and return its path.

    `rng_state=None` captures the current global states: call it at the moment the checkpoint
    is taken, so a resumed run draws the same numbers the uninterrupted run would have.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"save_training_config: seed must be an int, got {seed!r}")
    payload = {
        "format_version": FORMAT_VERSION,
        "saved_at": utc_now(),
        "step": step,
        "seed": seed,
        "model_config": _jsonable(model_config, "model_config"),
        "optimizer": _jsonable(optimizer, "optimizer"),
        "schedule": _jsonable(schedule, "schedule"),
        "data": {str(k): str(v) for k, v in data_paths_and_hashes.items()},
        "rng_state": dict(rng_state) if rng_state is not None else capture_rng_state(),
        "extra": _jsonable(extra, "extra"),
    }
    path = Path(directory) / FILENAME
    write_json_atomic(path, payload)
    return path


def load_training_config(directory: str | Path, *, restore_rng: bool = True) -> TrainingConfig:
    """Read `<directory>/training_config.json`; by default also restore the random states.

    Restoring here makes the usual resume path one call: load the checkpoint's weights, then
    `load_training_config(ckpt_dir)`, then continue the loop from `config.step`.
    """
    path = Path(directory) / FILENAME
    if not path.exists():
        raise TrainingConfigError(
            f"{path} not found: the checkpoint was not saved with save_training_config"
        )
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise TrainingConfigError(f"{path}: not valid JSON ({exc})") from exc
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise TrainingConfigError(
            f"{path}: format_version {version!r}, this cetd_lib reads {FORMAT_VERSION}"
        )
    required = ("model_config", "optimizer", "schedule", "data", "seed", "rng_state")
    missing = [k for k in required if k not in data]
    if missing:
        raise TrainingConfigError(f"{path}: missing keys {missing}")
    config = TrainingConfig(
        model_config=data["model_config"],
        optimizer=data["optimizer"],
        schedule=data["schedule"],
        data=data["data"],
        seed=data["seed"],
        rng_state=data["rng_state"],
        step=data.get("step"),
        extra=data.get("extra") or {},
        saved_at=data.get("saved_at"),
    )
    if restore_rng:
        config.restore_rng()
    return config
