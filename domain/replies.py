"""A client's written reply to a reminder, read as keep/return decisions: "keep 1, 3; return 2".

Pieces are named by their number in the order (1 for the first piece) or by their id; "all" names every
piece. The words for keep, return and all are understood in every language the engine writes in. A reply
that cannot be read with certainty (an unknown word, a number with no piece, a piece both kept and
returned, nothing decided) is ambiguous: it changes nothing, and the client is asked again.

A clause that returns pieces may say why, in English: "return 2, too small; keep 1" or "return 2 too
big". The reason goes with the pieces that clause returns (`REASONS` lists the phrases). A reason in a
clause that only keeps pieces is ambiguous too.
"""

import re
from dataclasses import dataclass

from domain.commands import DecisionValue, PieceDecision, ReturnReason

KEEP = {"keep", "kept", "behalten", "behalte", "tengo", "tenere", "tieni", "garder", "garde", "キープ", "残す"}
RETURN = {
    "return",
    "back",
    "zurück",
    "zuruck",
    "retour",
    "renvoyer",
    "renvoie",
    "rendo",
    "restituisco",
    "restituire",
    "返品",
    "返す",
}
ALL = {"all", "alle", "alles", "tutti", "tutto", "tout", "tous", "toutes", "全部", "すべて"}
_JOINERS = {
    "and",
    "und",
    "e",
    "et",
    "je",
    "ich",
    "i",
    "pieces",
    "piece",
    "stück",
    "capi",
    "capo",
    "pièces",
    "pièce",
    "と",
    "#",
}
# The phrases of a return reason, tried in this order ("not as pictured" before a bare "colour").
REASONS: list[tuple[re.Pattern[str], ReturnReason]] = [
    (re.compile(r"\bnot (?:as|like) (?:pictured|shown|(?:in )?the (?:photo|picture)s?)\b"), "not_as_pictured"),
    (re.compile(r"\b(?:too|a bit|bit) (?:small|tight|short)\b|\bsize (?:up|too small)\b"), "too_small"),
    (re.compile(r"\b(?:too|a bit|bit) (?:large|big|loose|long)\b|\bsize down\b"), "too_large"),
    (re.compile(r"\b(?:does ?n[o']?t|did ?n[o']?t|not) fit\b|\bfit\b"), "fit"),
    (re.compile(r"\bcolou?rs?\b"), "colour"),
    (re.compile(r"\bquality\b"), "quality"),
    (re.compile(r"\bchanged? (?:my )?mind\b"), "changed_mind"),
]
_CLAUSES = re.compile(r"[;\n.!?]+")
_TOKENS = re.compile(r"[,\s、，]+")


@dataclass(frozen=True)
class Ambiguous:
    why: str


# Asking for more time, in every language the engine writes in; and the numbers of days a client may name.
_MORE_TIME = re.compile(
    r"more (?:days?|time)|another day|extend|extension|longer|verlänger|mehr zeit|tage? mehr|weitere tage|proroga|"
    r"prolung|più tempo|altri (?:\S+ )?giorni|giorni in più|prolong|plus de temps|jours? de plus|延長|もう少し"
)
_DAY_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "a": 1, "an": 1, "another": 1,
    "ein": 1, "einen": 1, "zwei": 2, "drei": 3, "vier": 4, "fünf": 5, "un": 1, "uno": 1, "due": 2, "tre": 3,
    "quattro": 4, "cinque": 5, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "一": 1, "二": 2, "三": 3, "四": 4,
    "五": 5,
}  # fmt: skip
_DAYS = re.compile(
    r"(\d{1,2}|[a-zäöüéèàù]+|[一二三四五])\s*(?:more |further |weitere |altri |extra )?(?:days?|tage?n?|giorni|jours?|日)"
)


# Asking to exchange a piece (another size, another colour), in every language the engine writes in.
_EXCHANGE = re.compile(
    r"exchange|swap|another size|different size|a size (?:up|down|bigger|smaller)|bigger size|smaller size|"
    r"umtausch|umtauschen|tauschen|andere größe|andere grösse|cambio|cambiare|altra taglia|taglia più|échange|"
    r"échanger|autre taille|taille au-dessus|taille en dessous|交換|サイズ違い|別のサイズ"
)


def read_exchange_request(text: str) -> bool:
    """Whether a reply asks to exchange a piece (their shopper arranges which, and for what)."""
    return bool(_EXCHANGE.search(text.strip().lower()))


def read_extension_request(text: str) -> int | Ambiguous | None:
    """Whether a reply asks for more time, and for how many days: the number it names, None when it names
    none (the client's policy decides then); Ambiguous when it does not ask for time at all."""
    lowered = text.strip().lower()
    if not _MORE_TIME.search(lowered):
        return Ambiguous("it does not ask for more time")
    for found in _DAYS.finditer(lowered):
        word = found.group(1)
        days = int(word) if word.isdigit() else _DAY_WORDS.get(word)
        if days is not None:
            return days
    return None


def read_reply(text: str, piece_ids: list[str]) -> list[PieceDecision] | Ambiguous:
    decided: dict[str, DecisionValue] = {}
    reasons: dict[str, ReturnReason] = {}
    clauses = [c.strip().lower() for c in _CLAUSES.split(text) if c.strip()]
    if not clauses:
        return Ambiguous("the reply is empty")
    for clause in clauses:
        reason, rest = _reason(clause)
        words = [w for w in _TOKENS.split(rest.replace(":", " ")) if w and w not in _JOINERS]
        for verb, names in _segments(words):
            if verb is None:
                return Ambiguous(f"'{clause}' does not say keep or return for {', '.join(names)}")
            if not names:
                return Ambiguous(f"'{clause}' names no piece to {verb}")
            for word in names:
                for piece_id in _pieces(word, piece_ids):
                    if piece_id is None:
                        return Ambiguous(f"'{word}' is not a piece of this trial")
                    if decided.get(piece_id, verb) != verb:
                        return Ambiguous(f"{piece_id} is both kept and returned")
                    decided[piece_id] = verb
                    if reason is not None and verb == "return":
                        reasons[piece_id] = reason
        if reason is not None and all(verb != "return" for verb, _ in _segments(words)):
            return Ambiguous(f"'{clause}' gives a reason to return but returns no piece")
    if not decided:
        return Ambiguous("the reply decides no piece")
    return [PieceDecision(piece_id=p, decision=d, reason=reasons.get(p)) for p, d in decided.items()]


def _reason(clause: str) -> tuple[ReturnReason | None, str]:
    """The return reason a clause gives, and the clause without its phrase."""
    for pattern, reason in REASONS:
        if pattern.search(clause):
            return reason, pattern.sub(" ", clause, count=1)
    return None, clause


def _verb(word: str) -> DecisionValue | None:
    return "keep" if word in KEEP else "return" if word in RETURN else None


def _segments(words: list[str]) -> list[tuple[DecisionValue | None, list[str]]]:
    """Each verb with the pieces it names: those after it when the clause starts with a verb ("keep 1 3
    return 2"), those before it otherwise ("1 3 keep")."""
    if not words:
        return []
    segments: list[tuple[DecisionValue | None, list[str]]] = []
    if _verb(words[0]) is not None:
        for word in words:
            verb = _verb(word)
            if verb is not None:
                segments.append((verb, []))
            else:
                segments[-1][1].append(word)
        return segments
    names: list[str] = []
    for word in words:
        verb = _verb(word)
        if verb is None:
            names.append(word)
        else:
            segments.append((verb, names))
            names = []
    if names:
        segments.append((None, names))
    return segments


def _pieces(word: str, piece_ids: list[str]) -> list[str | None]:
    if word in ALL:
        return list(piece_ids)
    if word.isdigit():
        n = int(word)
        return [piece_ids[n - 1] if 1 <= n <= len(piece_ids) else None]
    by_id = {p.lower(): p for p in piece_ids}
    return [by_id.get(word)]
