"""`medxai data ...`: make phantom data sets, describe a data source."""

import json
from pathlib import Path

import typer


def register(app: typer.Typer, data_app: typer.Typer, bench_app: typer.Typer) -> None:
    @data_app.command("phantoms")
    def phantoms(
        out: Path = typer.Option(..., help="Folder to write (labels.csv, images/, masks/)."),
        kind: str = typer.Option("xray", help="xray or dermoscopy."),
        n: int = typer.Option(300, help="Number of images."),
        seed: int = typer.Option(0, min=0, help="Random seed."),
        size: int = typer.Option(256, help="Image side in pixels."),
        spurious_marker: bool = typer.Option(False, help="Mark one class in the training split only (shortcut)."),
        benign_sign: bool = typer.Option(False, help="xray: benign nodules carry two bright calcifications."),
    ) -> None:
        """Write a synthetic labelled folder whose class is decided only inside the lesion.

        Example: medxai data phantoms --kind xray --n 300 --seed 0 --out data/phantoms
        """
        from medxai.data.phantoms import make_phantoms
        path = make_phantoms(out, kind, n, seed, size, spurious_marker, benign_sign=benign_sign)
        typer.echo(json.dumps({"out": str(path), "kind": kind, "n": n}))

    @data_app.command("describe")
    def describe(path: Path = typer.Argument(..., help="Labelled folder, CheXpert/ISIC CSV or MedMNIST npz.")) -> None:
        """Print what medxai reads from a data source: classes, counts, localisation.

        Example: medxai data describe ../shared/data/ph2
        """
        from medxai.data import load_dataset
        spec = load_dataset(path)
        counts = spec.targets().sum(axis=0) if spec.multi_label else [
            int((spec.targets() == i).sum()) for i in range(len(spec.class_names))]
        typer.echo(json.dumps({"name": spec.name, "images": len(spec.records), "multi_label": spec.multi_label,
                               "classes": dict(zip(spec.class_names, map(int, counts))),
                               "localisation": spec.has_localisation(), "fingerprint": spec.fingerprint()}, indent=2))
