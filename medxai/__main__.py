"""`python -m medxai` runs the CLI."""

from medxai.cli import main

main()
