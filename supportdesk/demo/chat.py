"""The contact reasons agents resolve with and the macros they answer with."""

from __future__ import annotations

from conversations.models import ContactReason, Macro

CONTACT_REASONS = (
    ("late_order", "Late order"),
    ("missing_item", "Missing or wrong item"),
    ("refund", "Refund request"),
    ("payment", "Payment problem"),
    ("account", "Account and login"),
    ("courier_issue", "Courier issue"),
    ("partner_issue", "Store or restaurant issue"),
    ("other", "Other"),
)

# Contact reasons agents may offer a chat customer a call for (seed 002; editable in the admin).
CALLS_ENABLED = frozenset({"late_order", "missing_item"})

# (shortcut, language, title, body): one shortcut, a text per language; the English text
# (language empty) serves every chat without a text in its own language. The call offer,
# #ccproactivecall, ships with the desk in every language (migration conversations 0012).
MACROS = (
    ("greeting", "", "Greeting",
     "Hi {{ contact.first_name }}, I'm {{ agent.first_name }} from support. How can I help you today?"),
    ("greeting", "es", "Saludo",
     "Hola {{ contact.first_name }}, soy {{ agent.first_name }} del equipo de atención. ¿En qué puedo ayudarte?"),
    ("latecredit", "", "Late order: apology with credit",
     "I'm sorry your order is late, {{ contact.first_name }}. We have added a credit to your account as an "
     "apology: your balance is now {{ contact.credit_balance }} EUR, ready for your next order."),
    ("latecredit", "es", "Pedido con retraso: disculpa con crédito",
     "Siento mucho el retraso de tu pedido, {{ contact.first_name }}. Te hemos añadido un crédito como "
     "disculpa: tu saldo es ahora de {{ contact.credit_balance }} EUR para tu próximo pedido."),
    ("refund", "", "Refund issued",
     "{{ contact.first_name }}, I have issued your refund. It goes back to the original payment method and "
     "usually shows within 3 to 5 working days."),
    ("refund", "es", "Reembolso emitido",
     "{{ contact.first_name }}, ya he emitido tu reembolso. Vuelve al mismo método de pago y suele verse en "
     "3 a 5 días laborables."),
    ("goodbye", "", "Goodbye",
     "Thanks for getting in touch, {{ contact.first_name }}. Have a great day! {{ agent.first_name }}"),
    ("goodbye", "es", "Despedida",
     "Gracias por escribirnos, {{ contact.first_name }}. ¡Que tengas un buen día! {{ agent.first_name }}"),
)


def demo_chat_ensure() -> None:
    """The contact reasons agents resolve with and the macros they answer with. Existing
    rows keep a supervisor's edits."""
    for key, label in CONTACT_REASONS:
        ContactReason.objects.get_or_create(key=key, defaults={"label": label,
                                                               "calls_enabled": key in CALLS_ENABLED})
    for shortcut, language, title, body in MACROS:
        Macro.objects.get_or_create(shortcut=shortcut, language=language, defaults={"title": title, "body": body})
