"""Shared fixtures: small phantom data and one trained checkpoint per test session."""

from pathlib import Path

import pytest

from tests.recipe import PHANTOM_RECIPE

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SHARED_CASES = Path(__file__).resolve().parents[2] / "shared" / "cases"
"""Unusual inputs as real files arrive (its README says what each is and its right outcome); never copied here."""


@pytest.fixture(scope="session")
def phantom_dir(tmp_path_factory) -> Path:
    """240 xray phantoms of 64 px with masks, boxes and a held-out test split."""
    from medxai.data.phantoms import make_phantoms
    return make_phantoms(tmp_path_factory.mktemp("phantoms"), "xray", n=240, seed=0, size=64)


@pytest.fixture(scope="session")
def trained_run(phantom_dir, tmp_path_factory) -> Path:
    """A run folder of resnet18_attention trained on the phantoms at 64 px (`tests.recipe`; about a minute on 2
    cores)."""
    from training.trainer import TrainConfig, train
    out = tmp_path_factory.mktemp("run")
    train(TrainConfig(data=str(phantom_dir), out=str(out), **PHANTOM_RECIPE))
    return out


@pytest.fixture(scope="session")
def trained_checkpoint(trained_run) -> Path:
    return trained_run / "best.pt"


@pytest.fixture(scope="session", params=["auto", "fp32"])
def checkpoint_each_precision(request, trained_checkpoint, phantom_dir, tmp_path_factory) -> Path:
    """The shared model (trained at `auto`: bf16 on AVX512_BF16/AMX CPUs) and its twin trained in fp32 (what
    `auto` picks on AVX2-only CPUs): what a test claims of a trained model must hold for both. Where `auto`
    resolves to fp32 already, the fp32 case is the shared model and is skipped."""
    from medxai.precision import resolve
    if request.param == "auto":
        return trained_checkpoint
    if resolve("auto") == "fp32":
        pytest.skip("auto trains in fp32 on this machine: the shared model is the fp32 one")
    from training.trainer import TrainConfig, train
    out = tmp_path_factory.mktemp("run-fp32")
    train(TrainConfig(data=str(phantom_dir), out=str(out), **PHANTOM_RECIPE, precision="fp32"))
    return out / "best.pt"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture(scope="session")
def shared_cases() -> Path:
    if not SHARED_CASES.is_dir():
        pytest.skip(f"cases folder {SHARED_CASES} is absent")
    return SHARED_CASES
