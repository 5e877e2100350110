"""Header synonym tables as reviewed data, extended by the user without code."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import payments_csv

from workbench.configuration import ConfigError
from workbench.ingest import headers
from workbench.ingest.sources import SERVICES, _common
from workbench.store.workspace import Workspace


def test_fold_ignores_case_accents_spacing_and_punctuation() -> None:
    assert headers.fold("E-mail adres") == headers.fold("e_mailadres") == "emailadres"
    assert headers.fold("Ordered byCode") == "orderedbycode"
    assert headers.fold("Naam rekeninghouder ") == headers.fold("NAAM-REKENINGHOUDER")
    assert headers.fold("Geboortedatum (dd-mm-jjjj)") == "geboortedatumddmmjjjj"


@pytest.mark.parametrize("service", [s for s in sorted(SERVICES) if headers.has_tables(s)])
def test_builtin_tables_are_valid_and_say_what_they_rest_on(service: str) -> None:
    for name, table in headers.builtin(service).items():
        assert table.title and table.evidence, f"{service}.{name} lacks title or evidence"
        assert table.required, f"{service}.{name} needs required fields to be detected"


def test_user_synonym_maps_an_unknown_column(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    lines = payments_csv(path).read_text(encoding="utf-8-sig").splitlines()
    path.write_text("\n".join([lines[0].replace("Consumer name", "Naam betaler"), *lines[1:]]))
    ws = Workspace(tmp_path / "ws")
    assert "Naam betaler" in ws.read_files([path])[0].extract.unmapped
    ws.path.mkdir()
    ws.mappings.write_text('[mollie.payments_csv.columns]\nname = ["Naam betaler"]\n')
    _common._load.cache_clear()
    extract = ws.read_files([path])[0].extract
    assert extract.column_map["Naam betaler"] == "name"
    assert "Jan Jansen" in extract.parties["name"].tolist()


@pytest.mark.parametrize("text,message", [
    ("[mollie.payments_csv.columns]\nnaam = ['X']\n", "'naam' is not a canonical field"),
    ("[mollie.payments_csv]\ncolumns = 3\n",
     "mollie.payments_csv.columns: Input should be a valid dictionary"),
    ("[mollie.payments_csv.columns]\nname = 'X'\n",
     "mollie.payments_csv.columns.name: Input should be a valid list"),
    ("[mollie.payments_csv.colums]\nname = ['X']\n",
     "mollie.payments_csv.colums: Extra inputs are not permitted"),
    ("[mollie\n", "not valid TOML"),
])
def test_bad_mapping_file_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "mappings.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        headers.tables("mollie", path)
    assert str(path) in str(info.value)
