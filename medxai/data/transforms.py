"""Preprocessing (seed paper §3.2) with Albumentations: resize, and for training seeded augmentation.

Normalisation is not here: it sits inside the model (`Normalize`), with the training split's statistics.
"""

import albumentations as A
import cv2

CROP_SCALE = (0.81, 1.0)
"""'Random cropping (10 %)': up to 10 % off each side, i.e. at least 0.9 x 0.9 of the area."""


def eval_transform(image_size: int) -> A.Compose:
    return A.Compose([A.Resize(image_size, image_size, interpolation=cv2.INTER_AREA,
                               mask_interpolation=cv2.INTER_NEAREST)])


def train_transform(image_size: int, seed: int) -> A.Compose:
    """Rotation ±15°, horizontal and vertical flips, brightness/contrast ±20 %, random crop 10 %."""
    return A.Compose([
        A.RandomResizedCrop((image_size, image_size), scale=CROP_SCALE, ratio=(0.9, 1.1),
                            interpolation=cv2.INTER_AREA, mask_interpolation=cv2.INTER_NEAREST),
        A.Rotate(limit=15, border_mode=cv2.BORDER_REFLECT_101, p=0.7),
        A.HorizontalFlip(p=0.5),
        A.VerticalFlip(p=0.5),
        A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.2, p=0.7),
    ], seed=seed)
