"""Realistic sample declarations, for the demo seed, training and the benchmarks."""

from __future__ import annotations

import random
from decimal import Decimal
from functools import lru_cache

from client.declaration.model import (
    Address,
    Declaration,
    DeliveryTerms,
    Document,
    GoodsItem,
    Packaging,
    Party,
    Representative,
    Transport,
)
from client.declaration.refdata import INCOTERMS_2020, default_reference_data

# Trading partners: country, plausible invoice currencies, UN/LOCODE places, a town.
_PARTNERS: tuple[tuple[str, tuple[str, ...], tuple[str, ...], str], ...] = (
    ("CN", ("CNY", "USD"), ("CNSHA", "CNSZX", "CNNGB"), "Shanghai"),
    ("US", ("USD",), ("USNYC", "USLAX", "USSAV"), "Newark"),
    ("DE", ("EUR",), ("DEHAM", "DEBRV", "DEFRA"), "Hamburg"),
    ("FR", ("EUR",), ("FRLEH", "FRMRS", "FRCDG"), "Lyon"),
    ("IT", ("EUR",), ("ITGOA", "ITMIL"), "Milano"),
    ("NL", ("EUR",), ("NLRTM", "NLAMS"), "Rotterdam"),
    ("ES", ("EUR",), ("ESVLC", "ESALG"), "Valencia"),
    ("JP", ("JPY", "USD"), ("JPTYO", "JPYOK"), "Yokohama"),
    ("IN", ("INR", "USD"), ("INNSA", "INMAA"), "Mumbai"),
    ("VN", ("USD", "VND"), ("VNSGN", "VNHPH"), "Ho Chi Minh City"),
    ("TR", ("TRY", "EUR"), ("TRIST", "TRMER"), "Istanbul"),
    ("BR", ("BRL", "USD"), ("BRSSZ", "BRRIG"), "Santos"),
    ("KR", ("KRW", "USD"), ("KRPUS", "KRINC"), "Busan"),
    ("CH", ("CHF", "EUR"), ("CHBSL", "CHZRH"), "Basel"),
    ("MA", ("MAD", "EUR"), ("MACAS", "MATNG"), "Casablanca"),
    ("SN", ("XOF", "EUR"), ("SNDKR",), "Dakar"),
    ("CI", ("XOF", "EUR"), ("CIABJ",), "Abidjan"),
    ("CA", ("CAD", "USD"), ("CAMTR", "CAVAN"), "Montreal"),
    ("MX", ("MXN", "USD"), ("MXVER", "MXZLO"), "Veracruz"),
    ("ZA", ("ZAR", "USD"), ("ZADUR", "ZACPT"), "Durban"),
)
_GB_PLACES = ("GBFXT", "GBSOU", "GBLGP", "GBLHR", "GBDVR", "GBIMM", "GBTIL")
_GB_LOCATIONS = ("GBAUFXTFXTFXT", "GBAUSOUSOUSOU", "GBAULGPLGPLGP", "GBAULHRLHRLHR",
                 "GBAUDVRDVRDVR", "GBAUIMMIMMIMM")
_GB_OFFICES = ("GBIPS001", "GBDVR001", "GBLON001", "GBLIV001", "GBMNC002", "GBHUL002",
               "GBBEL003", "GBBRS001", "GBGLW001", "GBSOL003")
_PACKAGE_KINDS = ("CT", "BX", "PK", "PX", "BG", "CS", "DR", "BA", "CR", "SA")
_RATES = {"USD": "0.79", "EUR": "0.85", "CNY": "0.11", "JPY": "0.0053", "INR": "0.0094",
          "VND": "0.00003", "TRY": "0.023", "BRL": "0.14", "KRW": "0.00057", "CHF": "0.91",
          "MAD": "0.078", "XOF": "0.0013", "CAD": "0.57", "MXN": "0.043", "ZAR": "0.043"}
_COMPANIES = ("Trading", "Industries", "Export", "Manufacturing", "Logistics", "Textiles",
              "Components", "Foods", "Machinery", "Ceramics")
_GB_TOWNS = (("Felixstowe", "IP11 3SY"), ("Birmingham", "B1 1AA"), ("Leeds", "LS1 4DY"),
             ("Bristol", "BS1 5TR"), ("Manchester", "M1 2AB"), ("Glasgow", "G2 1DY"))


@lru_cache(maxsize=1)
def _hs6_codes() -> tuple[str, ...]:
    ref = default_reference_data()
    return tuple(sorted(c for c in ref.entries("commodity_codes") if len(c) == 6))


def _eori(rng: random.Random, country: str = "GB") -> str:
    return f"{country}{rng.randrange(10**11, 10**12)}000"


def _foreign_party(rng: random.Random, country: str, town: str) -> Party:
    name = f"{rng.choice(('Asia', 'Global', 'Nova', 'Sun', 'Atlas', 'Delta', 'Orion'))} " \
           f"{rng.choice(_COMPANIES)} {rng.choice(('Ltd', 'SA', 'GmbH', 'Co', 'SARL', 'Inc'))}"
    return Party(name=name, address=Address(street=f"{rng.randint(1, 400)} Harbour Road",
                                            city=town, postcode=str(rng.randint(10000, 99999)),
                                            country=country))


def _gb_party(rng: random.Random, eori: str) -> Party:
    town, postcode = rng.choice(_GB_TOWNS)
    return Party(id=eori, name=f"{rng.choice(('Albion', 'Thames', 'Pennine', 'Severn'))} "
                               f"{rng.choice(_COMPANIES)} Ltd",
                 address=Address(street=f"{rng.randint(1, 200)} High Street", city=town,
                                 postcode=postcode, country="GB"))


def sample_declaration(rng: random.Random, *, n_items: int = 3,
                       declarant_id: str = "GB123456789000") -> Declaration:
    """A realistic, varied and valid declaration (demo seed, benchmarks).

    Real HS codes from the seed nomenclature, real countries, currencies, Incoterms 2020
    and UN/LOCODE places; masses, packages and totals consistent.  Deterministic for a
    given ``rng`` state, apart from the declaration id (a UUIDv7).
    """
    n_items = max(1, min(n_items, 999))
    dtype = rng.choices(("IM", "EX", "CO"), weights=(6, 3, 1))[0]
    country, currencies, places, town = rng.choice(_PARTNERS)
    declarant = _gb_party(rng, declarant_id)
    if dtype == "CO":
        country, currencies, places, town = "JE", ("GBP",), ("JESTH",), "St Helier"
    currency = rng.choice(currencies + ("GBP",)) if dtype == "EX" else rng.choice(currencies)
    incoterm = rng.choice(INCOTERMS_2020)
    place = rng.choice(places if incoterm[0] in "EF" else _GB_PLACES) if dtype != "EX" \
        else rng.choice(_GB_PLACES if incoterm[0] in "EF" else places)
    mode = rng.choice(("1", "1", "3", "4"))
    hs = _hs6_codes()
    ref = default_reference_data()
    items: list[GoodsItem] = []
    for i in range(n_items):
        code6 = rng.choice(hs)
        commodity = code6 + rng.choice(("00", "10", "90", "0000", "1000", "9000"))
        gross = Decimal(rng.randint(50, 2_000_000)) / 100
        net = (gross * Decimal(rng.randint(70, 98)) / 100).quantize(Decimal("0.01"))
        price = Decimal(rng.randint(1_000, 50_000_000)) / 100
        packs = [Packaging(kind=rng.choice(_PACKAGE_KINDS), number=rng.randint(1, 400),
                           marks=f"{rng.choice(('ACME', 'SHIP', 'LOT'))}-{rng.randint(100, 999)}")]
        description = (ref.hs_description(code6) or code6)[:200]
        items.append(GoodsItem(
            sequence=i + 1, description=description, commodity_code=commodity,
            country_of_origin=("GB" if dtype == "EX" and rng.random() < 0.7 else country),
            procedure_code=("1040" if dtype == "EX" else rng.choice(("4000", "4000", "4071"))),
            additional_procedure_codes=["000"], packages=packs, gross_mass=gross,
            net_mass=net, item_price=price, valuation_method="1",
            statistical_value=price if currency == "GBP" else None))
    total_price = sum((it.item_price or Decimal(0) for it in items), Decimal(0))
    decl = Declaration(
        type=dtype, additional_type=rng.choice(("A", "A", "D")),
        lrn=f"{rng.randint(20, 29)}{''.join(rng.choices('ABCDEFGHJKLMNPQRSTUVWXYZ0123456789', k=14))}",
        ucr=f"{rng.randint(4, 6)}GB{declarant_id[2:14]}-{rng.randint(100000, 999999)}",
        declarant=declarant, invoice_currency=currency, invoice_total=total_price,
        exchange_rate=None if currency == "GBP" else Decimal(_RATES.get(currency, "1")),
        delivery_terms=DeliveryTerms(incoterm=incoterm, place=place),
        nature_of_transaction=rng.choice(("1", "11", "12")),
        transport=Transport(mode_at_border=mode, mode_inland=rng.choice(("3", "3", "2")),
                            container=mode == "1",
                            equipment_numbers=([f"MSKU{rng.randint(1000000, 9999999)}"]
                                               if mode == "1" else []),
                            border_means_identity=f"{rng.choice(('MV', 'FLT', 'TRK'))} "
                                                  f"{rng.randint(100, 9999)}",
                            border_means_nationality=rng.choice(("GB", "NL", "DK", "PA", "LR"))),
        goods_location=rng.choice(_GB_LOCATIONS),
        # DE 2/3 at header level: category N + type 935 (invoice), as CDS lists them
        additional_documents=[Document(category="N", type="935",
                                       reference=f"INV-{rng.randint(1000, 99999)}")],
        total_items=n_items, total_packages=sum(p.number or 0 for it in items for p in it.packages),
        total_gross_mass=sum((it.gross_mass or Decimal(0) for it in items), Decimal(0)),
        goods_items=items)
    if dtype == "EX":
        decl.exporter = Party(id=declarant_id)
        decl.consignee = _foreign_party(rng, country, town)
        decl.country_of_dispatch = "GB"
        decl.country_of_destination = country
        decl.exit_office = rng.choice(_GB_OFFICES)
        decl.customs_office = rng.choice(_GB_OFFICES)
    else:
        decl.importer = Party(id=declarant_id)
        decl.exporter = _foreign_party(rng, country, town)
        decl.country_of_dispatch = country
        decl.country_of_destination = "GB"
        decl.customs_office = rng.choice(_GB_OFFICES)
    if rng.random() < 0.3:
        decl.representative = Representative(id=_eori(rng), name="Border Brokers Ltd",
                                             status=rng.choice(("2", "3")))
    return decl

