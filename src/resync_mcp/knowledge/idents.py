"""Identifiers in runbooks and questions: job and stream names, message and error codes, paths.

The full-text tokenizer splits ``GL_NIGHT_POST`` into ``gl night post`` and ``SQL0803N`` stays
whole only by luck, so a question naming one job matched every document about any of its words.
These are kept whole (upper-cased) beside the text, looked up exactly, and weighted by rarity.
Pure functions: no model, no database.
"""

from __future__ import annotations

import re

# A run of identifier characters; trailing sentence punctuation is stripped afterwards.
_TOKEN = re.compile(r"[A-Za-z0-9_#$@/.=*:-]+")
_TRAIL = ".,:;=-/*"
# Message and error codes: AWSJSY404E, SQL0803N, ORA-01555, AML-E-504 (MQRC 2053 is two tokens).
# A product's message code ends in its severity letter: that tells it from a workstation or a
# queue named like AGT002 or PRTQ01.
# Oracle-style codes carry five digits (ORA-01555, TNS-12541), so ISO-8601 is not one.
ERROR_CODE = re.compile(r"^(?:[A-Z]{3,}\d{3,}[A-Z]|[A-Z]{2,5}-\d{5}|[A-Z]{2,6}-[EWISF]-\d{2,4}|RC=\d+)$")
# Exceptions and signals a job's log ends with.
EXCEPTION = re.compile(r"^(?:[a-z]+\.)+[A-Z]\w*(?:Error|Exception)$")


_TIME = re.compile(r"^\d{1,2}:\d{2}$")  # 21:45: a deadline or a start time is asked for exactly


def _is_identifier(token: str) -> bool:
    if len(token) < 3 or len(token) > 120:
        return False
    if _TIME.match(token):
        return True
    if ERROR_CODE.match(token) or EXCEPTION.match(token):
        return True
    if any(c.isdigit() for c in token) and ERROR_CODE.match(token.upper()):
        return True  # a code typed in lower case (sql0803n, ora-01555) is the same code
    has_digit = any(c.isdigit() for c in token)
    has_alpha = any(c.isalpha() for c in token)
    if not has_alpha:
        return False
    if token.startswith("/") and token.count("/") >= 2:  # a path
        return True
    joined = any(c in token for c in "_#$@") or ("." in token and token.upper() == token)
    if joined:
        return True
    upper = token.upper() == token
    if upper and has_digit:  # PRTQ01, GLDB01
        return True
    return upper and len(token) >= 4 and token.isalpha()  # LOCKTIMEOUT, TAPE, but not "RC" or "SQL"


def identifiers(text: str) -> list[str]:
    """The identifiers in ``text``, upper-cased, in order, each once. A qualified name also gives
    its parts: ``GLNIGHT.GL_NIGHT_POST`` is found by ``GL_NIGHT_POST`` as well."""
    out: dict[str, None] = {}
    for raw in _TOKEN.findall(text):
        token = raw.rstrip(_TRAIL).lstrip(".,:;=-*")
        if not _is_identifier(token):
            continue
        out[token.upper()] = None
        if token.startswith("/") and _is_identifier(base := token.rsplit("/", 1)[1]):
            out[base.upper()] = None  # a script is asked for by its name
        elif EXCEPTION.match(token):  # java.lang.OutOfMemoryError is asked for as OutOfMemoryError too
            out[token.rsplit(".", 1)[1].upper()] = None
        elif "#" in token or ("." in token and not token.startswith("/")):
            for part in re.split(r"[#.]", token):
                if _is_identifier(part):
                    out[part.upper()] = None
    return list(out)


def is_specific(ident: str) -> bool:
    """Names a particular failure or object (a code, an exception, a job-like name), so a corpus
    that never mentions it does not describe that failure."""
    exception = "." in ident and ident.endswith(("ERROR", "EXCEPTION"))
    return bool(ERROR_CODE.match(ident)) or exception or "_" in ident


def codes(text: str) -> list[str]:
    """Message and error codes in ``text``, in order, each once."""
    return [i for i in identifiers(text) if ERROR_CODE.match(i)]


_STOP = frozenset(
    (  # noqa: SIM905 (a word list reads best as text)
        "the a an of to in on for and or is are was be by with at from it its this that what which who how do "
        "does did can may must should we our my when why where there their any all not no if then than into "
        "as up out about after before over under will would could has have had been you your they them "
    ).split()
)


def words(text: str) -> set[str]:
    """The content words of ``text``, lower-case, cut to six letters (a crude stem: ``reruns`` and
    ``rerun`` meet), without stop words: what a question's coverage by a document is counted in."""
    return {w[:6] for w in re.findall(r"[a-z]{3,}", text.lower()) if w not in _STOP}


def words_outside(text: str, idents: list[str]) -> set[str]:
    """The content words of ``text`` once its identifiers are taken out (``GL_NIGHT_POST`` is not
    the words "night" and "post")."""
    for ident in sorted(idents, key=len, reverse=True):
        text = re.sub(re.escape(ident), " ", text, flags=re.I)
    return words(text)
