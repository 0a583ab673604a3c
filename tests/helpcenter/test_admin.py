"""Supervisors write articles in the admin: a preview of the rendered body, the search
columns kept, every edit audited; other staff see nothing."""

from __future__ import annotations

import pytest
from django.test import Client

from helpcenter.models import ArticleVersion, HelpAudit
from helpcenter.search import article_search
from tests.factories import SupervisorFactory, UserFactory


@pytest.fixture
def admin_client(db) -> Client:
    client = Client()
    client.force_login(SupervisorFactory(is_staff=True))
    return client


@pytest.mark.django_db
def test_the_change_form_previews_the_rendered_body(admin_client, help_center):
    version = help_center.versions["where:es"]

    html = admin_client.get(f"/admin/helpcenter/articleversion/{version.pk}/change/").content.decode()

    assert '<div class="help-preview" data-testid="help-preview"><p>Abre <strong>Mis pedidos</strong>' in html


@pytest.mark.django_db
def test_the_preview_button_renders_what_is_typed_sanitised(admin_client):
    response = admin_client.post("/admin/helpcenter/articleversion/preview/",
                                 {"body": "# Hola\n\n*sí* <script>x</script>"})

    assert response.status_code == 200
    assert response.content.decode() == "<h1>Hola</h1>\n<p><em>sí</em> &lt;script&gt;x&lt;/script&gt;</p>\n"


@pytest.mark.django_db
def test_other_staff_may_not_write_or_preview(help_center):
    staff = Client()
    staff.force_login(UserFactory(is_staff=True))

    assert staff.get("/admin/helpcenter/articleversion/").status_code == 403
    assert staff.post("/admin/helpcenter/articleversion/preview/", {"body": "x"}).status_code == 403


@pytest.mark.django_db
def test_saving_in_the_admin_renders_indexes_and_audits(admin_client, help_center):
    version = help_center.versions["where:es"]

    response = admin_client.post(f"/admin/helpcenter/articleversion/{version.pk}/change/", {
        "article": version.article_id, "language": "es", "title": "Seguimiento del envío",
        "slug": "donde-esta-mi-pedido", "summary": "", "body": "Sigue al **repartidor** en el mapa.",
        "status": "published",
    })

    assert response.status_code == 302, response.content.decode()[:2000]
    saved = ArticleVersion.objects.get(pk=version.pk)
    assert saved.body_html == "<p>Sigue al <strong>repartidor</strong> en el mapa.</p>\n"
    assert [hit.title for hit in article_search(query="repartidor", language="es")] == ["Seguimiento del envío"]
    audit = HelpAudit.objects.get(model="helpcenter.articleversion", action="changed")
    assert audit.before["title"] == "¿Dónde está mi pedido?" and audit.after["title"] == "Seguimiento del envío"
    assert audit.actor_label.startswith(audit.actor.username)


@pytest.mark.django_db
def test_unpublishing_takes_the_version_off_the_public_pages(admin_client, client, help_center):
    version = help_center.versions["where:es"]

    admin_client.post(f"/admin/helpcenter/articleversion/{version.pk}/change/", {
        "article": version.article_id, "language": "es", "title": version.title, "slug": version.slug,
        "summary": "", "body": version.body, "status": "draft",
    })

    assert client.get("/help/es/orders/donde-esta-mi-pedido/").status_code == 404
    assert ArticleVersion.objects.get(pk=version.pk).published_at is None


@pytest.mark.django_db
def test_a_category_cannot_take_the_search_pages_address(admin_client):
    response = admin_client.post("/admin/helpcenter/category/add/", {
        "slug": "search", "position": 0, "is_active": "on",
        "names-TOTAL_FORMS": 0, "names-INITIAL_FORMS": 0, "names-MIN_NUM_FORMS": 0, "names-MAX_NUM_FORMS": 1000,
    })

    assert response.status_code == 200  # the form again, with the error
    assert "is the address of the search page" in response.content.decode()
    assert not HelpAudit.objects.filter(model="helpcenter.category").exists()


@pytest.mark.django_db
def test_a_category_saved_in_the_admin_is_audited(admin_client):
    response = admin_client.post("/admin/helpcenter/category/add/", {
        "slug": "cuentas", "position": 2, "is_active": "on",
        "names-TOTAL_FORMS": 1, "names-INITIAL_FORMS": 0, "names-MIN_NUM_FORMS": 0, "names-MAX_NUM_FORMS": 1000,
        "names-0-language": "es", "names-0-name": "Cuentas", "names-0-description": "",
    })

    assert response.status_code == 302
    audit = HelpAudit.objects.get(model="helpcenter.category")
    assert (audit.action, audit.before, audit.after["slug"]) == ("created", None, "cuentas")
