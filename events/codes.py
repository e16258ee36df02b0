"""CAMEO and PLOVER codes for each kind of event, refined by a mode. The one place they live.

Code books:
- CAMEO: Schrodt, "CAMEO Conflict and Mediation Event Observations Event and Actor Codebook",
  version 1.1b3 (2012).
- Goldstein scale: GDELT's lookup table `CAMEO.goldsteinscale.txt`
  (https://www.gdeltproject.org/data/lookups/CAMEO.goldsteinscale.txt), the scale of Goldstein,
  "A Conflict-Cooperation Scale for WEIS Events Data", Journal of Conflict Resolution 36(2),
  1992, as adapted to CAMEO. Quad classes: the GDELT Event Codebook (V2.0, QuadClass).
- PLOVER: Open Event Data Alliance, "PLOVER: Political Language Ontology for Verifiable Event
  Records" manual, and its CAMEO crosswalk `CAMEO2PLOVER-2021.txt`
  (github.com/openeventdata/PLOVER).

Where this mapping departs from the crosswalk it says so: the crosswalk files CAMEO 161
("reduce or break diplomatic relations") under SANCTION/withdraw and 166 ("expel or withdraw")
under SANCTION/expel; this project codes an expulsion of diplomats as CAMEO 161 with PLOVER
SANCTION/expel, since the expulsion reduces diplomatic relations and its PLOVER mode is expel.
PLOVER has no category for a neutral public statement (CAMEO 010); its PLOVER type is empty.
"""

from typing import NamedTuple

from django.db import models


class EventMode(models.TextChoices):
    """How an event happened, where its kind alone does not decide its codes."""

    UNSPECIFIED = "", "Unspecified"
    VISIT = "visit", "Visit (one side travels to the other)"
    THIRD_PLACE = "third_place", "Meeting at a third location"
    MULTILATERAL = "multilateral", "Multilateral summit or meeting"
    NEGOTIATION = "negotiation", "Negotiation"
    ACCUSATION = "accusation", "Accusation"
    CRITICISM = "criticism", "Criticism or denunciation"
    INTENT = "intent", "Expression of intent to cooperate"
    ASSASSINATION_ATTEMPT = "assassination_attempt", "Attempted assassination"
    CHEMICAL_ATTACK = "chemical_attack", "Use of chemical weapons"
    MILITARY_FORCE = "military_force", "Use of conventional military force"


class Codes(NamedTuple):
    cameo: str
    plover_type: str
    plover_mode: str


# (kind, mode) -> codes. Kinds are Event.kind values; "" is the unspecified mode.
CODES = {
    ("expulsion", ""): Codes("161", "SANCTION", "expel"),
    ("sanction", ""): Codes("163", "COERCE", "restrict"),
    ("phone_call", ""): Codes("041", "CONSULT", "phone"),
    ("meeting", ""): Codes("040", "CONSULT", ""),
    ("meeting", "visit"): Codes("042", "CONSULT", "visit"),
    ("meeting", "third_place"): Codes("044", "CONSULT", "third-party"),
    ("meeting", "multilateral"): Codes("040", "CONSULT", "multilateral"),
    ("meeting", "negotiation"): Codes("046", "CONSULT", ""),
    ("summit", ""): Codes("040", "CONSULT", ""),
    ("summit", "visit"): Codes("042", "CONSULT", "visit"),
    ("summit", "third_place"): Codes("044", "CONSULT", "third-party"),
    ("summit", "multilateral"): Codes("040", "CONSULT", "multilateral"),
    ("statement", ""): Codes("010", "", ""),
    ("statement", "accusation"): Codes("112", "ACCUSE", "disapprove"),
    ("statement", "criticism"): Codes("111", "ACCUSE", "disapprove"),
    ("statement", "intent"): Codes("030", "AGREE", ""),
    ("agreement", ""): Codes("057", "SUPPORT", ""),
    ("agreement", "intent"): Codes("030", "AGREE", ""),
    ("incident", ""): Codes("180", "ASSAULT", ""),
    ("incident", "assassination_attempt"): Codes("185", "ASSAULT", "assassinate"),
    ("incident", "chemical_attack"): Codes("2041", "ASSAULT", "unconventional"),
    ("incident", "military_force"): Codes("190", "ASSAULT", ""),
}

# A meeting or summit that is still to happen is an expressed intent to meet (CAMEO 036);
# one that was postponed or called off halts the talks (CAMEO 164).
PLANNED_MEETING = Codes("036", "AGREE", "")
HALTED_MEETING = Codes("164", "SANCTION", "withdraw")

MODES_BY_KIND = {}
for _kind, _mode in CODES:
    MODES_BY_KIND.setdefault(_kind, []).append(_mode)

PLOVER_TYPES = sorted({codes.plover_type for codes in CODES.values()} - {""} | {"AGREE"})
CAMEO_CODES = sorted(
    {codes.cameo for codes in CODES.values()} | {PLANNED_MEETING.cameo, HALTED_MEETING.cameo}
)


def codes_for(kind, mode="", status="occurred"):
    """The CAMEO code and PLOVER type and mode of an event."""
    if kind in ("meeting", "summit"):
        if status == "planned":
            return PLANNED_MEETING
        if status in ("postponed", "cancelled"):
            return HALTED_MEETING
    return CODES.get((kind, mode or "")) or CODES.get((kind, ""))


# --- Goldstein scale and quad class -------------------------------------------------------

# GDELT's CAMEO.goldsteinscale.txt, whole and unchanged: every CAMEO code (the two-digit roots
# too) and its Goldstein value, from -10 (most conflictual) to +10 (most cooperative). Checked
# line by line against the copy at github.com/mpiccirilli/UNDP-BCPR-Project (commit e009a80,
# CAMEO.goldsteinscale.txt); here as "code value" pairs, each root starting a line.
GOLDSTEIN_TABLE = """
    01 0.0  010 0.0  011 -0.1  012 -0.4  013 0.4  014 0.0  015 0.0  016 -2.0  017 0.0  018 3.4
    019 3.4
    02 3.0  020 3.0  021 3.4  0211 3.4  0212 3.4  0213 3.4  0214 3.4  022 3.2  023 3.4
    0231 3.4  0232 3.4  0233 3.4  0234 3.4  024 -0.3  0241 -0.3  0242 -0.3  0243 -0.3
    0244 -0.3  025 -0.3  0251 -0.3  0252 -0.3  0253 -0.3  0254 -0.3  0255 -0.3  0256 -0.3
    026 4.0  027 4.0  028 4.0
    03 4.0  030 4.0  031 5.2  0311 5.2  0312 5.2  0313 5.2  0314 5.2  032 4.5  033 5.2
    0331 5.2  0332 5.2  0333 5.2  0334 6.0  034 7.0  0341 7.0  0342 7.0  0343 7.0  0344 7.0
    035 7.0  0351 7.0  0352 7.0  0353 7.0  0354 7.0  0355 7.0  0356 7.0  036 4.0  037 5.0
    038 7.0  039 5.0
    04 1.0  040 1.0  041 1.0  042 1.9  043 2.8  044 2.5  045 5.0  046 7.0
    05 3.5  050 3.5  051 3.4  052 3.5  053 3.8  054 6.0  055 7.0  056 7.0  057 8.0
    06 6.0  060 6.0  061 6.4  062 7.4  063 7.4  064 7.0
    07 7.0  070 7.0  071 7.4  072 8.3  073 7.4  074 8.5  075 7.0
    08 5.0  080 5.0  081 5.0  0811 5.0  0812 5.0  0813 5.0  0814 5.0  082 5.0  083 5.0
    0831 5.0  0832 5.0  0833 5.0  0834 5.0  084 7.0  0841 7.0  0842 7.0  085 7.0  086 9.0
    0861 9.0  0862 9.0  0863 9.0  087 9.0  0871 9.0  0872 9.0  0873 9.0  0874 10.0
    09 -2.0  090 -2.0  091 -2.0  092 -2.0  093 -2.0  094 -2.0
    10 -5.0  100 -5.0  101 -5.0  1011 -5.0  1012 -5.0  1013 -5.0  1014 -5.0  102 -5.0
    103 -5.0  1031 -5.0  1032 -5.0  1033 -5.0  1034 -5.0  104 -5.0  1041 -5.0  1042 -5.0
    1043 -5.0  1044 -5.0  105 -5.0  1051 -5.0  1052 -5.0  1053 -5.0  1054 -5.0  1055 -5.0
    1056 -5.0  106 -5.0  107 -5.0  108 -5.0
    11 -2.0  110 -2.0  111 -2.0  112 -2.0  1121 -2.0  1122 -2.0  1123 -2.0  1124 -2.0
    1125 -2.0  113 -2.0  114 -2.0  115 -2.0  116 -2.0
    12 -4.0  120 -4.0  121 -4.0  1211 -4.0  1212 -4.0  122 -4.0  1221 -4.0  1222 -4.0
    1223 -4.0  1224 -4.0  123 -4.0  1231 -4.0  1232 -4.0  1233 -4.0  1234 -4.0  124 -4.0
    1241 -4.0  1242 -4.0  1243 -4.0  1244 -4.0  1245 -4.0  1246 -4.0  125 -5.0  126 -5.0
    127 -5.0  128 -5.0  129 -5.0
    13 -6.0  130 -4.4  131 -5.8  1311 -5.8  1312 -5.8  1313 -5.8  132 -5.8  1321 -5.8
    1322 -5.8  1323 -5.8  1324 -5.8  133 -5.8  134 -5.8  135 -5.8  136 -7.0  137 -7.0
    138 -7.0  1381 -7.0  1382 -7.0  1383 -7.0  1384 -7.0  1385 -7.0  139 -7.0
    14 -6.5  140 -6.5  141 -6.5  1411 -6.5  1412 -6.5  1413 -6.5  1414 -6.5  142 -6.5
    1421 -6.5  1422 -6.5  1423 -6.5  1424 -6.5  143 -6.5  1431 -6.5  1432 -6.5  1433 -6.5
    1434 -6.5  144 -7.5  1441 -7.5  1442 -7.5  1443 -7.5  1444 -7.5  145 -7.5  1451 -7.5
    1452 -7.5  1453 -7.5  1454 -7.5
    15 -7.2  150 -7.2  151 -7.2  152 -7.2  153 -7.2  154 -7.2
    16 -4.0  160 -4.0  161 -4.0  162 -5.6  1621 -5.6  1622 -5.6  1623 -5.6  163 -8.0  164 -7.0
    165 -6.5  166 -7.0  1661 -7.0  1662 -7.0  1663 -7.0
    17 -7.0  170 -7.0  171 -9.2  1711 -9.2  1712 -9.2  172 -5.0  1721 -5.0  1722 -5.0
    1723 -5.0  1724 -5.0  173 -5.0  174 -5.0  175 -9.0
    18 -9.0  180 -9.0  181 -9.0  182 -9.5  1821 -9.0  1822 -9.0  1823 -10.0  183 -10.0
    1831 -10.0  1832 -10.0  1833 -10.0  184 -8.0  185 -8.0  186 -10.0
    19 -10.0  190 -10.0  191 -9.5  192 -9.5  193 -10.0  194 -10.0  195 -10.0  196 -9.5
    20 -10.0  200 -10.0  201 -9.5  202 -10.0  203 -10.0  204 -10.0  2041 -10.0  2042 -10.0
"""
_PAIRS = GOLDSTEIN_TABLE.split()
GOLDSTEIN = {code: float(value) for code, value in zip(_PAIRS[::2], _PAIRS[1::2], strict=True)}


class QuadClass(models.IntegerChoices):
    """GDELT's four classes of CAMEO events, decided by the code's root (its first two
    digits): 01-05, 06-08, 09-13 and 14-20."""

    VERBAL_COOPERATION = 1, "Verbal cooperation"
    MATERIAL_COOPERATION = 2, "Material cooperation"
    VERBAL_CONFLICT = 3, "Verbal conflict"
    MATERIAL_CONFLICT = 4, "Material conflict"


# The CAMEO roots of each quad class.
QUAD_CLASS_ROOTS = {
    QuadClass.VERBAL_COOPERATION: ("01", "02", "03", "04", "05"),
    QuadClass.MATERIAL_COOPERATION: ("06", "07", "08"),
    QuadClass.VERBAL_CONFLICT: ("09", "10", "11", "12", "13"),
    QuadClass.MATERIAL_CONFLICT: ("14", "15", "16", "17", "18", "19", "20"),
}
_QUAD_CLASS_BY_ROOT = {root: quad for quad, roots in QUAD_CLASS_ROOTS.items() for root in roots}


def goldstein(cameo_code):
    """The Goldstein scale value of a CAMEO code (a float), or None for a code the table
    lacks (or none)."""
    return GOLDSTEIN.get(cameo_code or "")


def quad_class(cameo_code):
    """The quad class (1-4, `QuadClass`) of a CAMEO code, from its root, or None if it has
    no CAMEO root."""
    code = cameo_code or ""
    if not (2 <= len(code) <= 4 and code.isascii() and code.isdigit()):
        return None
    quad = _QUAD_CLASS_BY_ROOT.get(code[:2])
    return None if quad is None else int(quad)


def cameo_codes_under(code):
    """The CAMEO codes this project assigns that `code` stands for: itself and its subcodes
    (04 is 040, 041, ...), or `code` alone when none is assigned."""
    return [assigned for assigned in CAMEO_CODES if assigned.startswith(code)] or [code]


def goldstein_sql(column, codes=CAMEO_CODES):
    """SQL for `goldstein(column)`: a CASE with a branch per code, NULL otherwise.

    It covers `codes`: by default those this project assigns (an event's code is derived on
    save, so no other code is stored), which keeps the CASE to a dozen branches where the whole
    table (`codes=GOLDSTEIN`) would test some 300 of every row of a sum or a mean.
    """
    whens = " ".join(f"WHEN '{code}' THEN {GOLDSTEIN[code]}" for code in codes if code in GOLDSTEIN)
    # A float on either database (PostgreSQL would otherwise read the literals as numeric).
    return f"CAST(CASE {column} {whens} ELSE NULL END AS double precision)"


def quad_class_sql(column):
    """SQL for `quad_class(column)`: the quad class of the code's first two digits (any CAMEO
    code), NULL when they are no CAMEO root."""
    whens = " ".join(
        f"WHEN '{root}' THEN {int(quad)}"
        for quad, roots in QUAD_CLASS_ROOTS.items()
        for root in roots
    )
    return f"CASE substr({column}, 1, 2) {whens} ELSE NULL END"
