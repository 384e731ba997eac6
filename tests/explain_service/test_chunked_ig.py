"""Chunked IG against the library's IG, and the fair lock it takes turns on."""

import threading
import time
from contextlib import nullcontext

import pytest
import torch

from explain_service import chunked_ig
from explain_service.fair_lock import FairLock
from medxai.explain import integrated_gradients
from medxai.models import build_model


@pytest.fixture(scope="module")
def model_and_image():
    torch.manual_seed(0)
    return build_model("resnet18_attention", 2).eval(), torch.rand(1, 3, 32, 32), torch.tensor([1])


def test_within_one_chunk_it_is_the_librarys_ig(model_and_image):
    model, images, targets = model_and_image
    library = integrated_gradients.explain(model, images, targets, steps=8, max_steps=8, precision="fp32")
    chunked = chunked_ig.explain(model, images, targets, nullcontext, steps=8, max_steps=8)
    assert torch.allclose(library.raw, chunked.raw, atol=1e-6)
    assert chunked.diagnostics[0]["chunks"] == 1


def test_over_several_chunks_it_is_still_the_librarys_ig(model_and_image):
    model, images, targets = model_and_image
    turns = []

    def turn():
        turns.append(1)
        return nullcontext()
    chunked = chunked_ig.explain(model, images, targets, turn, steps=32, max_steps=32, chunk=8)
    assert len(turns) == 4 + 1  # four chunks of 8 path points, then the completeness check
    library = integrated_gradients.explain(model, images, targets, steps=32, max_steps=32, precision="fp32")
    assert torch.allclose(library.raw, chunked.raw, rtol=1e-4, atol=1e-6)
    assert chunked.diagnostics[0]["completeness_gap"] == \
        pytest.approx(library.diagnostics[0]["completeness_gap"], rel=1e-3, abs=1e-5)


def test_passes_count_every_doubling_round():
    assert chunked_ig.passes(8, 64) == (8 + 2) + (16 + 2) + (32 + 2) + (64 + 2)
    assert chunked_ig.passes(256, 256) == 258


def test_the_fair_lock_serves_waiters_in_arrival_order():
    lock, order = FairLock(), []

    def waiter(name: str) -> None:
        with lock:
            order.append(name)

    with lock:
        threads = []
        for issued, name in enumerate(["first", "second", "third"], start=2):
            threads.append(threading.Thread(target=waiter, args=(name,)))
            threads[-1].start()
            while lock._issued < issued:  # until this waiter holds its ticket
                time.sleep(0.001)
    for thread in threads:
        thread.join()
    assert order == ["first", "second", "third"]
