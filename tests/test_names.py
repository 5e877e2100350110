"""One reviewed list each of name particles, titles, legal forms and business words, used alike by
name discovery and by subject linkage."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.configuration import ConfigError
from workbench.datamap import linkage
from workbench.ingest import names
from workbench.ingest.discovery import looks_like_name


def test_the_shipped_lists_load_and_say_what_they_rest_on() -> None:
    shipped = names.lists()
    for entry in (shipped.particles, shipped.titles, shipped.legal_forms, shipped.business_words):
        assert len(entry.evidence) > 80
        assert entry.words
    assert {"van", "der", "ter", "vd"} <= names.particles()
    assert {"bv", "vof", "stichting", "gmbh"} <= names.legal_forms() <= names.business_words()


@pytest.mark.parametrize("particle", sorted(names.particles()))
def test_discovery_and_linkage_know_the_same_particles(particle: str) -> None:
    full = f"Jan {particle} Berg"
    assert looks_like_name(full)
    given, family = linkage.split_name(full)
    assert given == "jan"
    assert linkage.family_core(family) == "berg"


@pytest.mark.parametrize("form", sorted(names.legal_forms()))
def test_discovery_and_linkage_know_the_same_legal_forms(form: str) -> None:
    written = form.upper() if len(form) <= 3 else form.capitalize()
    assert not looks_like_name(f"Pieter Jansen {written}")
    assert linkage.org_name(f"Pieter Jansen {written}") == "pieter jansen"


def test_legal_forms_are_read_with_dots_and_accents() -> None:
    assert not looks_like_name("Jansen Meijer B.V.")
    assert not looks_like_name("Coöperatie Veldzicht U.A.")
    assert linkage.org_name("Coöperatie Veldzicht U.A.") == "veldzicht"


def test_titles_and_business_words() -> None:
    assert looks_like_name("Dhr. Jan de Vries")
    assert not looks_like_name("Bakkerij De Vries")


def test_a_list_off_the_layout_is_refused_with_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "names.toml"
    path.write_text('[particles]\nevidence = "x"\nwords = ["Van", "v.d."]\n'
                    '[titles]\nwords = ["dhr"]\n'
                    '[legal_forms]\nevidence = "x"\nwords = ["bv"]\n', "utf-8")
    with pytest.raises(ConfigError) as caught:
        names.lists(path)
    problems = "\n".join(caught.value.problems)
    assert f"{path}: particles.words: Value error, words must be lower case ASCII without dots" in problems
    assert f"{path}: titles.evidence: Field required" in problems
    assert f"{path}: business_words: Field required" in problems
