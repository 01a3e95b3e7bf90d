"""A botocore data loader that finds a service's model without listing every service first.

botocore's `Loader.load_service_model` asks `list_available_services(type_name)` only to check
that the service it loads is among them, and that list walks all 445 services' directories:
twice per cold start (service models, endpoint rule sets), ≈ 40 ms here. The loader of
`service_loader` answers that question by looking in the one service's directory; anything
that reads the whole list (an unknown service's error, which names every known one) gets
botocore's own listing. Imported on the first client, never on the import path.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import DataNotFoundError
from botocore.loaders import Loader


class ServiceNames:
    """The services a botocore loader knows for one model type, answered lazily.

    botocore's `Loader.load_service_model` asks `list_available_services(type_name)` only to
    check that the service it loads is among them, and that list walks every service's
    directory (two walks, ≈ 40 ms, per cold start). `name in ServiceNames(...)` looks in that
    one service's directory (`list_api_versions`); iterating, `len()` or indexing walks them all,
    as botocore would (an unknown service's error names every known one, as before).
    """

    def __init__(self, loader: Loader, type_name: str) -> None:
        self.loader, self.type_name = loader, type_name
        self._all: list[str] | None = None

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str) or not name or os.sep in name or name.startswith("."):
            return False
        try:
            return bool(self.loader.list_api_versions(name, self.type_name))
        except (DataNotFoundError, OSError):  # OSError: a data file's name, not a directory
            return False

    def all(self) -> list[str]:
        """Every known service, sorted: botocore's own listing."""
        if self._all is None:
            self._all = Loader.list_available_services(self.loader, self.type_name)
        return self._all

    def __iter__(self) -> Iterator[str]:
        return iter(self.all())

    def __len__(self) -> int:
        return len(self.all())

    def __getitem__(self, index: int) -> str:
        return self.all()[index]


class _ServiceLoader(Loader):  # type: ignore[misc]  # botocore is untyped
    """botocore's loader, answering `load_service_model`'s "is this service known?" with
    `ServiceNames`; any other caller of `list_available_services` gets botocore's list."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loading = threading.local()

    def load_service_model(
        self, service_name: str, type_name: str, api_version: str | None = None
    ) -> Any:
        self._loading.active = True
        try:
            return super().load_service_model(service_name, type_name, api_version)
        finally:
            self._loading.active = False

    def list_available_services(self, type_name: str) -> Any:
        if getattr(self._loading, "active", False):
            return ServiceNames(self, type_name)
        return super().list_available_services(type_name)


def service_loader(session: Any) -> Loader:
    """The session's loader as botocore would build it (its `data_path`, `AWS_DATA_PATH`)."""
    data_path = session.get_config_variable("data_path")
    if not data_path:
        return _ServiceLoader()
    paths = [os.path.expanduser(os.path.expandvars(p)) for p in data_path.split(os.pathsep)]
    return _ServiceLoader(extra_search_paths=paths)
