"""Soorma dev tools: the `soorma` CLI, the local cloud on moto, pytest fixtures. Never shipped in the layer."""
