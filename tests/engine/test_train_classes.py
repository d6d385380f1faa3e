"""Training with object classes (issue #16): one target channel per class, per-class validation, checkpoints
that name their classes, clear errors for labels and resumes that do not fit; one class as it always was."""

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from engine.dataset import Dataset
from engine.dataset.classes import ObjectClass
from engine.dataset.regions import rectangle
from engine.dataset.sidecar import read_sidecar, write_sidecar
from engine.dataset.synthetic import write_two_class_dataset
from engine.density import DensitySettings, density_map, point_sigmas
from engine.events import ListSink, TerminalSink
from engine.models.checkpoint import checkpoint_classes, load_checkpoint, load_model
from engine.models.contract import DEFAULT_DENSITY_SCALE
from engine.training.crop_regions import AreaSource
from engine.training.crops import CropSettings, TrainingCrops, WholeImages, point_classes
from engine.training.fit import TrainConfig, TrainingError, fit
from engine.training.loop import Precision, evaluate, stated_count_loss

SCALE = DEFAULT_DENSITY_SCALE
# Two classes, points crowded enough that adaptive sigmas depend on the other class's neighbours.
POINTS = np.array([[10.0, 10.0], [14.0, 12.0], [40.0, 40.0], [44.0, 41.0], [20.0, 50.0], [50.0, 20.0]])
CLASSES = np.array([0, 1, 0, 1, 1, 1])


def _image(tmp_path, size=64, name="a.png"):
    path = tmp_path / name
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (size, size, 3), dtype=np.uint8)).save(path)
    return path


def _crops(path, classes, class_count, density=None, size=64, **crop):
    settings = CropSettings(size, **{"scale_range": (1.0, 1.0), "flip": False, **crop})
    return TrainingCrops([path], [POINTS], [(64, 64)], settings, stride=4,
                         density=density or DensitySettings(sigma=2.0), samples=4, seed=3,
                         classes=classes, class_count=class_count)


def test_each_target_channel_holds_exactly_its_own_class(tmp_path):
    adaptive = DensitySettings(mode="adaptive", beta=0.3, k=2)
    crops = _crops(_image(tmp_path), [CLASSES], 2, density=adaptive)
    _, target, count, _, points = crops[0]  # the crop is the whole image: every point is inside
    assert target.shape == (2, 16, 16)
    assert points[:, 2].tolist() == CLASSES.tolist()  # the point losses see each point's class
    assert float(target[0].sum()) / SCALE == pytest.approx(2.0, abs=1e-4)
    assert float(target[1].sum()) / SCALE == pytest.approx(4.0, abs=1e-4)
    assert float(count) == 6  # the crop's count (CMTL's auxiliary task) is of all classes
    # Sigmas come from all the points: class 0's kernels are as narrow as their class-1 neighbours make them.
    sigmas = point_sigmas(POINTS, adaptive)
    expected = density_map(POINTS[CLASSES == 0], (64, 64), adaptive, 4, sigmas=sigmas[CLASSES == 0])
    assert np.allclose(target[0].numpy(), expected * SCALE)
    alone = density_map(POINTS[CLASSES == 0], (64, 64), adaptive, 4)
    assert not np.allclose(expected, alone)


def test_one_class_crops_are_what_they_always_were(tmp_path):
    path = _image(tmp_path)
    crops = _crops(path, None, 1, scale_range=(0.8, 1.25), flip=True, size=32)
    labelled = _crops(path, [np.zeros(len(POINTS), dtype=np.int64)], 1, scale_range=(0.8, 1.25), flip=True,
                      size=32)
    for index in range(4):
        image, target, count, _, _ = crops[index]
        # The single-channel target made from all the points, as before classes existed.
        rng = np.random.default_rng([3, 0, index])
        _, points, sigmas, _ = crops._augment(crops.images.get(0), POINTS, crops.sigmas[0], rng, None)
        before = density_map(points, (32, 32), crops.density, 4, sigmas=sigmas)[None] * np.float32(SCALE)
        assert target.shape == (1, 8, 8) and torch.equal(target, torch.from_numpy(before))
        again = labelled[index]
        assert torch.equal(again[0], image) and torch.equal(again[1], target) and torch.equal(again[2], count)


def test_validation_counts_each_class_where_its_points_are_complete(tmp_path):
    path = _image(tmp_path)
    regions = [rectangle("annotated", 0, 0, 32, 64), rectangle("count", 40, 0, 64, 64, count=9)]
    whole = WholeImages([path], [POINTS], [(64, 64)], 8, stride=4, classes=[CLASSES], class_count=2,
                        areas=[AreaSource(len(POINTS), regions, 64, 64)])
    _, count, _, _, known, by_class = whole[0]
    assert float(count) == 3 + 9  # the total adds the stated count of the region beside the annotated one
    # Per class: the points in the annotated half (points 0, 1, 4: classes 0, 1, 1); a stated count has no class.
    assert by_class["counts"].tolist() == [1.0, 2.0]
    assert by_class["known"].shape == known.shape and float(by_class["known"].sum()) < float(known.sum())
    plain = WholeImages([path], [POINTS], [(64, 64)], 8, stride=4)
    assert plain[0][5]["counts"].tolist() == [6.0] and plain[0][5]["known"].numel() == 0


class _PerChannel(nn.Module):
    """Predicts a constant density per channel, ``per_cell[k]`` in channel k."""

    def __init__(self, per_cell):
        super().__init__()
        self.per_cell = torch.tensor(per_cell, dtype=torch.float32)

    def forward(self, images):
        shape = (images.shape[0], len(self.per_cell), images.shape[2], images.shape[3])
        return self.per_cell[None, :, None, None].expand(shape).clone()


def test_evaluate_gives_the_total_error_and_each_class_error(tmp_path):
    path = _image(tmp_path)
    loader = torch.utils.data.DataLoader(
        WholeImages([path], [POINTS], [(64, 64)], 8, classes=[CLASSES], class_count=2), batch_size=1)
    cells = 64 * 64
    model = _PerChannel([3 * SCALE / cells, 2 * SCALE / cells])  # predicts 3 of class 0 (has 2), 2 of class 1 (4)
    sums = []

    def combine(values):
        sums.append(list(values))
        return values

    result = evaluate(model, loader, Precision(torch.device("cpu")), SCALE, combine=combine,
                      class_names=["bright", "dim"])
    assert result["mae"] == pytest.approx(1.0, abs=1e-4)  # 5 predicted in all, 6 true
    assert result["mae_per_class"] == pytest.approx({"bright": 1.0, "dim": 2.0}, abs=1e-4)
    assert len(sums[0]) == 4 + 2  # the per-class errors are summed over processes with the rest
    one = evaluate(_PerChannel([6 * SCALE / cells]), torch.utils.data.DataLoader(
        WholeImages([path], [POINTS], [(64, 64)], 8), batch_size=1), Precision(torch.device("cpu")), SCALE,
        class_names=["object"])
    assert "mae_per_class" not in one and one["mae"] == pytest.approx(0.0, abs=1e-4)


def test_a_stated_count_is_compared_with_the_sum_over_the_classes():
    output = torch.rand(2, 2, 8, 8)
    masks = torch.zeros(2, 4, 8, 8)
    masks[:, 0, :4] = 1
    stated = torch.tensor([[5.0, 0, 0, 0], [1.0, 0, 0, 0]])
    summed = stated_count_loss(output.sum(dim=1, keepdim=True), masks, stated)
    assert float(stated_count_loss(output, masks, stated)) == pytest.approx(float(summed))


def test_labels_the_dataset_does_not_list_are_named_with_the_fix(tmp_path):
    folder = write_two_class_dataset(tmp_path / "two", images=3, size=(64, 64), counts=(2, 4), seed=2)
    dataset = Dataset(folder)
    names = dataset.names()
    labels = read_sidecar(dataset.entry(names[0]).sidecar).labels
    assert point_classes(dataset, names[:1])[0].tolist() == [["bright", "dim"].index(label) for label in labels]
    sidecar = dataset.entry(names[1]).sidecar
    annotation = read_sidecar(sidecar)
    annotation.labels[0] = "ghost"
    write_sidecar(sidecar, annotation)
    with pytest.raises(TrainingError) as error:
        fit(_config(folder, tmp_path / "run"), ListSink())
    message = str(error.value)
    assert sidecar.name in message and "'ghost'" in message and "'bright', 'dim'" in message
    assert "crowdgui.json" in message
    assert not (tmp_path / "run" / "last.pt").exists()


def _config(dataset, out, **overrides) -> TrainConfig:
    values = {"dataset": str(dataset), "out": str(out), "model": "unet", "model_config": {"width": 4},
              "epochs": 2, "device": "cpu", "batch": 2, "crop": 64, "lr": 1e-2, "seed": 0, "val_fraction": 0.34,
              "threads": 1}
    return TrainConfig(**{**values, **overrides})


@pytest.mark.slow
def test_a_two_class_run_trains_one_channel_per_class_and_reports_each(tmp_path):
    folder = write_two_class_dataset(tmp_path / "two", images=4, size=(64, 64), counts=(3, 8), seed=1)
    events = ListSink()
    result = fit(_config(folder, tmp_path / "run"), events)
    epochs = events.of_type("epoch")
    assert all(set(e["val_mae_per_class"]) == {"bright", "dim"} for e in epochs)
    assert all(mae >= 0 for e in epochs for mae in e["val_mae_per_class"].values())
    model, record = load_model(result.best_checkpoint)
    assert record["classes"] == ["bright", "dim"] and checkpoint_classes(record) == ["bright", "dim"]
    assert record["model_config"]["classes"] == 2
    assert set(record["metrics"]["val_mae_per_class"]) == {"bright", "dim"}
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 2, 64, 64)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["classes"] == ["bright", "dim"] and saved["model_config"]["classes"] == 2
    stream = io.StringIO()
    TerminalSink(stream=stream).emit("epoch", **{k: v for k, v in epochs[-1].items() if k != "type"})
    assert "val_mae[bright]" in stream.getvalue() and "val_mae[dim]" in stream.getvalue()

    dataset = Dataset(folder)  # a third class: the run's channels no longer match the dataset
    dataset.settings.classes.append(ObjectClass("huge"))
    dataset.save_settings()
    with pytest.raises(TrainingError, match="cannot resume.*bright, dim.*bright, dim, huge"):
        fit(_config(folder, tmp_path / "run", epochs=3, resume=True), ListSink())
    assert load_checkpoint(tmp_path / "run" / "last.pt")["training_state"]["epoch"] == 2  # left as it was


@pytest.mark.slow
@pytest.mark.parametrize("model", ["fcrn_a", "csrnet", "cmtl"])
def test_every_architecture_trains_on_two_classes(tmp_path, model):
    folder = write_two_class_dataset(tmp_path / "two", images=3, size=(64, 64), counts=(3, 6), seed=4)
    events = ListSink()
    result = fit(_config(folder, tmp_path / "run", model=model, epochs=1, samples_per_epoch=8), events)
    assert set(events.of_type("epoch")[0]["val_mae_per_class"]) == {"bright", "dim"}
    model_, record = load_model(result.last_checkpoint)
    assert record["classes"] == ["bright", "dim"] and model_.config["classes"] == 2


@pytest.mark.slow
def test_a_one_class_run_writes_and_reports_as_before(synthetic_dataset, tmp_path):
    events = ListSink()
    result = fit(_config(synthetic_dataset, tmp_path / "run", epochs=1), events)
    assert "val_mae_per_class" not in events.of_type("epoch")[0]
    record = load_checkpoint(result.last_checkpoint)
    assert "classes" not in record and checkpoint_classes(record) == ["object"]
    assert "val_mae_per_class" not in record["metrics"]
