"""Audio affect features per second with librosa: log-mel statistics, loudness, brightness, rhythm.

Audio arrives in chunks and is analysed in blocks of `block_s` seconds, so memory stays bounded on
long videos; tempo is estimated per block (it needs several seconds of onsets to mean anything).
"""

from __future__ import annotations

import librosa
import numpy as np

from emsync_models.emotion.extractors.base import Extractor, FeatureTrack
from emsync_models.emotion.sampling import AUDIO_RATE, AudioChunk, VideoFrame

N_MELS = 64
MEL_GROUPS = 16     # log-mel bands averaged 4 at a time: coarse spectral shape, small feature
HOP = 160           # 10 ms at 16 kHz
N_FFT = 512


class AudioAffectExtractor(Extractor):
    """dim 22 per second:
    [0:16]  mean log-mel (dB/80 + 1) in 16 band groups
    [16]    std over time of mean log-mel (dynamics)
    [17]    loudness: RMS in dBFS / 60 + 1 (0 ~ -60 dBFS, 1 ~ full scale)
    [18]    spectral centroid / 8 kHz
    [19:21] onset strength mean, std (/10)
    [21]    tempo of the enclosing block / 200 BPM
    """

    name = "audio"
    version = "librosa-affect/v1"
    dim = 22
    input = "audio"

    def __init__(self, block_s: int = 10) -> None:
        self.block_s = block_s
        self.begin()

    def begin(self) -> None:
        self._buffer: list[np.ndarray] = []
        self._buffered = 0
        self._next_second = 0
        self._times: list[float] = []
        self._rows: list[np.ndarray] = []

    def add(self, item: VideoFrame | AudioChunk) -> None:
        assert isinstance(item, AudioChunk)
        self._buffer.append(item.samples)
        self._buffered += item.samples.size
        if self._buffered >= self.block_s * AUDIO_RATE:
            self._flush(final=False)

    def _flush(self, final: bool) -> None:
        audio = np.concatenate(self._buffer) if self._buffer else np.zeros(0, np.float32)
        whole = audio.size // AUDIO_RATE
        if final and audio.size - whole * AUDIO_RATE >= AUDIO_RATE // 4:
            whole += 1  # a trailing quarter second or more still gets its own step
            audio = np.pad(audio, (0, whole * AUDIO_RATE - audio.size))
        if whole == 0:
            return
        block, rest = audio[: whole * AUDIO_RATE], audio[whole * AUDIO_RATE:]
        for i, row in enumerate(self.features(block)):
            self._times.append(self._next_second + i + 0.5)
            self._rows.append(row)
        self._next_second += whole
        self._buffer, self._buffered = ([rest], rest.size) if rest.size else ([], 0)

    def features(self, block: np.ndarray) -> np.ndarray:
        """float32 [seconds, 22] for a block whose length is a whole number of seconds."""
        seconds = block.size // AUDIO_RATE
        mel = librosa.feature.melspectrogram(y=block, sr=AUDIO_RATE, n_fft=N_FFT, hop_length=HOP,
                                             n_mels=N_MELS, center=False)
        log_mel = librosa.power_to_db(mel, ref=1.0, top_db=80.0) / 80.0 + 1.0
        centroid = librosa.feature.spectral_centroid(S=np.sqrt(mel), sr=AUDIO_RATE, n_fft=N_FFT,
                                                     freq=librosa.mel_frequencies(N_MELS, fmax=AUDIO_RATE / 2))
        onset = librosa.onset.onset_strength(S=librosa.power_to_db(mel), sr=AUDIO_RATE, hop_length=HOP)
        tempo = 0.0
        if seconds >= 4 and onset.std() > 1e-6:
            tempo = float(np.atleast_1d(librosa.feature.tempo(onset_envelope=onset, sr=AUDIO_RATE,
                                                              hop_length=HOP))[0])
        frames_per_s = AUDIO_RATE // HOP
        rows = np.zeros((seconds, self.dim), np.float32)
        for s in range(seconds):
            sl = slice(s * frames_per_s, (s + 1) * frames_per_s)
            lm = log_mel[:, sl]
            if lm.shape[1] == 0:
                continue
            seg = block[s * AUDIO_RATE:(s + 1) * AUDIO_RATE]
            rms = float(np.sqrt(np.mean(seg.astype(np.float64) ** 2)) + 1e-9)
            rows[s, :16] = lm.reshape(MEL_GROUPS, N_MELS // MEL_GROUPS, -1).mean(axis=(1, 2))
            rows[s, 16] = lm.mean(axis=0).std()
            rows[s, 17] = max(0.0, 20 * np.log10(rms) / 60.0 + 1.0)
            rows[s, 18] = float(np.nan_to_num(centroid[0, sl]).mean()) / 8000.0
            on = onset[sl]
            rows[s, 19:21] = (on.mean() / 10.0, on.std() / 10.0) if on.size else (0.0, 0.0)
            rows[s, 21] = tempo / 200.0
        return rows

    def finish(self, duration_s: float) -> FeatureTrack:
        self._flush(final=True)
        return FeatureTrack.from_rows(self._times, self._rows, [True] * len(self._times), self.dim)
