"""Data sources (labelled folder, CheXpert, ISIC, MedMNIST, DICOM), phantoms, transforms and the Dataset."""

from medxai.data.dataset import ImageDataset
from medxai.data.decode import read_frames, read_image
from medxai.data.load import load_dataset
from medxai.data.records import DatasetSpec, ImageRecord

__all__ = ["DatasetSpec", "ImageDataset", "ImageRecord", "load_dataset", "read_frames", "read_image"]
