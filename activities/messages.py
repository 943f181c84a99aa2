"""What the client reads: each kind of message to the client, in the client's language, with the moment it is
about written in the client's time zone.

WhatsApp sends business-initiated messages only as templates approved in advance in the WhatsApp Manager:
`TEMPLATES` names each one, with the parameters it fills in order ({{1}}, {{2}}, ...). Email sends the same
text with a subject. docs/integrations.md has the templates to register, in every language below.
"""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.order import ClientContact
from domain.steps import Notification, NotificationKind

LOCALES = ("en", "de", "it", "fr", "ja")

# Date and time as each language writes them: 24 h everywhere but English.
_WHEN = {
    "en": "%d %b %Y, %I:%M %p",
    "de": "%d.%m.%Y, %H:%M Uhr",
    "it": "%d/%m/%Y, ore %H:%M",
    "fr": "%d/%m/%Y à %Hh%M",
    "ja": "%Y年%m月%d日 %H:%M",
}

# Per kind: the WhatsApp template's name, then per language a subject and a body with {hours}, {when},
# {order} (the same order as the template's parameters: {{1}} hours, {{2}} when, {{3}} order).
TEMPLATES: dict[NotificationKind, tuple[str, dict[str, tuple[str, str]]]] = {
    NotificationKind.TRIAL_ENDING: (
        "style_trial_ending",
        {
            "en": (
                "Your Style Trial ends soon",
                "Your Style Trial ends in {hours} hours, on {when} ({zone}). Tell us which pieces you keep; "
                "pieces not sent back by then are charged. Order {order}.",
            ),
            "de": (
                "Ihr Style Trial endet bald",
                "Ihr Style Trial endet in {hours} Stunden, am {when} ({zone}). Sagen Sie uns, welche Stücke Sie "
                "behalten; was bis dahin nicht zurückgeschickt ist, wird berechnet. Bestellung {order}.",
            ),
            "it": (
                "Il suo Style Trial sta per finire",
                "Il suo Style Trial finisce tra {hours} ore, il {when} ({zone}). Ci dica quali capi tiene; i capi "
                "non restituiti entro allora vengono addebitati. Ordine {order}.",
            ),
            "fr": (
                "Votre Style Trial se termine bientôt",
                "Votre Style Trial se termine dans {hours} heures, le {when} ({zone}). Dites-nous quelles pièces "
                "vous gardez ; les pièces non renvoyées d'ici là seront facturées. Commande {order}.",
            ),
            "ja": (
                "スタイル・トライアルの終了が近づいています",
                "スタイル・トライアルはあと{hours}時間、{when}（{zone}）に終了します。お手元に残すアイテムをお知らせください。"
                "それまでに返送されていないアイテムは請求の対象となります。ご注文番号 {order}。",
            ),
        },
    ),
}


@dataclass(frozen=True)
class Rendered:
    template: str  # the WhatsApp template's name
    language: str
    parameters: list[str]  # the template's {{1}}, {{2}}, ... in order
    subject: str
    text: str


def zone_of(contact: ClientContact) -> ZoneInfo:
    """The client's zone; UTC when the name is not a zone this machine knows (it is validated only in form)."""
    try:
        return ZoneInfo(contact.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def render(notification: Notification, contact: ClientContact, now: datetime) -> Rendered | None:
    """The message to the client for `notification`, or None for a kind the client is not told of."""
    if notification.kind not in TEMPLATES or notification.about is None:
        return None
    template, languages = TEMPLATES[notification.kind]
    language = contact.locale if contact.locale in languages else "en"
    subject, body = languages[language]
    zone = zone_of(contact)
    local = notification.about.astimezone(zone)
    hours = max(0, round((notification.about - now).total_seconds() / 3600))
    values = {
        "hours": str(hours), "when": local.strftime(_WHEN[language]), "zone": str(zone.key),
        "order": notification.order_id or "",
    }  # fmt: skip
    return Rendered(
        template=template, language=language,
        parameters=[values["hours"], f"{values['when']} ({values['zone']})", values["order"]],
        subject=subject, text=body.format(**values),
    )  # fmt: skip
