"""language_detect names the language of a customer's first chat message, or falls back to the
caller's default when the message is too short or too ambiguous to tell."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conversations.language import DEFAULT_THRESHOLD, SUPPORTED_LANGUAGES, language_detect

# Each one is "my order is late / I was charged twice / I can't log in", written natively.
MESSAGES = [
    # en
    ("en", "Hi, my order is late. Where is the courier?"),
    ("en", "I was charged twice for the same order, can you refund one of the payments?"),
    ("en", "The app keeps logging me out and I can't track my delivery."),
    # es
    ("es", "Hola, mi pedido llega tarde. ¿Dónde está el repartidor?"),
    ("es", "Me han cobrado dos veces el mismo pedido, ¿podéis devolverme uno de los pagos?"),
    ("es", "No puedo iniciar sesión en la aplicación desde ayer, ¿qué tengo que hacer?"),
    # ca
    ("ca", "Hola, la meva comanda arriba tard. On és el repartidor?"),
    ("ca", "M'heu cobrat dues vegades la mateixa comanda, em podeu retornar un dels pagaments?"),
    ("ca", "No puc entrar a l'aplicació des d'ahir, què he de fer?"),
    # it
    ("it", "Ciao, il mio ordine è in ritardo. Dov'è il corriere?"),
    ("it", "Mi avete addebitato due volte lo stesso ordine, potete rimborsarmi uno dei pagamenti?"),
    ("it", "Non riesco ad accedere all'app da ieri, cosa devo fare?"),
    # pt
    ("pt", "Olá, a minha encomenda está atrasada. Onde está o estafeta?"),
    ("pt", "Fui cobrado duas vezes pelo mesmo pedido, vocês podem me devolver um dos pagamentos?"),
    ("pt", "Não consigo entrar no aplicativo desde ontem, o que devo fazer?"),
    # fr
    ("fr", "Bonjour, ma commande est en retard. Où est le livreur ?"),
    ("fr", "J'ai été débité deux fois pour la même commande, pouvez-vous me rembourser un des paiements ?"),
    ("fr", "Je n'arrive plus à me connecter à l'application depuis hier, que dois-je faire ?"),
    # pl
    ("pl", "Dzień dobry, moje zamówienie się spóźnia. Gdzie jest kurier?"),
    ("pl", "Pobrano ode mnie opłatę dwa razy za to samo zamówienie, czy możecie zwrócić jedną z płatności?"),
    ("pl", "Od wczoraj nie mogę zalogować się do aplikacji, co mam zrobić?"),
    # ro
    ("ro", "Bună ziua, comanda mea întârzie. Unde este curierul?"),
    ("ro", "Mi-ați încasat de două ori aceeași comandă, puteți să-mi returnați una dintre plăți?"),
    ("ro", "Nu mă pot conecta la aplicație de ieri, ce trebuie să fac?"),
    # uk
    ("uk", "Добрий день, моє замовлення затримується. Де зараз кур'єр і коли він приїде?"),
    ("uk", "У мене є питання щодо оплати: гроші за одне замовлення списали двічі."),
    ("uk", "Я не можу увійти в застосунок з учорашнього дня, що мені робити?"),
    # ka
    ("ka", "გამარჯობა, ჩემი შეკვეთა აგვიანებს. სად არის კურიერი?"),
    ("ka", "ერთი და იგივე შეკვეთისთვის თანხა ორჯერ ჩამომეჭრა, შეგიძლიათ ერთი გადახდა დამიბრუნოთ?"),
    ("ka", "გუშინდელი დღიდან აპლიკაციაში ვერ შევდივარ, რა უნდა გავაკეთო?"),
    # kk
    ("kk", "Сәлеметсіз бе, менің тапсырысым кешігіп жатыр. Курьер қайда?"),
    ("kk", "Бір тапсырыс үшін менен екі рет ақша алынды, төлемнің бірін қайтарып бере аласыз ба?"),
    ("kk", "Кешеден бері қосымшаға кіре алмай жүрмін, не істеуім керек?"),
    # ky
    ("ky", "Саламатсызбы, менин буйрутмам кечигип жатат. Курьер кайда?"),
    ("ky", "Бир эле буйрутма үчүн менден эки жолу акча алынды, төлөмдүн бирин кайтарып бере аласызбы?"),
    ("ky", "Кечээтен бери тиркемеге кире албай жатам, эмне кылышым керек?"),
    # hr
    ("hr", "Pozdrav, moja narudžba kasni. Gdje je dostavljač?"),
    ("hr", "Naplatili ste mi dvaput istu narudžbu, možete li mi vratiti novac za jedno plaćanje?"),
    ("hr", "Od jučer se ne mogu prijaviti u aplikaciju, što trebam učiniti?"),
    # sr
    ("sr", "Здраво, моја поруџбина касни. Где је достављач?"),
    ("sr", "Наплатили сте ми два пута исту поруџбину, да ли можете да ми вратите једну уплату?"),
    ("sr", "Од јуче не могу да се пријавим у апликацију, шта треба да урадим?"),
    # bg
    ("bg", "Здравейте, поръчката ми закъснява. Къде е куриерът?"),
    ("bg", "Таксуваха ме два пъти за една и съща поръчка, можете ли да ми върнете едното плащане?"),
    ("bg", "От вчера не мога да вляза в приложението, какво да направя?"),
    # ar
    ("ar", "مرحبا، طلبي متأخر. أين المندوب؟"),
    ("ar", "تم خصم المبلغ مرتين على نفس الطلب، هل يمكنكم إرجاع إحدى الدفعتين؟"),
    ("ar", "لا أستطيع تسجيل الدخول إلى التطبيق منذ أمس، ماذا أفعل؟"),
    # de
    ("de", "Hallo, meine Bestellung ist verspätet. Wo ist der Kurier?"),
    ("de", "Mir wurde dieselbe Bestellung zweimal berechnet, können Sie mir eine der Zahlungen erstatten?"),
    ("de", "Ich kann mich seit gestern nicht mehr in der App anmelden, was soll ich tun?"),
    # ko
    ("ko", "안녕하세요, 주문한 상품이 늦어지고 있어요. 배달 기사님은 어디에 계신가요?"),
    ("ko", "같은 주문에 대해 결제가 두 번 되었습니다. 한 건은 환불해 주실 수 있나요?"),
    ("ko", "어제부터 앱에 로그인이 안 돼요. 어떻게 해야 하나요?"),
    # tr
    ("tr", "Merhaba, siparişim gecikti. Kurye nerede?"),
    ("tr", "Aynı sipariş için iki kez ücret alındı, ödemelerden birini iade edebilir misiniz?"),
    ("tr", "Dünden beri uygulamaya giriş yapamıyorum, ne yapmam gerekiyor?"),
    # ru
    ("ru", "Здравствуйте, мой заказ задерживается. Где курьер?"),
    ("ru", "С меня дважды списали деньги за один и тот же заказ, можете вернуть один из платежей?"),
    ("ru", "Со вчерашнего дня не могу войти в приложение, что мне делать?"),
]


def test_every_supported_language_has_samples():
    assert {code for code, _ in MESSAGES} == set(SUPPORTED_LANGUAGES)


@pytest.mark.parametrize(
    ("expected", "text"), MESSAGES, ids=[f"{code}-{i % 3}" for i, (code, _) in enumerate(MESSAGES)]
)
def test_detects_the_language_of_a_support_message(expected, text):
    code, confidence = language_detect(text, default="xx")

    assert code == expected
    assert DEFAULT_THRESHOLD <= confidence <= 1.0


@pytest.mark.parametrize(
    ("expected", "text"),
    [
        # Same loanword "заказ", three languages: Kyrgyz (ү/ө, "кечигип жатат"), Kazakh (ә/і/қ), Russian.
        ("ky", "Саламатсызбы, заказым кечигип жатат"),
        ("kk", "Сәлеметсіз бе, заказым кешігіп жатыр"),
        ("ru", "Здравствуйте, мой заказ задерживается"),
        # Serbian in Latin script is still Serbian; Croatian (ijekavian "gdje", "što") stays hr.
        ("sr", "Šta se desilo sa mojom porudžbinom, gde je kurir?"),
        ("hr", "Gdje je moja pošiljka, čekam već tri dana?"),
    ],
)
def test_tells_close_languages_apart(expected, text):
    assert language_detect(text, default="xx")[0] == expected


@pytest.mark.parametrize("text", ["", "   \n\t", "12345", "ok", "?!", "😀👍🙏", "👍 ok"])
def test_empty_short_numeric_or_emoji_text_gives_the_default(text):
    assert language_detect(text, default="es") == ("es", 0.0)


def test_an_ambiguous_short_message_falls_below_the_threshold():
    # "pedido" is both Spanish and Portuguese for "order".
    code, confidence = language_detect("pedido", default="en")

    assert code == "en"
    assert confidence < DEFAULT_THRESHOLD


def test_the_threshold_is_the_callers_choice():
    text = "Hola, mi pedido llega tarde. ¿Dónde está el repartidor?"

    assert language_detect(text, default="en", threshold=0.0)[0] == "es"
    assert language_detect(text, default="en", threshold=1.01)[0] == "en"


@given(st.text())
def test_never_raises_on_any_string(text):
    code, confidence = language_detect(text, default="en")

    assert code == "en" or code in SUPPORTED_LANGUAGES
    assert 0.0 <= confidence <= 1.0
