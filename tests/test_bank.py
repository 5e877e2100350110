"""The house bank's statements: MT940 in every Dutch bank's layout and CAMT.053, small files
written here; which file is Mollie's and which the bank's; own accounts and service lines."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from workbench.errors import InputError
from workbench.ingest import sources, tabular
from workbench.ingest.model import FIELDS
from workbench.ingest.sources import bank, mollie

OWN = "NL02ABNA0123456789"


def write(path: Path, text: str) -> Path:
    path.write_bytes(text.replace("\n", "\r\n").encode("latin-1"))
    return path


def statement(head: str, account: str, lines: list[str], tail: str = "-") -> str:
    return "\n".join([*head.split("\n"), ":20:STMT1", f":25:{account}", ":28C:1/1",
                      ":60F:C260101EUR100,00", *lines, ":62F:C260105EUR400,00", tail, ""])


# (style, text, name, iban, amount, date)
STYLES = [
    ("ABN AMRO SEPA", statement("ABNANL2A\n940\nABNANL2A", "NL02ABNA0123456789", [
        ":61:2601020102C250,00N541NONREF",
        ":86:/TRTP/SEPA OVERBOEKING/IBAN/NL91ABNA0417164300/BIC/ABNANL2A/NAME/Jan Jans",
        "en/REMI/Factuur 2026-001/EREF/NOTPROVIDED"]),
     "Jan Jansen", "NL91ABNA0417164300", 250.0, "2026-01-02"),
    ("ING SWIFT blocks", statement("{1:F01INGBNL2ABXXX0000000000}\n{2:I940INGBNL2AXXXN}\n{4:",
                                   "NL69INGB0123456789EUR", [
        ":61:2601030103C12,50NTRFEREF//00000000001005",
        "/TRCD/00100/",
        ":86:/EREF/F2026-7//CNTP/NL20INGB0001234567/INGBNL2A/P. de Vries/AMSTERDAM//REMI/USTD//F",
        "actuur 7/"], tail="-}"),
     "P. de Vries", "NL20INGB0001234567", 12.5, "2026-01-03"),
    ("Rabobank", ":940:\n" + statement("", "NL71RABO0123456789", [
        ":61:260104D000000000040,00N102EREF",
        "NL39RABO0300065264",
        ":86:/EREF/X1/BENM//NAME/Klaas Bakker/REMI/Huur januari/ISDT/2026-01-04"]).lstrip("\n"),
     "Klaas Bakker", "NL39RABO0300065264", -40.0, "2026-01-04"),
    ("Triodos", statement("", "TRIODOSBANK/0390123456", [
        ":61:260102C75,00NET NONREF",
        ":86:000>100000000000",
        ">20RABONL2U",
        ">21NL39RABO0300065264",
        ">22MARIJKE DE GROOT DORPSS>23TRAAT 1 UTRECHT",
        ">24BETALING FACTUUR 12>310390123456"]),
     "MARIJKE DE GROOT DORPSS TRAAT 1 UTRECHT", "NL39RABO0300065264", 75.0, "2026-01-02"),
    ("Knab", statement("{1:F01KNABNL2HAXXX0000000000}{2:I940KNABNL2HXXXXN3020}{4:", "NL92KNAB0123123123", [
        ":61:2601020102C10,NTRFNONREF//AB1211111111111",
        ":86:BETALING FACTUUR 9",
        "REK: NL76INGB0444444444/NAAM: STICHTING DE HOOP"], tail="-}"),
     "STICHTING DE HOOP", "NL76INGB0444444444", 10.0, "2026-01-02"),
    ("SNS", statement("{1:F01SNSBNL2AXXXX0000000000}{2:O94000000000N}{3:}{4:", "NL16SNSB1234567809", [
        ":61:2601020102C150,00NOVBNL11RABO0987654321",
        "a. de wit",
        ":86:NL11RABO0987654321 a. de wit",
        "factuur 2026-3"], tail="-}{5:}"),
     "a. de wit", "NL11RABO0987654321", 150.0, "2026-01-02"),
    ("ASN", statement("{1:F01ASNBNL21XXXX0000000000}{2:O94000000000N}{3:}{4:", "NL08ASNB0123456789", [
        ":61:2601020102D19,95NIDBNL44INGB0000123456",
        "webwinkel b.v.",
        ":86:NL44INGB0000123456 webwinkel b.v.",
        "order 55"], tail="-}{5:}"),
     "webwinkel b.v.", "NL44INGB0000123456", -19.95, "2026-01-02"),
    ("bunq", statement("{1:F01BUNQNL2AXXXX0000000000}{2:I940BUNQNL2AXXXXN}{4:", "NL48BUNQ2025123456", [
        ":61:2601050105C60,00NTRFNONREF",
        ":86:/TRTP/SEPA OVERBOEKING/IBAN/DE89370400440532013000/BIC/COBADEFFXXX/NAME/Anna Sch",
        "midt/REMI/Rechnung 4"], tail="-}"),
     "Anna Schmidt", "DE89370400440532013000", 60.0, "2026-01-05"),
]


@pytest.mark.parametrize(("style", "text", "name", "iban", "amount", "day"), STYLES,
                         ids=[s[0] for s in STYLES])
def test_mt940_of_each_bank(tmp_path, style, text, name, iban, amount, day):
    path = write(tmp_path / "statement.sta", text)
    assert sources.detect(path)[1] == bank.MT940  # and no other service claims it
    extract = bank.read(path)
    party = extract.parties.iloc[0]
    assert (party["name"], party["iban"]) == (name, iban)
    doc = extract.documents.iloc[0]
    assert (doc["amount"], doc["date"], doc["doc_type"]) == (amount, pd.Timestamp(day), "bank_line")
    assert doc["party_key"] == party["party_key"] and doc["currency"] == "EUR"
    assert doc["reference"] not in ("NOTPROVIDED", "NONREF", "EREF")
    assert iban in extract.identifiers.loc[extract.identifiers["kind"].eq("iban"), "value"].tolist()
    personal = set(extract.personal_columns)
    assert ":86:" in personal  # free text names people
    assert {c for c, f in extract.column_map.items() if f == "name"} <= personal


@pytest.mark.parametrize("head", [
    "ABNANL2A\r\n940\r\nABNANL2A\r\n:20:ABN AMRO BANK NV\r\n:25:517852257",
    "0000 01INGBNL2AXXXX00001\n0000 01INGBNL2AXXXX00001\n940 00\n:20:MPBZ\n:25:0001234567",
    ":940:\n:20:940S130101\n:25:NL71RABO0123456789",
    "{1:F01INGBNL2ABXXX0000000000}\n{2:I940INGBNL2AXXXN}\n{4:\n:20:P1\n:25:NL77INGB0574908765EUR",
    ":20:940A150612\r\n:25:NL30ABNA0524590957",
])
def test_every_mt940_start_is_sniffed_as_mt940(head):
    assert tabular.sniff_format(head.encode()) == "mt940"


def test_a_csv_is_no_mt940():
    assert tabular.sniff_format(b"Datum;Naam;Rekening\n:20:;x;y\n:25:;a;b\n") == "text"
    assert tabular.sniff_format(b'{"a": 1}') == "json"


def test_mt940_own_accounts_and_bank_costs_are_no_clients(tmp_path):
    text = statement("ABNANL2A\n940\nABNANL2A", OWN, [
        ":61:2601020102D500,00N541NONREF",
        ":86:/TRTP/SEPA OVERBOEKING/IBAN/NL02ABNA0123456789/BIC/ABNANL2A/NAME/Demo ICT B.V./REMI/Spa",
        "ren",
        ":61:2601030103D7,50N426NONREF",
        ":86:/TRTP/KOSTEN/NAME/ABN AMRO Bank N.V./REMI/Kosten betaalpakket zakelijk",
        ":61:2601030103C80,00N541NONREF",
        ":86:/TRTP/SEPA OVERBOEKING/IBAN/NL91ABNA0417164300/NAME/Jan Jansen/REMI/F1",
        ":61:2601030103C80,00N541NONREF",
        ":86:/TRTP/SEPA OVERBOEKING/IBAN/NL91ABNA0417164300/NAME/Jan Jansen/REMI/F1"])
    extract = bank.read(write(tmp_path / "own.sta", text))
    docs = extract.documents.set_index("source_row")
    assert docs["party_key"].tolist()[:2] == ["", ""]
    assert extract.parties["name"].tolist() == ["Jan Jansen"]
    assert OWN not in extract.identifiers["value"].tolist()
    assert docs["doc_key"].nunique() == 4  # two equal payments on one day are two bookings


def camt(version: str, party: str) -> str:
    def who(role: str, name: str, iban: str, address: str = "") -> str:
        return (f"<{role}>{party.format(f'<Nm>{name}</Nm>{address}')}</{role}>"
                f"<{role}Acct><Id><IBAN>{iban}</IBAN></Id></{role}Acct>")

    address = ("<PstlAdr><StrtNm>Dorpsstraat</StrtNm><BldgNb>12a</BldgNb>"
               "<TwnNm>1234 AB Utrecht</TwnNm><Ctry>NL</Ctry></PstlAdr>")
    status = "<Sts><Cd>BOOK</Cd></Sts>" if version >= "06" else "<Sts>BOOK</Sts>"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}"><BkToCstmrStmt>
 <GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-02-01T06:00:00</CreDtTm></GrpHdr>
 <Stmt><Id>S1</Id><Acct><Id><IBAN>{OWN}</IBAN></Id><Ownr><Nm>Demo ICT B.V.</Nm></Ownr></Acct>
  <Ntry><Amt Ccy="EUR">1250.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>{status}
   <BookgDt><Dt>2026-01-31</Dt></BookgDt><NtryDtls><TxDtls>
    <Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
    <RltdPties>{who("Dbtr", "Jan Jansen", "NL91ABNA0417164300", address)}
     {who("Cdtr", "Demo ICT B.V.", OWN)}</RltdPties>
    <RmtInf><Ustrd>Factuur 2026-001</Ustrd><Ustrd>klant Jan Jansen</Ustrd></RmtInf>
   </TxDtls></NtryDtls></Ntry>
  <Ntry><Amt Ccy="EUR">49.00</Amt><CdtDbtInd>DBIT</CdtDbtInd>{status}
   <BookgDt><Dt>2026-02-01</Dt></BookgDt><NtryDtls><TxDtls>
    <Refs><EndToEndId>E2E-9</EndToEndId></Refs>
    <RltdPties>{who("Dbtr", "Demo ICT B.V.", OWN)}
     {who("Cdtr", "Hetzner Online GmbH", "DE89370400440532013000")}</RltdPties>
    <AddtlTxInf>Server januari</AddtlTxInf>
   </TxDtls></NtryDtls></Ntry>
  <Ntry><Amt Ccy="EUR">3.10</Amt><CdtDbtInd>DBIT</CdtDbtInd>{status}
   <BookgDt><Dt>2026-02-01</Dt></BookgDt><AddtlNtryInf>Kosten betaalpakket zakelijk</AddtlNtryInf>
  </Ntry>
 </Stmt></BkToCstmrStmt></Document>
"""


@pytest.mark.parametrize(("version", "party"), [("02", "{}"), ("04", "{}"), ("08", "<Pty>{}</Pty>")])
def test_camt053_versions(tmp_path, version, party):
    path = tmp_path / "statement.xml"
    path.write_text(camt(version, party), encoding="utf-8")
    assert sources.detect(path)[1] == bank.CAMT053
    extract = bank.read(path)
    docs = extract.documents.set_index("source_row")
    assert docs["amount"].tolist() == [1250.0, -49.0, -3.10]
    assert docs.loc[1, "date"] == pd.Timestamp("2026-01-31")
    assert docs.loc[1, "description"] == "Factuur 2026-001 klant Jan Jansen"
    assert docs.loc[1, "reference"] == "" and docs.loc[2, "reference"] == "E2E-9"
    assert docs.loc[3, "party_key"] == ""  # the bank's costs
    parties = extract.parties.set_index("source_row")
    assert parties["name"].tolist() == ["Jan Jansen", "Hetzner Online GmbH"]
    assert parties.loc[1, ["iban", "street", "postcode", "city", "country"]].tolist() == [
        "NL91ABNA0417164300", "Dorpsstraat 12a", "1234 AB", "Utrecht", "NL"]
    assert OWN not in extract.identifiers["value"].tolist()  # the firm's own account
    personal = set(extract.personal_columns)
    assert {"TxDtls/RmtInf/Ustrd", "TxDtls/AddtlTxInf"} <= personal
    assert FIELDS[extract.column_map["TxDtls/RltdPties/Dbtr" + ("/Pty" if version == "08" else "")
                                    + "/PstlAdr/BldgNb"]].personal


def test_mollie_statements_stay_mollie(tmp_path):
    house = tmp_path / "house.xml"
    house.write_text(camt("02", "{}"), encoding="utf-8")
    own = tmp_path / "mollie.xml"
    own.write_text(camt("02", "{}").replace("NOTPROVIDED", "tr_J47Hfq28MY"), encoding="utf-8")
    assert (mollie.detect(house), bank.detect(house)) == (None, bank.CAMT053)
    assert (mollie.detect(own), bank.detect(own)) == (mollie.CAMT053, None)
    settlement = write(tmp_path / "s.mt940", statement("", "NL30ABNA0524590957", [
        ":61:2601020102C10,30NMSC", ":86:/TRTP/SEPA OVERBOEKING/NAME/A B/EREF/tr_abc"]))
    assert (mollie.detect(settlement), bank.detect(settlement)) == (mollie.MT940, None)
    # a payout from Mollie's account on the house bank's statement is the bank's file
    payout = write(tmp_path / "p.sta", statement("ABNANL2A\n940\nABNANL2A", OWN, [
        ":61:2601020102C500,00N541NONREF",
        ":86:/TRTP/SEPA OVERBOEKING/IBAN/NL30ABNA0524590958/NAME/STG MOLLIE PAYMENTS/REMI/T1"]))
    assert (mollie.detect(payout), bank.detect(payout)) == (None, bank.MT940)
    assert bank.read(payout).parties.empty  # Mollie's payout is no client


def test_camt053_account_owner_is_no_client(tmp_path):
    text = camt("02", "{}").replace("Hetzner Online GmbH", "DEMO ICT B.V.").replace(
        "DE89370400440532013000", "NL44RABO0123456789")  # to the firm's account at another bank
    path = tmp_path / "statement.xml"
    path.write_text(text, encoding="utf-8")
    assert bank.read(path).parties["name"].tolist() == ["Jan Jansen"]


def test_statement_of_a_quiet_day_imports_empty(tmp_path):
    extract = bank.read(write(tmp_path / "quiet.sta", statement("", OWN, [])))
    assert extract.raw.empty and extract.parties.empty and extract.documents.empty


def test_unreadable_statement_names_no_person(tmp_path, capfd):
    text = statement("", OWN, [":61:26XX01C12,NTRF Jan Jansen", ":86:/NAME/Jan Jansen"])
    with pytest.raises(InputError, match="MT940") as err:
        bank.read(write(tmp_path / "broken.sta", text))
    assert "Jansen" not in str(err.value)
    assert "Jansen" not in "".join(capfd.readouterr())  # nor in the mt940 library's log
    wrong = tmp_path / "camt054.xml"
    wrong.write_text(camt("02", "{}").replace("camt.053", "camt.054"), encoding="utf-8")
    assert bank.detect(wrong) is None
    with pytest.raises(InputError, match="root element"):
        bank.read(wrong, bank.CAMT053)
