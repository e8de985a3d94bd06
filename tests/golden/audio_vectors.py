"""Golden vectors for qtl's G.711 companders (format/g711.hpp) and IMA ADPCM
(predictive/ima_adpcm.hpp), computed with Python's audioop module (standard library up to
Python 3.12).

    python tests/golden/audio_vectors.py [--out DIR]

Writes audio.qtlg: the μ-law and A-law code of every 16-bit sample, the sample of every
code, and for four signals (a plucked string and a chirp with noise, synthesised here
with a seeded generator; full-scale noise, which drives the step index to both ends and
the prediction into its clamps; a 1001-sample odd length; a spoken sentence) the ADPCM
bytes and final states of encoding and decoding, in one call and continued over two
calls. Exits 77 (skip) when audioop or numpy is missing.

The sentence is speech.wav beside this script: 17,786 samples (2.2 s) of 16-bit mono at
8 kHz, peaks near full scale. It was made once, by
    espeak-ng -v en-us -s 170 -w speech22.wav "This voice is coded in four bits."
(eSpeak NG 1.51, Debian bookworm; 22,050 Hz) and audioop.ratecv(frames, 2, 1, 22050,
8000, None), and is committed: this script reads it with the wave module.
"""
import argparse
import math
import os
import random
import sys
import warnings
import wave

try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop
    import numpy as np

    from golden_file import write_golden
except ImportError as missing:
    print(f"{missing.name} is not installed: skipping the audio golden vectors")
    sys.exit(77)


def pluck_and_chirp(n, rate=8000):
    """A Karplus-Strong plucked string (220 Hz) over a 200-3400 Hz chirp with a little
    noise, as int16."""
    rng = random.Random(711)
    period = rate // 220
    line = [rng.uniform(-1, 1) for _ in range(period)]
    out = []
    for i in range(n):
        string = line[i % period]
        line[i % period] = 0.996 * 0.5 * (string + line[(i + 1) % period])
        t = i / rate
        chirp = math.sin(2 * math.pi * (200 * t + (3400 - 200) * t * t / (2 * n / rate)))
        value = 0.55 * string + 0.35 * chirp * math.exp(-((t - 1.0) ** 2)) + 0.01 * rng.uniform(-1, 1)
        out.append(max(-32768, min(32767, round(value * 32767))))
    return np.array(out, dtype=np.int16)


def speech():
    """speech.wav's samples, as int16."""
    with wave.open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "speech.wav")) as f:
        if (f.getnchannels(), f.getsampwidth(), f.getframerate()) != (1, 2, 8000):
            raise SystemExit("speech.wav: expected 16-bit mono at 8 kHz")
        return np.frombuffer(f.readframes(f.getnframes()), dtype="<i2").astype(np.int16)


def noise(n):
    rng = random.Random(1111)
    return np.array([rng.randrange(-32768, 32768) for _ in range(n)], dtype=np.int16)


def adpcm_case(arrays, name, samples):
    raw = samples.astype("<i2").tobytes()
    encoded, state = audioop.lin2adpcm(raw, 2, None)
    decoded, decoded_state = audioop.adpcm2lin(encoded, 2, None)
    half = (len(samples) // 4) * 4  # a whole number of bytes in the first call
    first, carried = audioop.lin2adpcm(raw[: half], 2, None)
    second, continued = audioop.lin2adpcm(raw[half:], 2, carried)
    arrays[f"{name}.input"] = samples
    arrays[f"{name}.encoded"] = np.frombuffer(encoded, dtype=np.uint8)
    arrays[f"{name}.encoded_state"] = np.array(state, dtype=np.int32)
    arrays[f"{name}.decoded"] = np.frombuffer(decoded, dtype="<i2").astype(np.int16)
    arrays[f"{name}.decoded_state"] = np.array(decoded_state, dtype=np.int32)
    arrays[f"{name}.continued"] = np.frombuffer(first + second, dtype=np.uint8)
    arrays[f"{name}.continued_state"] = np.array(continued, dtype=np.int32)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = parser.parse_args()
    every_sample = np.arange(-32768, 32768, dtype=np.int16).astype("<i2").tobytes()
    every_code = bytes(range(256))
    arrays = {
        "ulaw.encode": np.frombuffer(audioop.lin2ulaw(every_sample, 2), dtype=np.uint8),
        "alaw.encode": np.frombuffer(audioop.lin2alaw(every_sample, 2), dtype=np.uint8),
        "ulaw.decode": np.frombuffer(audioop.ulaw2lin(every_code, 2), dtype="<i2").astype(np.int16),
        "alaw.decode": np.frombuffer(audioop.alaw2lin(every_code, 2), dtype="<i2").astype(np.int16),
    }
    adpcm_case(arrays, "adpcm.pluck", pluck_and_chirp(16000))
    adpcm_case(arrays, "adpcm.noise", noise(4000))
    adpcm_case(arrays, "adpcm.odd", pluck_and_chirp(1001))
    adpcm_case(arrays, "adpcm.speech", speech())
    write_golden(os.path.join(args.out, "audio.qtlg"), arrays)
    print(f"wrote audio.qtlg (Python {sys.version.split()[0]}'s audioop)")


if __name__ == "__main__":
    main()
