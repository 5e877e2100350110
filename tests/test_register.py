"""The register of processing as reviewed data: it loads, names its gaps, and judges itself."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import shared_file

from workbench import demo
from workbench.configuration import ConfigError
from workbench.ingest.model import FIELDS, PARTY_COLUMNS
from workbench.reference import register
from workbench.store.workspace import Workspace

SHIPPED = Path(register.__file__).parents[1] / "config" / "register"
BSN = "user.government_id.national_identification_number"
# Each processor as the policy names it, and the key the register gives it.
POLICY_PROCESSORS = {
    "DNN Consulting / Managed.com / SMTP.com": "dnn_managed_smtp",
    "Gmail": "gmail",
    "Mollie": "mollie",
    "MoneyBird": "moneybird",
    "FactuurSturen": "factuursturen",
    "Exact Online": "exact_online",
    "Google Analytics": "google_analytics",
}


@pytest.fixture(scope="module")
def reg() -> register.Register:
    return register.load()


def checks(reg: register.Register, found: set[tuple[str, str]] | None = None) -> dict[str, register.Check]:
    return {c.id: c for c in register.check_ropa(reg, found)}


def test_shipped_register_fails_only_where_the_policy_leaves_gaps(reg: register.Register) -> None:
    result = checks(reg)
    assert [c for c in result] == [f"R30-{n:02d}" for n in range(1, 12)]
    failed = {i for i, c in result.items() if not c.passed and i != "R30-11"}
    # The policy names no privacy contact, no safeguard for the US hosting supplier, and no processor
    # agreement; nobody has reviewed the register yet. Everything else is met.
    assert failed == {"R30-01", "R30-06", "R30-09"}
    assert "privacy_contact" in result["R30-01"].detail
    assert result["R30-06"].detail.startswith("dnn_managed_smtp (US): safeguard unknown")
    assert "gmail" not in result["R30-06"].detail
    assert "processor agreement with mollie: unknown" in result["R30-09"].detail
    assert "last-reviewed date and reviewer missing" in result["R30-09"].detail
    assert not result["R30-11"].passed and "not checked" in result["R30-11"].detail


def test_controller_is_taken_from_the_policy_and_names_its_gaps(reg: register.Register) -> None:
    policy = shared_file("seed/privacybeleid-de-kale-ict.md").read_text("utf-8")
    c = reg.controller
    for value in (c.name, c.address, c.postcode, c.city, c.email, c.phone, c.website):
        assert value in policy
    assert policy.rstrip().endswith("**Contactpersoon voor privacyzaken**")  # names nobody
    assert c.privacy_contact == "" and "names nobody" in c.todo["privacy_contact"]
    assert c.kvk == "" and "kvk" in c.todo
    assert (c.dpo, c.representative) == ("n/a", "n/a")
    assert "Art. 37" in c.na["dpo"] and "Art. 27" in c.na["representative"]


def test_every_processor_the_policy_names_is_a_recipient(reg: register.Register) -> None:
    policy = shared_file("seed/privacybeleid-de-kale-ict.md").read_text("utf-8")
    recipients = {p for a in reg.activities.values() for p in a.recipients}
    processors = {k for k, p in reg.processors.items() if p.role == "processor"}
    assert processors == set(POLICY_PROCESSORS.values())  # the house bank is a controller
    for name, key in POLICY_PROCESSORS.items():
        assert name in policy and name in reg.processors[key].name
        assert key in recipients, f"{name} is a recipient of no activity"
    assert checks(reg)["R30-05"].passed


def test_transfers_outside_the_eea_carry_their_safeguard(reg: register.Register) -> None:
    abroad = {k: p for k, p in reg.processors.items() if p.outside_eea}
    assert set(abroad) == {"dnn_managed_smtp", "gmail", "google_analytics"}
    assert {p.country for p in abroad.values()} == {"US"}
    for key in ("gmail", "google_analytics"):
        assert abroad[key].transfer_safeguard == "adequacy"
        assert "Data Privacy Framework" in abroad[key].transfer_note
    assert abroad["dnn_managed_smtp"].transfer_safeguard == "unknown"
    assert "Data Privacy Framework" in abroad["dnn_managed_smtp"].todo["transfer_note"]
    for p in reg.processors.values():  # no invented dates
        if p.role == "processor":
            assert (p.agreement_status, p.agreement_date) == ("unknown", "") and p.todo["agreement_date"]
        else:  # a controller of its own has no processor agreement, and says why
            assert (p.agreement_status, p.agreement_date) == ("n/a", "n/a") and p.na["agreement_status"]
    table = register.ropa(reg).set_index("activity")
    assert table.loc["payments", "(e) third-country transfers"].startswith("none")
    assert "US, adequacy decision" in table.loc["website_analytics", "(e) third-country transfers"]


def test_every_canonical_field_has_a_category(reg: register.Register) -> None:
    assert set(reg.fields) == set(FIELDS)
    for name, f in FIELDS.items():
        if f.personal:
            assert reg.category_of(name) in reg.categories, name
    expected = {
        "email": "user.contact.email", "phone": "user.contact.phone_number",
        "iban": "user.financial.bank_account", "card_number": "user.financial.credit_card",
        "bsn": BSN, "birth_date": "user.demographic.date_of_birth", "given_name": "user.name.first",
        "family_name": "user.name.last", "street": "user.contact.address.street",
        "postcode": "user.contact.address.postal_code", "ip_address": "user.device.ip_address",
        "person_name": "user.name", "customer_number": "user.unique_id", "bic": None, "amount": None,
    }
    assert {k: reg.category_of(k) for k in expected} == expected
    assert reg.categories[BSN].national_id and not any(c.special for c in reg.categories.values())


def test_fiscal_records_are_kept_seven_years_and_survive_erasure(reg: register.Register) -> None:
    invoicing = reg.activities["invoicing_bookkeeping"]
    assert invoicing.legal_basis == "legal_obligation"
    rule = reg.retention_rules[invoicing.retention]
    assert (rule.years, rule.on_erasure) == (7, "retain")
    assert "52" in rule.legal_reference and "financial year" in rule.after
    # A name in MoneyBird sits in the client profile and on invoices: the longer rule wins.
    assert reg.retention_for("user.name", "moneybird") is rule
    assert reg.retention_rules["client_profile"].on_erasure == "erase"
    assert reg.retention_rules["analytics_data"].years == pytest.approx(14 / 12, abs=1e-3)
    assert reg.retention_for("user.contact.email", "analytics") is None


def test_client_profile_rule_quotes_the_policy(reg: register.Register) -> None:
    policy = " ".join(shared_file("seed/privacybeleid-de-kale-ict.md").read_text("utf-8").split())
    motivation = " ".join(reg.retention_rules["client_profile"].motivation.split())
    assert "Wij bewaren uw gegevens zolang u cliënt van ons bent." in motivation
    assert "Wij bewaren uw gegevens zolang u cliënt van ons bent." in policy


def test_systems_and_declarations(reg: register.Register) -> None:
    assert set(reg.systems) == {"mollie", "moneybird", "factuursturen", "exact", "mail", "hosting",
                                "analytics", "bank", "smtpcom"}
    assert reg.systems["mail"].processors == ("gmail", "dnn_managed_smtp")
    assert [a.key for a in reg.activities_for("mail")] == ["email_contact", "privacy_requests"]
    assert reg.systems["exact"].activities == ("client_administration", "invoicing_bookkeeping")
    assert reg.declared("user.contact.address.street", "moneybird")  # the parent covers it
    assert not reg.declared(BSN, "exact")
    assert not reg.declared("user.name", "nowhere")


def test_ropa_has_the_article_30_columns(reg: register.Register) -> None:
    table = register.ropa(reg)
    assert list(table.columns) == register.ROPA_COLUMNS and len(table) == len(reg.activities) == 7
    assert table[register.ART30_COLUMNS].map(bool).all().all()
    row = table.set_index("activity").loc["website_analytics"]
    assert row["legal basis"].startswith("Art. 6(1)(f)")
    assert "Interest:" in row["legitimate interests assessment"]
    assert row["Art. 9 condition"].startswith("n/a")
    assert "privacy contact: missing (The policy's closing heading" in row["(a) controller"]


def test_generic_purposes_and_vague_retention_are_rejected(reg: register.Register) -> None:
    payments = reg.activities["payments"]
    generic = replace(reg, activities={**reg.activities, "payments": payments.model_copy(update={
        "purpose_en": "Business operations.",
        "purpose_nl": "Wij gebruiken uw gegevens uitsluitend ten behoeve van onze dienstverlening."})})
    result = checks(generic)["R30-02"]
    assert not result.passed
    assert "payments: purpose_nl" in result.detail and "payments: purpose_en" in result.detail
    vague = register.RetentionRule(name="Payments", period_text="as long as necessary", years=None,
                                   after="", motivation="needed", key="payment_records",
                                   todo={"after": "no start event"})
    result = checks(replace(reg, retention_rules={**reg.retention_rules, "payment_records": vague}))["R30-07"]
    assert not result.passed and "payments: rule payment_records" in result.detail
    assert "without criteria" in result.detail


def test_undeclared_categories_found_in_the_data_are_listed(reg: register.Register) -> None:
    found = {("exact", BSN), ("mollie", "user.name"), ("moneybird", "user.contact.address.city")}
    result = checks(reg, found)["R30-11"]
    assert not result.passed
    assert result.detail == f"{BSN} found in exact but declared on no activity of exact"
    assert checks(reg, {("mollie", "user.name")})["R30-11"].passed


@pytest.fixture(scope="module")
def demo_found(tmp_path_factory: pytest.TempPathFactory, reg: register.Register) -> set[tuple[str, str]]:
    """(system, category) of every party column holding a value in the imported demo data."""
    base = tmp_path_factory.mktemp("demo")
    ws = Workspace(base / "ws")
    ws.import_files(demo.write(base / "exports"))
    columns = [c for c in PARTY_COLUMNS if reg.category_of(c)]
    filled = ", ".join(f"count(nullif(trim(CAST(\"{c}\" AS VARCHAR)), '')) AS \"{c}\"" for c in columns)
    counts = ws.query(f"SELECT service, {filled} FROM parties GROUP BY service")
    return {(row["service"], reg.category_of(c)) for _, row in counts.iterrows() for c in columns if row[c]}


def test_bsn_in_exact_demo_data_is_flagged(reg: register.Register, demo_found: set[tuple[str, str]]) -> None:
    assert ("exact", BSN) in demo_found and ("mollie", "user.name") in demo_found
    undeclared = {pair for pair in demo_found if not reg.declared(pair[1], pair[0])}
    # The policy shares name, address and order details with Exact; the demo's Exact contact persons
    # also carry a birth date and gender, and one relation a BSN: none of it is declared.
    assert undeclared == {("exact", BSN), ("exact", "user.demographic.date_of_birth"),
                          ("exact", "user.demographic.gender")}
    assert f"{BSN} found in exact" in checks(reg, demo_found)["R30-11"].detail


# --- broken files ----------------------------------------------------------------------------------

def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "register"
    shutil.copytree(SHIPPED, target)
    (target / "fideslang.toml").unlink()  # the vocabulary always comes from the workbench
    return target


def _edit(directory: Path, file: str, old: str, new: str) -> None:
    path = directory / file
    text = path.read_text("utf-8")
    assert old in text, f"{old!r} not in {file}"
    path.write_text(text.replace(old, new, 1), "utf-8")


BROKEN = [
    ("activities.toml", 'legal_basis = "contract"', 'legal_basis = "contractt"',
     "activities.toml: payments.legal_basis: Input should be 'consent', 'contract'"),
    ("activities.toml", 'recipients = ["mollie"]', 'recipients = ["molly"]',
     "activities.toml: payments.recipients: 'molly' is not a processor of processors.toml"),
    ("activities.toml", '"user.privacy_preferences"]', '"user.privacy_preference"]',
     "activities.toml: privacy_requests.data_categories: 'user.privacy_preference' is not a category"),
    ("activities.toml", 'legal_basis_detail = "Art. 6(1)(b) GDPR: needed to perform',
     'legal_bases_detail = "Art. 6(1)(b) GDPR: needed to perform',
     "activities.toml: payments.legal_bases_detail: Extra inputs are not permitted"),
    ("activities.toml", 'retention = "analytics_data"', 'retention = "statistics"',
     "activities.toml: website_analytics.retention: 'statistics' is not a rule of retention.toml"),
    ("retention.toml", "years = 7", "years = -7",
     "retention.toml: fiscal_records.years: Input should be greater than or equal to 0"),
    ("retention.toml", "months = 3\n", "months = 3\nyears = 1\n",
     "retention.toml: web_server_logs: give only one of years and months"),
    ("categories.toml", '[categories."user.device.cookie_id"]', '[categories."user.device.cookie_idx"]',
     'categories.toml: categories."user.device.cookie_idx": is not a fideslang data category'),
    ("categories.toml", '[categories."user.contact"]', '[categories."user.contact.organization"]',
     """categories."user.contact.organization": deprecated in fideslang; use 'user.contact'"""),
    ("categories.toml", 'bsn = "user.government_id.national_identification_number"\n', "",
     "categories.toml: fields.bsn: missing"),
    ("categories.toml", 'iban = "user.financial.bank_account"', 'iban = "none"',
     "categories.toml: fields.iban: is personal data"),
    ("categories.toml", "national_id = true", "national_id = false",
     'categories."user.government_id.national_identification_number".national_id: must be true'),
    ("processors.toml", 'country = "NL"', 'country = "US"',
     "processors.toml: mollie.outside_eea: false does not fit country 'US'"),
    ("processors.toml", "outside_eea = false", 'outside_eea = "no"',
     "processors.toml: mollie.outside_eea: Input should be a valid boolean"),
    ("processors.toml", 'role = "processor"', 'role = "verwerker"',
     "processors.toml: dnn_managed_smtp.role: Input should be 'processor'"),
    ("systems.toml", 'processor = "mollie"', 'processor = "gmail"',
     "systems.toml: mollie.processor: processor 'gmail' does not list this system"),
    ("controller.toml", 'phone = "(085) 876-8969"', 'phone = ""',
     "controller.toml: phone: is empty; give it, or say what is missing under [todo]"),
    ("controller.toml", 'kvk = ""', 'kvk = "n/a"',
     "controller.toml: kvk: is 'n/a'; give the reason under [na]"),
    ("controller.toml", 'name = "de Kale ICT"', 'name = "de Kale ICT', "controller.toml: not valid TOML"),
]


@pytest.mark.parametrize(("file", "old", "new", "message"), BROKEN, ids=[b[3][:50] for b in BROKEN])
def test_a_broken_file_names_file_and_key(tmp_path: Path, file: str, old: str, new: str,
                                          message: str) -> None:
    directory = _copy(tmp_path)
    _edit(directory, file, old, new)
    with pytest.raises(ConfigError) as caught:
        register.load(directory)
    assert message in str(caught.value)
    assert all(str(directory) in line for line in caught.value.problems)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    _edit(directory, "activities.toml", 'legal_basis = "contract"', 'legal_basis = "contractt"')
    _edit(directory, "processors.toml", 'role = "processor"', 'role = "verwerker"')
    with pytest.raises(ConfigError) as caught:
        register.load(directory)
    files = [Path(p.split(": ")[0]) for p in caught.value.problems]
    assert files == [directory / "processors.toml", directory / "activities.toml"]
    keys = [p.split(": ")[1] for p in caught.value.problems]
    assert keys == ["dnn_managed_smtp.role", "payments.legal_basis"]


def test_every_broken_reference_is_reported_at_once_with_file_and_key(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    _edit(directory, "activities.toml", 'recipients = ["mollie"]', 'recipients = ["molly"]')
    _edit(directory, "activities.toml", 'retention = "analytics_data"', 'retention = "statistics"')
    _edit(directory, "systems.toml", 'processor = "mollie"', 'processor = "gmail"')
    _edit(directory, "steps.toml", "[systems.mollie.profile]", "[systems.paypal.profile]")
    with pytest.raises(ConfigError) as caught:
        register.load(directory)
    assert sorted(p.removeprefix(f"{directory}/") for p in caught.value.problems) == [
        "activities.toml: payments.recipients: 'molly' is not a processor of processors.toml",
        "activities.toml: website_analytics.retention: 'statistics' is not a rule of retention.toml",
        "steps.toml: systems.paypal: is not a system of systems.toml",
        "systems.toml: mollie.processor: processor 'gmail' does not list this system in processors.toml",
    ]
    assert str(caught.value).count("\n") == 4  # one line each, after the heading


def test_the_steps_file_gives_every_generic_step(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    path = directory / "steps.toml"
    lines = path.read_text("utf-8").splitlines(keepends=True)
    start = lines.index("[generic.expired]\n")
    path.write_text("".join(lines[:start] + lines[start + 3:]), "utf-8")
    with pytest.raises(ConfigError) as caught:
        register.load(directory)
    assert caught.value.problems == [
        f"{directory}/steps.toml: generic: missing the generic wording of expired"]


def test_a_missing_file_stops_the_load_before_cross_checks(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    (directory / "systems.toml").unlink()
    with pytest.raises(ConfigError) as caught:
        register.load(directory)
    (directory / "categories.toml").unlink()
    assert caught.value.problems == [f"{directory}/systems.toml: file is missing"]
    with pytest.raises(ConfigError) as caught:
        register.load(directory)
    assert caught.value.problems == [f"{directory}/systems.toml: file is missing",
                                     f"{directory}/categories.toml: file is missing"]


def test_a_copy_of_the_shipped_register_loads_the_same(tmp_path: Path, reg: register.Register) -> None:
    assert register.load(_copy(tmp_path)) == reg


# --- another firm --------------------------------------------------------------------------------

OTHER_FIRM = {
    "controller.toml": """
name = "Bakkerij Voorbeeld"
address = "Dorpsstraat 1"
postcode = "1234 AB"
city = "Ergens"
country = "NL"
email = "privacy@bakkerij.example"
phone = "+31 20 000 0000"
website = "https://bakkerij.example"
kvk = "n/a"
privacy_contact = "De eigenaar, privacy@bakkerij.example"
dpo = "n/a"
representative = "n/a"
joint_controllers = "n/a"
privacy_notice = "https://bakkerij.example/privacy"
privacy_notice_date = "2026-01-01"
reviewed_on = "2026-11-01"
reviewed_by = "De eigenaar"
[na]
kvk = "Example firm."
dpo = "Small bakery, no monitoring."
representative = "Established in the EU."
joint_controllers = "None."
""",
    "processors.toml": """
[boekhouder]
name = "Administratiekantoor"
role = "processor"
services = ["bookkeeping"]
systems = ["boekhouding"]
country = "BE"
outside_eea = false
transfer_safeguard = "none"
agreement_status = "signed"
agreement_date = "2025-03-01"
sub_processors = ["Rekencentrum NV"]
""",
    "systems.toml": """
[boekhouding]
name = "Boekhouding"
processor = "boekhouder"
""",
    "retention.toml": """
[fiscaal]
name = "Fiscal"
period_text = "7 years after the end of the financial year"
years = 7
after = "the end of the financial year"
motivation = "art. 52 AWR"
on_erasure = "retain"
keeps = ["name", "street", "postcode", "city"]
""",
    "activities.toml": """
[bestellingen]
name_nl = "Bestellingen"
name_en = "Orders"
purpose_nl = "Taarten op bestelling bakken, bezorgen en factureren aan de klant die ze bestelde."
purpose_en = "Baking cakes to order, delivering them and invoicing the client who ordered them."
legal_basis = "contract"
data_subjects = ["customer"]
data_categories = ["user.name", "user.contact.address"]
data_uses = ["essential.service"]
recipients = ["boekhouder"]
systems = ["boekhouding"]
retention = "fiscaal"
security_measures = ["Order book locked in the office safe."]
source = "The client."
automated_decisions = "none"
dpia = "Not required: small scale."
""",
}


def test_another_firms_register_loads_without_code_changes(tmp_path: Path) -> None:
    directory = tmp_path / "bakkerij"
    directory.mkdir()
    for name, text in OTHER_FIRM.items():
        (directory / name).write_text(text, "utf-8")
    categories = (SHIPPED / "categories.toml").read_text("utf-8")
    (directory / "categories.toml").write_text(categories, "utf-8")
    other = register.load(directory)
    assert other.controller.name == "Bakkerij Voorbeeld"
    assert other.systems["boekhouding"].activities == ("bestellingen",)
    assert other.retention_for("user.contact.address.city", "boekhouding").key == "fiscaal"
    result = checks(other, {("boekhouding", "user.name.first")})
    assert [i for i, c in result.items() if not c.passed] == [], {i: c.detail for i, c in result.items()}
    assert result["R30-06"].detail == "none: no transfer outside the EEA"
