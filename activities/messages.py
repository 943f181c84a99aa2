"""What the client reads: each kind of message to the client, in the client's language, with the moment it is
about written in the client's time zone.

WhatsApp sends business-initiated messages only as templates approved in advance in the WhatsApp Manager:
`TEMPLATES` names each one, with the parameters it fills in order ({{1}}, {{2}}, ...). Email sends the same
text with a subject. docs/integrations.md has the templates to register, in every language below.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_skeleton, format_time
from babel.numbers import format_currency

from domain.money import exponent
from domain.order import ClientContact
from domain.steps import Notification, NotificationKind

# The languages clients read. Adding one: a text per template below, in `REPLIES`, and in the replies'
# keywords (domain/replies.py); dates and money need nothing (Babel has every locale's CLDR data).
LOCALES = ("en", "de", "it", "fr", "ja")
# Facts that are amounts: minor units, written in the client's language with the trial's `currency`.
MONEY_FACTS = ("value", "charged", "amount", "total")


def when(moment: datetime, zone: ZoneInfo, language: str) -> str:
    """A moment as the client's language writes it (CLDR, through Babel), on the client's clock: the date
    with the month's name, and the time in the locale's own 12 or 24 hours."""
    date = format_skeleton("yMMMd", moment, tzinfo=zone, locale=language)
    time = format_time(moment, "short", tzinfo=zone, locale=language)
    return str(Locale.parse(language).datetime_formats["medium"]).replace("{1}", date).replace("{0}", time)


def money(minor: int, currency: str, language: str) -> str:
    """An amount in minor units as the client's language writes it: `£4,200.00`, `4.200,00 £`, `￥640,000`."""
    return format_currency(Decimal(minor).scaleb(-exponent(currency)), currency, locale=language)


# Per kind: the WhatsApp template's name, then per language a subject and a body; the body's {names} are
# the template's parameters, in the order `PARAMETERS` gives them ({{1}}, {{2}}, ...).
TEMPLATES: dict[NotificationKind, tuple[str, dict[str, tuple[str, str]]]] = {
    NotificationKind.TRIAL_ENDING: (
        "style_trial_ending",
        {
            "en": (
                "Your Style Trial ends soon",
                "Your Style Trial ends in {hours} hours, on {when} ({zone}). Tell us which pieces you keep; "
                "send back the others within {return_days} days of the end, or they are charged. Order {order}.",
            ),
            "de": (
                "Ihr Style Trial endet bald",
                "Ihr Style Trial endet in {hours} Stunden, am {when} ({zone}). Sagen Sie uns, welche Stücke Sie "
                "behalten; senden Sie die anderen innerhalb von {return_days} Tagen nach dem Ende zurück, sonst "
                "werden sie berechnet. Bestellung {order}.",
            ),
            "it": (
                "Il suo Style Trial sta per finire",
                "Il suo Style Trial finisce tra {hours} ore, il {when} ({zone}). Ci dica quali capi tiene; "
                "restituisca gli altri entro {return_days} giorni dalla fine, altrimenti vengono addebitati. "
                "Ordine {order}.",
            ),
            "fr": (
                "Votre Style Trial se termine bientôt",
                "Votre Style Trial se termine dans {hours} heures, le {when} ({zone}). Dites-nous quelles pièces "
                "vous gardez ; renvoyez les autres dans les {return_days} jours qui suivent la fin, sinon elles "
                "seront facturées. Commande {order}.",
            ),
            "ja": (
                "スタイル・トライアルの終了が近づいています",
                "スタイル・トライアルはあと{hours}時間、{when}（{zone}）に終了します。お手元に残すアイテムをお知らせください。"
                "それ以外のアイテムは終了後{return_days}日以内にご返送ください。ご返送のないアイテムは請求の対象となります。"
                "ご注文番号 {order}。",
            ),
        },
    ),
    NotificationKind.TRIAL_CONFIRMED: (
        "style_trial_confirmed",
        {
            "en": (
                "Your Style Trial is confirmed",
                "Your Style Trial of {pieces} pieces (order {order}) is confirmed. You will have {days} days to "
                "decide, from the day the last parcel reaches you.",
            ),
            "de": (
                "Ihr Style Trial ist bestätigt",
                "Ihr Style Trial mit {pieces} Stücken (Bestellung {order}) ist bestätigt. Sie haben {days} Tage "
                "Zeit, ab dem Tag, an dem das letzte Paket bei Ihnen ankommt.",
            ),
            "it": (
                "Il suo Style Trial è confermato",
                "Il suo Style Trial di {pieces} capi (ordine {order}) è confermato. Avrà {days} giorni per "
                "decidere, dal giorno in cui riceve l'ultimo pacco.",
            ),
            "fr": (
                "Votre Style Trial est confirmé",
                "Votre Style Trial de {pieces} pièces (commande {order}) est confirmé. Vous aurez {days} jours "
                "pour décider, à partir du jour où le dernier colis vous parvient.",
            ),
            "ja": (
                "スタイル・トライアルが確定しました",
                "{pieces}点のスタイル・トライアル（ご注文番号 {order}）が確定しました。"
                "最後のお荷物がお手元に届いた日から{days}日間ご検討いただけます。",
            ),
        },
    ),
    NotificationKind.PARCEL_DISPATCHED: (
        "style_trial_dispatched",
        {
            "en": (
                "Your Style Trial is on its way",
                "A parcel of your Style Trial (order {order}) is on its way: {pieces} pieces with {carrier}, "
                "tracking number {tracking}. Follow it: {tracking_link}",
            ),
            "de": (
                "Ihr Style Trial ist unterwegs",
                "Ein Paket Ihres Style Trial (Bestellung {order}) ist unterwegs: {pieces} Stücke mit {carrier}, "
                "Sendungsnummer {tracking}. Sendungsverfolgung: {tracking_link}",
            ),
            "it": (
                "Il suo Style Trial è in viaggio",
                "Un pacco del suo Style Trial (ordine {order}) è in viaggio: {pieces} capi con {carrier}, "
                "numero di spedizione {tracking}. Lo segua qui: {tracking_link}",
            ),
            "fr": (
                "Votre Style Trial est en route",
                "Un colis de votre Style Trial (commande {order}) est en route : {pieces} pièces avec {carrier}, "
                "numéro de suivi {tracking}. Suivez-le : {tracking_link}",
            ),
            "ja": (
                "スタイル・トライアルを発送しました",
                "スタイル・トライアル（ご注文番号 {order}）のお荷物を発送しました。{carrier}にて{pieces}点、"
                "追跡番号 {tracking}。配送状況：{tracking_link}",
            ),
        },
    ),
    NotificationKind.TRIAL_STARTED: (
        "style_trial_started",
        {
            "en": (
                "Your Style Trial has started",
                "Everything has arrived: your Style Trial (order {order}) has started. You have {days} days, "
                "until {when} ({zone}), to decide what you keep.",
            ),
            "de": (
                "Ihr Style Trial hat begonnen",
                "Alles ist angekommen: Ihr Style Trial (Bestellung {order}) hat begonnen. Sie haben {days} Tage, "
                "bis {when} ({zone}), um zu entscheiden, was Sie behalten.",
            ),
            "it": (
                "Il suo Style Trial è iniziato",
                "È arrivato tutto: il suo Style Trial (ordine {order}) è iniziato. Ha {days} giorni, fino al "
                "{when} ({zone}), per decidere cosa tenere.",
            ),
            "fr": (
                "Votre Style Trial a commencé",
                "Tout est arrivé : votre Style Trial (commande {order}) a commencé. Vous avez {days} jours, "
                "jusqu'au {when} ({zone}), pour décider de ce que vous gardez.",
            ),
            "ja": (
                "スタイル・トライアルが始まりました",
                "すべてのお荷物が届き、スタイル・トライアル（ご注文番号 {order}）が始まりました。"
                "{when}（{zone}）までの{days}日間で、お手元に残すアイテムをお決めください。",
            ),
        },
    ),
    NotificationKind.PARCEL_LOST: (
        "style_trial_parcel_lost",
        {
            "en": (
                "A parcel of your Style Trial was lost",
                "The carrier lost parcel {tracking} ({carrier}) of your Style Trial (order {order}). Its pieces "
                "will not be charged; your personal shopper will be in touch.",
            ),
            "de": (
                "Ein Paket Ihres Style Trial ging verloren",
                "Der Versanddienst hat das Paket {tracking} ({carrier}) Ihres Style Trial (Bestellung {order}) "
                "verloren. Die Stücke darin werden nicht berechnet; Ihr Personal Shopper meldet sich bei Ihnen.",
            ),
            "it": (
                "Un pacco del suo Style Trial è andato perso",
                "Il corriere ha perso il pacco {tracking} ({carrier}) del suo Style Trial (ordine {order}). I "
                "capi che conteneva non le saranno addebitati; il suo personal shopper la contatterà.",
            ),
            "fr": (
                "Un colis de votre Style Trial a été perdu",
                "Le transporteur a perdu le colis {tracking} ({carrier}) de votre Style Trial (commande {order}). "
                "Ses pièces ne vous seront pas facturées ; votre personal shopper va vous contacter.",
            ),
            "ja": (
                "スタイル・トライアルのお荷物が紛失しました",
                "配送業者がスタイル・トライアル（ご注文番号 {order}）のお荷物 {tracking}（{carrier}）を紛失しました。"
                "中のアイテムは請求の対象外です。担当のパーソナルショッパーよりご連絡いたします。",
            ),
        },
    ),
    NotificationKind.RETURN_DUE: (
        "style_trial_return_due",
        {
            "en": (
                "Last day to send back your Style Trial",
                "Please send back the {pieces} pieces you return from your Style Trial (order {order}) by {when} "
                "({zone}); pieces not with the carrier by then are charged.",
            ),
            "de": (
                "Letzter Tag für Ihre Rücksendung",
                "Bitte senden Sie die {pieces} Stücke aus Ihrem Style Trial (Bestellung {order}), die Sie "
                "zurückgeben, bis {when} ({zone}) zurück; was bis dahin nicht beim Versanddienst ist, wird berechnet.",
            ),
            "it": (
                "Ultimo giorno per il reso",
                "Restituisca i {pieces} capi del suo Style Trial (ordine {order}) che non tiene entro il {when} "
                "({zone}); i capi non consegnati al corriere entro allora vengono addebitati.",
            ),
            "fr": (
                "Dernier jour pour votre retour",
                "Merci de renvoyer les {pieces} pièces de votre Style Trial (commande {order}) que vous retournez "
                "avant le {when} ({zone}) ; celles qui ne sont pas chez le transporteur d'ici là seront facturées.",
            ),
            "ja": (
                "ご返送の最終日です",
                "スタイル・トライアル（ご注文番号 {order}）でご返送いただく{pieces}点は、{when}（{zone}）までに"
                "配送業者へお渡しください。それまでにお渡しのないアイテムは請求の対象となります。",
            ),
        },
    ),
    NotificationKind.RETURN_RECEIVED: (
        "style_trial_return_received",
        {
            "en": (
                "We received your return",
                "We have received your return of {pieces} pieces (order {order}). Thank you.",
            ),
            "de": (
                "Ihre Rücksendung ist angekommen",
                "Wir haben Ihre Rücksendung mit {pieces} Stücken erhalten (Bestellung {order}). Vielen Dank.",
            ),
            "it": (
                "Abbiamo ricevuto il suo reso",
                "Abbiamo ricevuto il suo reso di {pieces} capi (ordine {order}). Grazie.",
            ),
            "fr": (
                "Nous avons reçu votre retour",
                "Nous avons bien reçu votre retour de {pieces} pièces (commande {order}). Merci.",
            ),
            "ja": (
                "ご返送品を受け取りました",
                "ご返送いただいた{pieces}点を受け取りました（ご注文番号 {order}）。ありがとうございました。",
            ),
        },
    ),
    NotificationKind.PIECE_DAMAGED: (
        "style_trial_piece_damaged",
        {
            "en": (
                "A returned piece arrived damaged",
                "{piece} from your Style Trial (order {order}) came back damaged ({damage}), so it is charged: "
                "{amount}. Your personal shopper can tell you more.",
            ),
            "de": (
                "Ein zurückgesandtes Stück ist beschädigt",
                "{piece} aus Ihrem Style Trial (Bestellung {order}) kam beschädigt zurück ({damage}) und wird "
                "daher berechnet: {amount}. Ihr Personal Shopper gibt Ihnen gern Auskunft.",
            ),
            "it": (
                "Un capo restituito è danneggiato",
                "{piece} del suo Style Trial (ordine {order}) è tornato danneggiato ({damage}) e viene quindi "
                "addebitato: {amount}. Il suo personal shopper è a disposizione per chiarimenti.",
            ),
            "fr": (
                "Une pièce retournée est endommagée",
                "{piece} de votre Style Trial (commande {order}) est revenu endommagé ({damage}) ; il est donc "
                "facturé : {amount}. Votre personal shopper peut vous en dire plus.",
            ),
            "ja": (
                "ご返送品に損傷がありました",
                "スタイル・トライアル（ご注文番号 {order}）の{piece}に損傷（{damage}）が見られたため、{amount}を"
                "請求させていただきます。詳しくは担当のパーソナルショッパーにお尋ねください。",
            ),
        },
    ),
    NotificationKind.EXTENSION_GRANTED: (
        "style_trial_extended",
        {
            "en": (
                "Your Style Trial is extended",
                "Of course: your Style Trial (order {order}) now has {days} more days and ends on {when_zone}.",
            ),
            "de": (
                "Ihr Style Trial ist verlängert",
                "Gern: Ihr Style Trial (Bestellung {order}) hat {days} Tage mehr und endet am {when_zone}.",
            ),
            "it": (
                "Il suo Style Trial è prolungato",
                "Certamente: il suo Style Trial (ordine {order}) ha {days} giorni in più e termina il {when_zone}.",
            ),
            "fr": (
                "Votre Style Trial est prolongé",
                "Bien sûr : votre Style Trial (commande {order}) a {days} jours de plus et se termine le {when_zone}.",
            ),
            "ja": (
                "スタイル・トライアルを延長しました",
                "かしこまりました。スタイル・トライアル（ご注文番号 {order}）を{days}日延長し、終了は{when_zone}です。",
            ),
        },
    ),
    NotificationKind.EXCHANGE_CONFIRMED: (
        "style_trial_exchange",
        {
            "en": (
                "Your exchange is arranged",
                "Your exchange is arranged (order {order}): {replacement} will be sent to you in place of {piece}. "
                "Please send {piece} back with your return; it is not charged.",
            ),
            "de": (
                "Ihr Umtausch ist veranlasst",
                "Ihr Umtausch ist veranlasst (Bestellung {order}): Sie erhalten {replacement} anstelle von "
                "{piece}. Bitte senden Sie {piece} mit Ihrer Rücksendung zurück; es wird nicht berechnet.",
            ),
            "it": (
                "Il suo cambio è predisposto",
                "Il suo cambio è predisposto (ordine {order}): le invieremo {replacement} al posto di {piece}. "
                "La preghiamo di restituire {piece} con il suo reso; non le viene addebitato.",
            ),
            "fr": (
                "Votre échange est organisé",
                "Votre échange est organisé (commande {order}) : nous vous envoyons {replacement} à la place de "
                "{piece}. Merci de renvoyer {piece} avec votre retour ; il ne vous est pas facturé.",
            ),
            "ja": (
                "お取り替えを手配しました",
                "お取り替えを手配しました（ご注文番号 {order}）。{piece}の代わりに{replacement}をお送りします。"
                "{piece}はご返送品と一緒にお戻しください。ご請求はございません。",
            ),
        },
    ),
    NotificationKind.EXCHANGE_ASKED: (
        "style_trial_exchange_asked",
        {
            "en": (
                "Your exchange",
                "We have passed your request for an exchange (order {order}) to your personal shopper, who will "
                "arrange it with you shortly.",
            ),
            "de": (
                "Ihr Umtausch",
                "Wir haben Ihren Umtauschwunsch (Bestellung {order}) an Ihre persönliche Einkaufsberaterin "
                "weitergegeben, die ihn in Kürze mit Ihnen regelt.",
            ),
            "it": (
                "Il suo cambio",
                "Abbiamo inoltrato la sua richiesta di cambio (ordine {order}) alla sua personal shopper, che la "
                "organizzerà con lei a breve.",
            ),
            "fr": (
                "Votre échange",
                "Nous avons transmis votre demande d'échange (commande {order}) à votre personal shopper, qui "
                "l'organisera avec vous très bientôt.",
            ),
            "ja": (
                "お取り替えについて",
                "お取り替えのご依頼（ご注文番号 {order}）を担当のパーソナルショッパーに伝えました。"
                "まもなくご連絡のうえ手配いたします。",
            ),
        },
    ),
    NotificationKind.EXTENSION_ASKED: (
        "style_trial_extension_asked",
        {
            "en": (
                "More time for your Style Trial",
                "We have passed your request for more time (order {order}) to your personal shopper, who will "
                "answer you shortly.",
            ),
            "de": (
                "Mehr Zeit für Ihr Style Trial",
                "Wir haben Ihre Bitte um mehr Zeit (Bestellung {order}) an Ihren Personal Shopper weitergegeben, "
                "der Ihnen in Kürze antwortet.",
            ),
            "it": (
                "Più tempo per il suo Style Trial",
                "Abbiamo inoltrato la sua richiesta di più tempo (ordine {order}) al suo personal shopper, che le "
                "risponderà a breve.",
            ),
            "fr": (
                "Plus de temps pour votre Style Trial",
                "Nous avons transmis votre demande de temps supplémentaire (commande {order}) à votre personal "
                "shopper, qui vous répondra rapidement.",
            ),
            "ja": (
                "スタイル・トライアルの延長について",
                "延長のご希望（ご注文番号 {order}）を担当のパーソナルショッパーに伝えました。まもなくご連絡いたします。",
            ),
        },
    ),
    NotificationKind.COLLECTION_OFFER: (
        "style_trial_collection_offer",
        {
            "en": (
                "Shall we collect your return?",
                "You are sending back {pieces} pieces from your Style Trial (order {order}) by {when_zone}. Our "
                "courier can collect them from you: {slots}. Or ask for a prepaid label: {label_link}.",
            ),
            "de": (
                "Sollen wir Ihre Rücksendung abholen?",
                "Sie senden {pieces} Stücke aus Ihrem Style Trial (Bestellung {order}) bis {when_zone} zurück. "
                "Unser Kurier kann sie bei Ihnen abholen: {slots}. Oder ein frankiertes Etikett: {label_link}.",
            ),
            "it": (
                "Ritiriamo noi il suo reso?",
                "Restituisce {pieces} capi del suo Style Trial (ordine {order}) entro il {when_zone}. Il nostro "
                "corriere può ritirarli da lei: {slots}. Oppure un'etichetta prepagata: {label_link}.",
            ),
            "fr": (
                "Voulez-vous que nous venions chercher votre retour ?",
                "Vous renvoyez {pieces} pièces de votre Style Trial (commande {order}) avant le {when_zone}. "
                "Notre coursier peut venir les chercher : {slots}. Ou une étiquette prépayée : {label_link}.",
            ),
            "ja": (
                "返品の集荷をご希望ですか",
                "スタイル・トライアル（ご注文番号 {order}）の{pieces}点を{when_zone}までにご返送ください。"
                "集荷の日時：{slots}。着払い伝票をご希望の場合：{label_link}",
            ),
        },
    ),
    NotificationKind.LABEL_OFFER: (
        "style_trial_label_offer",
        {
            "en": (
                "A prepaid label for your return",
                "You are sending back {pieces} pieces from your Style Trial (order {order}) by {when_zone}. "
                "Ask for a prepaid label: {label_link}.",
            ),
            "de": (
                "Ein frankiertes Etikett für Ihre Rücksendung",
                "Sie senden {pieces} Stücke aus Ihrem Style Trial (Bestellung {order}) bis {when_zone} zurück. "
                "Fordern Sie ein frankiertes Etikett an: {label_link}.",
            ),
            "it": (
                "Un'etichetta prepagata per il suo reso",
                "Restituisce {pieces} capi del suo Style Trial (ordine {order}) entro il {when_zone}. Richieda "
                "un'etichetta prepagata: {label_link}.",
            ),
            "fr": (
                "Une étiquette prépayée pour votre retour",
                "Vous renvoyez {pieces} pièces de votre Style Trial (commande {order}) avant le {when_zone}. "
                "Demandez une étiquette prépayée : {label_link}.",
            ),
            "ja": (
                "返品用の着払い伝票",
                "スタイル・トライアル（ご注文番号 {order}）の{pieces}点を{when_zone}までにご返送ください。"
                "着払い伝票のご依頼：{label_link}",
            ),
        },
    ),
    NotificationKind.COLLECTION_BOOKED: (
        "style_trial_collection_booked",
        {
            "en": (
                "Your return collection is booked",
                "{carrier} will collect the {pieces} pieces you return from your Style Trial (order {order}) on "
                "{when} to {until} ({zone}). Tracking {tracking}; your label: {label_url}",
            ),
            "de": (
                "Ihre Abholung ist gebucht",
                "{carrier} holt die {pieces} Stücke, die Sie aus Ihrem Style Trial (Bestellung {order}) "
                "zurückgeben, am {when} bis {until} ({zone}) ab. Sendungsnummer {tracking}; Ihr Etikett: {label_url}",
            ),
            "it": (
                "Il ritiro del suo reso è prenotato",
                "{carrier} ritirerà i {pieces} capi che restituisce dal suo Style Trial (ordine {order}) il "
                "{when} – {until} ({zone}). Tracking {tracking}; la sua etichetta: {label_url}",
            ),
            "fr": (
                "L'enlèvement de votre retour est réservé",
                "{carrier} viendra chercher les {pieces} pièces que vous retournez de votre Style Trial (commande "
                "{order}) le {when} – {until} ({zone}). Suivi {tracking} ; votre étiquette : {label_url}",
            ),
            "ja": (
                "返品の集荷を手配しました",
                "スタイル・トライアル（ご注文番号 {order}）でご返送の{pieces}点を、{carrier}が{when}〜{until}"
                "（{zone}）に集荷に伺います。追跡番号 {tracking}、伝票：{label_url}",
            ),
        },
    ),
    NotificationKind.RETURN_LABEL_ISSUED: (
        "style_trial_return_label",
        {
            "en": (
                "Your prepaid return label",
                "Here is the prepaid label for the {pieces} pieces you return from your Style Trial (order "
                "{order}): {label_url} Hand the parcel to {carrier}; tracking {tracking}.",
            ),
            "de": (
                "Ihr frankiertes Rücksendeetikett",
                "Hier ist das frankierte Etikett für die {pieces} Stücke, die Sie aus Ihrem Style Trial "
                "(Bestellung {order}) zurückgeben: {label_url} Geben Sie das Paket bei {carrier} ab; "
                "Sendungsnummer {tracking}.",
            ),
            "it": (
                "La sua etichetta di reso prepagata",
                "Ecco l'etichetta prepagata per i {pieces} capi che restituisce dal suo Style Trial (ordine "
                "{order}): {label_url} Consegni il pacco a {carrier}; tracking {tracking}.",
            ),
            "fr": (
                "Votre étiquette de retour prépayée",
                "Voici l'étiquette prépayée pour les {pieces} pièces que vous retournez de votre Style Trial "
                "(commande {order}) : {label_url} Remettez le colis à {carrier} ; suivi {tracking}.",
            ),
            "ja": (
                "返品用の着払い伝票",
                "スタイル・トライアル（ご注文番号 {order}）でご返送の{pieces}点の伝票はこちらです：{label_url} "
                "お荷物を{carrier}にお渡しください。追跡番号 {tracking}。",
            ),
        },
    ),
    NotificationKind.RETURN_SHIPPED: (
        "style_trial_return_shipped",
        {
            "en": (
                "Your return is on its way",
                "Your return of {pieces} pieces (order {order}) is with {carrier} ({tracking}); those pieces "
                "will not be charged.",
            ),
            "de": (
                "Ihre Rücksendung ist unterwegs",
                "Ihre Rücksendung mit {pieces} Stücken (Bestellung {order}) ist bei {carrier} ({tracking}); "
                "diese Stücke werden nicht berechnet.",
            ),
            "it": (
                "Il suo reso è in viaggio",
                "Il suo reso di {pieces} capi (ordine {order}) è affidato a {carrier} ({tracking}); questi capi "
                "non le saranno addebitati.",
            ),
            "fr": (
                "Votre retour est en route",
                "Votre retour de {pieces} pièces (commande {order}) est chez {carrier} ({tracking}) ; ces pièces "
                "ne vous seront pas facturées.",
            ),
            "ja": (
                "ご返送品が発送されました",
                "ご返送の{pieces}点（ご注文番号 {order}）は{carrier}（{tracking}）がお預かりしました。"
                "これらのアイテムは請求の対象外です。",
            ),
        },
    ),
    NotificationKind.RETURN_BOOKING_FAILED: (
        "style_trial_return_booking_failed",
        {
            "en": (
                "We could not book your return",
                "We could not book your return for order {order}. Your personal shopper will arrange it with you.",
            ),
            "de": (
                "Ihre Rücksendung konnte nicht gebucht werden",
                "Wir konnten Ihre Rücksendung für Bestellung {order} nicht buchen. Ihr Personal Shopper "
                "organisiert sie mit Ihnen.",
            ),
            "it": (
                "Non siamo riusciti a prenotare il reso",
                "Non siamo riusciti a prenotare il reso dell'ordine {order}. Il suo personal shopper lo "
                "organizzerà con lei.",
            ),
            "fr": (
                "Nous n'avons pas pu réserver votre retour",
                "Nous n'avons pas pu réserver le retour de la commande {order}. Votre personal shopper "
                "l'organisera avec vous.",
            ),
            "ja": (
                "返品の手配ができませんでした",
                "ご注文番号 {order} の返品を手配できませんでした。担当のパーソナルショッパーよりご連絡いたします。",
            ),
        },
    ),
    NotificationKind.RECEIPT: (
        "style_trial_receipt",
        {
            "en": (
                "Your Style Trial receipt",
                "Charged for your Style Trial (order {order}): {items}. Total {total}, to {paid_with}.",
            ),
            "de": (
                "Ihr Style-Trial-Beleg",
                "Berechnet für Ihr Style Trial (Bestellung {order}): {items}. Gesamt {total}, belastet auf {paid_with}.",
            ),
            "it": (
                "La ricevuta del suo Style Trial",
                "Addebitato per il suo Style Trial (ordine {order}): {items}. Totale {total}, su {paid_with}.",
            ),
            "fr": (
                "Le reçu de votre Style Trial",
                "Facturé pour votre Style Trial (commande {order}) : {items}. Total {total}, sur {paid_with}.",
            ),
            "ja": (
                "スタイル・トライアルのご請求明細",
                "スタイル・トライアル（ご注文番号 {order}）のご請求：{items}。合計 {total}（{paid_with}）。",
            ),
        },
    ),
    NotificationKind.TRIAL_SUMMARY: (
        "style_trial_summary",
        {
            "en": (
                "Your Style Trial is complete",
                "Your Style Trial (order {order}) is complete: you kept {kept} of "
                "{pieces} pieces, {charged} charged. Thank you.",
            ),
            "de": (
                "Ihr Style Trial ist abgeschlossen",
                "Ihr Style Trial (Bestellung {order}) ist abgeschlossen: Sie "
                "behalten {kept} von {pieces} Stücken, berechnet {charged}. Vielen Dank.",
            ),
            "it": (
                "Il suo Style Trial è concluso",
                "Il suo Style Trial (ordine {order}) è concluso: ha tenuto {kept} "
                "capi su {pieces}, addebitati {charged}. Grazie.",
            ),
            "fr": (
                "Votre Style Trial est terminé",
                "Votre Style Trial (commande {order}) est terminé : vous gardez "
                "{kept} pièces sur {pieces}, {charged} facturés. Merci.",
            ),
            "ja": (
                "スタイル・トライアルが完了しました",
                "スタイル・トライアル（ご注文番号 {order}）が完了しました。"
                "{pieces}点中{kept}点をお手元に残され、{charged}を請求いたしました。ありがとうございました。",
            ),
        },
    ),
    NotificationKind.REFUNDED: (
        "style_trial_refunded",
        {
            "en": (
                "Your Style Trial refund",
                "We have refunded {amount} for {piece} (order {order}). Your bank may take a few days to show it "
                "on your card.",
            ),
            "de": (
                "Ihre Style-Trial-Erstattung",
                "Wir haben {amount} für {piece} erstattet (Bestellung {order}). Je nach Bank erscheint der Betrag "
                "in einigen Tagen auf Ihrer Karte.",
            ),
            "it": (
                "Il suo rimborso Style Trial",
                "Abbiamo rimborsato {amount} per {piece} (ordine {order}). Secondo i tempi della sua banca, "
                "l'importo apparirà sulla carta in pochi giorni.",
            ),
            "fr": (
                "Votre remboursement Style Trial",
                "Nous avons remboursé {amount} pour {piece} (commande {order}). Selon votre banque, le montant "
                "apparaîtra sur votre carte d'ici quelques jours.",
            ),
            "ja": (
                "スタイル・トライアルの返金について",
                "{piece}について{amount}を返金いたしました（ご注文番号 {order}）。"
                "カードへの反映まで、カード会社により数日かかる場合がございます。",
            ),
        },
    ),
}

# The template parameters each kind fills, in order ({{1}}, {{2}}, ...).
PARAMETERS: dict[NotificationKind, tuple[str, ...]] = {
    NotificationKind.TRIAL_ENDING: ("hours", "when_zone", "order", "return_days"),
    NotificationKind.TRIAL_CONFIRMED: ("pieces", "order", "days"),
    NotificationKind.TRIAL_SUMMARY: ("order", "kept", "pieces", "charged"),
    NotificationKind.PARCEL_DISPATCHED: ("order", "pieces", "carrier", "tracking", "tracking_link"),
    NotificationKind.TRIAL_STARTED: ("order", "days", "when_zone"),
    NotificationKind.PARCEL_LOST: ("order", "tracking", "carrier"),
    NotificationKind.RETURN_DUE: ("order", "pieces", "when_zone"),
    NotificationKind.RETURN_RECEIVED: ("order", "pieces"),
    NotificationKind.PIECE_DAMAGED: ("order", "piece", "amount", "damage"),
    NotificationKind.RECEIPT: ("order", "items", "total", "paid_with"),
    NotificationKind.COLLECTION_BOOKED: (
        "carrier",
        "pieces",
        "order",
        "when",
        "until",
        "zone",
        "tracking",
        "label_url",
    ),
    NotificationKind.RETURN_LABEL_ISSUED: ("pieces", "order", "label_url", "carrier", "tracking"),
    NotificationKind.COLLECTION_OFFER: ("pieces", "order", "when_zone", "slots", "label_link"),
    NotificationKind.EXTENSION_GRANTED: ("order", "days", "when_zone"),
    NotificationKind.EXTENSION_ASKED: ("order",),
    NotificationKind.EXCHANGE_CONFIRMED: ("order", "replacement", "piece"),
    NotificationKind.EXCHANGE_ASKED: ("order",),
    NotificationKind.LABEL_OFFER: ("pieces", "order", "when_zone", "label_link"),
    NotificationKind.RETURN_SHIPPED: ("pieces", "order", "carrier", "tracking"),
    NotificationKind.RETURN_BOOKING_FAILED: ("order",),
    NotificationKind.REFUNDED: ("amount", "piece", "order"),
}


@dataclass(frozen=True)
class Rendered:
    template: str  # the WhatsApp template's name
    language: str
    parameters: list[str]  # the template's {{1}}, {{2}}, ... in order
    subject: str
    text: str
    # The payloads of the template's quick-reply buttons, in order (a reply carries the one tapped).
    buttons: tuple[str, ...] = ()


# Collection slots offered to a client: windows of the client's own day, from tomorrow, at least `SLOT_LEAD`
# ahead, over by the return deadline; the first `SLOTS_OFFERED` of them.
SLOT_WINDOWS = ((time(9), time(13)), (time(14), time(18)))
SLOT_LEAD = timedelta(hours=12)
SLOTS_OFFERED = 3
LABEL = "label"  # the payload (and the word a client may write) that asks for a prepaid label instead
LABEL_REPLY = {
    "en": 'reply "label"', "de": "antworten Sie „label“", "it": 'risponda "label"', "fr": "répondez « label »",
    "ja": "「label」とご返信ください",
}  # fmt: skip


def collection_slots(now: datetime, zone: ZoneInfo, deadline: datetime) -> list[tuple[datetime, datetime]]:
    """The slots to offer, in UTC."""
    slots: list[tuple[datetime, datetime]] = []
    today = now.astimezone(zone).date()
    for days in range(1, 15):
        for opens, closes in SLOT_WINDOWS:
            day = today + timedelta(days=days)
            start = datetime.combine(day, opens, zone).astimezone(UTC)
            end = datetime.combine(day, closes, zone).astimezone(UTC)
            if start >= now + SLOT_LEAD and end <= deadline and len(slots) < SLOTS_OFFERED:
                slots.append((start, end))
    return slots


def slot_choice(start: datetime, end: datetime) -> str:
    """A slot as a reply's payload (and a link's choice): `collect:<start>/<end>`, in UTC."""
    return f"collect:{start:%Y-%m-%dT%H:%MZ}/{end:%Y-%m-%dT%H:%MZ}"


def read_choice(choice: str) -> tuple[datetime, datetime] | str | None:
    """What a client chose: a slot (start, end), the label, or None when it is neither."""
    if choice.strip().lower() == LABEL:
        return LABEL
    if not choice.startswith("collect:") or len(choice) > 60:
        return None
    try:
        start, end = (datetime.strptime(t, "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC) for t in choice[8:].split("/"))
    except ValueError:
        return None
    return start, end


def slot_text(start: datetime, end: datetime, zone: ZoneInfo, language: str, day_skeleton: str = "MMMEd") -> str:
    """A collection slot as the client's language writes it, on their clock: its day, then its hours."""
    day = format_skeleton(day_skeleton, start, tzinfo=zone, locale=language)
    opens = format_time(start, "short", tzinfo=zone, locale=language)
    return f"{day} {opens}–{format_time(end, 'short', tzinfo=zone, locale=language)}"


# What a receipt was charged to: the card by its last four digits, or, when the gateway did not say, the
# client's saved payment method.
PAID_WITH = {
    "en": ("the card ending {last4}", "your saved payment method"),
    "de": ("die Karte mit der Endung {last4}", "Ihre hinterlegte Zahlungsmethode"),
    "it": ("la carta che termina con {last4}", "il suo metodo di pagamento salvato"),
    "fr": ("la carte se terminant par {last4}", "votre moyen de paiement enregistré"),
    "ja": ("末尾{last4}のカード", "ご登録のお支払い方法"),
}

# A damaged piece the warehouse described in no words.
NO_DETAIL = {
    "en": "as the warehouse's inspection found", "de": "laut Prüfung im Lager", "it": "secondo il controllo in magazzino",
    "fr": "selon le contrôle à l'entrepôt", "ja": "倉庫での検品による",
}  # fmt: skip

# Each carrier's public tracking page, by the carrier's name as dispatches write it (lower case, letters and
# digits only: "DHL Express" is "dhlexpress"); {tracking} is the number. A carrier not here gets its
# tracking number in place of a link (STYLETRIAL_TRACKING_PAGES adds or overrides carriers).
TRACKING_PAGES = {
    "dhl": "https://www.dhl.com/global-en/home/tracking.html?tracking-id={tracking}",
    "dhlexpress": "https://www.dhl.com/global-en/home/tracking.html?tracking-id={tracking}",
    "ups": "https://www.ups.com/track?tracknum={tracking}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={tracking}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={tracking}",
    "royalmail": "https://www.royalmail.com/track-your-item#/tracking-results/{tracking}",
    "dpd": "https://www.dpd.co.uk/apps/tracking/?reference={tracking}",
    "gls": "https://gls-group.com/track/{tracking}",
    "posteitaliane": "https://www.poste.it/cerca/index.html#/risultati-spedizioni/{tracking}",
    "laposte": "https://www.laposte.fr/outils/suivre-vos-envois?code={tracking}",
    "colissimo": "https://www.laposte.fr/outils/suivre-vos-envois?code={tracking}",
    "yamato": "https://toi.kuronekoyamato.co.jp/cgi-bin/tneko?number00=1&number01={tracking}",
    "japanpost": "https://trackings.post.japanpost.jp/services/srv/search/?requestNo1={tracking}",
}


def tracking_link(carrier: str, tracking: str, pages: dict[str, str] | None = None) -> str:
    """The carrier's tracking page for the number, or the number itself for a carrier we know no page of."""
    page = {**TRACKING_PAGES, **(pages or {})}.get("".join(c for c in carrier.lower() if c.isalnum()))
    return page.replace("{tracking}", quote(tracking, safe="")) if page else tracking


def wait_for_daytime(notification: Notification, now: datetime) -> datetime | None:
    """When the client's day begins, if it is night where they are and the message can wait; None: now."""
    if notification.daytime is None or notification.contact is None or "client" not in notification.audience:
        return None
    start, end = notification.daytime
    zone = zone_of(notification.contact)
    local = now.astimezone(zone)
    if start <= local.hour < end:
        return None
    day = local.date() if local.hour < start else local.date() + timedelta(days=1)
    return datetime.combine(day, time(start), zone).astimezone(UTC)


def zone_of(contact: ClientContact) -> ZoneInfo:
    return zone_named(contact.time_zone)


def zone_named(name: str) -> ZoneInfo:
    """A client's zone; UTC when the name is not a zone this machine knows (it is validated only in form)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _offer(
    notification: Notification, zone: ZoneInfo, language: str, now: datetime,
    link: Callable[[str, str, datetime], str] | None,
) -> tuple[dict[str, str], tuple[str, ...]] | None:  # fmt: skip
    """An offer's choices: the slots (a collection offer: three of the client's day, or nothing true to say)
    and the label; by email a link for each (`link(order, choice, until)`), on WhatsApp a button."""
    until = notification.about
    if until is None:
        return None
    slots = collection_slots(now, zone, until) if notification.kind == NotificationKind.COLLECTION_OFFER else []
    if notification.kind == NotificationKind.COLLECTION_OFFER and len(slots) < SLOTS_OFFERED:
        return None  # too late for three slots (the trial offers a label then)
    choices = [slot_choice(*slot) for slot in slots]
    lines = [f"{i}) {slot_text(*slot, zone, language)}" for i, slot in enumerate(slots, 1)]
    if link is not None and notification.order_id:  # by email: a link per choice
        order = notification.order_id
        lines = [f"{line}: {link(order, choice, until)}" for line, choice in zip(lines, choices, strict=True)]
        label = link(order, LABEL, until)
    else:  # on WhatsApp: a button, or the word written back
        label = LABEL_REPLY.get(language, LABEL_REPLY["en"])
    return {"slots": "; ".join(lines), "label_link": label}, (*choices, LABEL)


def render(
    notification: Notification, contact: ClientContact, now: datetime,
    link: Callable[[str, str, datetime], str] | None = None, tracking_pages: dict[str, str] | None = None,
) -> Rendered | None:  # fmt: skip
    """The message to the client for `notification`, or None for a kind the client is not told of. An offer
    lists its choices; by email each has a link (`link(order, choice, until)`), on WhatsApp a button."""
    if notification.kind not in TEMPLATES:
        return None
    template, languages = TEMPLATES[notification.kind]
    language = contact.locale if contact.locale in languages else "en"
    subject, body = languages[language]
    zone = zone_of(contact)
    values = {"order": notification.order_id or "", **notification.facts}
    if "carrier" in values and "tracking" in values:
        values["tracking_link"] = tracking_link(values["carrier"], values["tracking"], tracking_pages)
    currency = notification.facts.get("currency")
    for name in MONEY_FACTS:
        # In minor units since money is written per language; a notification made before is already text.
        if currency and values.get(name, "").isdigit():
            values[name] = money(int(values[name]), currency, language)
    if "damage" in values and not values["damage"]:  # the warehouse wrote nothing: say so, in their language
        values["damage"] = NO_DETAIL.get(language, NO_DETAIL["en"])
    if "card" in values:  # a receipt: the card it was charged to, when the gateway said which
        card, saved = PAID_WITH.get(language, PAID_WITH["en"])
        values["paid_with"] = card.format(last4=values["card"]) if values["card"] else saved
    if currency and "items" in values:
        # A receipt's lines, each piece and its price, in the client's language; one line of text, as a
        # WhatsApp template parameter must be.
        values["items"] = "; ".join(
            f"{name} {money(int(price), currency, language)}" for name, price in json.loads(values["items"])
        )
    if notification.about is not None:
        written = when(notification.about, zone, language)
        hours = max(0, round((notification.about - now).total_seconds() / 3600))
        values |= {"hours": str(hours), "when": written, "zone": str(zone.key), "when_zone": f"{written} ({zone.key})"}
        if values.get("slot_ends_at"):  # a collection's window closes: its time, on the same clock
            until = datetime.fromisoformat(values["slot_ends_at"])
            values["until"] = format_time(until, "short", tzinfo=zone, locale=language)
    buttons: tuple[str, ...] = ()
    if notification.kind in (NotificationKind.COLLECTION_OFFER, NotificationKind.LABEL_OFFER):
        offer = _offer(notification, zone, language, now, link)
        if offer is None:
            return None
        choices, buttons = offer
        values |= choices
    try:
        text = body.format(**values)
        parameters = [values[name] for name in PARAMETERS[notification.kind]]
    except KeyError:
        return None  # a notification without what its message needs (none is made so): not sent
    return Rendered(
        template=template, language=language, parameters=parameters, subject=subject, text=text, buttons=buttons
    )


# Answers to a client's reply, sent as plain text within the conversation the client opened: "noted" with
# what was decided, "unclear" with what could not be read, "closed" when the trial no longer takes
# decisions, "which" when the reply quotes no message of ours.
REPLIES: dict[str, dict[str, str]] = {
    "noted": {
        "en": "Thank you, noted for order {order}: {decisions}.",
        "de": "Danke, für Bestellung {order} vermerkt: {decisions}.",
        "it": "Grazie, registrato per l'ordine {order}: {decisions}.",
        "fr": "Merci, c'est noté pour la commande {order} : {decisions}.",
        "ja": "ありがとうございます。ご注文 {order} について承りました：{decisions}。",
    },
    "unclear": {
        "en": "Sorry, we could not read that ({why}). Please write, for example: keep 1, 3; return 2.",
        "de": "Entschuldigung, das konnten wir nicht lesen ({why}). Schreiben Sie zum Beispiel: behalten 1, 3; zurück 2.",
        "it": "Ci scusi, non siamo riusciti a leggerlo ({why}). Scriva per esempio: tengo 1, 3; rendo 2.",
        "fr": "Désolés, nous n'avons pas pu le lire ({why}). Écrivez par exemple : garder 1, 3 ; retour 2.",
        "ja": "申し訳ありません、読み取れませんでした（{why}）。例：キープ 1 3; 返品 2",
    },
    "closed": {
        "en": "Thank you. The trial for order {order} is closed, so nothing was changed; your personal shopper will be glad to help.",
        "de": "Danke. Der Trial für Bestellung {order} ist abgeschlossen, es wurde nichts geändert; Ihr Personal Shopper hilft gern.",
        "it": "Grazie. La prova per l'ordine {order} è chiusa, quindi non è stato cambiato nulla; il suo personal shopper sarà lieto di aiutarla.",
        "fr": "Merci. L'essai de la commande {order} est clos, rien n'a été modifié ; votre personal shopper se fera un plaisir de vous aider.",
        "ja": "ありがとうございます。ご注文 {order} のトライアルは終了しているため、変更はありません。担当のパーソナルショッパーがお手伝いします。",
    },
    "which": {
        "en": "Thank you. Please reply to our reminder so we know which order you mean.",
        "de": "Danke. Bitte antworten Sie auf unsere Erinnerung, damit wir wissen, welche Bestellung Sie meinen.",
        "it": "Grazie. Risponda al nostro promemoria, così sappiamo a quale ordine si riferisce.",
        "fr": "Merci. Répondez à notre rappel pour que nous sachions de quelle commande il s'agit.",
        "ja": "ありがとうございます。どのご注文か分かるよう、リマインダーに返信してください。",
    },
}
_DECIDED = {
    "en": ("keep", "return"), "de": ("behalten", "zurück"), "it": ("tengo", "rendo"), "fr": ("garder", "retour"),
    "ja": ("キープ", "返品"),
}  # fmt: skip


def reply_text(kind: str, locale: str, **values: str) -> str:
    texts = REPLIES[kind]
    return texts.get(locale, texts["en"]).format(**values)


def decisions_text(locale: str, numbers: dict[str, list[int]]) -> str:
    keep, back = _DECIDED.get(locale, _DECIDED["en"])
    parts = [
        f"{word} {', '.join(map(str, numbers[key]))}"
        for key, word in (("keep", keep), ("return", back))
        if numbers.get(key)
    ]
    return "; ".join(parts)
