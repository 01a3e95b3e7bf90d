"""Soorma dev tools: the `soorma` CLI, the local cloud on moto, pytest fixtures.

Never shipped in the layer; nothing in the layer or in `infra/` imports it.
"""
