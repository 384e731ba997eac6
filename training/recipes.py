"""Named training recipes: the settings `medxai train` uses for what is not given on its command line.

- `paper`: the seed paper's §3.6 settings (resnet50_attention, 224 px, lr 1e-4, up to 100 epochs, L_exp at
  alpha 0.2). They are for fine-tuning ImageNet weights, so they are the default with `--pretrained`.
- `scratch`: random initialisation on a CPU, chosen by measurement on brain MRI validation folds (docs/evidence/recipe.md): resnet18_attention at 160 px, lr 1e-3 with cosine annealing, 24 epochs, no
  L_exp (it doubled the step time and did not lift the maps), no lesion guidance; about 17 minutes on brain MRI
  on two Zen 4 cores. At these settings attention guidance cost accuracy (0.908 against 0.925) and made the
  fused map less faithful (deletion AUC 0.118 against 0.094, Wilcoxon p 0.03 over 30 slices) while lifting the
  CAM; at 128 px it helped (docs/evidence/recipe.md, "Lesion guidance"): one seed each, so `--guidance attention` stays one flag
  away. The default without `--pretrained`: the paper's settings from random weights reached 0.808 held-out
  accuracy in 30 GPU epochs; this reaches 0.925 validation accuracy.
"""

from medxai.errors import UserError

RECIPES: dict[str, dict] = {
    "paper": {"model": "resnet50_attention", "image_size": 224, "epochs": 100, "lr": 1e-4, "alpha_exp": 0.2,
              "guidance": "none"},
    "scratch": {"model": "resnet18_attention", "image_size": 160, "epochs": 24, "lr": 1e-3, "alpha_exp": 0.0,
                "guidance": "none"},
}


def default_recipe(pretrained: str | None) -> str:
    """`paper` when ImageNet weights are given (what its settings were made for), else `scratch`."""
    return "paper" if pretrained else "scratch"


def resolve(recipe: str | None, pretrained: str | None, given: dict) -> tuple[str, dict]:
    """The recipe's name and its settings overridden by those `given` (None means not given). A recipe's
    attention guidance is dropped for a given model without an attention module (asking for it is refused).

    Raises UserError for an unknown recipe name."""
    name = recipe or default_recipe(pretrained)
    if name not in RECIPES:
        raise UserError(f"unknown --recipe '{name}'; choose one of: {', '.join(RECIPES)}")
    settings = {**RECIPES[name], **{key: value for key, value in given.items() if value is not None}}
    from medxai.models import has_attention  # the registry imports torchvision: not for the command line's help
    if given.get("guidance") is None and not has_attention(settings["model"]):
        settings["guidance"] = "none"
    return name, settings
