"""python -m recipes.speech_commands end to end on tiny generated wavs, TFDS mock data and bad input."""

import csv
import json
import os

import keras
import numpy as np
import pytest
import tensorflow_datasets as tfds

import recipes.data
from recipes.data import DataError, audio
from recipes.cli import parse
from recipes.runner import main
from recipes.speech_commands import SpeechCommandsRecipe, predict_files
from seqzoo.export import FALLBACK

TONES = {"high": 1500.0, "low": 300.0, "mid": 700.0}
TINY = ["--epochs", "1", "--batch-size", "4", "--model", "gru", "--set", "units=8"]


def make_folder(root, rate=8000, takes=4, noise=False):
    """<label>/spk_nohash_<take>.wav tones; take 0 in testing_list.txt, take 1 in validation_list.txt."""
    lists = {"val": [], "test": []}
    for label, hz in TONES.items():
        (root / label).mkdir(parents=True)
        for take in range(takes):
            seconds = (0.3, 0.5, 1.3, 0.8)[take % 4]
            wave = 0.5 * np.sin(2 * np.pi * hz * np.arange(int(seconds * rate)) / rate)
            audio.write_wav(root / label / f"spk_nohash_{take}.wav", wave, rate)
            if take < 2:
                lists["test" if take == 0 else "val"].append(f"{label}/spk_nohash_{take}.wav")
    (root / "validation_list.txt").write_text("\n".join(lists["val"]) + "\n")
    (root / "testing_list.txt").write_text("\n".join(lists["test"]) + "\n")
    if noise:
        (root / "_background_noise_").mkdir()
        audio.write_wav(root / "_background_noise_" / "hum.wav", 0.2 * np.random.default_rng(0).standard_normal(2 * rate), rate)
    return root


def run(argv):
    """The exit code of `python -m recipes.speech_commands ARGV` (argparse errors included)."""
    try:
        return main(SpeechCommandsRecipe(), [str(a) for a in argv])
    except SystemExit as exit:
        return exit.code


def test_end_to_end_writes_every_artifact_and_a_raw_audio_model(tmp_path, capsys):
    data = make_folder(tmp_path / "sc")
    out = tmp_path / "run"
    assert run(["--data-dir", data, "--out", out, "--quiet", *TINY]) == 0
    for name in ["metrics.json", "model.keras", "history.csv", "config.json", "curves.png", "confusion.png",
                 "train_state.json", "keyword_spotter.keras", "labels.txt"]:
        assert (out / name).is_file(), name
    assert not (out / "backup").exists()
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ["recipe", "model", "params", "epochs_run", "train_seconds", "examples_per_second",
                "test_accuracy", "test_loss", "test_confusion", "export_max_abs_diff"]:
        assert key in metrics, key
    assert metrics["recipe"] == "speech_commands" and metrics["model"] == "gru" and metrics["epochs_run"] == 1
    assert metrics["sizes"] == {"train": 6, "val": 3, "test": 3}
    assert np.asarray(metrics["test_confusion"]).sum() == 3
    assert metrics["export_max_abs_diff"] < 1e-4
    assert len(list(csv.DictReader(open(out / "history.csv")))) == 1
    config = json.loads((out / "config.json").read_text())
    front = config["data"]["front_end"]
    assert config["task"] == {"inputs": "frames", "seq_len": 101, "features": 40, "num_classes": 3}
    assert front["sample_rate"] == 8000 and front["clip_samples"] == 8000 and front["kind"] == "log-mel"
    assert len(front["normalization_mean"]) == len(front["normalization_variance"]) == 40
    assert front["labels"] == sorted(TONES) == (out / "labels.txt").read_text().split()
    assert "--data-dir" in config["command"]

    # the documented way to run the shipped model on a raw wav file
    spotter = keras.saving.load_model(out / "keyword_spotter.keras")
    samples, rate = audio.read_wav(data / "mid" / "spk_nohash_0.wav")
    wave = np.asarray(audio.fix_length(samples, front["clip_samples"]))[None]
    probabilities = spotter.predict(wave, verbose=0)
    assert probabilities.shape == (1, 3) and np.isclose(probabilities.sum(), 1, atol=1e-5)
    # ... equal to the classifier on the pipeline's normalised features
    features = audio.FeatureConfig.from_dict(front).front_end()(wave)
    normalised = (np.asarray(features) - front["normalization_mean"]) / np.sqrt(front["normalization_variance"])
    classifier = keras.saving.load_model(out / "model.keras")
    np.testing.assert_allclose(classifier.predict(normalised, verbose=0), probabilities, atol=1e-4)

    # predict_files: wav files at any rate and length
    loud = tmp_path / "mid16k.wav"
    audio.write_wav(loud, 0.5 * np.sin(2 * np.pi * 700 * np.arange(24000) / 16000), 16000)
    found = predict_files(str(out), [str(data / "mid" / "spk_nohash_0.wav"), str(loud)])
    assert [f["path"] for f in found] == [str(data / "mid" / "spk_nohash_0.wav"), str(loud)]
    assert found[0]["label"] == sorted(TONES)[probabilities.argmax()]
    assert found[0]["probability"] == pytest.approx(probabilities.max(), abs=1e-5)
    assert found[1]["label"] in TONES and 0 < found[1]["probability"] <= 1
    with pytest.raises(DataError, match="not a finished speech_commands run"):
        predict_files(str(tmp_path), [str(loud)])

    # interrupted after training (model saved, not evaluated): the same command finishes the run
    os.remove(out / "metrics.json")
    os.remove(out / "keyword_spotter.keras")
    model_time = os.path.getmtime(out / "model.keras")
    assert run(["--data-dir", data, "--out", out, "--quiet", *TINY]) == 0
    assert (out / "keyword_spotter.keras").is_file() and os.path.getmtime(out / "model.keras") == model_time
    assert json.loads((out / "metrics.json").read_text())["test_accuracy"] == metrics["test_accuracy"]


def test_augment_mfcc_16khz_and_background_noise(tmp_path, capsys):
    data = make_folder(tmp_path / "sc16", rate=16000, noise=True)
    out = tmp_path / "run"
    argv = ["--data-dir", data, "--out", out, *TINY, "--augment", "--n-mfcc", "13", "--hop-ms", "20",
            "--clip-seconds", "0.5", "--lr-schedule", "constant"]
    assert run(argv) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["task"]["seq_len"] == 26 and config["task"]["features"] == 13
    assert config["data"]["augment"] == {"shift_ms": 100.0, "noise_probability": 0.8, "noise_volume": 0.1,
                                         "time_masks": 0, "time_mask_ms": 50.0, "freq_masks": 0, "freq_mask_bands": 5}
    assert config["data"]["noise_seconds"] == 2.0
    assert config["data"]["front_end"]["sample_rate"] == 16000
    assert json.loads((out / "metrics.json").read_text())["export_max_abs_diff"] < 1e-4
    assert "training into" in capsys.readouterr().out


def test_augmentation_is_the_default_and_reaches_training_inputs_only(tmp_path):
    """On by default (time shift; SpecAugment masks when asked); --no-augment turns it off. It
    changes the training batches, never the validation/test ones, and the exported spotter
    holds no augmentation: front end, normalisation and classifier only, deterministic."""
    recipe = SpeechCommandsRecipe()
    data = make_folder(tmp_path / "sc")
    loaded = {}
    masks = ["--time-masks", "1", "--freq-masks", "1"]
    for name, flags in [("on", masks), ("off", ["--no-augment", *masks])]:
        args = parse(recipe, ["--data-dir", str(data), "--seed", "3", *TINY, *flags])
        loaded[name] = recipe.load(args)
    assert loaded["on"].info["augment"]["time_masks"] == 1 and loaded["off"].info["augment"] is None
    train = {name: next(iter(task.train.as_numpy_iterator())) for name, task in loaded.items()}
    np.testing.assert_array_equal(train["on"][1], train["off"][1])  # same clips, same order
    assert np.abs(train["on"][0] - train["off"][0]).mean() > 0.05
    for split in ("val", "test"):
        for (xa, _), (xb, _) in zip(getattr(loaded["on"], split), getattr(loaded["off"], split)):
            np.testing.assert_array_equal(xa, xb)

    out = tmp_path / "run"
    assert run(["--data-dir", data, "--out", out, "--quiet", *TINY, *masks]) == 0
    assert json.loads((out / "config.json").read_text())["data"]["augment"]["freq_masks"] == 1
    spotter = keras.saving.load_model(out / "keyword_spotter.keras")
    assert [layer.name for layer in spotter.layers[1:]] == ["front_end", "normalization", spotter.layers[-1].name]
    assert isinstance(spotter.layers[-1], keras.Model)
    waves = np.stack([w for w, _ in loaded["on"].extras["splits"].test.as_numpy_iterator()])
    np.testing.assert_array_equal(spotter.predict(waves, verbose=0), spotter.predict(waves, verbose=0))
    classifier = keras.saving.load_model(out / "model.keras")
    clean = np.concatenate([x for x, _ in loaded["off"].test.as_numpy_iterator()])
    np.testing.assert_allclose(spotter.predict(waves, verbose=0), classifier.predict(clean, verbose=0), atol=1e-5)


def test_tfds_default_data_through_mock_data(tmp_path, monkeypatch):
    monkeypatch.setattr(recipes.data, "network_available", lambda *a, **k: True)  # mock: nothing downloads
    out = tmp_path / "run"
    with tfds.testing.mock_data(num_examples=8):
        assert run(["--out", out, "--quiet", "--limit", "8", "--clip-seconds", "0.25", *TINY]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["source"] == "tfds:speech_commands"
    assert metrics["sizes"] == {"train": 8, "val": 8, "test": 8}
    assert len(metrics["test_confusion"]) == 12
    assert (out / "labels.txt").read_text().split() == audio.TFDS_LABELS


def _break_wav(root):
    audio.write_wav(root / "low" / "odd.wav", np.zeros(100), 8000, sample_width=1)


def _garbage_wav(root):
    (root / "low" / "odd.wav").write_bytes(b"RIFF....WAVEjunk")


BAD_INPUTS = {
    "no-such-folder": (lambda root: root.rename(root.with_name("elsewhere")), "no such folder"),
    "no-label-folders": (lambda root: [os.remove(p) for p in root.glob("*/*.wav")], "no label folders"),
    "unreadable-wav": (_garbage_wav, "not a readable PCM wav"),
    "8-bit-wav": (_break_wav, "16-bit"),
    "0-hz-wav": (lambda root: (root / "low/spk_nohash_3.wav").write_bytes(
        (lambda b: b[:24] + bytes(8) + b[32:])((root / "low/spk_nohash_3.wav").read_bytes())), "0 Hz"),
    "list-names-missing-file": (lambda root: (root / "validation_list.txt").write_text("mid/nope.wav\n"), "mid/nope.wav"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, case):
    breakage, message = BAD_INPUTS[case]
    data = make_folder(tmp_path / "sc")
    breakage(data)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    out = tmp_path / "run"
    assert run(["--data-dir", data, "--out", out, *TINY]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith("python -m recipes.speech_commands: error:")
    assert not out.exists()
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_offline_without_data_dir_fails_fast_with_a_hint(tmp_path, capsys, monkeypatch):
    if os.path.isdir(os.path.join(tfds.core.constants.DATA_DIR, "speech_commands")):
        pytest.skip("TFDS speech_commands is prepared on this machine: nothing to download")
    monkeypatch.setattr(recipes.data, "network_available", lambda *a, **k: False)
    out = tmp_path / "run"
    assert run(["--out", out, *TINY]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--data-dir" in err and "no network" in err
    assert not out.exists()


def test_a_sample_rate_whose_frames_keras_miscounts_is_refused_up_front(tmp_path, capsys):
    """Issue 14 #8: --sample-rate 100 trained, wrote model.keras, then crashed building the
    spotter (expected (None,101,40), found (None,102,40)); every rerun crashed the same way."""
    data = make_folder(tmp_path / "sc")
    out = tmp_path / "run"
    assert run(["--data-dir", data, "--out", out, "--sample-rate", "100", *TINY]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--hop-ms" in err and "--sample-rate=100" in err
    assert not out.exists()
    # the same when the data itself is at 100 Hz (the rate comes from the files)
    slow = make_folder(tmp_path / "slow", rate=100)
    assert run(["--data-dir", slow, "--out", out, *TINY]) == 2
    assert "--hop-ms" in capsys.readouterr().err and not out.exists()


@pytest.mark.parametrize(
    "flags, message",
    [(["--n-mfcc", "50"], "--n-mfcc 50 exceeds --n-mels 40"), (["--clip-seconds", "0"], "--clip-seconds"),
     (["--hop-ms", "30"], "--hop-ms 30.0 exceeds --window-ms")],
)
def test_bad_flags_exit_2(tmp_path, capsys, flags, message):
    data = make_folder(tmp_path / "sc")
    out = tmp_path / "run"
    assert run(["--data-dir", data, "--out", out, *flags, *TINY]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


def test_keywords_and_litert_export_end_to_end(tmp_path):
    """--keywords high,low: mid becomes _unknown_, _silence_ clips are added (zeros: no noise);
    --export litert writes the float32 and int8 raw-audio files and (gru is causal) the streaming
    ones, float32 and int8; predict_files reads the whole-clip files."""
    data = make_folder(tmp_path / "sc")
    out = tmp_path / "run"
    argv = ["--data-dir", data, "--out", out, "--quiet", *TINY, "--clip-seconds", "0.25",
            "--keywords", "high,low", "--unknown-percent", "50", "--silence-percent", "50", "--export", "litert",
            "--set", "units=32"]  # weights >= 1,024 values: the quantisers' threshold, so a quantised file is smaller
    assert run(argv) == 0
    labels = (out / "labels.txt").read_text().split()
    assert labels == ["_silence_", "_unknown_", "high", "low"]
    metrics = json.loads((out / "metrics.json").read_text())
    # train: 2 takes x 2 keywords = 4 -> 2 unknown (of mid's 2), 2 silence; test: 2 + 1 + 1
    assert metrics["sizes"] == {"train": 8, "val": 4, "test": 4}
    assert metrics["litert_test_clips"] == 4 and metrics["litert_agreement"] == 1.0
    assert 0 <= metrics["litert_int8_agreement"] <= 1 and metrics["litert_int8_ms_per_clip"] > 0
    # the quantised files' scheme: the first of the fallback that keeps 97 % of the decisions on validation
    # in a file smaller than the float one (each tried file's bytes recorded)
    for key in ["litert_int8", "litert_streaming_int8"]:
        tried = [s for s in FALLBACK if f"{key}_selection_agreement_{s}" in metrics]
        assert metrics[f"{key}_scheme"] in tried and tried == list(FALLBACK[: len(tried)])
        assert metrics[f"{key}_selection_split"] == "validation" and metrics[f"{key}_selection_clips"] == 4
        float_bytes = metrics[key.replace("_int8", "_bytes")]
        last = tried[-1]
        assert metrics[f"{key}_scheme_met_target"] == (
            metrics[f"{key}_selection_agreement_{last}"] >= 0.97 and metrics[f"{key}_selection_bytes_{last}"] < float_bytes)
        assert metrics[f"{key}_bytes"] == metrics[f"{key}_selection_bytes_{metrics[f'{key}_scheme']}"] < float_bytes
    for name in ["keyword_spotter.tflite", "keyword_spotter_int8.tflite", "keyword_spotter_streaming.tflite",
                 "keyword_spotter_streaming_int8.tflite"]:
        assert (out / name).stat().st_size == metrics[name.replace("keyword_spotter", "litert").replace(".tflite", "_bytes")]
    # a causal model (gru) also gets the streaming file, equal to StreamingSpotter chunk by chunk
    # (pure tones: LiteRT's FFT rounds the near-zero bins differently, 1.1e-4 here, as the whole-clip
    # file differs from Keras by up to 7e-4 on a 300 Hz tone; tone + noise: 1e-4 in test_streaming_litert)
    assert metrics["litert_streaming_chunk_samples"] == 160 and metrics["litert_streaming_max_abs_diff"] < 1e-3
    assert metrics["litert_streaming_ms_per_chunk_p50"] > 0 and "litert_streaming_skipped" not in metrics
    # and its int8 variant, checked the same way (4 test clips: agreement is a multiple of 1/4)
    assert "litert_streaming_int8_skipped" not in metrics and metrics["litert_streaming_test_clips"] == 4
    assert metrics["litert_streaming_int8_ms_per_chunk_p50"] > 0 and metrics["litert_streaming_int8_max_abs_diff"] < 0.5
    for key in ["litert_streaming_agreement", "litert_streaming_int8_agreement", "litert_streaming_int8_float_agreement"]:
        assert metrics[key] in (0.0, 0.25, 0.5, 0.75, 1.0)
    below = metrics.get("litert_streaming_int8_below_target", "")  # said, with the counts, under 0.97
    assert bool(below) == (metrics["litert_streaming_int8_agreement"] < 0.97)
    assert not below or f"ends {round(4 * metrics['litert_streaming_int8_agreement'])} of 4 test clips" in below
    wavs = [str(data / "high" / "spk_nohash_0.wav"), str(data / "mid" / "spk_nohash_3.wav")]
    by_keras = predict_files(str(out), wavs)
    by_litert = predict_files(str(out), wavs, model="keyword_spotter.tflite")
    assert [f["label"] for f in by_litert] == [f["label"] for f in by_keras]
    np.testing.assert_allclose([f["probability"] for f in by_litert], [f["probability"] for f in by_keras], atol=1e-4)
    assert predict_files(str(out), wavs, model="keyword_spotter_int8.tflite")[0]["label"] in labels
    with pytest.raises(DataError, match="not a finished speech_commands run"):
        predict_files(str(tmp_path / "sc"), wavs, model="keyword_spotter.tflite")
    with pytest.raises(DataError, match="streaming.tflite has 4 inputs and 4 outputs.*runs with recipes.streaming_litert"):
        predict_files(str(out), wavs, model="keyword_spotter_streaming.tflite")


def test_keywords_need_a_folder_of_words(tmp_path, capsys):
    data = make_folder(tmp_path / "sc")
    out = tmp_path / "run"
    assert run(["--data-dir", data, "--out", out, *TINY, "--keywords", "high,loud"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'loud' has no label folder" in err and "high, low, mid" in err
    assert run(["--out", out, *TINY, "--keywords", "high"]) == 2
    assert "--keywords needs --data-dir" in capsys.readouterr().err
    assert not out.exists()


def test_export_streaming_checks_a_causal_model_and_refuses_others_before_training(tmp_path, capsys):
    data = make_folder(tmp_path / "sc")
    out = tmp_path / "run"
    argv = ["--data-dir", data, "--quiet", "--epochs", "1", "--batch-size", "4", "--clip-seconds", "0.25",
            "--export", "streaming"]
    assert run([*argv, "--out", out, "--model", "gru", "--set", "units=4"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["streaming_test_clips"] == 3 and metrics["streaming_chunk_samples"] == 160  # 20 ms at 8 kHz
    assert metrics["streaming_max_abs_diff"] < 1e-4 and metrics["streaming_agreement"] == 1.0
    assert 0 < metrics["streaming_ms_per_chunk_p50"] <= metrics["streaming_ms_per_chunk_p95"]
    refused = tmp_path / "bigru"
    capsys.readouterr()  # the first run's warnings (a 1-epoch model)
    assert run([*argv, "--out", refused, "--model", "bigru", "--set", "units=4"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--export streaming needs a causal model: bigru cannot stream: layer 'bigru_1'" in err
    assert not refused.exists()


def test_mingru_defaults_to_max_pooling_and_set_still_wins():
    from recipes.runner import resolve_hyperparameters

    assert resolve_hyperparameters(SpeechCommandsRecipe(), "mingru", {})["pool"] == "max"
    assert resolve_hyperparameters(SpeechCommandsRecipe(), "mingru", {"pool": "last"})["pool"] == "last"
