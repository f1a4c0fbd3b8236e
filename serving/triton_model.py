"""Helpers the Triton models' model.py files share (kept here so each model.py only adapts tensors)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def model_parameters(model_config: dict[str, Any]) -> dict[str, str]:
    """config.pbtxt `parameters` as a plain {key: string_value} dict."""
    return {k: str(v.get("string_value", "")) for k, v in model_config.get("parameters", {}).items()}


# The repository in this package: what infra/triton.sh serves from a checkout and the Triton image copies.
MODEL_REPOSITORY = Path(__file__).resolve().parent / "model_repository"


def resolve_checkpoint(value: str, model_dir: Path) -> Path | None:
    """None for "" (the library's default weights); relative paths are relative to the model's folder
    (`<repository>/<model>/`), so a model repository carries its weights wherever it is mounted."""
    if not value.strip():
        return None
    path = Path(value)
    path = path if path.is_absolute() else model_dir / path
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} named in config.pbtxt does not exist")
    return path


def check_identity(params: dict[str, str], name: str, version: str, checkpoint: Path | None) -> None:
    """Refuse to serve weights other than the ones config.pbtxt declares.

    Clients key stored results by the declared name/version, so serving anything else would file new
    results under an old key; failing the load makes the server refuse to start instead.
    """
    want_name, want_version = params.get("model_name", ""), params.get("model_version", "")
    if (want_name and want_name != name) or want_version != version:
        raise ValueError(
            f"config.pbtxt declares {want_name or '?'} {want_version or '(no version)'} but "
            f"{checkpoint or 'the default weights'} loaded as {name} {version}: update config.pbtxt"
        )


def error_response(pb_utils: Any, exc: BaseException) -> Any:  # noqa: ANN401 - the stub's own module/types
    """One request's error response. Bad input (InputError) is INVALID_ARG, so HTTP answers 400 and
    clients do not retry it; anything else stays INTERNAL (500), which clients may retry."""
    from emsync_models.errors import InputError

    message = f"{type(exc).__name__}: {exc}"
    code = getattr(pb_utils.TritonError, "INVALID_ARG", None) if isinstance(exc, InputError) else None
    error = pb_utils.TritonError(message) if code is None else pb_utils.TritonError(message, code)
    return pb_utils.InferenceResponse(error=error)
