"""The experiment's report: the paper's Tables 5, 6, 8 and 9 and the shortcut-learning table beside ours, with
Wilcoxon signed-rank p-values wherever a row claims to beat another, written as report.md, one CSV per table
(cells exactly as report.md shows them), results.json (every number at full precision: float32 curves at
float32's own digits), ROC and deletion/insertion curves and a small overlay gallery."""

import csv
import json
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.stats import wilcoxon
from skimage.segmentation import find_boundaries

from medxai.explain.overlay import overlay
from medxai.metrics.classification import plot_roc
from training.experiment_scoring import PAIRS, variant_name

PAPER_TABLE5 = {  # model: (CheXpert ACC %, AUC, ISIC 2020 ACC %, AUC)
    "densenet121": ("87.1", "0.915", "89.4", "0.941"), "efficientnet_b0": ("88.3", "0.928", "90.7", "0.954"),
    "vit_b_16": ("88.9", "0.934", "91.0", "0.957"), "ours": ("91.2", "0.951", "93.1", "0.971")}
PAPER_TABLE6 = {"gradcam": ("57.3", "0.48", "0.74"), "lime": ("60.5", "0.45", "0.78"),
                "ig": ("63.1", "0.43", "0.79"), "fusion": ("68.9", "0.39", "0.83")}  # IoU %, deletion, insertion
PAPER_TABLE9 = {"ours_alpha0": ("92.6", "0.968", "61.4"), "ours": ("93.1", "0.971", "68.9")}  # ACC %, AUC, IoU %
NAMES = {"gradcam": "Grad-CAM", "ig": "Integrated Gradients", "lime": "LIME", "fusion": "fused (0.4/0.4/0.2)",
         "cam": "CAM (product default)", "fusion_default": "fused (product default rule)",
         "centred_disc": "centred disc (no skill)", "whole_image": "whole image (no skill)"}
GALLERY_METHODS = ("gradcam", "ig", "lime", "fusion")
NONE = "–"


def fmt(value: float, digits: int = 3) -> str:
    return NONE if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def fmt_p(p: float | None) -> str:
    return NONE if p is None or not np.isfinite(p) else ("<0.001" if p < 0.001 else f"{p:.3f}")


def paired_p(ours: np.ndarray, other: np.ndarray) -> float | None:
    """Two-sided Wilcoxon signed-rank p over paired values; None when every pair is equal or too few pairs."""
    differences = np.asarray(ours, float) - np.asarray(other, float)
    if len(differences) < 2 or np.allclose(differences, 0):
        return None
    return float(wilcoxon(ours, other).pvalue)


def mean_sd(values) -> tuple[float, float]:
    values = np.asarray(values, float)
    return float(np.nanmean(values)), float(np.nanstd(values))


def true_class_probability(results: list[dict]) -> np.ndarray:
    """Per held-out image over all folds (each image once): the probability given to its true class."""
    return np.concatenate([np.asarray(r["probabilities"])[np.arange(len(r["targets"])), r["targets"]]
                           for r in results])


def pooled_scores(results: list[dict]) -> dict[str, dict[str, np.ndarray]]:
    """Per-image explanation scores of every fold, concatenated: {row: {metric: [N]}}."""
    rows = results[0]["explanations"]["scores"]
    return {row: {metric: np.concatenate([r["explanations"]["scores"][row][metric] for r in results])
                  for metric in rows[row]} for row in rows}


def table5(run: dict) -> list[dict]:
    ours = true_class_probability(run["results"]["ours"])
    rows = []
    for job in run["jobs"]:
        results = run["results"][job["name"]]
        row = {"model": job["name"] if job["name"].startswith("ours") else job["model"],
               "architecture": job["model"], "alpha": fmt(job["alpha"], 1)}
        for metric in ("accuracy", "auc", "precision", "recall", "f1"):
            mean, sd = mean_sd([r["metrics"][metric] for r in results])
            row[metric], row[f"{metric}_sd"] = fmt(mean), fmt(sd)
        row |= calibration_cells(results)
        paper = PAPER_TABLE5.get("ours" if job["name"] == "ours" else job["model"], (NONE,) * 4)
        row |= {"paper_chexpert_acc_pct": paper[0], "paper_chexpert_auc": paper[1],
                "paper_isic_acc_pct": paper[2], "paper_isic_auc": paper[3]}
        row["p_vs_ours"] = NONE if job["name"] == "ours" else fmt_p(
            paired_p(ours, true_class_probability(results)))
        rows.append(row)
    return rows


def calibration_cells(results: list[dict]) -> dict:
    """Mean temperature and held-out ECE before -> after temperature scaling over the folds (the held-out fold is
    the one T was fitted on, as in `medxai train`); folds trained before calibration existed read NONE."""
    fits = [r.get("calibration") or {} for r in results]
    if not all(fit.get("temperature") for fit in fits):
        return {"temperature": NONE, "ece_before": NONE, "ece_after": NONE}
    return {"temperature": fmt(np.mean([fit["temperature"] for fit in fits]), 2),
            **{key: fmt(np.mean([fit[key] for fit in fits])) for key in ("ece_before", "ece_after")}}


def explanation_row(name: str, scores: dict[str, np.ndarray], reference: dict[str, np.ndarray] | None,
                    paper: tuple) -> dict:
    row = {"method": name}
    for metric in ("iou", "iou_at_threshold", "pointing_game", "energy_in_mask", "deletion_auc", "insertion_auc"):
        mean, sd = mean_sd(scores[metric])
        scale, digits = (100, 1) if metric.startswith("iou") else (1, 3)
        row[metric], row[f"{metric}_sd"] = fmt(mean * scale, digits), fmt(sd * scale, digits)
    row |= {"paper_iou_pct": paper[0], "paper_deletion": paper[1], "paper_insertion": paper[2]}
    for metric in ("iou", "deletion_auc", "insertion_auc"):
        row[f"p_fused_vs_{metric}"] = (NONE if reference is None or reference is scores
                                       else fmt_p(paired_p(reference[metric], scores[metric])))
    return row


def lime_segments(results: list[dict], row: str) -> str:
    counts = [d["segments"] for r in results for d in r["explanations"]["diagnostics"][row]]
    return fmt(float(np.mean(counts)), 1)


def dead_share(results: list[dict], row: str) -> str:
    """Share of the row's maps that were dead (nothing positive to show), where the row's diagnostics say."""
    flags = [bool(d["dead"]) for r in results for d in r["explanations"]["diagnostics"].get(row, []) if "dead" in d]
    return fmt(float(np.mean(flags)), 2) if flags else NONE


def table6(run: dict) -> list[dict]:
    results = run["results"]["ours"]
    scores = pooled_scores(results)
    variants = {method: [variant_name(v) for v in run["experiment"]["settings"]["variants"] if v["method"] == method]
                for method in ("gradcam", "lime", "ig")}
    rows = []
    for name in ("gradcam", *variants["gradcam"], "lime", *variants["lime"], "ig", *variants["ig"], "fusion",
                 "cam", "fusion_default", "centred_disc", "whole_image"):
        row = explanation_row(NAMES.get(name, name), scores[name], scores["fusion"],
                              PAPER_TABLE6.get(name, (NONE,) * 3))
        row["lime_segments"] = lime_segments(results, name) if name.startswith("lime") else NONE
        row["dead_share"] = dead_share(results, name)
        rows.append(row)
    return rows


BY_CLASS_ROWS = ("fusion_default", "cam", "ig", "lime", "fusion", "centred_disc")
"""Table 6's rows broken down per class: the product's maps, the paper's fused map and the no-skill disc."""


def table6_by_class(run: dict) -> list[dict]:
    """Table 6 per explained class over the pooled held-out folds: each row's pointing game, top-area IoU % and
    deletion AUC with their 95 % bootstrap intervals (`evaluation.class_means`), so a map that finds one class's
    lesions and misses another's shows it (issue 37)."""
    import torch
    from medxai.explain.evaluation import class_means
    from medxai.metrics.intervals import INTERVAL_METRICS, with_interval
    results = run["results"]["ours"]
    scores = pooled_scores(results)
    targets = torch.from_numpy(np.concatenate([np.asarray(r["explanations"]["targets"]) for r in results]))
    rows = []
    for name in (row for row in BY_CLASS_ROWS if row in scores):
        table = class_means({metric: scores[name][metric] for metric in INTERVAL_METRICS}, targets)
        for index, summary in [*table["by_class"].items(), ("all", table)]:
            rows.append({"method": NAMES.get(name, name),
                         "class": "all classes" if index == "all" else run["class_names"][index],
                         "images": summary["images"], "pointing_game": with_interval(summary, "pointing_game"),
                         "iou": with_interval(summary, "iou", 100, 1),
                         "deletion_auc": with_interval(summary, "deletion_auc")})
    return rows


def table8(run: dict) -> list[dict]:
    scores = pooled_scores(run["results"]["ours"])
    names = ["gradcam", "lime", "ig", *PAIRS, "fusion"]
    return [explanation_row(NAMES.get(name, name.replace("+", " + ")), scores[name], scores["fusion"],
                            PAPER_TABLE6.get(name, (NONE,) * 3)) for name in names]


def versus_row(run: dict, name: str, reference: str, fused_row: str) -> dict:
    """Job `name` against job `reference` (same folds, seeds and held-out images): accuracy and AUC means ± SD
    over the folds, the `fused_row` map's IoU, pointing game and deletion AUC over the explained held-out images,
    and two-sided Wilcoxon p of the true-class probability and of that map's IoU and deletion AUC (dashes on
    the reference's own row)."""
    results, other = run["results"][name], run["results"][reference]
    row = {}
    for metric in ("accuracy", "auc"):
        mean, sd = mean_sd([r["metrics"][metric] for r in results])
        row[metric], row[f"{metric}_sd"] = fmt(mean), fmt(sd)
    row["ece_after"] = calibration_cells(results)["ece_after"]
    fused, fused_reference = pooled_scores(results)[fused_row], pooled_scores(other)[fused_row]
    for metric in ("iou", "pointing_game", "deletion_auc"):
        mean, sd = mean_sd(fused[metric])
        scale, digits = (100, 1) if metric == "iou" else (1, 3)
        row[f"fused_{metric}"], row[f"fused_{metric}_sd"] = fmt(mean * scale, digits), fmt(sd * scale, digits)
    same = name == reference
    row["p_true_class_probability"] = NONE if same else fmt_p(
        paired_p(true_class_probability(results), true_class_probability(other)))
    for metric in ("iou", "deletion_auc"):
        row[f"p_fused_{metric}"] = NONE if same else fmt_p(paired_p(fused[metric], fused_reference[metric]))
    return row


def table9(run: dict) -> list[dict]:
    """The paper's L_exp ablation: ours at alpha 0 against ours at the configured alpha, the paper's fused map."""
    if "ours_alpha0" not in run["results"]:
        return []
    rows = []
    for name, alpha in (("ours_alpha0", 0.0), ("ours", run["experiment"]["settings"]["alpha"])):
        row = {"configuration": "without L_exp" if name == "ours_alpha0" else "with L_exp", "alpha": fmt(alpha, 1)}
        row |= versus_row(run, name, "ours_alpha0", "fusion")
        paper = PAPER_TABLE9[name]
        rows.append(row | {"paper_acc_pct": paper[0], "paper_auc": paper[1], "paper_iou_pct": paper[2]})
    return rows


def guidance_table(run: dict) -> list[dict]:
    """Lesion guidance (issue 19): ours against ours trained with guidance from the data's masks or boxes, same
    folds and seeds, judged by the product's default fused map (what a clinician is shown)."""
    if "ours_guided" not in run["results"]:
        return []
    settings = run["experiment"]["settings"]
    return [{"guidance": kind, "weight": weight} | versus_row(run, name, "ours", "fusion_default")
            for name, kind, weight in (("ours", "none", NONE),
                                       ("ours_guided", settings["guidance_ablation"], fmt(settings["guidance_weight"], 1)))]


def shortcut_table(run: dict) -> list[dict]:
    if not run["shortcut"]:
        return []
    rows = []
    for label, model in run["shortcut"]["models"].items():
        for method, energy in model["energy"].items():
            rows.append({"model": label, "validation_accuracy": fmt(model["validation_accuracy"]),
                         "clean_test_accuracy": fmt(model["test_accuracy"]), "map": NAMES.get(method, method),
                         "energy_in_marker": fmt(energy["marker"]), "energy_in_lesion": fmt(energy["lesion"]),
                         "randomisation_spearman": fmt(model["randomisation_check"]["spearman"]),
                         "release_gate_randomisation": "passed" if model["randomisation_check"]["passed"] else "failed"})
    return rows


def shortcut_verdict(run: dict) -> str:
    """What the shortcut table says about the release gate and our metrics, in words (its figures are above)."""
    models = run["shortcut"]["models"]
    marked, clean = models["trained with marker"], models["trained without marker"]
    gate = ("passed the release gate's randomisation check, so the gate would have released it"
            if marked["randomisation_check"]["passed"] else "failed the release gate's randomisation check")
    drop = ("scored worse on the clean test split than on its validation fold, which still carries the marker"
            if marked["test_accuracy"] < marked["validation_accuracy"] else
            "scored no worse on the clean test split than on its validation fold")
    chance = marked["energy"]["whole_image"]["marker"]
    pointing = [NAMES[m] for m in ("gradcam", "ig", "lime", "fusion") if marked["energy"][m]["marker"] > 2 * chance]
    looked = (f"put more than twice the no-skill share of their energy in the marker corner: {', '.join(pointing)}"
              if pointing else "put no more than twice the no-skill share of their energy in the marker corner")
    versus = ("more than the model trained without the marker"
              if marked["energy"]["fusion"]["marker"] > clean["energy"]["fusion"]["marker"] else
              "no more than the model trained without the marker")
    guided = models.get("trained with marker, guided")
    remedy = "" if guided is None else (
        f" Trained on the same marked images with {run['experiment']['settings']['guidance_ablation']} guidance "
        f"from the lesion masks, it scored {fmt(guided['test_accuracy'])} on the clean test split, against "
        f"{fmt(marked['test_accuracy'])} without guidance and {fmt(clean['test_accuracy'])} for the model trained "
        "without the marker.")
    return (f"The model trained with the marker {gate}. It {drop}. Its maps {looked}; the fused map put "
            f"{versus}.{remedy} The release gate's shortcut check (`export/shortcut.py`; `medxai export --data` "
            "with expert masks) judges a model by its fused map's energy in the expert regions against their share "
            "of the image; this study reports the randomisation check only.")


def run_table(run: dict, command: str) -> list[dict]:
    """What was run, as one table, so that every figure in the report's header is in a CSV too."""
    settings = run["experiment"]["settings"]
    results = [r for job in run["results"].values() for r in job]
    facts = {
        "command": command, "profile": run["experiment"]["profile"], "data": run["data"],
        "images (after max_images)": run["image_count"], "images in the folds": run["pool_images"],
        "classes": ", ".join(run["class_names"]), "image size (px)": settings["image_size"],
        "epochs (max)": settings["epochs"], "patience": settings["patience"], "folds": settings["folds"],
        "batch size": settings["batch_size"], "learning rate": settings["lr"], "seed": settings["seed"],
        "ours": settings["ours"], "alpha (L_exp weight)": settings["alpha"],
        "baselines": ", ".join(settings["baselines"]) or NONE,
        "explained images per fold": settings["explained_images"],
        "IG steps (start, max)": f"{settings['ig_steps']}, {settings['ig_max_steps']}",
        "LIME samples (max)": settings["lime_max_samples"], "LIME segmentation": settings["lime_segmentation"],
        "deletion/insertion steps": settings["deletion_steps"],
        "initialisation": "random (no ImageNet weights)",
        "device": run["hardware"]["device"], "precision": run["hardware"]["precision"],
        "training minutes (all folds, all models)": fmt(sum(r["train_seconds"] for r in results) / 60, 1),
        "explanation scoring minutes": fmt(sum(r.get("explain_seconds", 0) for r in results) / 60, 1),
    }
    return [{"what": key, "value": str(value)} for key, value in facts.items()]


def markdown_table(rows: list[dict], columns: dict[str, str]) -> str:
    """`columns` maps a header to a cell template over the row's keys, e.g. '{accuracy} ± {accuracy_sd}'."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(template.format(**row) for template in columns.values()) + " |" for row in rows]
    return "\n".join(lines)


def write_csv(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def plot_curves(run: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    results = run["results"]["ours"]
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, mode in zip(axes, ("deletion", "insertion")):
        for name in ("gradcam", "ig", "lime", "fusion", "centred_disc", "whole_image"):
            curve = np.concatenate([r["explanations"]["curves"][name][mode] for r in results]).mean(axis=0)
            axis.plot(np.linspace(0, 1, len(curve)), curve, label=NAMES[name])
        axis.set(xlabel="fraction of pixels " + ("removed" if mode == "deletion" else "inserted"),
                 ylabel="target-class probability", title=f"{mode} (mean over held-out images)")
    axes[1].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def gallery(run: dict, path: Path, count: int) -> int:
    """One PNG: the best and the worst held-out images by fused IoU (rows), as image with the expert outline
    and under each method (columns). Returns the number of rows."""
    explained = [r["explanations"] for r in run["results"]["ours"]]
    entries = [(e["scores"]["fusion"]["iou"][i], e, i) for e in explained for i in range(len(e["indices"]))]
    entries.sort(key=lambda entry: -entry[0])
    chosen = entries if len(entries) <= count else entries[:count // 2] + entries[-(count - count // 2):]
    rows = []
    for _, e, i in chosen:
        pixels = e["images"][i].transpose(1, 2, 0)
        outlined = (pixels * 255).round().astype(np.uint8)
        outlined[find_boundaries(e["masks"][i].astype(bool))] = (0, 255, 0)
        rows.append(np.concatenate([outlined] + [overlay(pixels, e["maps"][m][i]) for m in GALLERY_METHODS], 1))
    Image.fromarray(np.concatenate(rows, 0)).save(path, optimize=True)
    return len(rows)


def plot_pooled_roc(run: dict, path: Path) -> None:
    results = run["results"]["ours"]
    probabilities = np.concatenate([np.asarray(r["probabilities"]) for r in results])
    targets = np.concatenate([np.asarray(r["targets"]) for r in results])
    plot_roc(probabilities, targets, run["class_names"], False, path, "ours, held-out folds pooled")


TABLE5 = {"model": "{model}", "alpha": "{alpha}", "accuracy": "{accuracy} ± {accuracy_sd}",
          "AUC": "{auc} ± {auc_sd}", "precision": "{precision} ± {precision_sd}",
          "recall": "{recall} ± {recall_sd}", "F1": "{f1} ± {f1_sd}",
          "T / ECE before → after": "{temperature} / {ece_before} → {ece_after}",
          "paper ACC % / AUC (CheXpert)": "{paper_chexpert_acc_pct} / {paper_chexpert_auc}",
          "paper ACC % / AUC (ISIC 2020)": "{paper_isic_acc_pct} / {paper_isic_auc}",
          "p (ours vs row)": "{p_vs_ours}"}
EXPLANATION_COLUMNS = {
    "method": "{method}", "IoU % ↑": "{iou} ± {iou_sd}", "IoU@0.5 % ↑": "{iou_at_threshold} ± {iou_at_threshold_sd}",
    "pointing ↑": "{pointing_game} ± {pointing_game_sd}", "energy in mask ↑": "{energy_in_mask} ± {energy_in_mask_sd}",
    "deletion ↓": "{deletion_auc} ± {deletion_auc_sd}", "insertion ↑": "{insertion_auc} ± {insertion_auc_sd}",
    "paper IoU % / del / ins": "{paper_iou_pct} / {paper_deletion} / {paper_insertion}",
    "p fused vs row (IoU / del / ins)": "{p_fused_vs_iou} / {p_fused_vs_deletion_auc} / {p_fused_vs_insertion_auc}"}
TABLE6 = EXPLANATION_COLUMNS | {"dead maps": "{dead_share}", "LIME segments": "{lime_segments}"}
TABLE6_BY_CLASS = {"method": "{method}", "class": "{class}", "images": "{images}",
                   "pointing ↑ (95 % CI)": "{pointing_game}", "IoU % ↑ (95 % CI)": "{iou}",
                   "deletion ↓ (95 % CI)": "{deletion_auc}"}
VERSUS = {"accuracy": "{accuracy} ± {accuracy_sd}", "AUC": "{auc} ± {auc_sd}", "ECE (calibrated)": "{ece_after}",
          "fused IoU %": "{fused_iou} ± {fused_iou_sd}", "fused pointing": "{fused_pointing_game} ± {fused_pointing_game_sd}",
          "fused deletion ↓": "{fused_deletion_auc} ± {fused_deletion_auc_sd}",
          "p (true-class prob. / fused IoU / deletion)":
              "{p_true_class_probability} / {p_fused_iou} / {p_fused_deletion_auc}"}
TABLE9 = {"configuration": "{configuration}", "alpha": "{alpha}", **VERSUS,
          "paper ACC % / AUC / IoU %": "{paper_acc_pct} / {paper_auc} / {paper_iou_pct}"}
GUIDANCE = {"guidance": "{guidance}", "weight": "{weight}", **VERSUS}
SHORTCUT = {"model": "{model}", "validation acc.": "{validation_accuracy}", "clean test acc.": "{clean_test_accuracy}",
            "map": "{map}", "energy in marker": "{energy_in_marker}", "energy in lesion": "{energy_in_lesion}",
            "randomisation Spearman": "{randomisation_spearman}", "gate check": "{release_gate_randomisation}"}
RUN = {"what": "{what}", "value": "{value}"}

NOTES = """\
How to read this. Classification figures are means ± SD over the folds, each fold's model scored on its own
held-out fold at the epoch with the best validation AUC on that same fold (so slightly optimistic). Explanation
figures are means ± SD over the held-out images of every fold, for ours (alpha as in the run table); each map explains
the image's true class. The no-skill rows say what a map that ignores the image scores. p-values are two-sided
Wilcoxon signed-rank tests over the same images (classification: the probability each model gives the true
class; explanations: the per-image metric), shown only where a row is compared with another; a dash means no
comparison or no difference. The paper's figures come from ImageNet-initialised models on CheXpert and the
ISIC challenge set at the paper's image size; ours come from randomly initialised models on the data and at the
sizes in the run table, so they are comparable in method, not in value.
"""


def write_report(run: dict, out: str | Path, command: str) -> Path:
    """Write report.md, table CSVs, results.json and the figures into `out`; returns report.md's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings = run["experiment"]["settings"]
    tables = {"run": (run_table(run, command), RUN), "table5_classification": (table5(run), TABLE5),
              "table6_explanations": (table6(run), TABLE6),
              "table6_by_class": (table6_by_class(run), TABLE6_BY_CLASS),
              "table8_explainer_ablation": (table8(run), EXPLANATION_COLUMNS),
              "table9_lexp_ablation": (table9(run), TABLE9), "lesion_guidance": (guidance_table(run), GUIDANCE),
              "shortcut_learning": (shortcut_table(run), SHORTCUT)}
    for name, (rows, _) in tables.items():
        write_csv(out / f"{name}.csv", rows)
    plot_pooled_roc(run, out / "roc.png")
    plot_curves(run, out / "deletion_insertion.png")
    gallery(run, out / "gallery.png", settings["gallery_images"])
    (out / "results.json").write_text(json.dumps(_serialisable(run), separators=(",", ":")))  # compact: indentation doubled the size
    titles = {"run": "What was run", "table5_classification": "Table 5: diagnostic performance",
              "table6_explanations": "Table 6: explanation quality",
              "table6_by_class": "Table 6 per class (95 % bootstrap intervals)",
              "table8_explainer_ablation": "Table 8: explainer ablation (fusion of each subset)",
              "table9_lexp_ablation": "Table 9: the explanation-consistency loss",
              "lesion_guidance": "Lesion guidance (the product's default fused map)",
              "shortcut_learning": "Shortcut learning: a model trained on marked phantoms"}
    parts = [f"# {run['experiment']['title']}: the paper's tables recomputed", "",
             f"Produced by `{command}`.", "", NOTES]
    for name, (rows, columns) in tables.items():
        if rows:
            parts += [f"## {titles[name]}", "", markdown_table(rows, columns), ""]
        if not rows and name == "table9_lexp_ablation":
            parts += [f"## {titles[name]}", "", "Not run: this profile trains ours without L_exp, as the scratch "
                      "recipe does (docs/evidence/recipe.md: it doubled the step time and did not "
                      "lift the maps).", ""]
        if rows and name == "shortcut_learning":
            parts += [shortcut_verdict(run), ""]
    parts += ["## Figures", "", "ROC of ours, held-out folds pooled: ![ROC](roc.png)", "",
              "Deletion and insertion curves: ![curves](deletion_insertion.png)", "",
              "Gallery (rows: held-out images, best then worst by fused IoU; columns: the image with the expert "
              "outline in green, Grad-CAM, Integrated Gradients, LIME, fused): ![gallery](gallery.png)", ""]
    report = out / "report.md"
    report.write_text("\n".join(parts))
    return report


def _serialisable(value):
    if isinstance(value, dict):
        return {str(k): _serialisable(v) for k, v in value.items() if k not in ("images", "masks", "maps")}
    if isinstance(value, (list, tuple)):
        return [_serialisable(v) for v in value]
    if isinstance(value, np.ndarray) and value.dtype == np.float32:  # curves: float32's own shortest digits, not
        return np.vectorize(_float32, otypes=[object])(value).tolist()  # float64's spurious ones (same values)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.float32):
        return _float32(value)
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def _float32(value: np.float32) -> float:
    """The float whose shortest repr is `value`'s float32 repr: it reads back to the same float32 (lossless)."""
    return float(str(np.float32(value)))
