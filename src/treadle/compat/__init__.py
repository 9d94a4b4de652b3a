"""Facades with the seed projects' exact names, so their examples run on treadle unchanged but for imports.

Each facade only maps names and arguments onto treadle's own API and holds no logic of its
own; the README's "Coming from …" sections map every name back, for moving off a facade.
"""
