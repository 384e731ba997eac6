"""Train/validation splits: stratified by class, grouped by patient so no patient straddles a split."""

from collections.abc import Iterator

import numpy as np

from medxai.data.records import DatasetSpec
from medxai.errors import UserError


def training_pool(spec: DatasetSpec) -> list[int]:
    """Indices usable for training and validation: everything not marked as the held-out `test` split."""
    return [i for i, r in enumerate(spec.records) if r.split != "test"]


def folds(spec: DatasetSpec, pool: list[int], k: int, val_fraction: float, seed: int
          ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(fold, train indices, validation indices) for k-fold CV; k == 1 gives one holdout of `val_fraction`."""
    from sklearn.model_selection import StratifiedGroupKFold  # here: `medxai predict` imports this module too
    n_splits = k if k > 1 else max(2, round(1 / val_fraction))
    labels = spec.stratify_labels()[pool]
    groups = spec.groups()[pool]
    if len(set(groups)) < n_splits:
        raise UserError(f"{len(set(groups))} patient groups cannot make {n_splits} folds: use fewer folds")
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    pool_array = np.asarray(pool)
    for fold, (train, val) in enumerate(splitter.split(pool_array, labels, groups)):
        if fold >= max(k, 1):
            return
        yield fold, pool_array[train], pool_array[val]
