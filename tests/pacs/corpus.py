"""Real-world DICOM files no one here wrote: pydicom's own test files (in the `pydicom` wheel) and the
`pydicom-data` package's (compressed, oblique, multi-frame, damaged: what a PACS sends)."""

import os
from pathlib import Path

import pydicom


def corpus_files() -> list[Path]:
    """Every file of both corpora, in a stable order."""
    import data_store  # the pydicom-data package
    roots = [Path(pydicom.data.__file__).parent / "test_files", Path(data_store.__file__).parent / "data"]
    return sorted(path for root in roots for path in root.rglob("*") if path.is_file())


def named(name: str) -> Path:
    """One corpus file by its file name."""
    return next(path for path in corpus_files() if path.name == name)


def corpus_folder(folder: Path) -> Path:
    """The corpus as links in one folder (names made unique), for a C-STORE client that sends a folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, path in enumerate(corpus_files()):
        os.symlink(path, folder / f"{index:03d}-{path.name}")
    return folder
