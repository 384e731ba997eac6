"""`medxai experiment` end to end on a tiny phantom config: every table has its shape, every number report.md
shows is in a CSV, a rerun resumes instead of training again, and config mistakes are one clear line."""

import csv
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from medxai.errors import UserError
from tests.cli import assert_help_with_example, assert_user_error, medxai
from training.experiment_config import load_experiment
from training.experiment_report import (EXPLANATION_COLUMNS, GUIDANCE, SHORTCUT, TABLE5, TABLE6, TABLE6_BY_CLASS,
                                       TABLE9)

TINY = """
name = "tiny"
[data]
phantoms = { kind = "xray", n = 40, size = 32, seed = 0 }
[settings]
image_size = 32
epochs = 1
folds = 2
batch_size = 16
lr = 1e-3
ours = "resnet18_attention"
baselines = ["efficientnet_b0"]
explained_images = 2
ig_steps = 4
ig_max_steps = 4
lime_max_samples = 100
lime_segmentation = "slic"
variants = [{ method = "lime", segmentation = "slic", n_segments = 20 }]
deletion_steps = 4
gallery_images = 4
spurious_marker = true
guidance_ablation = "attention"
threads = 1
"""
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")
# section title in report.md -> (CSV, columns, rows)
TABLES = {"Table 5": ("table5_classification", TABLE5, 4), "Table 6": ("table6_explanations", TABLE6, 9),
          "Table 8": ("table8_explainer_ablation", EXPLANATION_COLUMNS, 7),
          "Table 9": ("table9_lexp_ablation", TABLE9, 2), "Lesion guidance": ("lesion_guidance", GUIDANCE, 2),
          "Shortcut": ("shortcut_learning", SHORTCUT, 15)}


def report_numbers(text: str) -> set[str]:
    """Numbers in report.md's prose and table cells (not in headings, table headers or `code`)."""
    lines = text.splitlines()
    kept = [line for i, line in enumerate(lines) if not line.startswith("#")
            and not (i + 1 < len(lines) and lines[i + 1].startswith("|---"))]
    return set(NUMBER.findall(re.sub(r"`[^`]*`", "", "\n".join(kept))))


def sections(text: str) -> dict[str, list[list[str]]]:
    """Markdown tables by section heading: body rows as lists of cells."""
    out, current = {}, None
    for line in text.splitlines():
        if line.startswith("## "):
            current = out.setdefault(line[3:], [])
        elif line.startswith("| ") and current is not None:
            current.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return {title: rows[1:] for title, rows in out.items()}  # drop each header row


@pytest.fixture(scope="module")
def experiment_run(tmp_path_factory) -> Iterator[tuple[Path, Path, Path]]:
    """The tiny experiment's (configuration, report, work folder); removed after this module (0.4 GB of folds)."""
    folder = tmp_path_factory.mktemp("experiment")
    config = folder / "tiny.toml"
    config.write_text(TINY)
    result = medxai("experiment", str(config), "--out", str(folder / "report"), "--work", str(folder / "work"),
                    timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    yield config, folder / "report", folder / "work"
    shutil.rmtree(folder, ignore_errors=True)


def test_every_table_has_its_shape(experiment_run):
    _, report, _ = experiment_run
    tables = sections((report / "report.md").read_text())
    for prefix, (name, columns, count) in TABLES.items():
        title = next(title for title in tables if title.startswith(prefix))
        rows = tables[title]
        assert len(rows) == count, (title, rows)
        assert all(len(row) == len(columns) for row in rows), title
        with open(report / f"{name}.csv") as handle:
            assert len(list(csv.DictReader(handle))) == count
    by_class = tables[next(title for title in tables if title.startswith("Table 6 per class"))]
    assert all(len(row) == len(TABLE6_BY_CLASS) for row in by_class)
    for method in {row[0] for row in by_class}:  # each method: its classes' images add up to its "all classes" row
        rows = [row for row in by_class if row[0] == method]
        assert rows[-1][1] == "all classes" and sum(int(row[2]) for row in rows[:-1]) == int(rows[-1][2])
    for figure in ("roc.png", "deletion_insertion.png", "gallery.png"):
        assert (report / figure).stat().st_size > 0
    results = json.loads((report / "results.json").read_text())
    assert set(results["results"]) == {"ours", "ours_alpha0", "ours_guided", "efficientnet_b0"}
    assert "with attention guidance" in (report / "report.md").read_text()  # the shortcut study's guided model
    assert all(len(folds) == 2 for folds in results["results"].values())
    with open(report / "table5_classification.csv") as handle:  # every fold calibrated, its ECE reported
        assert all(float(row["temperature"]) > 0 and 0 <= float(row["ece_after"]) <= 1
                   for row in csv.DictReader(handle))


def test_every_number_in_the_report_is_in_a_csv(experiment_run):
    _, report, _ = experiment_run
    in_csv = set()
    for path in report.glob("*.csv"):
        with open(path) as handle:
            for row in csv.reader(handle):
                for cell in row:
                    in_csv |= set(NUMBER.findall(cell))
    shown = report_numbers((report / "report.md").read_text())
    assert shown and shown <= in_csv, sorted(shown - in_csv)


def test_a_rerun_resumes_finished_folds(experiment_run):
    config, report, work = experiment_run
    checkpoint = work / "ours" / "fold0" / "best.pt"
    before = checkpoint.stat().st_mtime_ns
    table = (report / "table5_classification.csv").read_text()
    result = medxai("experiment", str(config), "--out", str(report), "--work", str(work), timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert checkpoint.stat().st_mtime_ns == before
    assert "epoch 1:" not in result.stderr  # nothing trained again
    assert (report / "table5_classification.csv").read_text() == table


def test_config_mistakes_are_one_clear_line(tmp_path):
    assert_help_with_example("experiment")
    assert_user_error(medxai("experiment", str(tmp_path / "absent.toml")), "experiment config not found")
    config = tmp_path / "bad.toml"
    config.write_text(TINY.replace("epochs = 1", "epochz = 1"))
    with pytest.raises(UserError, match="unknown settings"):
        load_experiment(config)
    with pytest.raises(UserError, match="unknown profile"):
        load_experiment(config, "tpu")
    config.write_text(TINY.replace('phantoms = { kind = "xray", n = 40, size = 32, seed = 0 }', 'path = "x"'))
    with pytest.raises(UserError, match="spurious_marker needs phantom data"):
        load_experiment(config)
    config.write_text(TINY.replace('guidance_ablation = "attention"', 'guidance_ablation = "masks"'))
    with pytest.raises(UserError, match="guidance_ablation must be one of none, rrr, attention"):
        load_experiment(config)


def test_train_takes_a_worker_count(tmp_path):
    assert "--workers" in medxai("train", "--help").stdout
    assert_user_error(medxai("train", "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--workers", "-1"),
                      "--workers must be >= 0")


@pytest.mark.parametrize("config", sorted(Path(__file__).parents[2].joinpath("experiments").glob("*.toml")),
                         ids=lambda path: path.stem)
@pytest.mark.parametrize("profile", ["cpu", "gpu"])
def test_every_committed_experiment_reads_with_each_profile_and_names_its_work_folder(config, profile):
    experiment = load_experiment(config, profile)
    assert experiment.name == config.stem  # `runs/experiments/<name>-<profile>` and `reports/<name>` follow it
    assert experiment.settings.image_size > 0 and experiment.settings.folds >= 2
