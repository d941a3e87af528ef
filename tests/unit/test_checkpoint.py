"""Keyboard checkpoints of real tiny Keras models: a .keras only when it loads back."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from test_api import Collect
from test_keras_probe import run_script
from tfmon.probes.checkpoint import save_keras_model, unregistered_classes

pytestmark = pytest.mark.slow


def test_an_unregistered_subclassed_model_is_saved_as_weights_with_the_reason(tmp_path, scripts):
    script = run_script(scripts / "unregistered_subclass.py")
    model = script["model"]
    out = Collect()
    path = save_keras_model(model, tmp_path, 2, 4, out)
    (saved,) = out.events
    assert saved["ok"] and saved["kind"] == "weights"
    assert path.name == "epoch002-step00004.weights.h5" and path.exists()
    assert "Scaled is not registered" in saved["note"] and "register_keras_serializable" in saved["note"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no .keras, no temporary left
    # What was saved is usable: the weights load into a fresh model of the script's class.
    fresh = script["Scaled"](units=4)
    fresh(script["x"][:1])
    fresh.load_weights(path)
    np.testing.assert_allclose(np.asarray(fresh(script["x"][:8])), np.asarray(model(script["x"][:8])), rtol=1e-6)


def test_a_model_keras_can_rebuild_is_saved_whole_and_loads(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    out = Collect()
    path = save_keras_model(model, tmp_path, 1, 1, out)
    assert out.events[0]["kind"] == "model" and out.events[0]["note"] is None
    keras.models.load_model(path)


def test_the_cheap_check_names_every_unknown_class_of_a_config():
    config = {"module": None, "class_name": "Outer", "registered_name": "Outer", "config": {
        "layers": [{"module": "keras.layers", "class_name": "Dense", "config": {}, "registered_name": None},
                   {"module": "__main__", "class_name": "Inner", "config": {}, "registered_name": "Inner"},
                   {"module": "mine", "class_name": "Known", "config": {}, "registered_name": "pkg>Known"}]}}
    known = {"pkg>Known": object}
    assert unregistered_classes(config, known.get) == ["Inner", "Outer"]
