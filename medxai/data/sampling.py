"""Which images evidence is computed on: drawn across classes, seeded, never "the first N in the file".

A data folder's order is whatever its labels file says. The brain MRI set lists its meningiomas first, so "the
first 30 validation slices with a box" were all meningiomas, and every localisation figure scored on them was
one class's (issue 37). Every command that scores explanations draws its images here instead.
"""

from collections.abc import Sequence

import numpy as np

from medxai.data.records import DatasetSpec

DEFAULT_SEED = 0
"""The draw's seed where a command takes none: the same images on every run and every machine."""


def stratified_sample(labels: Sequence[int], count: int, seed: int = DEFAULT_SEED) -> list[int]:
    """Positions into `labels` [N] (one class index per image; -1, as `DatasetSpec.stratify_labels` gives for
    multi-label images without a finding, is a class of its own) of up to `count` images, as equal in number per
    class as the classes allow: classes take turns, each giving its next image in a seeded random order, and a
    class that runs out drops out. Returned in ascending position, so the images keep the data's order.

    Why not scikit-learn's `train_test_split(stratify=...)`: it keeps the classes' proportions, so a class with
    few images gets few explained; per-class rows need each class as well represented as it can be."""
    if count <= 0:
        return []
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    queues = [list(rng.permutation(np.flatnonzero(labels == value))) for value in np.unique(labels)]
    chosen: list[int] = []
    while len(chosen) < count and any(queues):
        for queue in queues:
            if queue and len(chosen) < count:
                chosen.append(int(queue.pop(0)))
    return sorted(chosen)


def stratified_records(spec: DatasetSpec, count: int, candidates: list[int], seed: int = DEFAULT_SEED) -> list[int]:
    """Indices into `spec.records` of up to `count` of the records `candidates`, drawn across their classes
    (`DatasetSpec.stratify_labels`) by `stratified_sample`, in the data's order."""
    labels = spec.stratify_labels()[candidates]
    return [candidates[position] for position in stratified_sample(labels, count, seed)]
