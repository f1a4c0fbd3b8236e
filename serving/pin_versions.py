"""Write (or check) the model_name / model_version each config.pbtxt declares for its checkpoint.

    python -m serving.pin_versions           # after retraining: update the configs
    python -m serving.pin_versions --check   # exit 1 if a config no longer matches its checkpoint

The Triton models refuse to load weights other than the declared ones (clients key stored results by
the declared version), so a retrained checkpoint needs this one command before the server starts.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from serving import protocol
from serving.triton_model import resolve_checkpoint

REPO = Path(__file__).resolve().parent.parent
MODEL_REPO = REPO / "serving" / "model_repository"
PARAM = r'(\{{ key: "{key}",\s*value: \{{ string_value: ")([^"]*)(" \}} \}})'


def declared(config: str) -> dict[str, str]:
    return dict(re.findall(r'key: "(\w+)",\s*value: \{ string_value: "([^"]*)" \}', config))


def actual_identity(model: str, checkpoint: Path | None) -> tuple[str, str]:
    if model == protocol.EMOTION_MODEL:
        from emsync_models.emotion.predictor import FusionPredictor

        head = FusionPredictor.default() if checkpoint is None else FusionPredictor.from_checkpoint(checkpoint)
        return head.name, head.version
    if model == protocol.MUSIC_MODEL:
        from emsync_models.music.v1.generator import load_generator

        generator = load_generator(checkpoint)
        return generator.name, generator.version
    if model == protocol.MUSIC_MODEL_V2:
        from emsync_models.music.v2.generator import load_generator_v2

        v2 = load_generator_v2(checkpoint)
        return v2.name, v2.version
    raise ValueError(f"unknown model {model!r}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only report; exit 1 when a config is stale")
    ap.add_argument("--repository", type=Path, default=MODEL_REPO)
    args = ap.parse_args(argv)
    stale = 0
    for model in (protocol.EMOTION_MODEL, protocol.MUSIC_MODEL, protocol.MUSIC_MODEL_V2):
        path = args.repository / model / "config.pbtxt"
        text = path.read_text()
        params = declared(text)
        checkpoint = resolve_checkpoint(params.get("checkpoint", ""), args.repository / model)
        name, version = actual_identity(model, checkpoint)
        if (params.get("model_name"), params.get("model_version")) == (name, version):
            print(f"{model}: {name} {version} (up to date)")
            continue
        stale += 1
        print(f"{model}: config declares {params.get('model_name')} {params.get('model_version')}, "
              f"checkpoint is {name} {version}" + ("" if args.check else " -> updated"))
        if not args.check:
            for key, value in (("model_name", name), ("model_version", version)):
                text, n = re.subn(PARAM.format(key=key), lambda m, v=value: m.group(1) + v + m.group(3), text)
                if n != 1:
                    raise SystemExit(f"{path}: expected one {key} parameter, found {n}")
            path.write_text(text)
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
