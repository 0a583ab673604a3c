"""The `#ccproactivecall` macro (seed 002): the agent's offer of a call, one text per language.

Written by hand (data only). A text a supervisor has already written for a language is kept;
the demo's earlier texts for this shortcut (a late-order script, not an offer of a call) are
replaced. Reversing removes only the texts this migration wrote and nobody edited since.
"""

from django.db import migrations

SHORTCUT = "ccproactivecall"

# language -> (title, body). "" is the text for a chat in any other language (English).
TEXTS = {
    "en": ("Offer a call",
           "Hi {{ contact.first_name }}, this may be quicker to sort out on the phone. Would you like me to "
           "call you now? I'll send you a link: choose \"Call me now\" or keep chatting here, whichever you "
           "prefer."),
    "es": ("Ofrecer una llamada",
           "Hola, {{ contact.first_name }}: quizá lo resolvamos antes por teléfono. ¿Quieres que te llame "
           "ahora? Te envío un enlace: elige «Llamadme ahora» o sigue en el chat, como prefieras."),
    "pt": ("Oferecer uma chamada",
           "Olá, {{ contact.first_name }}! Talvez seja mais rápido resolver isto por telefone. Quer que eu "
           "lhe ligue agora? Vou enviar um link: escolha «Liguem-me agora» ou continue no chat, como preferir."),
    "ko": ("전화 상담 제안",
           "{{ contact.first_name }}님, 전화로 이야기하면 더 빨리 해결될 것 같아요. 지금 전화드려도 될까요? "
           "링크를 보내드릴게요. '지금 전화해 주세요'를 누르시거나 편하시면 채팅으로 계속하셔도 됩니다."),
    "fr": ("Proposer un appel",
           "Bonjour {{ contact.first_name }}, ce sera peut-être plus rapide par téléphone. Voulez-vous que je "
           "vous appelle maintenant ? Je vous envoie un lien : choisissez « Appelez-moi maintenant » ou "
           "continuez ici par chat, comme vous préférez."),
    "de": ("Anruf anbieten",
           "Hallo {{ contact.first_name }}, am Telefon lässt sich das vielleicht schneller klären. Soll ich Sie "
           "jetzt anrufen? Ich schicke Ihnen einen Link: Wählen Sie „Jetzt anrufen“ oder schreiben Sie einfach "
           "hier weiter, ganz wie Sie möchten."),
    "it": ("Proporre una chiamata",
           "Ciao {{ contact.first_name }}, forse al telefono risolviamo prima. Vuoi che ti chiami adesso? Ti "
           "mando un link: scegli «Chiamatemi ora» oppure continua in chat, come preferisci."),
    "ca": ("Oferir una trucada",
           "Hola, {{ contact.first_name }}: potser ho resoldrem abans per telèfon. Vols que et truqui ara? "
           "T'envio un enllaç: tria «Truqueu-me ara» o continua al xat, com prefereixis."),
    "pl": ("Zaproponuj rozmowę",
           "Dzień dobry, {{ contact.first_name }}! Przez telefon może pójść szybciej. Czy mogę teraz "
           "zadzwonić? Wyślę link: wybierz „Zadzwońcie teraz” albo pisz dalej na czacie, jak wolisz."),
    "ro": ("Oferă un apel",
           "Bună, {{ contact.first_name }}! Poate rezolvăm mai repede la telefon. Vrei să te sun acum? Îți "
           "trimit un link: alege „Sunați-mă acum” sau continuă pe chat, cum preferi."),
    "uk": ("Запропонувати дзвінок",
           "Вітаю, {{ contact.first_name }}! Телефоном, мабуть, вирішимо швидше. Зателефонувати вам зараз? "
           "Я надішлю посилання: оберіть «Зателефонуйте мені зараз» або продовжуйте в чаті, як вам зручніше."),
    "ka": ("ზარის შეთავაზება",
           "გამარჯობა, {{ contact.first_name }}! ტელეფონით ალბათ უფრო სწრაფად მოვაგვარებთ. გნებავთ, ახლა "
           "დაგირეკოთ? გამოგიგზავნით ბმულს: აირჩიეთ „დამირეკეთ ახლა“ ან განაგრძეთ ჩატში, როგორც გირჩევნიათ."),
    "ar": ("عرض مكالمة",
           "مرحبًا {{ contact.first_name }}، قد يكون حل هذا عبر الهاتف أسرع. هل تريد أن أتصل بك الآن؟ "
           "سأرسل لك رابطًا: اختر «اتصلوا بي الآن» أو تابع المحادثة هنا، كما تفضّل."),
}
TEXTS[""] = TEXTS["en"]

# What the demo wrote for this shortcut before (supportdesk/demo/chat.py), replaced when untouched.
DEMO_TEXTS = (
    "Hi {{ contact.first_name }}, this is {{ agent.first_name }} from support. We saw your order is running "
    "late and wanted to call you proactively before you had to get in touch. The courier is on the way and we "
    "are following the order until it reaches you. Is there anything else I can do for you?",
    "Hola {{ contact.first_name }}, soy {{ agent.first_name }} del equipo de atención. Hemos visto que tu "
    "pedido va con retraso y queríamos llamarte antes de que tuvieras que escribirnos. El repartidor está en "
    "camino y seguimos el pedido hasta que llegue. ¿Puedo ayudarte en algo más?",
)


def macros_write(apps, schema_editor):
    Macro = apps.get_model("conversations", "Macro")
    for language, (title, body) in TEXTS.items():
        macro = Macro.objects.filter(shortcut=SHORTCUT, language=language).first()
        if macro is None:
            Macro.objects.create(shortcut=SHORTCUT, language=language, title=title, body=body)
        elif macro.body in DEMO_TEXTS:
            macro.title, macro.body = title, body
            macro.save(update_fields=["title", "body"])


def macros_remove(apps, schema_editor):
    Macro = apps.get_model("conversations", "Macro")
    for language, (_title, body) in TEXTS.items():
        Macro.objects.filter(shortcut=SHORTCUT, language=language, body=body).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("conversations", "0011_voice"),
    ]

    operations = [
        migrations.RunPython(macros_write, macros_remove),
    ]
