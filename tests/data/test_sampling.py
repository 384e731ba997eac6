"""Evidence drawn across classes: the first N of a folder sorted by class is one class, a stratified draw is
not."""

import numpy as np

from medxai.data.sampling import stratified_sample


def test_a_folder_listing_one_class_first_gives_every_class_its_share():
    labels = [0] * 60 + [1] * 30 + [2] * 30  # as the brain MRI labels list meningiomas first
    chosen = stratified_sample(labels, 30)
    assert np.bincount(np.asarray(labels)[chosen]).tolist() == [10, 10, 10]
    assert chosen == sorted(chosen) and len(set(chosen)) == 30


def test_a_small_class_gives_all_it_has_and_the_others_fill_the_count():
    labels = [0] * 50 + [1] * 3
    chosen = stratified_sample(labels, 20)
    assert np.bincount(np.asarray(labels)[chosen]).tolist() == [17, 3]
    assert stratified_sample(labels, 100) == list(range(53))  # more asked than there are: all of them


def test_the_draw_is_seeded():
    labels = [0, 1] * 40
    assert stratified_sample(labels, 10) == stratified_sample(labels, 10)
    assert stratified_sample(labels, 10, seed=1) != stratified_sample(labels, 10)
    assert stratified_sample(labels, 0) == [] and stratified_sample([], 5) == []
