"""A small, exactly known metadata database for the ops tests (rows written directly, no jobs run)."""

from __future__ import annotations

from datetime import timedelta

from db.models import (
    Catalog,
    CatalogVideo,
    EmotionPrediction,
    Failure,
    FlowRunLink,
    GenerationRun,
    Video,
    utcnow,
)
from db.session import session_scope

VERSIONS = {"cuts": "content-27", "emotion": "fer-mini 1", "music": "music-small a192"}


def _probs(top: str) -> dict[str, float]:
    labels = ("anger", "disgust", "fear", "joy", "sadness", "surprise")
    return {label: (0.5 if label == top else 0.1) for label in labels}


def seed(url: str) -> dict[str, int]:
    """Catalog "films": 4 videos (3 scored: joy, joy, fear), runs 2 succeeded / 1 failed / 1 pending, 2
    soundtrack failures (input) and 1 score failure (infra). Catalog "ads": 1 video, nothing done."""
    now = utcnow()
    with session_scope(url) as s:
        films, ads = Catalog(name="films"), Catalog(name="ads")
        s.add_all([films, ads])
        s.flush()
        videos = [Video(content_hash=f"{i:064x}", source_uri=f"/v/{i}.mp4") for i in range(5)]
        s.add_all(videos)
        s.flush()
        for v in videos[:4]:
            s.add(CatalogVideo(catalog_id=films.id, video_id=v.id, source_uri=v.source_uri))
        s.add(CatalogVideo(catalog_id=ads.id, video_id=videos[4].id, source_uri=videos[4].source_uri))
        for v, top in zip(videos[:3], ("joy", "joy", "fear"), strict=True):
            s.add(EmotionPrediction(video_id=v.id, model_name="fer-mini", model_version="1", detector="content-27",
                                    scene_index=-1, probs=_probs(top), valence=0.1, arousal=0.2))
        link = FlowRunLink(prefect_flow_run_id="f1", flow_name="backfill", catalog_id=films.id, state="failed",
                           started_at=now - timedelta(minutes=5), finished_at=now)
        s.add(link)
        s.add(FlowRunLink(prefect_flow_run_id="f0", flow_name="score-catalog", catalog_id=films.id,
                          state="completed", started_at=now - timedelta(hours=2)))
        s.flush()
        statuses = ("succeeded", "succeeded", "failed", "pending")
        for i, (v, status) in enumerate(zip(videos[:4], statuses, strict=True)):
            finished = status in ("succeeded", "failed")
            s.add(GenerationRun(
                run_key=f"run{i}", job_fp="job1", video_id=v.id, catalog_id=films.id, flow_run_id=link.id,
                source_uri=v.source_uri, params={}, model_versions=VERSIONS, status=status,
                error_kind="input" if status == "failed" else None,
                timings={"cuts": 1.5 + i, "music": 4.0} if finished else None,
                finished_at=now - timedelta(minutes=1) if finished else None,
            ))
        s.add_all([
            Failure(stage="soundtrack", subject="/v/2.mp4", reason="not a video", kind="input", catalog_id=films.id,
                    video_id=videos[2].id),
            Failure(stage="soundtrack", subject="/v/2.mp4", reason="still not a video", kind="input",
                    catalog_id=films.id, video_id=videos[2].id),
            Failure(stage="score", subject="video 4", reason="RuntimeError: model server down", kind="infra",
                    catalog_id=films.id, video_id=videos[3].id),
        ])
        return {"films": films.id, "ads": ads.id}
