"""The `treadle` command line (Typer + Rich)."""
