"""The eight budgets of the Métropole: SIRETs valid for python-stdnum, found in any spacing."""

from __future__ import annotations

import pytest
from stdnum.fr import siren as stdnum_siren
from stdnum.fr import siret as stdnum_siret

from odoo_chorus_rouen.core.budgets import (
    BUDGETS,
    METROPOLE_SIREN,
    Requirements,
    compact_siret,
    find_budget,
    format_siret,
    is_valid_siret,
    validate_siret,
)
from odoo_chorus_rouen.core.errors import InputError

# DESIGN.md, "The eight budgets" (as published by the Métropole)
DESIGN_TABLE = {
    "Budget Principal": "200 023 414 00101",
    "Budget annexe des Transports": "200 023 414 00036",
    "Budget annexe des Déchets ménagers": "200 023 414 00028",
    "Budget annexe des Zones d'activités": "200 023 414 00044",
    "Budget de l'Eau": "200 023 414 00069",
    "Budget de l'Assainissement": "200 023 414 99004",
    "Budget Rouen Normandie Création": "200 023 414 00077",
    "Budget de l'Energie Calorifique": "200 023 414 00093",
}


def test_the_eight_budgets_are_those_of_the_design():
    assert len(BUDGETS) == 8
    assert {b.name: b.siret_display for b in BUDGETS} == DESIGN_TABLE
    assert len({b.key for b in BUDGETS}) == 8 and len({b.siret for b in BUDGETS}) == 8


@pytest.mark.parametrize("budget", BUDGETS, ids=lambda b: b.key)
def test_each_siret_is_valid_for_stdnum(budget):
    assert stdnum_siret.is_valid(budget.siret)
    assert stdnum_siret.validate(budget.siret) == budget.siret
    assert stdnum_siret.to_siren(budget.siret) == METROPOLE_SIREN
    assert stdnum_siren.is_valid(METROPOLE_SIREN)
    assert is_valid_siret(budget.siret)


@pytest.mark.parametrize("budget", BUDGETS, ids=lambda b: b.key)
@pytest.mark.parametrize("spell", [
    lambda s: s,
    lambda s: f"{s[:3]} {s[3:6]} {s[6:9]} {s[9:]}",
    lambda s: f" {s[:3]}-{s[3:6]}-{s[6:9]}-{s[9:]} ",
    lambda s: f"{s[:3]}.{s[3:6]}.{s[6:9]}.{s[9:]}",
    lambda s: f"{s[:9]}\t{s[9:]}",
    lambda s: f"{s[:3]}\u00a0{s[3:6]}\u00a0{s[6:9]}\u00a0{s[9:]}",  # non-breaking spaces, as copied from a web page
])
def test_lookup_in_any_spacing(budget, spell):
    typed = spell(budget.siret)
    assert find_budget(typed) is budget
    assert compact_siret(typed) == budget.siret
    assert validate_siret(typed) == budget.siret


def test_unknown_or_invalid_siret():
    assert find_budget("88412345600011") is None  # valid, but a supplier
    assert find_budget("20002341400102") is None  # check digit wrong
    assert find_budget("") is None
    assert not is_valid_siret("20002341400102")
    with pytest.raises(InputError) as err:
        validate_siret("200 023 414 00102")
    assert err.value.code == "invalid_siret"
    assert err.value.params["siret"] == "200 023 414 00102"


def test_display_and_requirements():
    assert format_siret("20002341499004") == "200 023 414 99004"
    # the Métropole prints an engagement number on every purchase order
    assert all(b.requirements == Requirements(engagement=True) for b in BUDGETS)


def test_one_address_for_the_metropole_in_the_addon_and_the_sandbox():
    """The addon's partners and the sandbox directory give the current seat, nothing else."""
    import json
    from pathlib import Path
    from xml.etree import ElementTree

    from odoo_chorus_rouen.core.budgets import METROPOLE_ADDRESS

    package = Path(__file__).resolve().parent.parent / "odoo_chorus_rouen"
    records = ElementTree.parse(package / "data" / "res_partner_data.xml").getroot().iter("record")
    partners = [r for r in records if r.get("model") == "res.partner"]
    assert len(partners) == 9  # the Métropole and its eight budgets
    for record in partners:
        fields = {f.get("name"): f.text for f in record.iter("field")}
        assert {key: fields.get(key) for key in ("street", "street2", "zip", "city")} == {
            key: METROPOLE_ADDRESS[key] for key in ("street", "street2", "zip", "city")
        }, record.get("id")
    directory = json.loads((package / "sandbox" / "directory.json").read_text(encoding="utf-8"))
    budgets = [s for s in directory["structures"] if s.get("budget")]
    assert len(budgets) == 8
    for structure in budgets:
        assert structure["adresse"] == {
            "adresse": METROPOLE_ADDRESS["street"],
            "complementAdresse1": METROPOLE_ADDRESS["street2"],
            "codePostal": METROPOLE_ADDRESS["zip"],
            "ville": METROPOLE_ADDRESS["city"],
            "pays": METROPOLE_ADDRESS["country"],
        }
