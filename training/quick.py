"""A quick phantom-trained model, for benchmarks that need maps that mean something (an untrained model's maps
are noise): a few epochs on dermoscopy phantoms (colour cues: quick to learn), no L_exp."""

from pathlib import Path

from medxai.data.phantoms import make_phantoms
from training.trainer import TrainConfig, train


def phantom_model(model_name: str, image_size: int, folder: Path, images: int = 160, epochs: int = 4) -> Path:
    """Train `model_name` in `folder`; returns its best checkpoint."""
    data = make_phantoms(folder / "phantoms", kind="dermoscopy", n=images, size=image_size, seed=0)
    train(TrainConfig(data=str(data), out=str(folder / "run"), model=model_name, image_size=image_size,
                      epochs=epochs, alpha_exp=0.0, batch_size=16, lr=1e-3, patience=epochs))
    return folder / "run" / "best.pt"
