"""Audio affect features per second with librosa: log-mel statistics, loudness, brightness, rhythm, mode.

Audio arrives in chunks and is analysed in blocks of `block_s` seconds, so memory stays bounded on
long videos; tempo and mode are estimated per block (they need several seconds to mean anything).

Arousal in music and sound follows loudness, tempo/onset rate, spectral centroid (brightness) and
spectral flux (Gabrielsson & Lindstrom 2010, "The role of structure in the musical expression of
emotions", Handbook of Music and Emotion; Eerola, Friberg & Bresin 2013, Frontiers in Psychology 4:487);
valence in music follows mode, major brighter than minor (Hevner 1935; Gagnon & Peretz 2003,
Cognition and Emotion 17(1)). Mode is read by correlating the block's chroma with the
Krumhansl-Kessler key profiles (Krumhansl 1990), and only counts where the chroma is tonal at all.
"""

from __future__ import annotations

import librosa
import numpy as np

from emsync_models.emotion.extractors.base import Extractor, FeatureTrack
from emsync_models.video.media import AUDIO_RATE, AudioChunk, VideoFrame

N_MELS = 64
MEL_GROUPS = 16     # log-mel bands averaged 4 at a time: coarse spectral shape, small feature
HOP = 160           # 10 ms at 16 kHz
N_FFT = 512
# Krumhansl-Kessler probe-tone profiles, C major and C minor.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def key_mode(chroma_mean: np.ndarray) -> tuple[float, float]:
    """(mode in [-1, 1]: best major minus best minor key correlation, tonality: best correlation in [0, 1])."""
    c = np.asarray(chroma_mean, np.float64)
    if c.std() < 1e-9:
        return 0.0, 0.0
    major = max(float(np.corrcoef(c, np.roll(KK_MAJOR, k))[0, 1]) for k in range(12))
    minor = max(float(np.corrcoef(c, np.roll(KK_MINOR, k))[0, 1]) for k in range(12))
    return float(np.clip(major - minor, -1, 1)), float(np.clip(max(major, minor), 0, 1))


class AudioAffectExtractor(Extractor):
    """dim 22 per second:
    [0:16]  mean log-mel (dB/80 + 1) in 16 band groups
    [16]    std over time of mean log-mel (dynamics)
    [17]    loudness: RMS in dBFS / 60 + 1 (0 ~ -60 dBFS, 1 ~ full scale)
    [18]    spectral centroid / 8 kHz
    [19:21] onset strength mean, std (/10)
    [21]    tempo of the enclosing block / 200 BPM
    [22]    spectral flux: mean positive log-mel change per 10 ms frame (x 10)
    [23]    mode of the enclosing block: major (+) vs minor (-) key-profile correlation
    [24]    tonality of the enclosing block: best key-profile correlation (music with a key ~0.8+)
    """

    name = "audio"
    version = "librosa-affect/v2"
    dim = 25
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
        """float32 [seconds, 25] for a block whose length is a whole number of seconds."""
        seconds = block.size // AUDIO_RATE
        mel = librosa.feature.melspectrogram(y=block, sr=AUDIO_RATE, n_fft=N_FFT, hop_length=HOP,
                                             n_mels=N_MELS, center=False)
        log_mel = librosa.power_to_db(mel, ref=1.0, top_db=80.0) / 80.0 + 1.0
        centroid = librosa.feature.spectral_centroid(S=np.sqrt(mel), sr=AUDIO_RATE, n_fft=N_FFT,
                                                     freq=librosa.mel_frequencies(N_MELS, fmax=AUDIO_RATE / 2))
        onset = librosa.onset.onset_strength(S=librosa.power_to_db(mel), sr=AUDIO_RATE, hop_length=HOP)
        chroma = librosa.feature.chroma_stft(y=block, sr=AUDIO_RATE, n_fft=2048, hop_length=4 * HOP)
        mode, tonality = key_mode(chroma.mean(axis=1)) if seconds >= 2 else (0.0, 0.0)
        flux = np.maximum(0.0, np.diff(log_mel, axis=1)).mean(axis=0)
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
            fl = flux[sl]
            rows[s, 22] = float(fl.mean()) * 10.0 if fl.size else 0.0
            rows[s, 23:25] = (mode, tonality)
        return rows

    def finish(self, duration_s: float) -> FeatureTrack:
        self._flush(final=True)
        return FeatureTrack.from_rows(self._times, self._rows, [True] * len(self._times), self.dim)
