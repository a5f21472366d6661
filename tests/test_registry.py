"""Registry: listing, info, errors, registration and entry-point plugins, CLI."""

import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

import keras
import seqzoo
from seqzoo import registry
from seqzoo.params import Float, Int, ParamError

HISTORY = {
    "rnn", "hopfield", "lstm", "gru", "birnn", "bilstm", "bigru", "deep_rnn", "deep_lstm",
    "deep_gru", "deep_bilstm", "attention_rnn", "transformer", "bert", "gpt", "deepspeech2",
    "cnn_lstm", "transformer_rnn",
}


def test_every_architecture_of_the_history_is_registered():
    assert HISTORY <= set(seqzoo.list_models())


def test_list_models_is_sorted_and_takes_fnmatch_wildcards():
    assert seqzoo.list_models() == sorted(seqzoo.list_models())
    assert seqzoo.list_models("*lstm*") == [
        "bilstm", "cnn_lstm", "deep_bilstm", "deep_lstm", "lstm", "minlstm", "xlstm"]
    assert seqzoo.list_models("deep_*") == ["deep_bilstm", "deep_gru", "deep_lstm", "deep_rnn"]
    assert seqzoo.list_models("bi?ru") == ["bigru"]
    assert seqzoo.list_models("nothing*") == []


def test_info_gives_the_history_and_hyperparameters():
    card = seqzoo.info("lstm")
    assert (card.year, card.family) == (1997, "recurrent")
    assert "Hochreiter" in card.authors and "Gers" in card.authors
    assert card.paper == "Long Short-Term Memory"
    assert "gradient" in card.solved.lower()
    units = card.hyperparameters["units"]
    assert units["default"] == 128 and units["valid"] == "[1, 8192]"
    assert {"units", "depth"} <= set(card.search_space)
    assert "units" in str(card) and "1997" in str(card)


@pytest.mark.parametrize("name", seqzoo.list_models())
def test_every_entry_has_complete_history(name):
    card = seqzoo.info(name)
    assert 1980 <= card.year <= 2030
    assert card.authors and card.paper and card.family and len(card.solved) > 20
    for spec in card.hyperparameters.values():
        assert spec["valid"] and spec["help"]


def test_recurrent_builders_all_take_depth():
    for name in seqzoo.list_models():
        if seqzoo.info(name).family == "recurrent":
            assert "depth" in seqzoo.info(name).hyperparameters, name


def test_unknown_name_suggests_close_matches():
    with pytest.raises(KeyError, match=r"unknown model 'bilstn'; did you mean 'bilstm'"):
        seqzoo.build("bilstn")
    with pytest.raises(KeyError, match="did you mean 'gru'"):
        seqzoo.info("gruu")


def test_unknown_keyword_names_it_and_the_valid_ones():
    with pytest.raises(TypeError, match=r"unknown keyword argument 'unitz'; valid: .*units"):
        seqzoo.build("lstm", unitz=3)


@pytest.mark.parametrize(
    "name,kwargs,param",
    [
        ("lstm", {"units": 0}, "units"),
        ("deep_gru", {"depth": -1}, "depth"),
        ("bilstm", {"dropout": 1.5}, "dropout"),
        ("bilstm", {"dropout": 1.0}, "dropout"),
        ("transformer", {"heads": 3}, "heads"),
        ("bert", {"width": 100, "heads": 8}, "heads"),
        ("transformer_rnn", {"units": 10, "heads": 3}, "heads"),
        ("gru", {"pool": "median"}, "pool"),
        ("gru", {"units": 2.5}, "units"),
        ("gru", {"inputs": "audio"}, "inputs"),
        ("gru", {"num_classes": 1}, "num_classes"),
        ("gru", {"inputs": "series", "features": 2, "head": "forecast", "targets": 3}, "targets"),
        ("gru", {"vocab_size": 10, "inputs": "frames"}, "vocab_size"),
        ("gru", {"horizon": 5}, "horizon"),
    ],
)
def test_invalid_values_name_the_parameter(name, kwargs, param):
    with pytest.raises(ParamError, match=rf"^{param}"):
        seqzoo.build(name, **kwargs)


def test_register_a_builder_and_reject_duplicates():
    @seqzoo.register("tiny_mean_test", year=2024, authors="Tests", paper="-", family="baseline",
                     solved="A bag-of-embeddings baseline for the registry test.",
                     params={"units": Int(8, low=1), "dropout": Float(0.0, high=1.0, high_inclusive=False)})
    def tiny_mean_test(x, units, dropout):
        x = keras.layers.Dense(units)(x)
        return keras.layers.GlobalAveragePooling1D()(x)

    try:
        assert "tiny_mean_test" in seqzoo.list_models("tiny_*")
        assert seqzoo.build("tiny_mean_test", units=3, num_classes=4).output_shape == (None, 4)
        with pytest.raises(ValueError, match="already registered"):
            seqzoo.register("tiny_mean_test", year=2024, authors="x", paper="x", family="x",
                            solved="x")(tiny_mean_test)
        with pytest.raises(ValueError, match="already registered"):
            seqzoo.register("lstm", year=2024, authors="x", paper="x", family="x", solved="x")(tiny_mean_test)
    finally:
        registry.unregister("tiny_mean_test")
    assert "tiny_mean_test" not in seqzoo.list_models()


def test_hyperparameters_may_not_shadow_task_keywords():
    with pytest.raises(ValueError, match="clash with task keywords"):
        seqzoo.register("clash_test", year=2024, authors="x", paper="x", family="x", solved="x",
                        params={"horizon": Int(3)})(lambda x, horizon: x)
    assert "clash_test" not in seqzoo.list_models()


def _write_plugin(root, name="seqzoo_demo_plugin", model="demo_mlp"):
    """A real installed plugin: a package plus its .dist-info with a seqzoo.models entry point."""
    package = root / name
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(f"""
        import keras
        import seqzoo
        from seqzoo.params import Int

        @seqzoo.register("{model}", year=2025, authors="Plugin Author", paper="A demo plugin",
                         family="baseline", solved="Shows entry-point discovery.",
                         params={{"units": Int(16, low=1)}})
        def {model}(x, units):
            x = keras.layers.Dense(units, activation="relu")(x)
            return keras.layers.GlobalAveragePooling1D()(x)
    """))
    dist = root / f"{name}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[seqzoo.models]\ndemo = {name}\n")


def _python(code, path, timeout=120):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(path), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_installed_plugin_is_discovered_without_being_imported(tmp_path):
    _write_plugin(tmp_path)
    result = _python(
        "import sys, seqzoo\n"
        "assert 'seqzoo_demo_plugin' not in sys.modules\n"
        "print(seqzoo.list_models('demo_*'))\n"
        "print(seqzoo.info('demo_mlp').module)\n"
        "print(seqzoo.build('demo_mlp', units=4).output_shape)\n",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:3] == ["['demo_mlp']", "seqzoo_demo_plugin", "(None, 1)"]


def test_plugin_with_a_duplicate_name_is_an_error_naming_the_plugin(tmp_path):
    _write_plugin(tmp_path, name="seqzoo_dup_plugin", model="lstm")
    result = _python("import seqzoo; seqzoo.list_models()", tmp_path)
    assert result.returncode != 0
    assert "plugin 'demo'" in result.stderr and "already registered" in result.stderr


def test_cli_lists_the_timeline_and_shows_info(capsys):
    from seqzoo import cli

    assert cli.main(["list", "*gru*"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["year", "name", "family", "authors"]
    years = [int(line.split()[0]) for line in lines[2:] if line[:4].strip().isdigit()]
    assert years == sorted(years) and len(years) == 4  # bigru 1997, deep_gru 2013, gru 2014, mingru 2024
    assert cli.main(["info", "gpt"]) == 0
    card = capsys.readouterr().out
    assert "Radford" in card and "max_len" in card
    assert cli.main(["list", "zzz*"]) == 2
    assert "no model matches 'zzz*'" in capsys.readouterr().err


def test_cli_command_exits_2_with_a_one_line_suggestion():
    missing = subprocess.run([sys.executable, "-m", "seqzoo", "info", "gtp"],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        "seqzoo: unknown model 'gtp'; did you mean 'gpt'? (see seqzoo.list_models())"
    ]  # one line: TensorFlow's start-up logs are hidden too


def test_readme_timeline_names_every_built_in_model():
    readme = (pathlib.Path(__file__).parent.parent / "README.md").read_text()
    for name in seqzoo.list_models():
        if registry.get(name).module.startswith("seqzoo.models"):
            assert f"`{name}`" in readme, name


def test_constraints_must_name_declared_hyperparameters():
    from seqzoo.params import Divides

    with pytest.raises(ValueError, match="names unknown"):
        seqzoo.register("bad_rule_test", year=2024, authors="x", paper="x", family="x", solved="x",
                        params={"width": Int(8)}, constraints=[Divides("heads", "width")])(lambda x, width: x)
    assert "bad_rule_test" not in seqzoo.list_models()
    assert registry.get("transformer_rnn").constraints == (Divides("heads", "units", factor=2),)


def test_tags_select_roles_and_unknown_tags_are_refused():
    assert seqzoo.list_models(tags=["simple", "causal"]) == ["deep_rnn", "rnn"]
    assert set(seqzoo.list_models(tags=["bidirectional", "gated"])) >= {"bilstm", "bigru", "deep_bilstm"}
    assert "gpt" in seqzoo.list_models(tags=["causal"]) and "bert" not in seqzoo.list_models(tags=["causal"])
    card = seqzoo.info("deep_bilstm")
    assert card.tags == ("bidirectional", "deep", "gated") and card.variant_of == "deep_lstm"
    assert "variant of: deep_lstm" in str(card)
    with pytest.raises(ValueError, match="unknown tags \\['gatd'\\]; valid: simple, gated"):
        seqzoo.list_models(tags=["gatd"])
    with pytest.raises(ValueError, match="unknown tags"):
        seqzoo.register("tagged_demo", year=2024, authors="a", paper="p", family="f",
                        solved="s", tags=("fast",))(lambda x: x)
    assert "tagged_demo" not in seqzoo.list_models()


@pytest.mark.parametrize("name", seqzoo.list_models())
def test_roles_agree_with_the_architecture(name):
    """`variant_of` names a registered model of the same cell; a deep model stacks by default;
    a bidirectional model is never causal."""
    entry = registry.get(name)
    if entry.variant_of is not None:
        base = registry.get(entry.variant_of)
        assert entry.tags & {"simple", "gated"} == base.tags & {"simple", "gated"}
    if "deep" in entry.tags:
        assert entry.defaults()["depth"] > 1
    assert not {"bidirectional", "causal"} <= entry.tags
