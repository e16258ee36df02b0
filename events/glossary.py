"""Words for the codes: what each event kind, mode, CAMEO code, PLOVER type and mode, Goldstein
value and quad class means, for the /codes/ page and the links to it from every code shown.

The codes themselves and which event gets which live in events/codes.py; this module only
names them. CAMEO names are GDELT's `CAMEO.eventcodes.txt` (the CAMEO 1.1b3 code book's
names; two typing slips of that file mended: "a "third" location", "radiological weapons").
PLOVER's types and modes are described in this project's own words after the PLOVER manual
(github.com/openeventdata/PLOVER); the manual is the authority.
"""

from .codes import (
    CAMEO_CODES,
    CODES,
    GOLDSTEIN,
    HALTED_MEETING,
    PLANNED_MEETING,
    PLOVER_TYPES,
    QUAD_CLASS_ROOTS,
    EventMode,
    QuadClass,
    goldstein,
    quad_class,
)
from .models import EventKind

CAMEO_ROOTS = {
    "01": "Make public statement",
    "02": "Appeal",
    "03": "Express intent to cooperate",
    "04": "Consult",
    "05": "Engage in diplomatic cooperation",
    "06": "Engage in material cooperation",
    "07": "Provide aid",
    "08": "Yield",
    "09": "Investigate",
    "10": "Demand",
    "11": "Disapprove",
    "12": "Reject",
    "13": "Threaten",
    "14": "Protest",
    "15": "Exhibit force posture",
    "16": "Reduce relations",
    "17": "Coerce",
    "18": "Assault",
    "19": "Fight",
    "20": "Use unconventional mass violence",
}

# The codes this project assigns (events/codes.py, CAMEO_CODES); a test keeps the two in step.
CAMEO_NAMES = {
    "010": "Make statement, not specified below",
    "030": "Express intent to cooperate, not specified below",
    "036": "Express intent to meet or negotiate",
    "040": "Consult, not specified below",
    "041": "Discuss by telephone",
    "042": "Make a visit",
    "044": "Meet at a “third” location",
    "046": "Engage in negotiation",
    "057": "Sign formal agreement",
    "111": "Criticize or denounce",
    "112": "Accuse, not specified below",
    "161": "Reduce or break diplomatic relations",
    "163": "Impose embargo, boycott, or sanctions",
    "164": "Halt negotiations",
    "180": "Use unconventional violence, not specified below",
    "185": "Attempt to assassinate",
    "190": "Use conventional military force, not specified below",
    "2041": "Use chemical, biological, or radiological weapons",
}

KIND_NOTES = {
    EventKind.EXPULSION: "A state orders diplomats (or other officials) of another state to "
    "leave; the count of people expelled is kept as the sources give it.",
    EventKind.SUMMIT: "A meeting of heads of state or government.",
    EventKind.MEETING: "A meeting of ministers, officials or envoys, below the level of a summit.",
    EventKind.PHONE_CALL: "A telephone (or video) conversation between leaders or officials.",
    EventKind.STATEMENT: "Words said or published: a declaration, an accusation, a criticism, "
    "a stated intent.",
    EventKind.SANCTION: "Restrictions imposed on a state, its officials or its trade.",
    EventKind.AGREEMENT: "A formal agreement signed, or an intent to agree declared.",
    EventKind.INCIDENT: "A violent act the diplomatic events answer: an attack, a poisoning, an "
    "attempted assassination.",
}

PLOVER_TYPE_NOTES = {
    "ACCUSE": "Criticising, denouncing or accusing another actor.",
    "AGREE": "Agreeing to, or declaring an intent to, cooperate, meet or negotiate.",
    "ASSAULT": "Violence outside organised armed conflict between states: attacks, "
    "assassinations, the use of unconventional weapons.",
    "COERCE": "Restrictions imposed on another actor: sanctions, embargoes, bans.",
    "CONSULT": "Meetings, visits and calls between the actors.",
    "SANCTION": "Reducing relations as a penalty: expelling diplomats, withdrawing from talks.",
    "SUPPORT": "Diplomatic cooperation short of material help, such as signing an agreement.",
}

PLOVER_MODE_NOTES = {
    "assassinate": "an attempt to kill a particular person",
    "disapprove": "words of disapproval (criticism, accusation)",
    "expel": "people (here, diplomats) made to leave",
    "multilateral": "several parties at once",
    "phone": "by telephone",
    "restrict": "restrictions on movement, trade or property",
    "third-party": "at a place neither side controls",
    "unconventional": "with unconventional (chemical, biological, radiological) weapons",
    "visit": "one side travels to the other",
    "withdraw": "withdrawal from talks or relations",
}

QUAD_CLASS_NOTES = {
    QuadClass.VERBAL_COOPERATION: "Statements, appeals, intents, consultations, diplomatic "
    "cooperation.",
    QuadClass.MATERIAL_COOPERATION: "Material cooperation, aid, yielding.",
    QuadClass.VERBAL_CONFLICT: "Investigations, demands, disapproval, rejection, threats.",
    QuadClass.MATERIAL_CONFLICT: "Protest, force posture, reduced relations, coercion, "
    "assault, fighting, mass violence.",
}


# --- Anchors on /codes/, one per entry ------------------------------------------------------


def kind_anchor(kind):
    return f"kind-{kind}"


def mode_anchor(mode):
    return f"mode-{mode.replace('_', '-')}"


def cameo_anchor(code):
    return f"cameo-{code}"


def plover_anchor(plover_type):
    return f"plover-{plover_type.lower()}"


def plover_mode_anchor(mode):
    return f"plover-mode-{mode}"


def quad_class_anchor(quad):
    return f"quad-class-{int(quad)}"


GOLDSTEIN_ANCHOR = "goldstein"


def cameo_name(code):
    """The name of a CAMEO code: its own, or its root's for a code this project never
    assigns; "" when it has no CAMEO root."""
    return CAMEO_NAMES.get(code) or CAMEO_ROOTS.get((code or "")[:2], "")


# --- The page -------------------------------------------------------------------------------


def code_book():
    """Everything the /codes/ page shows, from the tables alone (no query)."""
    used_by = {}
    for (kind, mode), codes in CODES.items():
        used_by.setdefault(codes.cameo, []).append((kind, mode))
    notes = {
        PLANNED_MEETING.cameo: "A meeting or summit still planned.",
        HALTED_MEETING.cameo: "A meeting or summit postponed or cancelled.",
    }
    kind_labels = dict(EventKind.choices)
    mode_labels = dict(EventMode.choices)

    def uses(code):
        found = [
            f"{kind_labels[kind]}{' (' + mode_labels[mode].lower() + ')' if mode else ''}"
            for kind, mode in used_by.get(code, [])
        ]
        return "; ".join([*found, *([notes[code]] if code in notes else [])])

    cameo_by_root = {}
    for code in CAMEO_CODES:
        cameo_by_root.setdefault(code[:2], []).append(
            {
                "code": code,
                "name": CAMEO_NAMES[code],
                "anchor": cameo_anchor(code),
                "goldstein": goldstein(code),
                "used_for": uses(code),
            }
        )
    return {
        "kinds": [
            {
                "value": value,
                "label": label,
                "note": KIND_NOTES[value],
                "anchor": kind_anchor(value),
            }
            for value, label in EventKind.choices
        ],
        "modes": [
            {"value": value, "label": label, "anchor": mode_anchor(value)}
            for value, label in EventMode.choices
            if value
        ],
        "cameo_roots": [
            {
                "code": root,
                "name": name,
                "anchor": cameo_anchor(root),
                "goldstein": GOLDSTEIN.get(root),
                "quad_class": QuadClass(quad_class(root)).label,
                "quad_anchor": quad_class_anchor(quad_class(root)),
                "codes": cameo_by_root.get(root, []),
            }
            for root, name in CAMEO_ROOTS.items()
        ],
        "plover_types": [
            {"value": value, "note": PLOVER_TYPE_NOTES[value], "anchor": plover_anchor(value)}
            for value in PLOVER_TYPES
        ],
        "plover_modes": [
            {"value": mode, "note": note, "anchor": plover_mode_anchor(mode)}
            for mode, note in sorted(PLOVER_MODE_NOTES.items())
        ],
        "quad_classes": [
            {
                "value": int(quad),
                "label": quad.label,
                "roots": ", ".join(QUAD_CLASS_ROOTS[quad]),
                "note": QUAD_CLASS_NOTES[quad],
                "anchor": quad_class_anchor(quad),
            }
            for quad in QuadClass
        ],
        "goldstein_anchor": GOLDSTEIN_ANCHOR,
    }


def event_codes(event):
    """An event's codes as the event page shows them, each with its name and its entry on
    /codes/ (an anchor): kind, mode, CAMEO, PLOVER type and mode, Goldstein, quad class."""
    quad = quad_class(event.cameo_code)
    return {
        "kind": kind_anchor(event.kind),
        "mode": mode_anchor(event.mode) if event.mode else "",
        "cameo": cameo_anchor(event.cameo_code),
        "cameo_name": cameo_name(event.cameo_code),
        "plover": plover_anchor(event.plover_type) if event.plover_type else "",
        "plover_mode": plover_mode_anchor(event.plover_mode) if event.plover_mode else "",
        "goldstein": goldstein(event.cameo_code),
        "quad_class": QuadClass(quad).label if quad else "",
        "quad_anchor": quad_class_anchor(quad) if quad else "",
    }
