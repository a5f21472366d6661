"""Streaming keyword spotting: milliseconds per 20 ms chunk, and stream == whole clip.

Each model is built with its registry defaults (what `--model NAME` gives the
speech recipe) behind the recipe's default front end (16 kHz, 1 s clips, 40
log-mel bands, 25 ms window, 10 ms hop) with untrained weights: the latency
does not depend on the weights. `recipes.streaming_spotter.stream_metrics`
streams the clips (tones in noise) in 20 ms chunks (320 samples) and reports
the largest difference between the final streamed probabilities and the
whole-clip model's, and the median / 95th-percentile time of one `process`
call (one stream, batch 1, after an untimed clip that traces every chunk shape).
The whole-clip model's time per clip (`predict_on_batch`, batch 1) is given
beside it. `--litert` also writes each model's streaming LiteRT file
(`recipes.streaming_litert`, float32, 20 ms per call, state as tensors) and
times one interpreter call per chunk (`litert_ms_per_chunk_*`, batch 1, after an
untimed clip), with the largest per-chunk score difference from the Python
stream (`litert_max_abs_diff`) and the file's bytes.

    python benchmarks/streaming.py                       # gru, lstm, mingru, mamba, lru
    python benchmarks/streaming.py --models gru --clips 5
    python benchmarks/streaming.py --models gru,lstm,mingru --litert

Writes `benchmarks/streaming.json`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import HERE, command_line, machine, now, write_json  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="gru,lstm,mingru,mamba,lru")
    parser.add_argument("--clips", type=int, default=20, help="timed clips per model (default: %(default)s)")
    parser.add_argument("--litert", action="store_true", help="also time the streaming LiteRT file")
    parser.add_argument("--json", default=os.path.join(HERE, "streaming.json"))
    args = parser.parse_args(argv)

    import numpy as np
    import seqzoo
    from recipes.data import audio
    from recipes.streaming_spotter import stream_metrics

    features = audio.FeatureConfig(sample_rate=16000, clip_seconds=1.0, n_mels=40)
    rng = np.random.default_rng(0)
    t = np.arange(features.clip_samples) / features.sample_rate
    clips = (0.3 * np.sin(2 * np.pi * rng.uniform(200, 2000, (args.clips, 1)) * t)
             + rng.normal(0, 0.05, (args.clips, t.size))).astype("float32")
    mean = np.full(features.num_features, -40.0)
    variance = np.full(features.num_features, 400.0)
    rows = []
    for name in args.models.split(","):
        classifier = seqzoo.build(name, inputs="frames", seq_len=features.num_frames,
                                  features=features.num_features, num_classes=8)
        spotter = audio.raw_audio_model(classifier, features, mean, variance)
        metrics = stream_metrics(spotter, clips, timed_clips=args.clips)
        spotter.predict_on_batch(clips[:1])
        seconds = []
        for clip in clips:
            start = time.perf_counter()
            spotter.predict_on_batch(clip[None])
            seconds.append(time.perf_counter() - start)
        row = {"model": name, "params": int(classifier.count_params()),
               **{k.removeprefix("streaming_"): v for k, v in metrics.items()},
               "whole_clip_ms_p50": float(np.percentile(1000 * np.asarray(seconds), 50))}
        if args.litert:
            row.update(litert_stream(spotter, clips))
        print(row, flush=True)
        rows.append(row)
    write_json(args.json, {
        "command": command_line(), "date": now(), "machine": machine(),
        "setup": "16 kHz, 1 s clips, 40 log-mel bands, 25 ms window, 10 ms hop; 20 ms chunks; batch 1; "
                 "registry-default models with untrained weights",
        "rows": rows,
    })
    return 0


def litert_stream(spotter, clips) -> dict:
    """Per-chunk time (batch 1) and per-chunk score difference of the streaming LiteRT file."""
    import tempfile

    import numpy as np
    from recipes.streaming_litert import LiteRTStreamingSpotter, streaming_litert
    from recipes.streaming_spotter import StreamingSpotter

    with tempfile.TemporaryDirectory() as folder:
        path = streaming_litert(spotter, os.path.join(folder, "stream.tflite"))
        size = os.path.getsize(path)
        stream = LiteRTStreamingSpotter(path)
        chunk = stream.chunk_samples
        clips = clips[:, : clips.shape[1] // chunk * chunk]
        expected, _ = StreamingSpotter(spotter).run(clips, chunk)
        diff = float(np.max(np.abs(stream.run(clips)[0] - expected)))  # every chunk (run also finishes)
        seconds = []
        for i, clip in enumerate([clips[0], *clips]):  # the first clip untimed
            stream.reset(1)
            for begin in range(0, clip.shape[0], chunk):
                start = time.perf_counter()
                stream.process(clip[None, begin : begin + chunk])
                if i:
                    seconds.append(time.perf_counter() - start)
    ms = 1000 * np.asarray(seconds)
    return {"litert_bytes": size, "litert_max_abs_diff": diff,
            "litert_ms_per_chunk_p50": float(np.percentile(ms, 50)),
            "litert_ms_per_chunk_p95": float(np.percentile(ms, 95))}


if __name__ == "__main__":
    sys.exit(main())
