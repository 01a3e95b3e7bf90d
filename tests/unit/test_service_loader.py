"""The clients' data loader finds a service's model without listing every service first, and
otherwise answers as botocore's own loader does (`soorma.service_loader`)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from botocore.exceptions import UnknownServiceError
from botocore.loaders import Loader
from botocore.session import get_session

from soorma import clients
from soorma.service_loader import ServiceNames, service_loader


@pytest.fixture
def fresh_clients(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    clients.reset()
    yield clients
    clients.reset()


def count_listings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The directories `os.listdir` reads from now on."""
    listed: list[str] = []
    real = os.listdir

    def listing(path: Any = ".") -> list[str]:
        listed.append(str(path))
        return real(path)

    monkeypatch.setattr(os, "listdir", listing)
    return listed


def test_a_client_is_made_without_walking_every_service(monkeypatch, fresh_clients) -> None:
    listed = count_listings(monkeypatch)
    dynamodb = fresh_clients.client("dynamodb")
    assert dynamodb.meta.service_model.service_name == "dynamodb"
    assert dynamodb.meta.region_name == "us-east-1"
    # botocore's own loader lists the data directory and then each of its 445 services' own
    assert 0 < len(listed) < 20, listed


def test_botocores_own_loader_walks_them_all(monkeypatch) -> None:
    """What the one above is measured against: the same client from a plain session."""
    listed = count_listings(monkeypatch)
    get_session().create_client("dynamodb", region_name="us-east-1")
    assert len(listed) > 400


def test_an_unknown_service_is_botocores_error_naming_the_known_ones(fresh_clients) -> None:
    with pytest.raises(UnknownServiceError) as raised:
        fresh_clients.client("dynamo")
    assert "dynamodb" in str(raised.value) and "events" in str(raised.value)


def test_the_names_are_botocores_list_read_lazily() -> None:
    loader = service_loader(get_session())
    names = ServiceNames(loader, "service-2")
    assert "events" in names and "sqs" in names and "scheduler" in names
    for odd in ("", "nope", "../botocore", ".", "dynamodb/2012-08-10", None, 3):
        assert odd not in names
    full = Loader().list_available_services("service-2")
    assert list(names) == full and len(names) == len(full) and names[0] == full[0]


def test_an_aws_data_path_is_searched_as_botocore_would(tmp_path, monkeypatch) -> None:
    """A model of one's own under `AWS_DATA_PATH` (botocore's customisation point) is found."""
    model = tmp_path / "myservice" / "2026-01-01"
    model.mkdir(parents=True)
    (model / "service-2.json").write_text('{"metadata": {}, "operations": {}, "shapes": {}}')
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    loader = service_loader(get_session())
    assert "myservice" in ServiceNames(loader, "service-2")
    assert loader.load_service_model("myservice", "service-2")["operations"] == {}
