"""The registry: one entry per connector, URL dispatch, credentials kept out of labels."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from engine.data import sources
from engine.data.sources import CONNECTORS, SourceRequest, connector_for, default_name
from engine.data.sources.base import PasswordRequired, local_path, redact_url, scrub
from engine.errors import DataError


def test_every_connector_is_registered_once() -> None:
    assert CONNECTORS.names() == ("sqlite", "duckdb", "postgresql", "http", "qlib")
    schemes = [s for c in CONNECTORS.entries() for s in c.schemes]
    assert len(schemes) == len(set(schemes))
    for connector in CONNECTORS.entries():
        assert connector_for(connector.example) is connector


def test_declared_form_fields_fill_request_fields() -> None:
    """Every input a connector declares fills a SourceRequest field and has catalogue text
    (the form is drawn from these declarations)."""
    from dataclasses import fields

    from engine import i18n

    request_fields = {f.name for f in fields(SourceRequest)}
    for connector in CONNECTORS.entries():
        assert i18n.has(connector.label_key), connector.name
        for field in connector.fields:
            assert field.target in request_fields, (connector.name, field)
            assert i18n.has(field.label_key), (connector.name, field.label_key)
    assert [f.kind for f in CONNECTORS.get("postgresql").fields] == ["secret", "table_or_query"]
    assert CONNECTORS.get("postgresql").keyring_key is not None
    assert all(CONNECTORS.get(n).keyring_key is None for n in ("sqlite", "http", "qlib"))


@pytest.mark.parametrize(("url", "name"), [
    ("sqlite:///tmp/x.db", "sqlite"), ("SQLITE:///tmp/x.db", "sqlite"),
    ("duckdb:///x.duckdb", "duckdb"), ("postgres://u@h/db", "postgresql"),
    ("postgresql://u@h:5432/db", "postgresql"), ("https://intranet/x.csv", "http"),
    ("qlib:///data/cn?universe=csi300", "qlib"),
])
def test_dispatch(url: str, name: str) -> None:
    assert connector_for(url).name == name


def test_unsupported_sources_are_named() -> None:
    with pytest.raises(DataError, match="unsupported source 'mysql'; use one of: sqlite:///"):
        connector_for("mysql://root:pw@host/db")
    with pytest.raises(DataError, match=r"unsupported source '\(no scheme\)'"):
        connector_for("/just/a/path.db")
    with pytest.raises(DataError) as info:
        connector_for("ftp://bob:hunter22@host/x")
    assert "hunter22" not in str(info.value)


def test_labels_and_messages_never_hold_secrets() -> None:
    request = SourceRequest("postgresql://bob:hunter22@db.local:5432/market?sslmode=disable",
                            table="prices", password="other-pw", token="tok-abc")
    assert request.label() == "postgresql://bob@db.local:5432/market?sslmode=disable " \
                              "(table prices)"
    assert "hunter22" not in repr(request) and "other-pw" not in repr(request)
    assert "tok-abc" not in repr(request)
    text = scrub("failed for hunter22 / other-pw / tok-abc at " + request.url, request)
    assert "hunter22" not in text and "other-pw" not in text and "tok-abc" not in text
    assert redact_url("http://h/x.csv?api_key=k123&day=1") == "http://h/x.csv?api_key=***&day=1"
    long_query = SourceRequest("sqlite:///x.db", query="SELECT " + "a, " * 60 + "b FROM t")
    assert long_query.label().endswith("...)")


def test_paths_from_urls(tmp_path: Path) -> None:
    assert local_path("sqlite:///abs/dir/x.db") == Path("/abs/dir/x.db")
    assert local_path("sqlite:relative/x.db") == Path("relative/x.db")
    assert local_path("duckdb:///C:/data/x.duckdb") == Path("C:/data/x.duckdb")
    assert local_path("qlib:///data/my%20qlib?universe=csi300") == Path("/data/my qlib")
    with pytest.raises(DataError, match="no file path"):
        local_path("sqlite://")


def test_default_names() -> None:
    assert default_name(SourceRequest("sqlite:///a/market.db", table="research.daily")) == "daily"
    assert default_name(SourceRequest("duckdb:///a/market.duckdb", query="SELECT 1")) == "market"
    assert default_name(SourceRequest("http://h/api/prices.csv")) == "prices"
    assert default_name(SourceRequest("qlib:///data/cn_data/?universe=csi300")) == "cn_data"


def test_a_password_prompt_is_offered_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str | None] = []

    def fake_read(request: SourceRequest, limit: int | None) -> object:
        calls.append(request.password)
        if request.password != "right":
            raise PasswordRequired("postgresql://u@h/db: the password is required", "k")
        return sources.RawTable  # any marker object

    patched = dataclasses.replace(connector_for("postgresql://u@h/db"), read=fake_read)
    stored: dict[str, str] = {}
    monkeypatch.setattr(sources.credentials, "store", lambda k, p: stored.setdefault(k, p))
    with pytest.raises(DataError, match="give the password"):
        sources._with_password(SourceRequest("postgresql://u@h/db"), None,
                               lambda r: patched.read(r, None), True)
    with pytest.raises(DataError, match="no password given"):
        sources._with_password(SourceRequest("postgresql://u@h/db"), lambda _: None,
                               lambda r: patched.read(r, None), True)
    sources._with_password(SourceRequest("postgresql://u@h/db"), lambda _: "right",
                           lambda r: patched.read(r, None), True)
    assert stored == {"k": "right"}
