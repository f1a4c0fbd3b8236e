"""What makes two soundtrack jobs the same job, and what "scored" means, under the current settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flows.settings import Settings
from flows.storage.persist import job_fingerprint


@dataclass(frozen=True)
class JobIdentity:
    """What makes two soundtrack jobs the same job: the model versions and the parameters."""

    model_versions: dict[str, str]
    params: dict[str, Any]
    emotion_model: tuple[str, str]
    cuts_version: str

    @property
    def fingerprint(self) -> str:
        return job_fingerprint(self.model_versions, self.params)


def current_job(settings: Settings) -> JobIdentity:
    """The identity `run_soundtrack` gives a job with default options under these settings.

    It must match `flows.soundtrack.run_soundtrack` key for key; `process_claim` checks that it did.
    """
    from flows.inference import emotion_analyzer, music_generator
    from flows.soundtrack import cut_model_version, job_params

    analyzer = emotion_analyzer(settings)
    generator = music_generator(settings)
    cuts = cut_model_version(settings)
    versions = {"cuts": cuts, "emotion": str(analyzer.model_version), "music": str(generator.version)}
    params = job_params(settings)
    return JobIdentity(versions, params, (str(analyzer.model_name), str(analyzer.model_version)), cuts)


def current_scoring(settings: Settings) -> tuple[str, str, str]:
    """(emotion model name, version, cut detector version): what "scored" means right now."""
    from flows.inference import emotion_analyzer
    from flows.soundtrack import cut_model_version

    analyzer = emotion_analyzer(settings)
    return str(analyzer.model_name), str(analyzer.model_version), cut_model_version(settings)
