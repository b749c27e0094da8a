"""Registries: the one list of each thing, and the developer guide's tables rendered from them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine import i18n
from engine.errors import ConfigError
from engine.registry import Choice, Registry, resolve
from engine.registry_docs import reference_markdown

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "developer-guide.md"


def test_guide_tables_are_generated_from_the_registries() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    match = re.search(r"<!-- BEGIN REGISTRIES[^>]*-->\n(.*?)\n<!-- END REGISTRIES -->", text,
                      re.S)
    assert match, "REGISTRIES section missing from docs/developer-guide.md"
    assert match.group(1) == reference_markdown(), (
        "regenerate the section with engine.registry_docs.reference_markdown()")


def test_register_refuses_a_second_entry_and_unregisters_after_a_block() -> None:
    reg: Registry[Choice] = Registry("colour", "colour", (Choice("red", "x.red", "Red"),))
    with pytest.raises(ValueError, match="already registered"):
        reg.register(Choice("red", "x.red"))
    with pytest.raises(ValueError, match="lower case"):
        reg.register(Choice("Blue", "x.blue"))
    with reg.registered(Choice("blue", "x.blue", "Blue")):
        assert reg.names() == ("red", "blue")
    assert reg.names() == ("red",)


def test_an_unknown_name_lists_the_choices_in_the_users_language() -> None:
    reg: Registry[Choice] = Registry("colour", "colour", (Choice("red", "x.red"),
                                                         Choice("blue", "x.blue")))
    with pytest.raises(ConfigError) as err:
        reg.check("green")
    assert str(err.value) == "unknown colour 'green'; choose one of red, blue"
    assert err.value.code == "config_unknown_choice"
    assert "red, blue" in i18n.render("errors", err.value.code, err.value.params, "ko")


def test_labels_come_from_the_catalogue_or_the_entry() -> None:
    reg: Registry[Choice] = Registry("device", "device", (
        Choice("cpu", "mining.device_cpu"), Choice("tpu", "plugin.tpu", "Tensor unit"),
        Choice("npu", "plugin.npu")))
    assert reg.labels(i18n.Translator("ko")) == {"cpu": "CPU", "tpu": "Tensor unit",
                                                 "npu": "npu"}


def test_resolve_imports_a_named_object_once_used() -> None:
    assert resolve("engine.registry:Registry") is Registry
    assert resolve(len) is len
