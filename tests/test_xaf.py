"""The shared XAF auditfile reader and the demo auditfile writer."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import xmlschema
from conftest import shared_file

from workbench import demo
from workbench.demo._xaf import write_xaf
from workbench.errors import InputError
from workbench.ingest.model import ExportKind
from workbench.ingest.sources import _common, _xaf

KIND = ExportKind("test", "xaf", "test auditfile")
NS = "http://www.auditfiles.nl/XAF/3.2"


@pytest.fixture(scope="module")
def auditfile(business: demo.Business, tmp_path_factory: pytest.TempPathFactory) -> Path:
    clients = business.clients_of("moneybird")
    invoices = [i for i in business.invoices if i.service == "moneybird"]
    return write_xaf(tmp_path_factory.mktemp("xaf") / "audit.xaf", business, "moneybird",
                     clients, invoices, "Moneybird")


def _xaf_text(relations: str, lines: str = "", software: str = "Testpakket",
              namespace: str = NS) -> str:
    header = f"<softwareDesc>{software}</softwareDesc>" if software else ""
    transactions = (
        "<transactions><linesCount>2</linesCount><totalDebit>121.00</totalDebit>"
        "<totalCredit>121.00</totalCredit><journal><jrnID>VK</jrnID><desc>Verkoop</desc>"
        "<transaction><nr>F1</nr><desc>Factuur F1</desc><periodNumber>3</periodNumber>"
        f"<trDt>2026-03-02</trDt>{lines}</transaction></journal></transactions>"
    ) if lines else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><auditfile xmlns="{namespace}"><header>'
        "<fiscalYear>2026</fiscalYear><startDate>2026-01-01</startDate>"
        "<endDate>2026-12-31</endDate><curCode>EUR</curCode><dateCreated>2026-11-01</dateCreated>"
        f"{header}</header><company><companyName>Firma</companyName>"
        "<taxRegistrationCountry>NL</taxRegistrationCountry><taxRegIdent>NL1</taxRegIdent>"
        f"<customersSuppliers>{relations}</customersSuppliers>{transactions}</company></auditfile>"
    )


RELATION = (
    "<customerSupplier><custSupID>K7</custSupID><custSupName>Bakkerij De Korf</custSupName>"
    "<contact>Eva de Vries</contact><telephone>06 12345678</telephone>"
    "<eMail>Eva@Example.COM</eMail><commerceNr>12345678</commerceNr>"
    "<streetAddress><streetname>Dorpsstraat</streetname><number>4</number>"
    "<numberExtension>a</numberExtension><city>Utrecht</city><postalCode>3511ab</postalCode>"
    "<country>NL</country></streetAddress>"
    "<bankAccount><bankAccNr>NL91 ABNA 0417 1643 00</bankAccNr><bankIdCd>ABNANL2A</bankIdCd>"
    "</bankAccount><bankAccount><bankAccNr>NL00BANK0000000000</bankAccNr></bankAccount>"
    "<loyaltyCard>K-42</loyaltyCard></customerSupplier>"
    "<customerSupplier><custSupID>P9</custSupID><custSupName>Jan Jansen</custSupName>"
    "</customerSupplier>"
)
LINES = (
    "<trLine><nr>1</nr><accID>1300</accID><docRef>F1</docRef><effDate>2026-03-02</effDate>"
    "<desc>Brood</desc><amnt>121.00</amnt><amntTp>D</amntTp><custSupID>K7</custSupID></trLine>"
    "<trLine><nr>2</nr><accID>8000</accID><docRef>F1</docRef><effDate>2026-03-02</effDate>"
    "<amnt>100.00</amnt><amntTp>C</amntTp><custSupID>K7</custSupID></trLine>"
    "<trLine><nr>3</nr><accID>1600</accID><docRef>F1</docRef><effDate>2026-03-02</effDate>"
    "<amnt>21.00</amnt><amntTp>C</amntTp></trLine>"
)


def _write(tmp_path: Path, text: str, name: str = "audit.xaf", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_demo_auditfile_is_valid_against_the_official_schema(auditfile: Path) -> None:
    schema = xmlschema.XMLSchema(str(shared_file("reference/XmlAuditfileFinancieel3.2.xsd")))
    schema.validate(str(auditfile))


def test_demo_auditfile_is_deterministic(business: demo.Business, auditfile: Path,
                                         tmp_path: Path) -> None:
    again = write_xaf(tmp_path / "again.xaf", business, "moneybird",
                      business.clients_of("moneybird"),
                      [i for i in business.invoices if i.service == "moneybird"], "Moneybird")
    assert again.read_bytes() == auditfile.read_bytes()


def test_demo_auditfile_reads_back(business: demo.Business, auditfile: Path) -> None:
    loaded = _common.load(auditfile)
    assert _xaf.is_xaf(loaded) and _xaf.software(loaded) == "Moneybird"
    extract = _xaf.read(loaded, KIND)
    clients = business.clients_of("moneybird")
    relations = extract.raw[extract.raw["record"].eq("customerSupplier")]
    assert len(relations) == len(clients) == len(extract.parties)
    assert extract.unmapped == []
    assert set(extract.parties["party_key"]) == {str(c.number) for c in clients}
    # every journal line is a raw row; those naming a relation are documents
    lines = extract.raw[extract.raw["record"].eq("trLine")]
    linked = lines["trLine/custSupID"].ne("")
    assert len(extract.documents) == linked.sum() > 0
    assert set(extract.documents["party_key"]) <= set(extract.parties["party_key"])
    assert extract.documents["doc_type"].eq("journal_line").all()
    assert extract.documents["currency"].eq("EUR").all()
    company = next(c for c in clients if c.kind == "company")
    party = extract.parties.set_index("party_key").loc[str(company.number)]
    assert party["company"] == company.company and party["party_type"] == "organisation"
    assert party["name"] == business.as_typed(company, "moneybird").full_name
    # a paid invoice: debit on receivables, and the bank line crediting it names the payer
    invoice = next(i for i in business.invoices if i.service == "moneybird"
                   and i.date.year == demo.TODAY.year and i.status == "paid")
    docs = extract.documents[extract.documents["reference"].eq(invoice.number)]
    assert float(invoice.amount_incl) in docs["amount"].tolist()
    assert -float(invoice.amount_excl) in docs["amount"].tolist()
    assert docs["doc_key"].str.startswith("VK/" + invoice.number).any()


def test_relation_fields_identifiers_and_unknown_elements(tmp_path: Path) -> None:
    path = _write(tmp_path, _xaf_text(RELATION, LINES))
    extract = _xaf.read(_common.load(path), KIND)
    parties = extract.parties.set_index("party_key")
    bakery = parties.loc["K7"]
    assert (bakery["company"], bakery["name"]) == ("Bakkerij De Korf", "Eva de Vries")
    assert bakery["street"] == "Dorpsstraat 4 a" and bakery["postcode"] == "3511 AB"
    assert bakery["email"] == "eva@example.com" and bakery["phone"] == "+31612345678"
    assert bakery["iban"] == "NL91ABNA0417164300" and bakery["kvk_number"] == "12345678"
    assert parties.loc["P9", "name"] == "Jan Jansen"
    assert parties.loc["P9", "party_type"] == "unknown"
    # the second bank account is its own column, flagged invalid and kept as typed
    ibans = extract.identifiers[extract.identifiers["kind"].eq("iban")].set_index("column")
    assert bool(ibans.loc["customerSupplier/bankAccount/bankAccNr", "valid"])
    assert not ibans.loc["customerSupplier/bankAccount[2]/bankAccNr", "valid"]
    assert ibans.loc["customerSupplier/bankAccount[2]/bankAccNr", "raw_value"] == "NL00BANK0000000000"
    # an element outside the schema stays in raw and shows as unmapped
    assert extract.unmapped == ["customerSupplier/loyaltyCard"]
    assert extract.raw.loc[1, "customerSupplier/loyaltyCard"] == "K-42"
    # lines: debit positive, credit negative; the unlinked VAT line is raw only
    assert len(extract.raw) == 5 and len(extract.documents) == 2
    documents = extract.documents.set_index("doc_key")
    assert documents.loc["VK/F1/1", "amount"] == 121.0
    assert documents.loc["VK/F1/2", "amount"] == -100.0
    assert documents.loc["VK/F1/1", "description"] == "Brood"
    assert documents.loc["VK/F1/2", "description"] == "Factuur F1"  # the transaction's text
    assert str(documents.loc["VK/F1/1", "date"].date()) == "2026-03-02"
    assert extract.documents["source_row"].tolist() == [3, 4]


def test_other_xaf_versions_and_encodings(tmp_path: Path) -> None:
    older = _write(tmp_path, _xaf_text(RELATION, namespace="http://www.auditfiles.nl/XAF/3.1"),
                   "old.xaf")
    assert _xaf.is_xaf(_common.load(older))
    latin = _xaf_text(RELATION.replace("Jan Jansen", "Zoë Müller")).replace("UTF-8", "ISO-8859-1")
    path = _write(tmp_path, latin, "latin.xaf", encoding="latin-1")
    parties = _xaf.read(_common.load(path), KIND).parties.set_index("party_key")
    assert parties.loc["P9", "name"] == "Zoë Müller"


def test_software_is_empty_when_not_said(tmp_path: Path) -> None:
    path = _write(tmp_path, _xaf_text(RELATION, software=""))
    assert _xaf.is_xaf(_common.load(path)) and _xaf.software(_common.load(path)) == ""


@pytest.mark.parametrize("text", [
    '<?xml version="1.0"?><auditfile xmlns="urn:other"><header/></auditfile>',
    f'<?xml version="1.0"?><report xmlns="{NS}"><header/></report>',
    '<?xml version="1.0"?><auditfile><header/></auditfile>',
])
def test_wrong_root_is_not_an_auditfile(tmp_path: Path, text: str) -> None:
    loaded = _common.load(_write(tmp_path, text))
    assert not _xaf.is_xaf(loaded)
    with pytest.raises(InputError, match="not an XAF auditfile"):
        _xaf.read(loaded, KIND)


def test_truncated_auditfile_names_the_line(tmp_path: Path, auditfile: Path) -> None:
    text = auditfile.read_text("utf-8")
    path = _write(tmp_path, text[: len(text) // 2])
    loaded = _common.load(path)
    assert _xaf.is_xaf(loaded)  # recognised from its root, so the error can say what is wrong
    with pytest.raises(InputError, match="truncated") as error:
        _xaf.read(loaded, KIND)
    assert error.value.row and error.value.row > 10


def test_entity_expansion_is_refused(tmp_path: Path) -> None:
    bomb = ('<?xml version="1.0"?><!DOCTYPE auditfile [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            f'<auditfile xmlns="{NS}"><header><softwareDesc>&b;</softwareDesc></header></auditfile>')
    loaded = _common.load(_write(tmp_path, bomb))
    assert not _xaf.is_xaf(loaded) and _xaf.software(loaded) == ""
    with pytest.raises(InputError, match="unsafe XML refused"):
        _xaf.read(loaded, KIND)


def test_auditfile_without_company_or_relations(tmp_path: Path) -> None:
    no_company = f'<auditfile xmlns="{NS}"><header><fiscalYear>2026</fiscalYear></header></auditfile>'
    with pytest.raises(InputError, match="no 'company'"):
        _xaf.read(_common.load(_write(tmp_path, no_company, "a.xaf")), KIND)
    with pytest.raises(InputError, match="no relations and no journal lines"):
        _xaf.read(_common.load(_write(tmp_path, _xaf_text(""), "b.xaf")), KIND)


# --------------------------------------------------------------------------------------------
# every version, the system from softwareDesc, opening balance and subledgers, streaming


@pytest.fixture(scope="module")
def versions(business: demo.Business, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo auditfile in each version, with opening balance and subledgers where the version
    has them, written by a package the workbench has no module for."""
    clients = business.clients_of("moneybird")
    invoices = [i for i in business.invoices if i.service == "moneybird"]
    folder = tmp_path_factory.mktemp("versions")
    return {v: write_xaf(folder / f"audit-{v}.xaf", business, "moneybird", clients, invoices,
                         "Twinfield Online 2026.1", version=v, subledgers=True)
            for v in ("3.1", "3.2", "3.2.1", "4.0")}


def _root_namespace(path: Path) -> str:
    head = path.read_text("utf-8")[:400]
    return head.split('xmlns="', 1)[1].split('"', 1)[0]


@pytest.mark.parametrize("version", ["3.1", "3.2", "3.2.1", "4.0"])
def test_each_version_reads_its_relations_and_lines(versions: dict[str, Path], version: str) -> None:
    path = versions[version]
    loaded = _common.load(path)
    assert _xaf.is_xaf(loaded) and _xaf.version(loaded) == version
    assert _xaf.VERSIONS[_root_namespace(path)] == version  # the namespace decides the version
    extract = _xaf.read(loaded, KIND)
    text = path.read_text("utf-8")
    records = extract.raw["record"].value_counts()
    assert records["customerSupplier"] == text.count("<customerSupplier>")
    assert records["trLine"] == text.count("<trLine>")
    assert not extract.unmapped
    # an e-mail address of the file reaches its relation
    first_email = text.split("<eMail>", 1)[1].split("</eMail>", 1)[0]
    assert first_email.lower() in set(extract.parties["email"])


def test_version_4_counterparty_account_and_own_account(versions: dict[str, Path]) -> None:
    path = versions["4.0"]
    text = path.read_text("utf-8")
    assert "<bankAccount>" not in text and "<contact>" not in text and "<subledgers>" not in text
    extract = _xaf.read(_common.load(path), KIND)
    assert extract.column_map["trLine/offsetBankAccNr"] == "iban"
    own = [c for c in extract.column_map if c.endswith("bankAccNr") and c.startswith("journal")]
    assert all(extract.column_map[c] != "iban" for c in own)
    account = text.split("<offsetBankAccNr>", 1)[1].split("</offsetBankAccNr>", 1)[0]
    assert account in set(extract.raw["trLine/offsetBankAccNr"])
    assert "trLine/offsetBankAccNr" in extract.personal_columns


def test_system_is_taken_from_software_desc() -> None:
    assert _xaf.system("Exact Online") == "exact"
    assert _xaf.system("MoneyBird") == "moneybird"
    assert _xaf.system("e-Boekhouden.nl") == "e-boekhouden"
    assert _xaf.system("SnelStart 12.4") == "snelstart"
    assert _xaf.system("AFAS Profit") == "afas"
    assert _xaf.system("2026.1") == "" and _xaf.system("") == ""


def test_unknown_software_imports_under_its_own_name(versions: dict[str, Path], tmp_path: Path) -> None:
    extract = _xaf.read(_common.load(versions["3.2"]), ExportKind("exact", "xaf", "XAF auditfile"))
    assert extract.kind.service == "twinfield" and extract.kind.name == "xaf"
    assert "Twinfield Online 2026.1" in extract.kind.title
    # without softwareDesc the file stays with the service that read it (--source)
    silent = _write(tmp_path, _xaf_text(RELATION, LINES, software=""))
    assert _xaf.read(_common.load(silent), ExportKind("exact", "xaf", "x")).kind.service == "exact"


def test_opening_balance_and_subledger_lines(versions: dict[str, Path]) -> None:
    path = versions["3.2"]
    text = path.read_text("utf-8")
    extract = _xaf.read(_common.load(path), KIND)
    records = extract.raw["record"].value_counts()
    assert records["obLine"] == text.count("<obLine>") == 2
    assert records["obSbLine"] == text.count("<obSbLine>") > 0
    assert records["sbLine"] == text.count("<sbLine>") > 0
    # the first open item: its relation, invoice, due date and amount, as the file has them
    item = text.split("<obSbLine>", 1)[1].split("</obSbLine>", 1)[0]

    def value(name: str) -> str:
        return item.split(f"<{name}>", 1)[1].split(f"</{name}>", 1)[0]

    documents = extract.documents.set_index("doc_key")
    line = documents.loc[f"ob/CU/{value('nr')}"]
    assert line["party_key"] == value("custSupID") and line["reference"] == value("invRef")
    assert str(line["due_date"].date()) == value("invDueDt")
    assert line["amount"] == float(value("amnt"))
    assert extract.column_map["obLine/amnt"] == "other"  # a ledger line, no relation's
    sb = documents[documents.index.str.startswith("sb/")]
    assert len(sb) == text.count("<sbLine>") and (sb["amount"] < 0).any()  # payments credit


def test_version_4_opening_balance_without_subledgers(versions: dict[str, Path]) -> None:
    extract = _xaf.read(_common.load(versions["4.0"]), KIND)
    assert set(extract.raw["record"]) == {"customerSupplier", "trLine", "obLine"}


def _big_auditfile(path: Path, lines: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        out.write(_xaf_text(RELATION).split("</customersSuppliers>")[0] + "</customersSuppliers>"
                  "<transactions><linesCount>0</linesCount><totalDebit>0</totalDebit>"
                  "<totalCredit>0</totalCredit><journal><jrnID>VK</jrnID><desc>Verkoop</desc>")
        for n in range(lines):
            out.write(f"<transaction><nr>{n}</nr><periodNumber>1</periodNumber><trDt>2026-01-02</trDt>"
                      f"<trLine><nr>1</nr><accID>1300</accID><docRef>F{n}</docRef>"
                      f"<effDate>2026-01-02</effDate><desc>Regel {n}</desc><amnt>1.00</amnt>"
                      "<amntTp>D</amntTp><custSupID>K7</custSupID></trLine></transaction>")
        out.write("</journal></transactions></company></auditfile>")
    return path


def test_auditfile_is_read_streaming(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tree never holds more than a few lines: each element is dropped once read."""
    path = _big_auditfile(tmp_path / "big.xaf", 3000)
    widest = {"children": 0}
    ended = _xaf._ended

    def watch(loaded, auditfile, element, parents):  # noqa: ANN001 - the module's own signature
        ended(loaded, auditfile, element, parents)
        widest["children"] = max([widest["children"], *(len(p) for p in parents)])

    monkeypatch.setattr(_xaf, "_ended", watch)
    extract = _xaf.read(_common.load(path), KIND)
    assert (extract.raw["record"] == "trLine").sum() == 3000
    assert widest["children"] < 200  # without dropping, the journal would hold 3,000


def test_auditfile_records_beyond_the_row_limit(tmp_path: Path) -> None:
    from workbench.ingest import limits

    path = _big_auditfile(tmp_path / "big.xaf", 50)
    with limits.using(replace(limits.defaults(), max_rows=20)),\
            pytest.raises(InputError, match="max_rows = 20"):
        _xaf.read(_common.load(path), KIND)
