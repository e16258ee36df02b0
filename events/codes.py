"""CAMEO and PLOVER codes for each kind of event, refined by a mode. The one place they live.

Code books:
- CAMEO: Schrodt, "CAMEO Conflict and Mediation Event Observations Event and Actor Codebook",
  version 1.1b3 (2012).
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
