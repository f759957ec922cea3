"""Model loading: the baseline table, the file watch that lets MLOps deploy without a restart."""

from __future__ import annotations

import json
import os

import pytest

from bikeservice.model import ModelError, ModelHandle, load_model


def test_baseline_predicts_its_table(model_path, row):
    model = load_model(model_path)
    night = {**row, "hr": 3}
    assert model.predict([row, night]) == [480.0, 6.0]
    assert model.info() == {"kind": "baseline", "version": "test-1", "sha256": model.sha256}
    assert len(model.sha256) == 64


def test_baseline_falls_back_to_default(model_path, row):
    assert load_model(model_path).predict([{**row, "hr": 5}]) == [150.0]


def test_handle_reloads_a_replaced_file(model_path, row, tmp_path):
    handle = ModelHandle(model_path)
    assert handle.get().version == "test-1"
    new = tmp_path / "new.json"
    new.write_text(json.dumps({"kind": "baseline", "version": "test-2", "table": {"1-8": 1.0}}))
    os.replace(new, model_path)  # how a deploy swaps the file
    assert handle.get().version == "test-2"
    assert handle.get().predict([row]) == [1.0]


@pytest.mark.parametrize(("name", "text"), [("m.json", "{not json"), ("m.json", '{"kind": "other"}'),
                                            ("m.txt", "{}"), ("m.pkl", "not a pickle")])
def test_unusable_model_files_are_refused(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ModelError):
        load_model(path)


def test_missing_model_file_is_refused(tmp_path):
    with pytest.raises(ModelError, match="cannot read model file"):
        ModelHandle(tmp_path / "absent.json").get()
