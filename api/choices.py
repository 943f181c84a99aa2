"""The links in a client's email: the collection slot or the prepaid label they chose from our offer.

Opening a link shows what it will book, in the client's language and on their clock, and a button; only the
button (a POST) books it: mail scanners and link previews open every link in a message, so a GET never
changes anything. The link is the client's authority (security/links.py): signed, for one order and one
choice, until the return deadline. The same link posted twice is one booking.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from api.models import errors
from api.services import ServicesDep
from application.door import ChoiceOutcome

router = APIRouter(tags=["returns"])
_PAGE = Environment(loader=PackageLoader("api"), autoescape=select_autoescape(["html"])).get_template("choice.html")
Token = Annotated[str, Path(min_length=20, max_length=400, pattern=r"^[A-Za-z0-9_.-]+$")]
_PAGE_FOR: dict[str, Any] = {"content": {"text/html": {}}}
_HTML = {
    200: {**_PAGE_FOR, "description": "A page for the client: what the link books, or that it was booked."},
    404: {**_PAGE_FOR, "description": "A page saying the link is not valid (changed, expired, not ours)."},
    409: {**_PAGE_FOR, "description": "A page saying the trial refused it, and why (a slot that has started)."},
    **errors(422, 503),
}

# Per language: a collection (with {slot}), a label, the button, booked, not possible (with {why}), unknown link.
WORDS: dict[str, tuple[str, str, str, str, str, str]] = {
    "en": ("A courier collects your return for order {order} on {slot}.", "A prepaid return label for order {order}.",
           "Book it", "Booked. The confirmation is on its way to you by email.",
           "This could not be booked: {why} Your personal shopper will gladly help.",
           "This link is not valid any more. Your personal shopper will gladly help."),
    "de": ("Ein Kurier holt Ihre Rücksendung zu Bestellung {order} am {slot} ab.",
           "Ein frankiertes Rücksendeetikett für Bestellung {order}.", "Buchen",
           "Gebucht. Die Bestätigung erhalten Sie per E-Mail.",
           "Das ließ sich nicht buchen: {why} Ihr Personal Shopper hilft gern.",
           "Dieser Link ist nicht mehr gültig. Ihr Personal Shopper hilft gern."),
    "it": ("Un corriere ritira il suo reso dell'ordine {order} il {slot}.",
           "Un'etichetta di reso prepagata per l'ordine {order}.", "Prenota",
           "Prenotato. La conferma le arriva per email.",
           "Non è stato possibile prenotare: {why} Il suo personal shopper è a disposizione.",
           "Questo link non è più valido. Il suo personal shopper è a disposizione."),
    "fr": ("Un coursier vient chercher votre retour de la commande {order} le {slot}.",
           "Une étiquette de retour prépayée pour la commande {order}.", "Réserver",
           "C'est réservé. La confirmation vous arrive par e-mail.",
           "La réservation n'a pas été possible : {why} Votre personal shopper se fera un plaisir de vous aider.",
           "Ce lien n'est plus valable. Votre personal shopper se fera un plaisir de vous aider."),
    "ja": ("ご注文 {order} のご返送品を{slot}に集荷いたします。", "ご注文 {order} の返品用着払い伝票。", "予約する",
           "予約しました。確認のメールをお送りします。", "予約できませんでした：{why} 担当のパーソナルショッパーにご相談ください。",
           "このリンクは無効です。担当のパーソナルショッパーにご相談ください。"),
}  # fmt: skip


@router.get("/v1/client-choices/{token}", summary="What a client's link will book", response_class=Response,
            responses=_HTML)  # fmt: skip
async def show_client_choice(services: ServicesDep, token: Token) -> HTMLResponse:
    return _page(await services.client_choice(token, book=False))


@router.post("/v1/client-choices/{token}", summary="Book what a client's link chose", response_class=Response,
             responses=_HTML)  # fmt: skip
async def book_client_choice(services: ServicesDep, token: Token) -> HTMLResponse:
    return _page(await services.client_choice(token, book=True))


def _page(outcome: ChoiceOutcome) -> HTMLResponse:
    language = outcome.locale if outcome.locale in WORDS else "en"
    collection, label, confirm, booked, refused, unknown = WORDS[language]
    if outcome.order_id is None:
        what, note = unknown, ""
    else:
        what = label.format(order=outcome.order_id)
        if outcome.slot is not None:
            what = collection.format(order=outcome.order_id, slot=outcome.slot)
        note = booked if outcome.booked else refused.format(why=outcome.refusal) if outcome.refusal else ""
    ask = outcome.status == 200 and not outcome.booked
    html = _PAGE.render(language=language, what=what, ask=ask, confirm=confirm, note=note)
    headers = {"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex"}
    return HTMLResponse(html, status_code=outcome.status, headers=headers)
