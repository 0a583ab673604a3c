"""The demo's recovery workflow (seed 000's: "when high-value customers with low satisfaction have
been waiting too long for their order, send an email apologising for the delay and offer a
rebate for their next order") and what makes it act: an unhappy high-value customer, and an
OMS delay the user sends (`manage.py demo_order_delay`).

The workflow is created through the engine's services (a version, enabled), once: a supervisor's
later edits in the admin are kept by a rerun of the seed.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from integrations.oms.signature import signed_headers
from supportdesk.demo.places import LOCALES
from timeline.models import Contact, ContactKind, Order, OrderStatus
from timeline.services.totals import customer_totals_refresh
from workflows import services as workflow_services
from workflows.models import Workflow

RECOVERY_KEY = "late-order-recovery"
RECOVERY_NAME = "Late order recovery: apology and coupon for high-value unhappy customers"
COUPON_AMOUNT = Decimal("5.00")
TIMER_MINUTES = 15
LIFETIME_VALUE_AT_LEAST = 300

# The apology in every native language of the demo's agents (supportdesk.demo.agents). A contact
# whose language has no text gets their country's language, else English (workflows.templates).
APOLOGY: dict[str, dict[str, str]] = {
    "en": {
        "subject": "We're sorry: your order {{ order.id }} is late",
        "body": ("Hello {{ contact.first_name }},\n\nyour order {{ order.id }} is taking "
                 "longer than we promised, and we are sorry. We have added a rebate of "
                 "{{ coupon.amount }} {{ coupon.currency }} to your next order.\n\nThank "
                 "you for your patience.\nThe support team"),
    },
    "es": {
        "subject": "Lo sentimos: tu pedido {{ order.id }} llega tarde",
        "body": ("Hola {{ contact.first_name }}:\n\ntu pedido {{ order.id }} está "
                 "tardando más de lo que te prometimos y lo sentimos. Hemos añadido un "
                 "descuento de {{ coupon.amount }} {{ coupon.currency }} a tu próximo "
                 "pedido.\n\nGracias por tu paciencia.\nEl equipo de atención al cliente"),
    },
    "ca": {
        "subject": "Ho sentim: la teva comanda {{ order.id }} arriba tard",
        "body": ("Hola {{ contact.first_name }},\n\nla teva comanda {{ order.id }} està "
                 "trigant més del que et vam prometre i ho sentim. Hem afegit un "
                 "descompte de {{ coupon.amount }} {{ coupon.currency }} a la teva "
                 "propera comanda.\n\nGràcies per la teva paciència.\nL'equip d'atenció al "
                 "client"),
    },
    "it": {
        "subject": "Ci scusiamo: il tuo ordine {{ order.id }} è in ritardo",
        "body": ("Ciao {{ contact.first_name }},\n\nil tuo ordine {{ order.id }} sta "
                 "impiegando più tempo del previsto e ce ne scusiamo. Abbiamo aggiunto "
                 "uno sconto di {{ coupon.amount }} {{ coupon.currency }} al tuo "
                 "prossimo ordine.\n\nGrazie per la pazienza.\nIl servizio clienti"),
    },
    "pt": {
        "subject": "Pedimos desculpa: a sua encomenda {{ order.id }} está atrasada",
        "body": ("Olá {{ contact.first_name }},\n\na sua encomenda {{ order.id }} está a "
                 "demorar mais do que prometemos e pedimos desculpa. Adicionámos um "
                 "desconto de {{ coupon.amount }} {{ coupon.currency }} à sua próxima "
                 "encomenda.\n\nObrigado pela sua paciência.\nA equipa de apoio ao cliente"),
    },
    "fr": {
        "subject": "Toutes nos excuses : votre commande {{ order.id }} est en retard",
        "body": ("Bonjour {{ contact.first_name }},\n\nvotre commande {{ order.id }} "
                 "prend plus de temps que prévu et nous en sommes désolés. Nous avons "
                 "ajouté une remise de {{ coupon.amount }} {{ coupon.currency }} sur "
                 "votre prochaine commande.\n\nMerci de votre patience.\nLe service client"),
    },
    "pl": {
        "subject": "Przepraszamy: Twoje zamówienie {{ order.id }} jest opóźnione",
        "body": ("Dzień dobry {{ contact.first_name }},\n\nTwoje zamówienie {{ order.id "
                 "}} dociera dłużej, niż obiecaliśmy, za co przepraszamy. Do Twojego "
                 "następnego zamówienia dodaliśmy rabat w wysokości {{ coupon.amount }} "
                 "{{ coupon.currency }}.\n\nDziękujemy za cierpliwość.\nZespół obsługi "
                 "klienta"),
    },
    "ro": {
        "subject": "Ne pare rău: comanda ta {{ order.id }} întârzie",
        "body": ("Bună, {{ contact.first_name }},\n\ncomanda ta {{ order.id }} durează "
                 "mai mult decât am promis și ne pare rău. Am adăugat o reducere de {{ "
                 "coupon.amount }} {{ coupon.currency }} la următoarea ta comandă.\n\nÎți "
                 "mulțumim pentru răbdare.\nEchipa de asistență"),
    },
    "uk": {
        "subject": "Просимо вибачення: ваше замовлення {{ order.id }} затримується",
        "body": ("Вітаємо, {{ contact.first_name }}!\n\nВаше замовлення {{ order.id }} "
                 "їде довше, ніж ми обіцяли, і нам дуже шкода. Ми додали знижку {{ "
                 "coupon.amount }} {{ coupon.currency }} до вашого наступного "
                 "замовлення.\n\nДякуємо за терпіння.\nСлужба підтримки"),
    },
    "ka": {
        "subject": "ბოდიშს გიხდით: თქვენი შეკვეთა {{ order.id }} იგვიანებს",
        "body": ("გამარჯობა, {{ contact.first_name }}!\n\nთქვენი შეკვეთა {{ order.id }} "
                 "დაპირებულზე მეტ ხანს გრძელდება და ბოდიშს გიხდით. თქვენს შემდეგ "
                 "შეკვეთაზე {{ coupon.amount }} {{ coupon.currency }}-ის ფასდაკლება "
                 "დავამატეთ.\n\nგმადლობთ მოთმინებისთვის.\nმხარდაჭერის გუნდი"),
    },
    "kk": {
        "subject": "Кешірім сұраймыз: сіздің {{ order.id }} тапсырысыңыз кешігіп жатыр",
        "body": ("Сәлеметсіз бе, {{ contact.first_name }}!\n\nСіздің {{ order.id }} "
                 "тапсырысыңыз уәде еткеннен ұзағырақ жеткізіліп жатыр, кешірім "
                 "сұраймыз. Келесі тапсырысыңызға {{ coupon.amount }} {{ "
                 "coupon.currency }} жеңілдік қостық.\n\nШыдамдылығыңызға рахмет.\nҚолдау "
                 "қызметі"),
    },
    "ky": {
        "subject": "Кечирим сурайбыз: сиздин {{ order.id }} буйрутмаңыз кечигип жатат",
        "body": ("Саламатсызбы, {{ contact.first_name }}!\n\nСиздин {{ order.id }} "
                 "буйрутмаңыз убада кылгандан узагыраак убакыт алып жатат, кечирим "
                 "сурайбыз. Кийинки буйрутмаңызга {{ coupon.amount }} {{ "
                 "coupon.currency }} арзандатуу коштук.\n\nЧыдамкайлыгыңыз үчүн рахмат.\n"
                 "Колдоо кызматы"),
    },
    "hr": {
        "subject": "Ispričavamo se: vaša narudžba {{ order.id }} kasni",
        "body": ("Pozdrav {{ contact.first_name }},\n\nvaša narudžba {{ order.id }} traje "
                 "dulje nego što smo obećali i ispričavamo se. Vašoj sljedećoj narudžbi "
                 "dodali smo popust od {{ coupon.amount }} {{ coupon.currency }}.\n\n"
                 "Hvala na strpljenju.\nTim za korisničku podršku"),
    },
    "sr": {
        "subject": "Извињавамо се: ваша поруџбина {{ order.id }} касни",
        "body": ("Поздрав {{ contact.first_name }},\n\nваша поруџбина {{ order.id }} "
                 "траје дуже него што смо обећали и извињавамо се. Вашој следећој "
                 "поруџбини додали смо попуст од {{ coupon.amount }} {{ coupon.currency "
                 "}}.\n\nХвала на стрпљењу.\nТим за корисничку подршку"),
    },
    "bg": {
        "subject": "Извиняваме се: поръчката ви {{ order.id }} закъснява",
        "body": ("Здравейте, {{ contact.first_name }},\n\nпоръчката ви {{ order.id }} "
                 "отнема повече време, отколкото обещахме, и съжаляваме. Добавихме "
                 "отстъпка от {{ coupon.amount }} {{ coupon.currency }} към следващата "
                 "ви поръчка.\n\nБлагодарим ви за търпението.\nЕкипът по обслужване на "
                 "клиенти"),
    },
    "ar": {
        "subject": "نعتذر: طلبك {{ order.id }} متأخر",
        "body": ("مرحبًا {{ contact.first_name }}،\n\nطلبك {{ order.id }} يستغرق وقتًا "
                 "أطول مما وعدناك به، ونحن نعتذر عن ذلك. أضفنا خصمًا بقيمة {{ "
                 "coupon.amount }} {{ coupon.currency }} إلى طلبك القادم.\n\nشكرًا لصبرك.\n"
                 "فريق خدمة العملاء"),
    },
    "de": {
        "subject": "Entschuldigung: Ihre Bestellung {{ order.id }} verspätet sich",
        "body": ("Hallo {{ contact.first_name }},\n\nIhre Bestellung {{ order.id }} "
                 "dauert länger als versprochen, und das tut uns leid. Wir haben Ihrer "
                 "nächsten Bestellung einen Rabatt von {{ coupon.amount }} {{ "
                 "coupon.currency }} gutgeschrieben.\n\nDanke für Ihre Geduld.\nIhr "
                 "Kundenservice"),
    },
    "ko": {
        "subject": "죄송합니다: 주문 {{ order.id }}이(가) 지연되고 있습니다",
        "body": ("{{ contact.first_name }}님, 안녕하세요.\n\n주문하신 {{ order.id }}의 배송이 약속드린 시간보다 "
                 "늦어지고 있어 진심으로 사과드립니다. 다음 주문에 {{ coupon.amount }} {{ coupon.currency }} "
                 "할인을 적용해 드렸습니다.\n\n기다려 주셔서 감사합니다.\n고객지원팀 드림"),
    },
    "tr": {
        "subject": "Özür dileriz: {{ order.id }} numaralı siparişiniz gecikti",
        "body": ("Merhaba {{ contact.first_name }},\n\n{{ order.id }} numaralı "
                 "siparişiniz söz verdiğimizden uzun sürüyor, özür dileriz. Bir sonraki "
                 "siparişinize {{ coupon.amount }} {{ coupon.currency }} indirim "
                 "ekledik.\n\nSabrınız için teşekkür ederiz.\nMüşteri hizmetleri ekibi"),
    },
}


def recovery_definition() -> dict[str, Any]:
    """15 minutes past an order's promised time, still not delivered, for a customer with a
    lifetime order value of 300 or more whose last rating was 2 of 5 or lower (or whose
    90-day average is under 3): a 5.00 coupon for the next order (OMS), then the apology by
    email in their language. One run per order; at most one per customer in 7 days."""
    return {
        "trigger": {"type": "timer", "kinds": ["order.created", "order.status_changed", "order.delayed"],
                    "at": "order.promised_at", "minutes": TIMER_MINUTES},
        "conditions": {"all": [
            {"attribute": "order.status", "op": "not_in", "value": [OrderStatus.DELIVERED, OrderStatus.CANCELLED]},
            {"attribute": "contact.kind", "op": "eq", "value": ContactKind.CUSTOMER},
            {"attribute": "contact.lifetime_order_value", "op": "gte", "value": LIFETIME_VALUE_AT_LEAST},
            {"any": [{"attribute": "contact.last_rating", "op": "lte", "value": 2},
                     {"attribute": "contact.rating_avg_90d", "op": "lt", "value": 3}]},
        ]},
        # The coupon first: the email tells its amount, and a retried run grants it once (its key).
        "steps": [
            {"action": "oms_coupon", "params": {"amount": str(COUPON_AMOUNT), "currency": "EUR",
                                                "reason": "late order apology"}},
            {"action": "send_message", "params": {"channel": "email", "template": APOLOGY}},
        ],
        "run_key": "",
        "limit": {"count": 1, "days": 7},
        "max_depth": None,
    }


def demo_workflows_ensure() -> Workflow:
    """The recovery workflow, published and enabled; left as it is when it exists already."""
    workflow = Workflow.objects.filter(key=RECOVERY_KEY).first()
    if workflow is not None:
        return workflow
    with transaction.atomic():
        workflow, _version = workflow_services.workflow_save(
            key=RECOVERY_KEY, name=RECOVERY_NAME, definition=recovery_definition(),
            description="Seed 000's recovery workflow, shipped with the demo.")
        return workflow_services.workflow_enable(workflow_id=workflow.pk)


# --- the unhappy high-value customer, and the OMS delay that makes the workflow act ---------------


@dataclass(frozen=True)
class DemoCustomer:
    external_id: str
    name: str
    email: str
    language: str
    country: str


UNHAPPY_CUSTOMER = DemoCustomer(external_id="C-VIP-0001", name="Lucía Fernández",
                                email="lucia.fernandez@example.com", language="es", country="ES")


def demo_customer_for(language: str) -> DemoCustomer:
    """The unhappy high-value customer who speaks `language` (one of the demo's LOCALES), so each
    translation of the apology can be seen arriving: Lucía for Spanish, one more per language."""
    if language == UNHAPPY_CUSTOMER.language:
        return UNHAPPY_CUSTOMER
    locale = LOCALES[language]
    surname = locale.surnames[0].split("|")[-1]  # the feminine form where it differs
    first = locale.female[0]
    name = f"{surname} {first}" if locale.family_name_first else f"{first} {surname}"
    return DemoCustomer(external_id=f"C-VIP-{language.upper()}", name=name, email=f"vip.{language}@example.com",
                        language=language, country=locale.country)


PAST_ORDER_TOTALS = (Decimal("129.90"), Decimal("94.50"), Decimal("112.35"))  # 336.75 EUR together


def demo_unhappy_customer_ensure(*, now: datetime | None = None, customer: DemoCustomer = UNHAPPY_CUSTOMER,
                                 ) -> Contact:
    """A customer worth more than 300 EUR, who rated their last chat 2 of 5: who the recovery
    workflow is for. Their ratings are set here as the satisfaction surveys would keep them."""
    now = now or timezone.now()
    spec = customer
    with transaction.atomic():
        contact, _created = Contact.objects.get_or_create(
            kind=ContactKind.CUSTOMER, external_id=spec.external_id,
            defaults={"name": spec.name, "email": spec.email, "preferred_language": spec.language,
                      "country": spec.country, "tier": "gold"},
        )
        for number, total in enumerate(PAST_ORDER_TOTALS, start=1):
            placed = now - timedelta(days=20 * number)
            Order.objects.get_or_create(external_id=f"{spec.external_id}-PAST-{number}", defaults={
                "customer": contact, "status": OrderStatus.DELIVERED, "total": total, "currency": "EUR",
                "placed_at": placed, "promised_at": placed + timedelta(minutes=40),
                "delivered_at": placed + timedelta(minutes=38)})
        Contact.objects.filter(pk=contact.pk, last_rating__isnull=True).update(
            last_rating=2, last_rated_at=now - timedelta(days=3), rating_avg_90d=Decimal("2.50"), rating_count=2)
        return customer_totals_refresh(customer_id=contact.pk)


def demo_order_delay_events(*, late_in_seconds: int = 60, now: datetime | None = None,
                            customer: DemoCustomer = UNHAPPY_CUSTOMER) -> list[dict[str, Any]]:
    """Two OMS webhook events: a new order of the unhappy customer, placed 45 minutes ago and
    promised long enough ago that the workflow's timer (15 minutes past the promise) fires in
    `late_in_seconds`; then the OMS's delay of that order."""
    now = now or timezone.now()
    order_id = f"O-DEMO-{uuid.uuid4().hex[:8].upper()}"
    promised = now - timedelta(minutes=TIMER_MINUTES) + timedelta(seconds=late_in_seconds)
    order = {
        "id": order_id, "status": "in_delivery", "total": "64.20", "currency": "EUR",
        "placed_at": (now - timedelta(minutes=45)).isoformat(), "promised_at": promised.isoformat(),
        "customer": {"id": customer.external_id, "name": customer.name, "email": customer.email,
                     "language": customer.language, "country": customer.country},
        "items": [{"sku": "weekly-groceries", "quantity": 1, "price": "64.20"}],
    }
    return [
        {"id": f"evt_demo_{uuid.uuid4().hex}", "type": "order.created",
         "occurred_at": (now - timedelta(minutes=45)).isoformat(), "data": {"order": order}},
        {"id": f"evt_demo_{uuid.uuid4().hex}", "type": "order.delayed", "occurred_at": now.isoformat(),
         "data": {"order": {"id": order_id}, "delay_minutes": 25, "reason": "courier stuck in traffic"}},
    ]


def demo_order_delay_send(*, desk_url: str, late_in_seconds: int = 60, timeout: float = 10.0,
                          customer: DemoCustomer = UNHAPPY_CUSTOMER) -> str:
    """Post the two events, signed as the OMS signs them, to a running desk's webhook; returns
    the new order's id. Raises requests.RequestException or ValueError (refused) on failure."""
    events = demo_order_delay_events(late_in_seconds=late_in_seconds, customer=customer)
    for event in events:
        body = json.dumps(event).encode()
        response = requests.post(
            f"{desk_url.rstrip('/')}/integrations/oms/webhook", data=body, timeout=timeout,
            headers={"Content-Type": "application/json",
                     **signed_headers(secret=settings.OMS_WEBHOOK_SECRET, body=body)})
        if response.status_code >= 300:
            raise ValueError(f"The desk refused the {event['type']} event ({response.status_code}): "
                             f"{response.text[:200]}")
    return events[0]["data"]["order"]["id"]
