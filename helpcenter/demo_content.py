"""The demo's help center: a few articles in a few languages and scripts (Latin with accents,
Georgian, Korean), so `make run` shows the pages and the search in each way it works."""

from __future__ import annotations

CATEGORIES = {
    "orders": {
        "en": ("Orders and delivery", "Tracking, delays and missing items"),
        "es": ("Pedidos y entregas", "Seguimiento, retrasos y productos que faltan"),
        "ka": ("შეკვეთები და მიწოდება", "თვალყურის დევნება და დაგვიანება"),
        "ko": ("주문 및 배송", "배송 조회, 지연, 누락된 상품"),
    },
    "payments": {
        "en": ("Payments and refunds", "Charges, refunds, credits and coupons"),
        "es": ("Pagos y reembolsos", "Cargos, reembolsos, créditos y cupones"),
        "ka": ("გადახდები და თანხის დაბრუნება", "თანხის დაბრუნება და კუპონები"),
        "ko": ("결제 및 환불", "결제, 환불, 적립금, 쿠폰"),
    },
}

# key -> (category, contact reasons, {language: (slug, title, body in Markdown)})
ARTICLES = {
    "where-is-my-order": ("orders", ("late_order",), {
        "en": ("where-is-my-order", "Where is my order?",
               "Open **My orders** to see your order's status and the time we promised.\n\n"
               "- *Preparing*: the store is getting it ready.\n- *On the way*: the courier has it; "
               "follow them on the map.\n\n"
               "If it is later than promised, we tell you why and what we do about it."),
        "es": ("donde-esta-mi-pedido", "¿Dónde está mi pedido?",
               "Abre **Mis pedidos** para ver el estado de tu pedido y la hora de entrega prometida.\n\n"
               "- *En preparación*: la tienda lo está preparando.\n"
               "- *En camino*: el repartidor lo lleva; "
               "síguelo en el mapa.\n\nSi llega tarde, te explicamos el retraso y cómo lo compensamos."),
        "ka": ("sad-aris-chemi-shekveta", "სად არის ჩემი შეკვეთა?",
               "გახსენით **ჩემი შეკვეთები** და ნახეთ შეკვეთის სტატუსი და მიწოდების დრო.\n\n"
               "თუ შეკვეთა გვიანდება, გეტყვით მიზეზს."),
        "ko": ("주문-배송-조회", "내 주문은 어디에 있나요?",
               "**내 주문**에서 주문 상태와 약속된 배송 시간을 확인하세요.\n\n"
               "배송이 지연되면 이유와 보상 방법을 알려 드립니다."),
    }),
    "missing-item": ("orders", ("missing_item",), {
        "en": ("missing-item", "An item is missing or wrong",
               "Tell us which item within 24 hours of delivery, with a photo if you can. "
               "We refund it or send it again."),
        "es": ("falta-un-producto", "Falta un producto o no es el que pedí",
               "Indícanos qué producto en las 24 horas siguientes a la entrega, con una foto si puedes. "
               "Te lo reembolsamos o te lo enviamos de nuevo."),
    }),
    "refunds": ("payments", ("refund", "payment"), {
        "en": ("refunds", "How refunds work",
               "A refund goes back to the card you paid with in 3 to 5 working days, "
               "or at once as credit in your account if you prefer."),
        "es": ("reembolsos", "Cómo funcionan los reembolsos y la devolución del dinero",
               "La devolución del dinero llega a la tarjeta con la que pagaste en 3 a 5 días laborables, "
               "o al momento como crédito en tu cuenta si lo prefieres."),
        "ka": ("tankhis-dabruneba", "როგორ ხდება თანხის დაბრუნება",
               "თანხა დაგიბრუნდებათ ბარათზე 3-5 სამუშაო დღეში, ან მაშინვე კრედიტის სახით."),
        "ko": ("환불-안내", "환불은 어떻게 진행되나요?",
               "환불 금액은 결제한 카드로 영업일 기준 3~5일 내에 돌아가며, "
               "원하시면 즉시 적립금으로 받을 수 있습니다."),
    }),
}
