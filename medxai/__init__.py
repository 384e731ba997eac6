"""medxai core: models, data, explainers and metrics shared by every component."""

__version__ = "0.1.0"
