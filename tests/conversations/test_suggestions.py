"""Suggested replies with the database: what replies record they inserted, training from that
history (measured on the held-out week, stored, retrained by the scheduled task and served by
the newest model), the workspace's partial, the API, and who may see which."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from conversations import services, tasks
from conversations.models import Macro, Message, SuggestionModel
from conversations.suggestions import serving
from conversations.suggestions.training import suggestion_model_train, suggestions_seeding_step
from helpcenter.models import Article, ArticleVersion, Category, CategoryName
from helpcenter.services import article_version_save
from tests.factories import AgentFactory, ConversationFactory, SupervisorFactory
from tests.scenarios import conversation_assigned, online_agent

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
REFUNDS = ("Quiero un reembolso de mi pedido", "Me cobrasteis dos veces, pido el reembolso",
           "¿Cuándo llega el reembolso de mi dinero?", "Necesito que me devolváis el dinero, reembolso")
LATE = ("Mi pedido llega tarde, ¿dónde está?", "Llevo una hora esperando, el pedido va con retraso",
        "¿Por qué tarda tanto mi pedido?", "El repartidor no llega y el pedido va tarde")


@pytest.fixture
def macros(db):
    for shortcut, language, title, body in (
            ("refund", "", "Refund issued", "{{ contact.first_name }}, I have issued your refund."),
            ("refund", "es", "Reembolso emitido", "{{ contact.first_name }}, ya he emitido tu reembolso."),
            ("late", "", "Late order", "Sorry, your order is late."),
            ("late", "es", "Pedido con retraso", "Siento el retraso de tu pedido."),
            ("greeting", "", "Greeting", "Hi!")):
        Macro.objects.create(shortcut=shortcut, language=language, title=title, body=body)


@pytest.fixture
def replier(db):
    return AgentFactory()


def replied(customer: str, labels: list[str], *, author, language: str = "es", days_ago: float = 30) -> Message:
    """A past conversation: the customer's message, then an agent's reply that inserted `labels`."""
    conversation = ConversationFactory(language=language)
    services.message_create(conversation=conversation, direction="in", body=customer)
    reply = services.message_create(conversation=conversation, direction="out", body="…", author=author,
                                    inserted=labels)
    Message.objects.filter(conversation=conversation).update(created_at=timezone.now() - timedelta(days=days_ago))
    return reply


def refund_history(author, *, days_ago: float = 30, macro: str = "macro:refund") -> None:
    for text in REFUNDS * 2:
        replied(text, [macro], author=author, days_ago=days_ago)
    for text in LATE * 2:
        replied(text, ["macro:late"], author=author, days_ago=days_ago)


def open_chat(text: str, *, language: str = "es"):
    """A chat assigned to a new online agent, with the customer's message in it."""
    agent = online_agent()
    conversation = conversation_assigned(agent)
    conversation.language = language
    conversation.save(update_fields=["language"])
    services.message_create(conversation=conversation, direction="in", body=text)
    return agent.user, conversation


# --- recording what a reply inserted ----------------------------------------------------------------


def test_a_reply_from_the_desk_records_the_macros_and_articles_it_inserted(client, macros):
    user, conversation = open_chat("Hola")
    category = Category.objects.create(slug="pagos")
    Article.objects.create(key="reembolsos", category=category)
    client.force_login(user)

    response = client.post(f"/desk/conversations/{conversation.pk}/messages/", {
        "body": "Ya está", "client_id": "c1",
        # A macro deleted meanwhile, and an article that is no more: left out, the reply goes.
        "inserted": "macro:refund article:reembolsos macro:gone article:gone macro:refund"}, **HTMX)

    assert response.status_code == 201
    assert Message.objects.get(conversation=conversation, client_id="c1").inserted == [
        "macro:refund", "article:reembolsos"]


def test_a_note_and_a_hand_typed_reply_record_nothing(client, macros):
    user, conversation = open_chat("Hola")
    client.force_login(user)

    client.post(f"/desk/conversations/{conversation.pk}/messages/",
                {"body": "nota", "note": "1", "inserted": "macro:refund", "client_id": "n1"}, **HTMX)
    client.post(f"/desk/conversations/{conversation.pk}/messages/", {"body": "a mano", "client_id": "r1"}, **HTMX)

    assert list(Message.objects.filter(conversation=conversation).exclude(direction="in")
                .values_list("inserted", flat=True)) == [[], []]


@pytest.mark.parametrize("inserted", ["macro:refund;drop", "refund", "macro:" + "x" * 81,
                                      " ".join(f"macro:m{n}" for n in range(11))])
def test_a_malformed_inserted_label_is_a_clear_400_and_nothing_is_stored(client, macros, inserted):
    user, conversation = open_chat("Hola")
    client.force_login(user)

    response = client.post(f"/desk/conversations/{conversation.pk}/messages/",
                           {"body": "Hola", "inserted": inserted}, **HTMX)

    assert response.status_code == 400
    assert "inserted" in response.content.decode()
    assert not Message.objects.filter(conversation=conversation, direction="out").exists()


def test_a_reply_through_the_api_records_its_labels(api_client, macros):
    user, conversation = open_chat("Hola")
    api_client.force_authenticate(user)

    response = api_client.post(f"/api/v1/conversations/{conversation.pk}/messages/",
                               {"direction": "out", "body": "Hecho", "inserted": ["macro:refund"]}, format="json")
    refused = api_client.post(f"/api/v1/conversations/{conversation.pk}/messages/",
                              {"direction": "out", "body": "Hecho", "inserted": "macro:refund"}, format="json")

    assert response.status_code == 201, response.content
    assert Message.objects.get(pk=response.json()["id"]).inserted == ["macro:refund"]
    assert refused.status_code == 400


# --- training, measuring, serving ---------------------------------------------------------------------


def test_a_refund_question_is_answered_with_the_refund_macro_in_the_chats_language(macros, replier):
    refund_history(replier)
    suggestion_model_train()
    user, conversation = open_chat("Hola, quiero el reembolso de mi último pedido")

    suggested = serving.suggestions_for(conversation=conversation, agent=user)

    first = suggested.items[0]
    assert (first.kind, first.key, first.title) == ("macro", "refund", "Reembolso emitido")  # the Spanish text
    assert first.text == f"{conversation.contact.name.split(' ')[0]}, ya he emitido tu reembolso."
    assert first.label == "macro:refund"
    assert [item.key for item in suggested.items] == ["refund", "late"]  # greeting was never used
    assert suggested.model.examples == 16


def test_a_chat_in_a_language_without_a_macro_text_of_its_own_gets_the_any_language_text(macros, replier):
    refund_history(replier)
    suggestion_model_train()
    user, conversation = open_chat("Quiero un reembolso, s'il vous plaît", language="fr")

    first = serving.suggestions_for(conversation=conversation, agent=user).items[0]

    assert (first.key, first.title, first.text) == ("refund", "Refund issued",
                                                    f"{conversation.contact.name.split(' ')[0]}, I have issued "
                                                    "your refund.")


def test_an_inactive_macro_is_not_suggested(macros, replier):
    refund_history(replier)
    suggestion_model_train()
    Macro.objects.filter(shortcut="refund").update(is_active=False)
    user, conversation = open_chat("Quiero un reembolso")

    assert [item.key for item in serving.suggestions_for(conversation=conversation, agent=user).items] == ["late"]


def test_before_any_training_nothing_is_suggested(macros):
    user, conversation = open_chat("Quiero un reembolso")

    suggested = serving.suggestions_for(conversation=conversation, agent=user)

    assert (suggested.items, suggested.model) == ([], None)


def test_an_article_is_suggested_in_the_chats_language_through_the_help_centers_source(macros, replier, settings):
    settings.DESK_PUBLIC_URL = "https://desk.example.com"
    category = Category.objects.create(slug="pagos")
    CategoryName.objects.create(category=category, language="es", name="Pagos")
    article = Article.objects.create(key="reembolsos", category=category)
    article_version_save(version=ArticleVersion(article=article, language="es", slug="devoluciones",
                                                title="Devoluciones", body="3 a 5 días.", status="published"))
    for text in REFUNDS * 3:
        replied(text, ["article:reembolsos"], author=replier)
    for text in LATE * 3:
        replied(text, ["macro:late"], author=replier)
    suggestion_model_train()

    _user, spanish = open_chat("¿Cuándo me devolvéis el dinero del reembolso?")
    user, korean = open_chat("¿Cuándo me devolvéis el dinero del reembolso?", language="ko")

    first = serving.suggestions_for(conversation=spanish, agent=user).items[0]
    assert (first.kind, first.key, first.title, first.text) == (
        "article", "reembolsos", "Devoluciones", "https://desk.example.com/help/es/pagos/devoluciones/")
    # No Korean version: the article is not offered there.
    assert [item.key for item in serving.suggestions_for(conversation=korean, agent=user).items] == ["late"]


def test_training_measures_the_top_3_hit_rate_on_the_held_out_week(macros, replier):
    refund_history(replier, days_ago=20)
    # The last week: two refunds answered with the refund macro (hits), one with a macro first used
    # this week (a miss: the measured model never saw it).
    replied(REFUNDS[0], ["macro:refund"], author=replier, days_ago=2)
    replied(REFUNDS[1], ["macro:refund"], author=replier, days_ago=3)
    replied("Otra cosa distinta", ["macro:greeting"], author=replier, days_ago=1)
    replied("fuera de la ventana", ["macro:refund"], author=replier,
            days_ago=settings.SUGGESTIONS_HISTORY_DAYS + 1)

    model = suggestion_model_train()

    assert (model.examples, model.held_out, model.hits) == (19, 3, 2)
    assert model.hit_rate == pytest.approx(2 / 3)
    assert model.by_language == {"es": {"held_out": 3, "hits": 2}}
    # The served model learnt from the week too.
    assert "macro:greeting" in model.parameters["*"]["labels"]


def test_the_scheduled_task_retrains_and_the_new_model_serves(macros, replier, settings):
    assert settings.CELERY_BEAT_SCHEDULE["conversations-suggestions-train"]["task"] == tasks.suggestions_train.name
    refund_history(replier)
    first_id = tasks.suggestions_train.apply().get()
    user, conversation = open_chat("Quiero un reembolso de mi pedido")
    assert serving.suggestions_for(conversation=conversation, agent=user).items[0].key == "refund"

    # Agents took to answering refunds with a new macro: the next training learns it.
    Macro.objects.create(shortcut="refund2", title="Reembolso (nuevo)", body="Nuevo texto")
    for _ in range(3):
        refund_history(replier, days_ago=1, macro="macro:refund2")
    second_id = tasks.suggestions_train.apply().get()

    suggested = serving.suggestions_for(conversation=conversation, agent=user)
    assert second_id > first_id
    assert (suggested.model.id, suggested.items[0].key) == (second_id, "refund2")


def test_only_the_newest_models_are_kept(replier, settings):
    settings.SUGGESTIONS_MODELS_KEPT = 2
    ids = [suggestion_model_train().pk for _ in range(3)]

    assert list(SuggestionModel.objects.values_list("id", flat=True)) == ids[:0:-1]


def test_the_command_trains_with_progress(macros, replier, capsys):
    refund_history(replier)

    call_command("suggestions_train")

    out = capsys.readouterr().out
    assert "history read: 16 of 16 conversations" in out
    assert f"Model {SuggestionModel.objects.get().pk}: learnt from 16 replies" in out


def test_the_seeding_step_trains_once_and_a_rerun_that_wrote_nothing_keeps_the_model(macros, replier):
    refund_history(replier)

    first = suggestions_seeding_step(wrote=False, on_progress=None)  # no model yet: trains
    again = suggestions_seeding_step(wrote=False, on_progress=None)

    assert "learnt from 16 replies" in first
    assert "was there" in again
    assert SuggestionModel.objects.count() == 1


# --- the workspace, the API, the supervisors' page -------------------------------------------------------


def test_the_workspace_shows_three_suggestions_with_their_keystrokes(client, macros, replier):
    refund_history(replier)
    replied("hola", ["macro:greeting"], author=replier)
    suggestion_model_train()
    user, conversation = open_chat("Quiero un reembolso")
    client.force_login(user)

    page = client.get(f"/desk/conversations/{conversation.pk}/", **HTMX).content.decode()
    partial = client.get(f"/desk/conversations/{conversation.pk}/suggestions/", **HTMX)

    assert page.count('data-testid="suggestion"') == 3
    assert 'data-label="macro:refund"' in page and "Ctrl+Shift+1" in page
    assert partial.status_code == 200
    assert partial.content.decode().index("macro:refund") < partial.content.decode().index("macro:late")


def test_the_suggestions_api_answers_for_a_conversation_the_agent_may_see(api_client, macros, replier):
    refund_history(replier)
    model = suggestion_model_train()
    user, conversation = open_chat("Quiero un reembolso")
    api_client.force_authenticate(user)

    answer = api_client.get(f"/api/v1/conversations/{conversation.pk}/suggestions/")

    assert answer.status_code == 200
    body = answer.json()
    assert (body["conversation"], body["language"]) == (conversation.pk, "es")
    first_name = conversation.contact.name.split(" ")[0]
    assert body["suggestions"][0] == {"kind": "macro", "key": "refund", "label": "macro:refund",
                                      "title": "Reembolso emitido",
                                      "text": f"{first_name}, ya he emitido tu reembolso."}
    assert body["model"]["id"] == model.pk and body["model"]["examples"] == 16


def test_another_agents_conversation_is_refused_everywhere_alike(client, api_client, macros, replier):
    refund_history(replier)
    suggestion_model_train()
    _owner, conversation = open_chat("Quiero un reembolso")
    other = online_agent().user
    client.force_login(other)
    api_client.force_authenticate(other)

    assert api_client.get(f"/api/v1/conversations/{conversation.pk}/suggestions/").status_code == 404
    assert client.get(f"/desk/conversations/{conversation.pk}/suggestions/", **HTMX).status_code == 404
    assert "reembolso" not in client.get(f"/desk/conversations/{conversation.pk}/suggestions/").content.decode()


def test_supervisors_see_the_hit_rate_the_model_date_and_the_training_size(client, macros, replier):
    refund_history(replier, days_ago=20)
    replied(REFUNDS[0], ["macro:refund"], author=replier, days_ago=2)
    replied("algo distinto", ["macro:greeting"], author=replier, days_ago=2)
    model = suggestion_model_train()
    client.force_login(SupervisorFactory())

    page = client.get("/desk/supervise/suggestions/").content.decode()

    assert 'data-testid="suggestions-hit-rate">50 %' in page
    assert f'data-model="{model.pk}"' in page
    assert "18 replies" in page and "2 replies" in page
    assert model.trained_at.isoformat() in page


def test_agents_are_refused_the_supervisors_page(client, agent):
    client.force_login(agent)

    assert client.get("/desk/supervise/suggestions/").status_code == 403


def test_the_supervisors_page_before_any_training(client):
    client.force_login(SupervisorFactory())

    assert 'data-testid="suggestions-untrained"' in client.get("/desk/supervise/suggestions/").content.decode()


def test_the_schema_describes_the_suggestions_endpoint(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").content
    paths = json.loads(schema)["paths"]

    assert "get" in paths["/api/v1/conversations/{id}/suggestions/"]
