"""The README's quickstart."""
