"""The shortcut check: maps of a toy model that reads only a corner fail it, those of one that reads the
region pass; a model trained on corner-marker phantoms is refused by the release gate and a clean one passes,
in bf16 (where `auto` picks it) and fp32."""

import json
import re

import pytest
import torch
from torch import nn

from export.gate import release_gate
from export.release import export_checkpoint
from export.samples import sample_images
from export.shortcut import CHANCE_ALPHA, MIN_LIFT, explained_per_class, outside_share, shortcut_check
from medxai.errors import UserError
from medxai.explain.base import Explanation
from tests.recipe import PHANTOM_RECIPE

SIZE = 64


class MeanOf(nn.Module):
    """Logits [N,2] of a toy model that says class 1 when the mean of its pixels [N,3,64,64] in `window` is
    bright (above 0.75)."""

    def __init__(self, window: tuple[slice, slice]):
        super().__init__()
        self.window = window

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        score = pixels[:, :, self.window[0], self.window[1]].mean(dim=(1, 2, 3)) - 0.75
        return torch.stack([-score, score], dim=1)


CORNER = (slice(2, 6), slice(2, 6))
CENTRE = (slice(24, 40), slice(24, 40))


def toy_images(count: int = 8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`count` grey images [N,3,64,64], classes 0 and 1 in turn, whose class-1 images have a bright centre (the
    region) and a bright corner marker, with the regions [N,64,64] and labels [N]."""
    generator = torch.Generator().manual_seed(0)
    pixels = 0.5 + 0.05 * torch.randn(count, 3, SIZE, SIZE, generator=generator)
    labels = torch.tensor([0, 1] * (count // 2))
    regions = torch.zeros(count, SIZE, SIZE, dtype=torch.bool)
    regions[:, CENTRE[0], CENTRE[1]] = True
    for image, label in zip(pixels, labels):
        if label:
            image[:, CENTRE[0], CENTRE[1]] = 1.0
            image[:, CORNER[0], CORNER[1]] = 1.0
    return pixels, regions, labels


def window_maps(window: tuple[slice, slice]) -> dict[str, Explanation]:
    """A fused map [8,64,64] that is 1 in `window` and 0 elsewhere: where MeanOf(window) takes its evidence."""
    maps = torch.zeros(8, SIZE, SIZE)
    maps[:, window[0], window[1]] = 1.0
    return {"fusion": Explanation("fusion", maps, maps, None, [{"dead": False}] * 8)}


def test_a_model_reading_a_corner_fails_and_one_reading_the_region_passes():
    pixels, regions, labels = toy_images()
    corner = shortcut_check(MeanOf(CORNER), pixels, regions, labels, window_maps(CORNER))
    assert corner.lift == 0.0 and not corner.passed and corner.outside == {"fusion": 1.0}
    assert corner.accuracy == 1.0 and corner.region_only_accuracy == 0.5  # the blur took the marker away
    assert corner.reason.startswith("the model's evidence lies outside the expert regions: the fusion map puts "
                                    "0.000 of its energy in the region, 0.00x the region's share of the image "
                                    "(0.062; at least 1.5x needed) on 8 sample images; accuracy 1.000 as given, "
                                    "0.500 with only the region kept")
    centre = shortcut_check(MeanOf(CENTRE), pixels, regions, labels, window_maps(CENTRE))
    assert centre.passed and centre.reason == "" and centre.lift == pytest.approx(SIZE ** 2 / 16 ** 2)
    assert centre.accuracy == centre.region_only_accuracy == 1.0
    assert centre.no_skill == pytest.approx(1 - 16 * 16 / SIZE ** 2)


def test_a_model_at_chance_fails_whatever_its_maps_show():
    pixels, regions, labels = toy_images()
    labels = torch.tensor([0, 1, 1, 0] * 2)  # the centre model is right on half of them
    report = shortcut_check(MeanOf(CENTRE), pixels, regions, labels, window_maps(CENTRE))
    assert report.lift == pytest.approx(SIZE ** 2 / 16 ** 2) and report.accuracy == 0.5 and not report.passed
    assert report.majority_share == 0.5 and report.chance_p > CHANCE_ALPHA
    assert report.reason.startswith("the model is no better than chance on the sample images: accuracy 0.500 on 8 "
                                    "images whose most frequent class is 0.500 of them (one-sided binomial p 0.64)")


def test_no_skill_is_taken_over_the_images_whose_decisive_map_is_alive():
    pixels, regions, labels = toy_images()
    regions[4:] = True  # the last four regions cover the whole image, and their fused maps are dead
    maps = window_maps(CENTRE)
    maps["fusion"].diagnostics[4:] = [{"dead": True}] * 4
    report = shortcut_check(MeanOf(CENTRE), pixels, regions, labels, maps)
    assert report.no_skill == pytest.approx(1 - 16 * 16 / SIZE ** 2)  # the four live images' regions only
    assert report.lift == pytest.approx(SIZE ** 2 / 16 ** 2) and report.passed


def test_a_model_right_for_the_wrong_reasons_on_one_class_is_refused_with_that_class_named():
    pixels, regions, labels = toy_images(12)
    maps = torch.zeros(12, SIZE, SIZE)
    for saliency, label in zip(maps, labels):  # class 0's evidence on the region, class 1's on the corner marker
        window = CORNER if label else CENTRE
        saliency[window[0], window[1]] = 1.0
    explanation = {"fusion": Explanation("fusion", maps, maps, None, [{"dead": False}] * 12)}
    report = shortcut_check(MeanOf(CORNER), pixels, regions, labels, explanation, class_names=["benign", "malignant"])
    assert report.lift == pytest.approx(0.5 * SIZE ** 2 / 16 ** 2) and report.accuracy == 1.0  # fine on the mean
    assert report.by_class["benign"] == {"images": 6, "accuracy": 1.0, "region_only_accuracy": 1.0, "explained": 6,
                                         "outside": 0.0, "lift": pytest.approx(SIZE ** 2 / 16 ** 2), "decides": True}
    assert report.by_class["malignant"]["lift"] == 0.0 and report.by_class["malignant"]["region_only_accuracy"] == 0
    assert not report.passed and report.reason.startswith(
        "on class malignant the model's evidence lies outside the expert regions: the fusion map puts 0.000 of its "
        "energy in the region, 0.00x the region's share of the image (at least 1.5x needed) on 6 sample images of "
        "the class, while it is 8.00x over all classes; the class's accuracy 1.000 as given, 0.000 with only the "
        "region kept: the model is right for other reasons than the region on a class")
    # four images of a class are too few to decide: reported, not refused
    four = {"fusion": Explanation("fusion", maps[:8], maps[:8], None, [{"dead": False}] * 8)}
    fewer = shortcut_check(MeanOf(CORNER), pixels, regions, labels, four)
    assert fewer.by_class["1"]["lift"] == 0.0 and fewer.by_class["1"]["decides"] is False and fewer.passed


def test_the_gate_explains_each_class_not_the_first_images():
    _, regions, labels = toy_images(40)
    chosen = explained_per_class(regions, labels, per_class=3)
    assert chosen.tolist() == [0, 1, 2, 3, 4, 5] and labels[chosen].tolist() == [0, 1] * 3
    labels[:20] = 0  # the first half all one class
    assert labels[explained_per_class(regions, labels, per_class=3)].tolist() == [0, 0, 0, 1, 1, 1]


def test_map_energy_outside_the_region_against_no_skill():
    _, regions, _ = toy_images()
    uniform, inside = torch.ones(8, SIZE, SIZE), regions.float()
    assert outside_share(uniform, [False] * 8, regions) == pytest.approx(1 - 16 * 16 / SIZE ** 2)
    assert outside_share(inside, [False] * 8, regions) == 0.0
    assert outside_share(inside, [True] * 8, regions) is None  # every map dead: nothing to measure


def test_images_with_empty_regions_are_left_out():
    pixels, regions, labels = toy_images()
    regions[:4] = False
    assert shortcut_check(MeanOf(CENTRE), pixels, regions, labels, window_maps(CENTRE)).images == 4
    with pytest.raises(ValueError, match="empty"):
        shortcut_check(MeanOf(CENTRE), pixels, torch.zeros_like(regions), labels, window_maps(CENTRE))


@pytest.fixture(scope="module")
def marker_phantoms(tmp_path_factory):
    """The shared phantoms (240 x-rays of 64 px, seed 0) with the corner marker on the malignant training
    images and at random on the test split."""
    from medxai.data.phantoms import make_phantoms
    return make_phantoms(tmp_path_factory.mktemp("marker-phantoms"), "xray", n=240, seed=0, size=SIZE,
                         spurious_marker=True)


MARKER_EPOCHS = 10
"""The marker model learns the marker first: at 10 epochs its validation accuracy (the marker marks the class
there) was 1.000 in bf16 and 0.949 in fp32 while on the test phantoms (marker at random) it was 0.56 and 0.52.
At the shared recipe's 30 epochs it had learned the lesions too (0.81 and 0.85 on the test phantoms, lift 3.2):
a model that leans on a shortcut in part, which the check rightly passes (Intel Xeon without AMX)."""


@pytest.fixture(scope="module")
def model_pair(marker_phantoms, checkpoint_each_precision, tmp_path_factory):
    """(clean checkpoint, marker checkpoint): the shared model of each precision, and its twin trained alike on
    the marker phantoms for MARKER_EPOCHS."""
    from training.trainer import TrainConfig, train
    precision = json.loads((checkpoint_each_precision.parent / "config.json").read_text())["precision"]
    out = tmp_path_factory.mktemp(f"marker-run-{precision}")
    train(TrainConfig(data=str(marker_phantoms), out=str(out), **PHANTOM_RECIPE | {"epochs": MARKER_EPOCHS},
                      precision=precision))
    return checkpoint_each_precision, out / "best.pt"


def quiet(_: str) -> None:
    pass


@pytest.mark.slow
def test_the_gate_refuses_the_marker_model_and_passes_the_clean_one_on_held_out_marked_phantoms(model_pair,
                                                                                               marker_phantoms):
    from medxai.checkpoint import load_checkpoint
    samples = sample_images(SIZE, marker_phantoms, count=48)
    assert samples.source.endswith("(test split)") and samples.regions is not None
    clean, marker = (release_gate(load_checkpoint(path)[0], samples.pixels, [], quiet, regions=samples.regions,
                                  labels=samples.labels, class_names=samples.class_names) for path in model_pair)
    assert clean.shortcut["passed"] and clean.refusals == [], clean.shortcut
    # refused by its maps (evidence outside the lesion) or by its accuracy (chance where the marker is at random)
    assert not marker.shortcut["passed"], marker.shortcut
    assert marker.shortcut["lift"] < MIN_LIFT or marker.shortcut["chance_p"] >= CHANCE_ALPHA, marker.shortcut
    assert any("the shortcut check failed" in reason for reason in marker.refusals)
    # per class: the marker model's malignant evidence lies on the marker, its benign evidence on the nodule (on
    # an Intel Xeon without AMX: malignant 0.75x and 0.94x no-skill, benign 1.65x and 2.83x, in bf16 and fp32; in
    # fp32 its lift over both classes, 1.79x, passes: only the class's row refuses it)
    rows = marker.shortcut["by_class"]
    assert set(rows) == {"benign_nodule", "malignant_nodule"} and rows["malignant_nodule"]["decides"], rows
    assert rows["malignant_nodule"]["lift"] < MIN_LIFT < rows["benign_nodule"]["lift"], rows
    assert all(row["lift"] >= MIN_LIFT for row in clean.shortcut["by_class"].values()), clean.shortcut


@pytest.mark.slow
def test_export_refuses_the_marker_model_or_warns_when_asked_and_records_the_check(model_pair, marker_phantoms,
                                                                                    tmp_path):
    clean, marker = model_pair
    if json.loads((clean.parent / "config.json").read_text())["precision"] != "auto":
        pytest.skip("the export path is the same in both precisions: run once")
    repository = tmp_path / "repository"
    # which of the check's three refusals fires depends on how the marker model trained on this CPU: overall, on
    # one class (issue 37) or by chance-level accuracy; each names the check and the way past it
    with pytest.raises(UserError, match=r"refusing to release chest: (on class \w+ )?the model('s evidence lies "
                                        r"outside the expert regions: the fusion map puts| is no better than chance "
                                        r"on the sample images: accuracy) .*the shortcut check failed \(pass --force "
                                        r"to export anyway\)"):
        export_checkpoint(marker, repository, "chest", target="cpu", data=marker_phantoms, log=quiet)
    lines = []
    warned = export_checkpoint(marker, repository, "chest", target="cpu", data=marker_phantoms,
                               shortcut_check="warn", log=lines.append)
    assert any(re.match(r"warning: (on class \w+ )?the model('s evidence lies outside| is no better than chance)",
                        line) for line in lines)
    assert lines[-1] == ("release gate passed: parity, the served maps change when the weights are randomised (the "
                         "shortcut check failed: released with the warning above)")
    recorded = json.loads((warned.version_dir / "provenance.json").read_text())
    assert recorded["shortcut_check"]["mode"] == "warn" and not recorded["shortcut_check"]["passed"]
    assert recorded["gate_refusals"] == [] and set(recorded["shortcut_check"]["outside"]) == {"cam", "ig", "lime",
                                                                                            "fusion"}
    assert recorded["shortcut_check"]["images"] == 48 and warned.summary()["shortcut_check"] == \
        recorded["shortcut_check"]


def test_the_check_is_skipped_without_regions_and_an_unknown_mode_is_one_clear_line(make_checkpoint, tmp_path):
    from medxai.data.phantoms import make_phantoms
    data = make_phantoms(tmp_path / "data", "xray", n=4, seed=0, size=SIZE)
    (data / "labels.csv").write_text("\n".join(line.split(",")[0] + "," + line.split(",")[1]
                                               for line in (data / "labels.csv").read_text().splitlines()))
    for mask in (data / "masks").iterdir():
        mask.unlink()
    lines = []
    result = export_checkpoint(make_checkpoint(1), tmp_path / "repository", "chest", target="cpu", data=data,
                               enforce_gate=False, samples=4, log=lines.append)
    assert result.shortcut == {"mode": "refuse", "skipped": "the sample images have no expert regions (masks or "
                                                            "boxes) of the model's classes (give --data: a labelled "
                                                            "folder of its own data)"}
    assert any(line.startswith("shortcut check skipped: the sample images have no expert regions") for line in lines)
    # drawn x-ray phantoms have masks, but they are not the data of a model with other classes
    drawn = export_checkpoint(make_checkpoint(1), tmp_path / "repository", "chest", target="cpu", enforce_gate=False,
                              samples=4, log=lines.append)
    assert drawn.shortcut == result.shortcut
    with pytest.raises(UserError, match="--shortcut-check must be one of refuse, warn, off, got 'maybe'"):
        export_checkpoint(make_checkpoint(1), tmp_path / "repository", "chest", shortcut_check="maybe")
