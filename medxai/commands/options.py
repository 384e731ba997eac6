"""Options several commands share, defined once so they read and check the same everywhere."""

import typer

from medxai.precision import PRECISIONS


def _check_precision(value: str) -> str:
    if value not in PRECISIONS:
        raise typer.BadParameter(f"'{value}' is not one of {', '.join(PRECISIONS)}")
    return value


def precision_option() -> str:
    """`--precision auto|fp32|bf16` (env MEDXAI_PRECISION): auto picks bf16 only where the device does it natively."""
    return typer.Option("auto", envvar="MEDXAI_PRECISION", callback=_check_precision,
                        help="auto (bf16 only where the CPU or GPU computes it natively), fp32 or bf16.")
