"""A torch Dataset over a DatasetSpec: raw pixels [3,H,W] in [0, 1], the target, and the localisation mask."""

from functools import lru_cache

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from medxai.data.decode import array_to_pixels, read_image
from medxai.data.records import DatasetSpec, ImageRecord
from medxai.data.transforms import eval_transform, train_transform


def record_pixels(record: ImageRecord) -> np.ndarray:
    if isinstance(record.source, np.ndarray):
        return array_to_pixels(record.source)
    return read_image(record.source)


def record_mask(record: ImageRecord, shape: tuple[int, int]) -> np.ndarray | None:
    """The expert mask as uint8 {0, 1}, a box drawn as a filled rectangle, or None without localisation."""
    if record.mask is not None:
        with Image.open(record.mask) as image:
            return (np.asarray(image.convert("L").resize(shape[::-1], Image.NEAREST)) > 127).astype(np.uint8)
    if record.box is not None:
        mask = np.zeros(shape, np.uint8)
        x0, y0, x1, y1 = record.box
        mask[max(y0, 0):y1, max(x0, 0):x1] = 1
        return mask
    return None


class ImageDataset(Dataset):
    """Items are dicts: `image` float32 [3,S,S], `target`, `mask` uint8 [S,S] (all -1 without one), `index`."""

    def __init__(self, spec: DatasetSpec, image_size: int, augment: bool = False, seed: int = 42,
                 cache: bool = True):
        self.spec = spec
        self.transform = train_transform(image_size, seed) if augment else eval_transform(image_size)
        self.augment = augment
        self.image_size = image_size
        self._load = lru_cache(maxsize=None)(self._decode) if cache else self._decode

    def __len__(self) -> int:
        return len(self.spec.records)

    def _decode(self, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Decoded pixels, shrunk to at most twice the model size so the cache stays small."""
        record = self.spec.records[index]
        pixels = record_pixels(record)
        mask = record_mask(record, pixels.shape[:2])
        if min(pixels.shape[:2]) > 2 * self.image_size:
            shrink = eval_transform(2 * self.image_size)
            out = shrink(image=pixels, mask=mask) if mask is not None else shrink(image=pixels)
            pixels, mask = out["image"], out.get("mask")
        return (pixels * 255).round().astype(np.uint8), mask

    def __getitem__(self, index: int) -> dict:
        pixels, mask = self._load(index)
        out = self.transform(image=pixels, mask=mask) if mask is not None else self.transform(image=pixels)
        image = torch.from_numpy(out["image"].astype(np.float32) / 255.0).permute(2, 0, 1).contiguous()
        mask_out = out.get("mask")
        mask_tensor = (torch.from_numpy(np.ascontiguousarray(mask_out)).to(torch.uint8) if mask_out is not None
                       else torch.full((self.image_size, self.image_size), 255, dtype=torch.uint8))
        target = self.spec.records[index].target
        target = torch.tensor(target, dtype=torch.float32) if self.spec.multi_label else torch.tensor(target)
        return {"image": image, "target": target, "mask": mask_tensor, "index": index}


def channel_statistics(dataset: ImageDataset, max_images: int = 256, seed: int = 42) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of a (training) dataset, from up to `max_images` images."""
    rng = np.random.default_rng(seed)
    picks = rng.permutation(len(dataset))[:max_images]
    stack = torch.stack([dataset[int(i)]["image"] for i in picks])
    std = stack.std(dim=(0, 2, 3)).clamp_min(1e-3)
    return stack.mean(dim=(0, 2, 3)).tolist(), std.tolist()


def to_model_input(pixels: np.ndarray, image_size: int) -> torch.Tensor:
    """Decoded pixels (HxWx3 float in [0, 1]) resized as in evaluation, as a float32 [3, S, S] tensor."""
    resized = eval_transform(image_size)(image=(pixels * 255).round().astype(np.uint8))["image"]
    return torch.from_numpy(resized.astype(np.float32) / 255.0).permute(2, 0, 1).contiguous()
