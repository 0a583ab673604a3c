"""A small help center in several languages and scripts, written through the services."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from helpcenter.models import Article, ArticleVersion, Category, CategoryName, VersionStatus
from helpcenter.services import article_version_save


@dataclass
class HelpCenter:
    orders: Category
    payments: Category
    versions: dict[str, ArticleVersion]  # "<article key>:<language>"


def version_write(article: Article, language: str, slug: str, title: str, body: str,
                  status: str = VersionStatus.PUBLISHED) -> ArticleVersion:
    return article_version_save(version=ArticleVersion(article=article, language=language, slug=slug, title=title,
                                                       body=body, status=status))


@pytest.fixture
def help_center(db) -> HelpCenter:
    orders = Category.objects.create(slug="orders", position=0)
    payments = Category.objects.create(slug="payments", position=1)
    for category, names in ((orders, {"es": "Pedidos", "en": "Orders", "ko": "주문", "ka": "შეკვეთები"}),
                            (payments, {"es": "Pagos", "en": "Payments"})):
        for language, name in names.items():
            CategoryName.objects.create(category=category, language=language, name=name)
    where = Article.objects.create(key="where", category=orders, position=0)
    refunds = Article.objects.create(key="refunds", category=payments, position=0)
    coupons = Article.objects.create(key="coupons", category=payments, position=1)
    secret = Article.objects.create(key="secret", category=orders, position=5)
    versions = {
        "where:es": version_write(where, "es", "donde-esta-mi-pedido", "¿Dónde está mi pedido?",
                                  "Abre **Mis pedidos** para ver el estado y la hora de entrega."),
        "where:en": version_write(where, "en", "where-is-my-order", "Where is my order?",
                                  "Open **My orders** to see its status and the promised time."),
        "where:ko": version_write(where, "ko", "주문-배송-조회", "내 주문은 어디에 있나요?",
                                  "**내 주문**에서 주문 상태와 배송 시간을 확인하세요."),
        "where:ka": version_write(where, "ka", "sad-aris-chemi-shekveta", "სად არის ჩემი შეკვეთა?",
                                  "გახსენით ჩემი შეკვეთები და ნახეთ მიწოდების დრო."),
        "refunds:es": version_write(refunds, "es", "reembolsos", "Devolución del dinero y reembolsos",
                                    "El reembolso llega a tu tarjeta en 3 a 5 días laborables."),
        "refunds:en": version_write(refunds, "en", "refunds", "How refunds work",
                                    "A refund goes back to your card in 3 to 5 working days."),
        "coupons:es": version_write(coupons, "es", "cupones", "Cupones de descuento",
                                    "Un cupón se aplica al pagar; si hubo una devolución parcial, el cupón "
                                    "sigue siendo válido."),
        "secret:es": version_write(secret, "es", "borrador-devolucion", "Devolución secreta (borrador)",
                                   "Un borrador sobre la devolución.", status=VersionStatus.DRAFT),
    }
    return HelpCenter(orders=orders, payments=payments, versions=versions)
