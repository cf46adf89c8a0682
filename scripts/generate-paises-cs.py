#!/usr/bin/env python3
"""Writes profiles/pe/CodeSystem-PaisesCS.json: the countries (ISO 3166-1 alpha-3, the
codes MINSA's PaisesCS uses, e.g. PER) with Spanish names, from the pycountry package;
and profiles/pe/ValueSet-PaisesVS.json, which takes them in PaisesCS and, as FHIR names
ISO 3166 (urn:iso:std:iso:3166), by their alpha-3 and alpha-2 codes.

    pip install pycountry==26.2.16 && python3 scripts/generate-paises-cs.py
"""
import gettext
import json
import pathlib

import pycountry

spanish = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["es"])
concepts = [
    {"code": country.alpha_3, "display": spanish.gettext(country.name)}
    for country in sorted(pycountry.countries, key=lambda c: c.alpha_3)
]
code_system = {
    "resourceType": "CodeSystem",
    "id": "PaisesCS",
    "url": "https://www.gob.pe/minsa/RENHICE/fhir/CodeSystem/PaisesCS",
    "name": "PaisesCS",
    "title": "Códigos del País",
    "status": "active",
    "publisher": "renhice (from ISO 3166-1 alpha-3, as MINSA's PaisesCS)",
    "description": "Countries by their ISO 3166-1 alpha-3 code, as MINSA's guide codes the issuing country of an identity document (pe-pais). Written by scripts/generate-paises-cs.py from pycountry " + pycountry.__version__ if hasattr(pycountry, "__version__") else "Countries by their ISO 3166-1 alpha-3 code (scripts/generate-paises-cs.py).",
    "caseSensitive": True,
    "valueSet": "https://www.gob.pe/minsa/RENHICE/fhir/ValueSet/PaisesVS",
    "content": "complete",
    "count": len(concepts),
    "concept": concepts,
}
pe = pathlib.Path(__file__).resolve().parent.parent / "profiles/pe"
out = pe / "CodeSystem-PaisesCS.json"
out.write_text(json.dumps(code_system, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
print(f"wrote {out} ({len(concepts)} countries)")

iso = sorted({c.alpha_3 for c in pycountry.countries} | {c.alpha_2 for c in pycountry.countries})
value_set = {
    "resourceType": "ValueSet",
    "id": "PaisesVS",
    "url": "https://www.gob.pe/minsa/RENHICE/fhir/ValueSet/PaisesVS",
    "version": "0.1.0",
    "name": "PaisesVS",
    "title": "Códigos del País VS",
    "status": "active",
    "publisher": "renhice (from ISO 3166-1, as MINSA's PaisesCS)",
    "description": "Every country of PaisesCS; and, since FHIR names ISO 3166 urn:iso:std:iso:3166 and SIHCE systems send it so, the same countries in that system by their alpha-3 or alpha-2 code. Written by scripts/generate-paises-cs.py.",
    "compose": {
        "include": [
            {"system": "https://www.gob.pe/minsa/RENHICE/fhir/CodeSystem/PaisesCS"},
            {"system": "urn:iso:std:iso:3166", "concept": [{"code": code} for code in iso]},
        ]
    },
}
out = pe / "ValueSet-PaisesVS.json"
out.write_text(json.dumps(value_set, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
print(f"wrote {out}")
