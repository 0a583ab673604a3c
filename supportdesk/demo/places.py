"""Languages and places: the locales contacts live in."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Locale:
    country: str
    calling_code: str
    cities: tuple[str, ...]
    female: tuple[str, ...]
    male: tuple[str, ...]
    # "Masculine|Feminine" where the surname changes with gender.
    surnames: tuple[str, ...]
    hello: str
    family_name_first: bool = False


LOCALES: dict[str, Locale] = {
    "en": Locale("IE", "353", ("Dublin", "Cork", "Galway"),
                 ("Aoife", "Sarah", "Emma", "Ciara", "Niamh", "Laura"),
                 ("Conor", "Sean", "James", "Patrick", "Liam", "Darragh"),
                 ("Murphy", "Kelly", "O'Brien", "Walsh", "Byrne", "Ryan", "O'Connor", "Doyle"),
                 "Hi"),
    "es": Locale("ES", "34", ("Madrid", "Sevilla", "Valencia", "Zaragoza"),
                 ("María", "Lucía", "Carmen", "Laura", "Marta", "Paula"),
                 ("Javier", "Carlos", "Alejandro", "Pablo", "David", "Sergio"),
                 ("García", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez",
                  "Romero"),
                 "Hola"),
    "ca": Locale("ES", "34", ("Barcelona", "Girona", "Tarragona", "Lleida"),
                 ("Montserrat", "Núria", "Laia", "Mireia", "Marta", "Anna"),
                 ("Jordi", "Pau", "Marc", "Oriol", "Joan", "Arnau"),
                 ("Puig", "Vidal", "Soler", "Ferrer", "Serra", "Roca", "Pujol", "Vila"),
                 "Hola"),
    "it": Locale("IT", "39", ("Milano", "Roma", "Torino", "Napoli"),
                 ("Giulia", "Francesca", "Chiara", "Sara", "Alessia", "Martina"),
                 ("Marco", "Luca", "Alessandro", "Giuseppe", "Matteo", "Andrea"),
                 ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo",
                  "Ricci"),
                 "Ciao"),
    "pt": Locale("PT", "351", ("Lisboa", "Porto", "Braga"),
                 ("Ana", "Beatriz", "Inês", "Mariana", "Catarina", "Sofia"),
                 ("João", "Tiago", "Rui", "Miguel", "Pedro", "Diogo"),
                 ("Silva", "Santos", "Ferreira", "Pereira", "Oliveira", "Costa", "Rodrigues",
                  "Martins"),
                 "Olá"),
    "fr": Locale("FR", "33", ("Paris", "Lyon", "Marseille", "Toulouse"),
                 ("Camille", "Léa", "Manon", "Chloé", "Julie", "Inès"),
                 ("Lucas", "Hugo", "Thomas", "Nicolas", "Julien", "Antoine"),
                 ("Martin", "Bernard", "Dubois", "Durand", "Lefebvre", "Moreau", "Laurent",
                  "Girard"),
                 "Bonjour"),
    "pl": Locale("PL", "48", ("Warszawa", "Kraków", "Wrocław", "Poznań"),
                 ("Anna", "Katarzyna", "Magdalena", "Agnieszka", "Zofia", "Joanna"),
                 ("Piotr", "Krzysztof", "Tomasz", "Paweł", "Michał", "Jakub"),
                 ("Kowalski|Kowalska", "Nowak", "Wiśniewski|Wiśniewska", "Wójcik",
                  "Kamiński|Kamińska", "Lewandowski|Lewandowska", "Zieliński|Zielińska",
                  "Szymański|Szymańska"),
                 "Dzień dobry"),
    "ro": Locale("RO", "40", ("București", "Cluj-Napoca", "Iași", "Timișoara"),
                 ("Ioana", "Elena", "Andreea", "Maria", "Alexandra", "Cristina"),
                 ("Andrei", "Mihai", "Alexandru", "Ionuț", "Florin", "Gabriel"),
                 ("Popescu", "Ionescu", "Popa", "Dumitrescu", "Stan", "Stoica", "Gheorghe",
                  "Munteanu"),
                 "Bună ziua"),
    "uk": Locale("UA", "380", ("Kyiv", "Lviv", "Odesa", "Dnipro"),
                 ("Олена", "Ірина", "Наталія", "Оксана", "Юлія", "Марія"),
                 ("Олександр", "Андрій", "Дмитро", "Сергій", "Тарас", "Максим"),
                 ("Шевченко", "Коваленко", "Бондаренко", "Ткаченко", "Кравченко", "Мельник",
                  "Бойко", "Олійник"),
                 "Добрий день"),
    "ka": Locale("GE", "995", ("Tbilisi", "Batumi", "Kutaisi"),
                 ("ნინო", "მარიამ", "თამარ", "ანა", "ეკა", "სალომე"),
                 ("გიორგი", "დავით", "ლევან", "ნიკა", "ლუკა", "ირაკლი"),
                 ("ბერიძე", "კაპანაძე", "გელაშვილი", "მაისურაძე", "ლომიძე", "ჯავახიშვილი",
                  "ნოზაძე", "ხარაიშვილი"),
                 "გამარჯობა"),
    "kk": Locale("KZ", "7", ("Almaty", "Astana", "Shymkent"),
                 ("Айгерім", "Аружан", "Динара", "Жанар", "Әсел", "Гүлнар"),
                 ("Нұрлан", "Ерлан", "Арман", "Асқар", "Данияр", "Бауыржан"),
                 ("Ахметов|Ахметова", "Жұмабаев|Жұмабаева", "Смағұлов|Смағұлова",
                  "Омаров|Омарова", "Қасымов|Қасымова", "Сүлейменов|Сүлейменова",
                  "Байжанов|Байжанова", "Әбдірахманов|Әбдірахманова"),
                 "Сәлеметсіз бе"),
    "ky": Locale("KG", "996", ("Bishkek", "Osh"),
                 ("Айжан", "Бермет", "Нургүл", "Айпери", "Жылдыз", "Гулзат"),
                 ("Азамат", "Бакыт", "Нурбек", "Эрлан", "Улан", "Темир"),
                 ("Асанов|Асанова", "Токтогулов|Токтогулова", "Абдыкадыров|Абдыкадырова",
                  "Мамытов|Мамытова", "Жумабеков|Жумабекова", "Осмонов|Осмонова",
                  "Сыдыков|Сыдыкова", "Бекмуратов|Бекмуратова"),
                 "Саламатсызбы"),
    "hr": Locale("HR", "385", ("Zagreb", "Split", "Rijeka", "Osijek"),
                 ("Ana", "Ivana", "Petra", "Marija", "Lucija", "Maja"),
                 ("Ivan", "Marko", "Luka", "Tomislav", "Josip", "Ante"),
                 ("Horvat", "Kovačević", "Babić", "Marić", "Jurić", "Novak", "Knežević",
                  "Vuković"),
                 "Dobar dan"),
    "sr": Locale("RS", "381", ("Beograd", "Novi Sad", "Niš"),
                 ("Јелена", "Милица", "Ана", "Марија", "Јована", "Драгана"),
                 ("Никола", "Марко", "Стефан", "Милош", "Лазар", "Душан"),
                 ("Јовановић", "Петровић", "Николић", "Марковић", "Ђорђевић", "Стојановић",
                  "Илић", "Павловић"),
                 "Добар дан"),
    "bg": Locale("BG", "359", ("Sofia", "Plovdiv", "Varna"),
                 ("Мария", "Иванка", "Елена", "Десислава", "Габриела", "Виктория"),
                 ("Георги", "Иван", "Димитър", "Николай", "Христо", "Петър"),
                 ("Иванов|Иванова", "Георгиев|Георгиева", "Димитров|Димитрова",
                  "Петров|Петрова", "Николов|Николова", "Христов|Христова",
                  "Стоянов|Стоянова", "Тодоров|Тодорова"),
                 "Здравейте"),
    "ar": Locale("MA", "212", ("Casablanca", "Rabat", "Marrakech"),
                 ("فاطمة", "خديجة", "مريم", "سلمى", "نادية", "ياسمين"),
                 ("محمد", "يوسف", "أحمد", "عمر", "حمزة", "مهدي"),
                 ("العلوي", "بناني", "الإدريسي", "التازي", "الفاسي", "برادة", "الشرقاوي",
                  "المنصوري"),
                 "مرحبا"),
    "de": Locale("DE", "49", ("Berlin", "Hamburg", "München", "Köln"),
                 ("Anna", "Laura", "Julia", "Lena", "Sophie", "Katharina"),
                 ("Lukas", "Jonas", "Felix", "Maximilian", "Tobias", "Jan"),
                 ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner",
                  "Becker"),
                 "Hallo"),
    "ko": Locale("KR", "82", ("Seoul", "Busan", "Incheon"),
                 ("서연", "지우", "민서", "하은", "수빈", "지민"),
                 ("민준", "서준", "도윤", "예준", "시우", "현우"),
                 ("김", "이", "박", "최", "정", "강", "조", "윤"),
                 "안녕하세요", family_name_first=True),
    "tr": Locale("TR", "90", ("İstanbul", "Ankara", "İzmir"),
                 ("Zeynep", "Elif", "Ayşe", "Fatma", "Merve", "Ece"),
                 ("Mehmet", "Mustafa", "Ahmet", "Emre", "Burak", "Can"),
                 ("Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Yıldırım", "Öztürk"),
                 "Merhaba"),
}

# One language per block of ten contacts, in this order: every language shows up within the
# first 240 contacts, and the big markets come round more often.
LANGUAGE_CYCLE: tuple[str, ...] = (
    "es", "en", "it", "ca", "pt", "fr", "pl", "ro", "uk", "ka", "es", "kk", "ky", "hr",
    "sr", "bg", "ar", "de", "ko", "tr", "it", "es", "pl", "en",
)
# A customer orders from couriers and partners of this many earlier same-language blocks.
NEIGHBOUR_BLOCKS = 4
