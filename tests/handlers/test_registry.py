"""The handler registry finds handler modules by itself: no list of modules to edit."""

from __future__ import annotations

import pkgutil
import sys

import handlers
import handlers.dispatch  # noqa: F401  (loads every handler module)
from handlers import HANDLERS, load_all
from intents.lexicon import INTENTS


def test_every_module_of_the_package_is_imported():
    names = {i.name for i in pkgutil.walk_packages(handlers.__path__, "handlers.")}
    assert names and names <= set(sys.modules)


def test_every_intent_of_the_lexicon_has_a_handler():
    assert INTENTS and set(INTENTS) <= set(HANDLERS)


def test_a_new_module_is_found_without_listing_it(tmp_path, monkeypatch):
    package = tmp_path / "extra_handlers"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "lost_pet.py").write_text(
        "from handlers import handles\n\n"
        "@handles('lost_pet_test')\n"
        "def lost_pet(turn):\n"
        "    return 'found'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        modules = load_all("extra_handlers")
        assert [m.__name__ for m in modules] == ["extra_handlers.lost_pet"]
        assert HANDLERS["lost_pet_test"](None) == "found"
    finally:
        HANDLERS.pop("lost_pet_test", None)
        for name in ("extra_handlers", "extra_handlers.lost_pet"):
            sys.modules.pop(name, None)
