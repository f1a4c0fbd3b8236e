"""MTCNN ported onto facenet-pytorch's shipped weights: real faces found with landmarks, none in still lifes."""

from __future__ import annotations

import numpy as np
import skimage.data

from emsync_models.emotion.extractors.faces import FaceExpressionExtractor
from emsync_models.emotion.extractors.mtcnn import MTCNN, Face, align_face, nms
from emsync_models.video.media import VideoFrame


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [2, 2, 5, 5]], float)
    scores = np.array([0.9, 0.95, 0.5, 0.8])
    assert nms(boxes, scores, 0.5).tolist() == [1, 3, 2]
    # "min" overlap drops the small box nested inside the kept one.
    assert nms(boxes, scores, 0.5, "min").tolist() == [1, 2]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).size == 0


def test_finds_the_astronauts_face_with_landmarks_in_place():
    faces = MTCNN().detect(skimage.data.astronaut())
    assert len(faces) == 1 and faces[0].prob > 0.95
    x1, y1, x2, y2 = faces[0].box
    (lx, ly), (rx, ry), (nx, ny), (mlx, mly), (mrx, mry) = faces[0].landmarks
    assert x1 < lx < nx < rx < x2 and y1 < ly < ny < mly < y2   # eyes above nose above mouth
    assert abs(ly - ry) < 0.1 * (x2 - x1)                       # she holds her head upright
    crop = align_face(skimage.data.astronaut()[..., 0], faces[0])
    assert crop.shape == (64, 64) and crop.std() > 10


def test_no_faces_in_a_coffee_cup_or_a_rocket():
    detector = MTCNN()
    assert detector.detect(skimage.data.coffee()) == []
    assert detector.detect(skimage.data.rocket()) == []


def test_face_weight_follows_probability_and_share():
    extractor = FaceExpressionExtractor()
    extractor.begin()
    extractor.add(VideoFrame(0.0, skimage.data.astronaut()))
    extractor.add(VideoFrame(1.0, skimage.data.coffee()))
    track = extractor.finish(2.0)
    face, none = track.values
    assert face[8] > 0.9 and face[7] > 0.02 and face[3] == face[:7].max()   # happy, a confident close-up
    assert not none.any()
    small = Face((0, 0, 20, 20), 0.99, np.zeros((5, 2)))
    from emsync_models.emotion.extractors.faces import face_weight
    assert face_weight(small, 640 * 360) < 0.1 < face_weight(Face((0, 0, 100, 100), 0.99, np.zeros((5, 2))), 640 * 360)
