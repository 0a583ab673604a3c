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
    ("missingitem", "", "Missing item: refunded",
     "Sorry about that, {{ contact.first_name }}! I have refunded the missing item to your card."),
    ("missingitem", "es", "Artículo que falta: reembolsado",
     "¡Lo siento, {{ contact.first_name }}! Te he reembolsado el artículo que faltaba en tu tarjeta."),
    ("cancelled", "", "Order cancelled",
     "Done: your order is cancelled and you will not be charged."),
    ("cancelled", "es", "Pedido cancelado",
     "Hecho: tu pedido está cancelado y no se te cobrará."),
    ("paymentretry", "", "Payment: please try again",
     "The payment provider had a short outage. Could you try again now?"),
    ("paymentretry", "es", "Pago: vuelve a intentarlo",
     "El proveedor de pagos tuvo una breve interrupción. ¿Puedes intentarlo de nuevo ahora?"),
    ("appupdate", "", "Courier app: update it",
     "Thanks! Please update the courier app to the latest version; that fixes the log-outs."),
    ("appupdate", "es", "App de repartidor: actualízala",
     "¡Gracias! Actualiza la app de repartidor a la última versión; eso corrige los cierres de sesión."),
    ("waitpaid", "", "Waiting at the store: paid",
     "I have called the store; they are packing it now. The wait is paid."),
    ("waitpaid", "es", "Espera en la tienda: pagada",
     "He llamado a la tienda; lo están preparando ahora. La espera se te paga."),
    ("payoutfixed", "", "Payout: deliveries added",
     "Found them: the missing deliveries are added to this week's payout."),
    ("payoutfixed", "es", "Pago: entregas añadidas",
     "Las he encontrado: las entregas que faltaban se suman al pago de esta semana."),
    ("soldout", "", "Menu: marked sold out",
     "Done, the item shows as sold out until midnight."),
    ("soldout", "es", "Menú: marcado como agotado",
     "Hecho, el artículo aparece como agotado hasta medianoche."),
    ("invoicecorrected", "", "Invoice: corrected",
     "You are right; a corrected invoice is on its way to {{ contact.store_name }}."),
    ("invoicecorrected", "es", "Factura: corregida",
     "Tienes razón; la factura corregida va de camino a {{ contact.store_name }}."),
    ("tabletreset", "", "Store tablet: reset",
     "I have reset your store on our side; please restart the tablet."),
    ("tabletreset", "es", "Tableta de la tienda: reiniciada",
     "He reiniciado tu tienda desde nuestro lado; reinicia la tableta, por favor."),
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
