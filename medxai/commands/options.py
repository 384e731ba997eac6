"""Options several commands share, defined once so they read and check the same everywhere."""

from pathlib import Path

import typer

from medxai.precision import PRECISIONS


def _check_precision(value: str) -> str:
    if value not in PRECISIONS:
        raise typer.BadParameter(f"'{value}' is not one of {', '.join(PRECISIONS)}")
    return value


def precision_option() -> str:
    """`--precision auto|fp32|bf16` (env MEDXAI_PRECISION): auto picks bf16 only where the device does it natively."""
    return typer.Option("auto", envvar="MEDXAI_PRECISION", callback=_check_precision,
                        help="auto (bf16 only where the CPU or GPU computes it natively), fp32 or bf16.")


def _check_dicom_tags(value: str) -> str:
    from medxai.scope.intended_use import TAG_RULES  # here, not at the top: --help stays free of the scope package
    if value not in TAG_RULES:
        raise typer.BadParameter(f"'{value}' is not one of {', '.join(TAG_RULES)}")
    return value


def dicom_tags_option(envvar: str | None = None) -> str:
    """`--dicom-tags contradiction|strict|off`: how a DICOM image's Modality and Body Part Examined are held
    against the model's intended use (`medxai.scope.intended_use.TAG_RULES`)."""
    return typer.Option("contradiction", envvar=envvar, callback=_check_dicom_tags,
                        help="Refuse DICOM images whose Modality or Body Part Examined contradicts the model's "
                             "intended use (contradiction), or is empty too (strict), or ignore the tags (off).")


def split_option() -> str:
    """`--split NAME`: only the records of this split of a labelled folder."""
    return typer.Option(None, help="Only records of this split (e.g. test).")


def ids_option() -> Path:
    """`--ids FILE`: only the records whose ids the file lists, one a line (a run's validation_ids.txt)."""
    return typer.Option(None, help="Only these image ids, one a line (e.g. RUN/validation_ids.txt).")


def require_paths(*paths: Path | None, what: str, folder: bool = False) -> None:
    """Refuse, in one line ("<what> not found: <path>"), a given path that is not a file (with `folder`: that
    does not exist, file or folder); a folder given for a file is named as such (with its best.pt when it is a
    run folder). None means not given: nothing to check."""
    from medxai.errors import UserError
    for path in paths:
        if path is not None and not folder and path.is_dir():
            hint = f"; did you mean {path / 'best.pt'}?" if (path / "best.pt").is_file() else ""
            raise UserError(f"{what} {path} is a folder, not a file{hint}")
        if path is not None and not (path.exists() if folder else path.is_file()):
            raise UserError(f"{what} not found: {path}")
