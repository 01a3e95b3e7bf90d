"""The moto versions the patches were checked against, and the guard that refuses any other.

Each patch replaces a moto function with one that must behave the same; a moto release may change
the function replaced, so the patches run only on a version they were checked against
(`tests/integration/test_localcloud_patches.py` compares patched and plain moto).
"""

from __future__ import annotations

from importlib.metadata import version

#: Versions `tests/integration/test_localcloud_patches.py` passed on (the `dev` extra pins one).
SUPPORTED_MOTO_VERSIONS = ("5.2.5",)


class UnsupportedMotoVersionError(RuntimeError):
    """The installed moto is not one the patches were checked against."""


def installed_moto_version() -> str:
    """The version of the installed moto distribution."""
    return version("moto")


def check_moto_version(installed: str) -> None:
    """Raise `UnsupportedMotoVersionError` (one line: the versions, and what to do) unless
    `installed` is a supported moto version."""
    if installed in SUPPORTED_MOTO_VERSIONS:
        return
    supported = ", ".join(SUPPORTED_MOTO_VERSIONS)
    raise UnsupportedMotoVersionError(
        f"moto {installed} is installed, but the local cloud's moto patches were checked against "
        f"moto {supported} only: install it (pip install 'soorma-serverless[dev]' or "
        f"'moto=={SUPPORTED_MOTO_VERSIONS[-1]}'), or run plain moto without the patches "
        "(LocalCloud(moto_patches=False), or the moto server's --no-patches)"
    )
