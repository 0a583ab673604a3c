"""The voice channel (Twilio's shape): the webhooks' signatures and TwiML, each post stored once and
applied in the worker, the desk's call actions sent over the REST API, and whole calls between
the simulator (integrations.voice.fake_server) and the desk over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

from conversations import calls as call_actions
from conversations.calls import Performed, TransportRefused, TransportRetry
from conversations.models import Call, CallAction, CallStatus, Conversation, ConversationStatus
from conversations.services import calls as call_services
from conversations.services import offer_accept
from integrations.models import VoiceDelivery
from integrations.voice import twiml
from integrations.voice.fake_server import FakeVoiceServer, new_sid
from integrations.voice.inbound import voice_drain
from integrations.voice.outbound import voice_perform
from routing.models import ItemState, WorkItem
from supportdesk.models import OutboxEntry
from tests.conftest import free_port
from tests.factories import ContactFactory
from tests.scenarios import online_agent
from timeline.models import Contact

BASE = "/integrations/voice/"
FORM = "application/x-www-form-urlencoded"
CALLER = "+34600111222"
DESK_NUMBER = "+34910000000"


def params_for(sid: str, **extra: str) -> dict[str, str]:
    return {"AccountSid": "AC" + "0" * 32, "CallSid": sid, "From": CALLER, "To": DESK_NUMBER,
            "CallStatus": "in-progress", "Direction": "inbound", **extra}


def post(settings, endpoint: str, params: dict[str, str], *, token: str | None = None, query: str = "",
         signed_as: str | None = None):
    path = BASE + endpoint + (f"?{query}" if query else "")
    url = signed_as or "http://testserver" + path
    signature = RequestValidator(token or settings.TWILIO_AUTH_TOKEN).compute_signature(url, params)
    return Client().post(path, urlencode(params), content_type=FORM, HTTP_X_TWILIO_SIGNATURE=signature)


def xml(response) -> ElementTree.Element:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/xml")
    return ElementTree.fromstring(response.content)


def ring(settings, sid: str, digit: str | None = "2") -> Call:
    post(settings, "incoming/", params_for(sid, CallStatus="ringing"))
    post(settings, "language/", params_for(sid, **({"Digits": digit} if digit else {})))
    voice_drain()
    return Call.objects.get(provider_call_id=sid)


def wait_for(condition: Callable[[], object], *, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# --- signatures ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["incoming/", "language/", "wait/", "callback/", "queue-result/", "status/",
                                      "agent-status/", "recording/"])
def test_an_unsigned_or_forged_post_is_401_on_every_webhook_and_stores_nothing(db, settings, endpoint):
    params = params_for("CA1", QueueResult="bridged", ParentCallSid="CA2", RecordingSid="RE1",
                        RecordingUrl="https://example.com/r")
    missing = Client().post(BASE + endpoint, urlencode(params), content_type=FORM)
    forged = post(settings, endpoint, params, token="not-ours")

    assert (missing.status_code, forged.status_code) == (401, 401)
    assert "X-Twilio-Signature" in missing.json()["error"]
    assert not VoiceDelivery.objects.exists()


def test_without_an_auth_token_every_post_is_refused(db, settings):
    signed = params_for("CA1")
    settings.TWILIO_AUTH_TOKEN, token = "", settings.TWILIO_AUTH_TOKEN
    response = post(settings, "incoming/", signed, token=token)

    assert response.status_code == 401 and "TWILIO_AUTH_TOKEN" in response.json()["error"]


def test_the_signed_address_is_the_public_one_when_set(db, settings):
    settings.VOICE_WEBHOOK_BASE_URL = "https://desk.example.com"

    public = post(settings, "incoming/", params_for("CA1"),
                  signed_as="https://desk.example.com/integrations/voice/incoming/")
    local = post(settings, "incoming/", params_for("CA2"))

    assert (public.status_code, local.status_code) == (200, 401)


def test_a_post_sent_again_is_stored_once_and_answered_the_same(db, settings):
    first = post(settings, "language/", params_for("CA1", Digits="2"))
    again = post(settings, "language/", params_for("CA1", Digits="2"))

    assert first.content == again.content
    assert VoiceDelivery.objects.count() == 1
    assert OutboxEntry.objects.filter(consumer="integrations.voice").count() == 1


# --- malformed input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint, params, words", [
    ("incoming/", {"From": CALLER, "To": DESK_NUMBER}, "CallSid"),
    ("incoming/", {"CallSid": "CA 1; drop", "From": CALLER}, "CallSid"),
    ("language/", {"CallSid": "CA1", "Digits": "1a"}, "Digits"),
    ("queue-result/", {"CallSid": "CA1", "QueueResult": "exploded"}, "QueueResult"),
    ("status/", {"CallSid": "CA1"}, "CallStatus"),
    ("status/", {"CallSid": "CA1", "CallStatus": "completed", "CallDuration": "-3"}, "CallDuration"),
    ("agent-status/", {"CallSid": "CA1", "CallStatus": "in-progress"}, "ParentCallSid"),
    ("recording/", {"CallSid": "CA1", "RecordingSid": "RE1", "RecordingUrl": "javascript:alert(1)"},
     "RecordingUrl"),
    ("incoming/", {"CallSid": "CA1", "From": "x" * 5000}, "too long"),
])
def test_a_signed_post_without_what_the_webhook_needs_is_400_with_the_reason(db, settings, endpoint, params,
                                                                             words):
    response = post(settings, endpoint, params)

    assert response.status_code == 400
    assert words in response.json()["error"]
    assert not VoiceDelivery.objects.exists()


def test_a_body_that_is_not_a_form_is_415_and_a_huge_one_413(db, settings):
    path = BASE + "incoming/"
    signature = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature("http://testserver" + path, {})
    as_json = Client().post(path, '{"CallSid": "CA1"}', content_type="application/json",
                            HTTP_X_TWILIO_SIGNATURE=signature)
    huge = Client().post(path, urlencode({"CallSid": "CA1", "Pad": "x" * 100_000}), content_type=FORM)
    a_get = Client().get(path)

    assert as_json.status_code == 415 and "form-encoded" in as_json.json()["error"]
    assert huge.status_code == 413 and "bytes" in huge.json()["error"]
    assert a_get.status_code == 405


# --- TwiML ---------------------------------------------------------------------------------------------


def test_an_incoming_call_hears_the_menu_each_option_in_its_own_language(db, settings):
    settings.VOICE_LANGUAGES = ["en", "es", "ko"]
    answer = xml(post(settings, "incoming/", params_for("CA1", CallStatus="ringing")))

    gather = answer.find("Gather")
    assert (gather.get("numDigits"), gather.get("action"), gather.get("method")) == \
        ("1", BASE + "language/", "POST")
    assert gather.get("timeout") == str(settings.VOICE_MENU_GATHER_SECONDS)
    said = [(say.get("language"), say.text) for say in gather.findall("Say")]
    assert said == [("en-US", "For English, press 1."), ("es-ES", "Para español, pulse 2."),
                    ("ko-KR", "한국어는 3번을 누르세요.")]
    assert answer.find("Redirect").text == BASE + "language/"  # no key: on without one


def test_the_language_key_queues_the_caller_with_the_wait_in_their_language(db, settings):
    answer = xml(post(settings, "language/", params_for("CA1", Digits="2")))
    no_key = xml(post(settings, "language/", params_for("CA2")))

    enqueue = answer.find("Enqueue")
    assert enqueue.text == "call-CA1"
    assert enqueue.get("waitUrl") == BASE + "wait/?language=es"
    assert enqueue.get("action") == BASE + "queue-result/?language=es"
    assert no_key.find("Enqueue").get("waitUrl") == BASE + "wait/?language=en"


def test_the_wait_offers_a_callback_over_hold_music_and_stores_nothing(db, settings):
    answer = xml(post(settings, "wait/", params_for("CA1", QueuePosition="1", QueueTime="12"),
                      query="language=es"))

    gather = answer.find("Gather")
    assert (gather.get("numDigits"), gather.get("action")) == ("1", BASE + "callback/?language=es")
    assert "Pulse 9 para que le llamemos" in gather.find("Say").text
    assert answer.find("Play").text == settings.VOICE_HOLD_MUSIC_URL
    assert not VoiceDelivery.objects.exists()


def test_nine_says_goodbye_and_leaves_the_queue_another_key_goes_back_to_waiting(db, settings):
    nine = xml(post(settings, "callback/", params_for("CA1", Digits="9"), query="language=es"))
    three = xml(post(settings, "callback/", params_for("CA1", Digits="3"), query="language=es"))

    assert "Le llamaremos" in nine.find("Say").text and nine.find("Leave") is not None
    assert three.find("Redirect").text == BASE + "wait/?language=es"


@pytest.mark.parametrize("result, hangs_up", [("leave", True), ("hangup", True), ("queue-full", True),
                                               ("bridged", False), ("redirected", False)])
def test_the_queue_result_hangs_up_a_caller_left_with_nothing_to_do(db, settings, result, hangs_up):
    answer = xml(post(settings, "queue-result/", params_for("CA1", QueueResult=result, QueueTime="5")))

    assert (answer.find("Hangup") is not None) == hangs_up


def test_status_recording_and_agent_reports_answer_an_empty_response(db, settings):
    for endpoint, extra in [("status/", {"CallStatus": "completed"}),
                            ("agent-status/", {"ParentCallSid": "CA0", "CallStatus": "ringing"}),
                            ("recording/", {"RecordingSid": "RE1", "RecordingUrl": "https://example.com/r"})]:
        assert len(xml(post(settings, endpoint, params_for("CA1", **extra)))) == 0


# --- applying the reports -------------------------------------------------------------------------------


def test_a_call_becomes_a_voice_conversation_routed_in_the_menus_language(db, settings):
    agent = online_agent(languages=["es"])
    call = ring(settings, "CA1", digit="2")

    conversation = call.conversation
    assert (conversation.channel, conversation.language) == ("voice", "es")
    assert (call.status, call.contact_number, call.desk_number) == (CallStatus.QUEUED, CALLER, DESK_NUMBER)
    assert Contact.objects.get(pk=conversation.contact_id).phone == CALLER
    item = WorkItem.objects.get(conversation_id=conversation.pk)
    assert (item.state, item.agent_id) == (ItemState.OFFERED, agent.pk)
    assert VoiceDelivery.objects.filter(processed_at__isnull=True).count() == 0


def test_the_person_who_writes_on_whatsapp_and_calls_is_one_contact(db, settings):
    known = ContactFactory(phone=CALLER)
    call = ring(settings, "CA1")

    assert call.conversation.contact_id == known.pk


def test_a_report_of_a_call_not_seen_yet_makes_it_ring_first(db, settings):
    post(settings, "language/", params_for("CAlate", Digits="1"))  # the incoming post was lost
    voice_drain()

    call = Call.objects.get(provider_call_id="CAlate")
    assert call.status == CallStatus.QUEUED and call.conversation.language == "en"
    assert call.contact_number == CALLER


def test_a_withheld_number_is_a_caller_of_their_own(db, settings):
    post(settings, "incoming/", params_for("CA1", From="anonymous"))
    voice_drain()

    call = Call.objects.get(provider_call_id="CA1")
    assert call.contact_number == "anonymous"
    assert call.conversation.contact.external_id == "voice:anonymous:CA1"


def test_a_report_of_an_unknown_call_the_desk_did_not_place_is_recorded_as_such(db, settings):
    post(settings, "status/", params_for("CAnobody", CallStatus="completed", Direction="outbound-api"))
    voice_drain()

    assert not Call.objects.exists()
    assert "does not know" in VoiceDelivery.objects.get().outcome


def test_a_report_that_outruns_the_desks_own_dial_waits_for_it(db, settings):
    call = ring(settings, "CA1")
    agent = online_agent(languages=["es"]).user
    placed = call_services.call_place(conversation=call.conversation, agent=agent, number=CALLER,
                                      reason="callback")
    post(settings, "status/", params_for("CAout", CallStatus="in-progress", Direction="outbound-api"))

    voice_drain()  # the dial is not done: the report stays for the next drain
    assert VoiceDelivery.objects.get(call_sid="CAout").processed_at is None
    assert OutboxEntry.objects.get(consumer="integrations.voice").attempts == 1

    Call.objects.filter(pk=placed.pk).update(provider_call_id="CAout")
    CallAction.objects.filter(call=placed).update(done_at="2026-01-01T00:00:00Z")
    voice_drain()
    placed.refresh_from_db()
    assert placed.status == CallStatus.IN_PROGRESS


def test_an_unanswered_caller_who_hangs_up_abandoned_with_the_wait(db, settings):
    call = ring(settings, "CA1")
    post(settings, "queue-result/", params_for("CA1", QueueResult="hangup", QueueTime="7"))
    post(settings, "status/", params_for("CA1", CallStatus="completed", CallDuration="15"))
    voice_drain()

    call.refresh_from_db()
    assert call.status == CallStatus.ABANDONED and call.wait_seconds is not None
    assert Conversation.objects.get(pk=call.conversation_id).status == ConversationStatus.CLOSED


# --- the REST side ---------------------------------------------------------------------------------------


@pytest.fixture
def simulator(settings):
    server = FakeVoiceServer(port=free_port(), account_sid=settings.TWILIO_ACCOUNT_SID,
                             auth_token=settings.TWILIO_AUTH_TOKEN, report_delay=0)
    server.start()
    settings.TWILIO_API_URL = server.url
    yield server
    server.stop()


def _action(call: Call, kind: str, agent_id: int | None, key: str = "") -> CallAction:
    return CallAction.objects.create(call=call, kind=kind, agent_id=agent_id, key=key or new_sid("K"))


def test_the_connect_action_dials_the_agents_client_once_per_key(db, settings, simulator):
    call = ring(settings, "CA1")
    agent = online_agent(languages=["es"]).user
    simulator.provider.state.calls["CA1"] = _fake_call("CA1")
    action = _action(call, "connect", agent.pk, key="call:1:1:connect")

    voice_perform(action, call)
    voice_perform(action, call)  # a drain that died after the provider acted

    sent = simulator.state.requests
    assert [request["replayed"] for request in sent] == [False, True]
    assert sent[0]["path"].endswith(f"/Accounts/{settings.TWILIO_ACCOUNT_SID}/Calls/CA1.json")
    assert sent[0]["token"] == "call:1:1:connect"
    assert f"<Client statusCallback=\"{twiml.absolute('voice-agent-status')}\"" in sent[0]["params"]["Twiml"]
    assert f">agent-{agent.pk}</Client>" in sent[0]["params"]["Twiml"]


def _fake_call(sid: str):
    from integrations.voice.fake_server import FakeCall

    return FakeCall(sid=sid, direction="inbound", from_=CALLER, to=DESK_NUMBER, status="in-progress",
                    stage="queue")


def test_a_provider_that_refuses_fails_the_action_and_one_that_is_down_is_retried(db, settings, simulator):
    call = ring(settings, "CA1")  # the simulator never heard of CA1: 404
    with pytest.raises(TransportRefused, match="20404"):
        voice_perform(_action(call, "hold", None), call)
    settings.TWILIO_AUTH_TOKEN = "wrong"
    with pytest.raises(TransportRefused, match="20003"):
        voice_perform(_action(call, "hold", None), call)
    settings.TWILIO_API_URL = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(TransportRetry):
        voice_perform(_action(call, "hold", None), call)


def test_hanging_up_a_call_the_provider_has_finished_with_is_done(db, settings, simulator):
    call = ring(settings, "CA1")  # over and gone at the provider: 404 (a redirect of it would be refused)

    performed = voice_perform(_action(call, "hangup", None), call)

    assert performed == Performed(outcome="The call was over already.")
    assert simulator.state.requests[-1]["params"] == {"Status": "completed"}


def test_an_unconfigured_voice_provider_takes_no_action(settings):
    from django.apps import apps

    previous = list(call_actions._provider)
    call_actions._provider.clear()
    settings.TWILIO_AUTH_TOKEN = ""
    try:
        apps.get_app_config("integrations").ready()
        assert call_actions.call_provider() is None
    finally:
        call_actions._provider[:] = previous


# --- whole calls over HTTP ------------------------------------------------------------------------------


@pytest.fixture
def live(transactional_db, settings, live_server):
    """The desk served for real, and the simulator placing calls into it and taking its actions."""
    settings.VOICE_WEBHOOK_BASE_URL = live_server.url
    server = FakeVoiceServer(port=free_port(), account_sid=settings.TWILIO_ACCOUNT_SID,
                             auth_token=settings.TWILIO_AUTH_TOKEN, desk_url=live_server.url + BASE,
                             report_delay=0)
    server.start()
    settings.TWILIO_API_URL = server.url
    yield server
    server.stop()


def _received(kind: str, **params: str) -> Callable[[], bool]:
    def seen() -> bool:
        return any(all(f'"{name}": "{value}"' in row.body for name, value in params.items())
                   for row in VoiceDelivery.objects.filter(kind=kind))

    return seen


def _stage(server: FakeVoiceServer, sid: str, stage: str) -> Callable[[], bool]:
    return lambda: server.state.calls[sid].stage == stage


def test_a_call_end_to_end_connect_hold_resume_hangup(live):
    agent = online_agent(languages=["ko"])
    placed = live.provider.place_call(from_="+82101234567", digit="4")  # ko, fourth of the default menu
    assert placed["stage"] == "queue", placed
    voice_drain()
    call = Call.objects.get(provider_call_id=placed["sid"])
    assert (call.conversation.channel, call.conversation.language) == ("voice", "ko")
    assert call.status == CallStatus.QUEUED

    item = WorkItem.objects.get(conversation_id=call.conversation_id, agent=agent)
    offer_accept(item_id=item.pk, user=agent.user)
    call_actions.call_actions_drain()
    wait_for(_received("agent-status", CallStatus="in-progress"))
    voice_drain()
    call.refresh_from_db()
    assert call.status == CallStatus.IN_PROGRESS and call.agent_id == agent.user_id
    assert live.state.calls[placed["sid"]].agent == f"agent-{agent.user_id}"

    call_services.call_hold(conversation_id=call.conversation_id, user=agent.user, hold=True)
    call_actions.call_actions_drain()
    wait_for(_stage(live, placed["sid"], "hold"))
    call_services.call_hold(conversation_id=call.conversation_id, user=agent.user, hold=False)
    call_actions.call_actions_drain()
    wait_for(_stage(live, placed["sid"], "bridged"))

    time.sleep(1.1)  # a second of talk, so the duration is not zero
    call_services.call_hangup(conversation_id=call.conversation_id, user=agent.user)
    call_actions.call_actions_drain()
    wait_for(_received("status", CallStatus="completed"))
    wait_for(_received("recording", CallSid=placed["sid"]))
    voice_drain()

    call.refresh_from_db()
    assert call.status == CallStatus.COMPLETED
    assert call.duration_seconds is not None and call.duration_seconds >= 1
    assert call.recording_url.startswith(live.url + "/2010-04-01/Accounts/")
    kinds = [request["params"].get("Status") or ElementTree.fromstring(request["params"]["Twiml"])[0].tag
             for request in live.state.requests]
    assert kinds == ["Dial", "Say", "Dial", "completed"]  # connect, hold, resume, hang up
    assert not VoiceDelivery.objects.filter(processed_at__isnull=True).exists()


def test_a_caller_who_hangs_up_while_waiting_abandoned_with_the_wait(live):
    placed = live.provider.place_call(from_=CALLER, digit="2")
    voice_drain()  # as the worker does at once: the desk times the wait from its own clock
    time.sleep(1.1)
    assert live.provider.hangup(placed["sid"])
    wait_for(_received("status", CallStatus="completed"))
    voice_drain()

    call = Call.objects.get(provider_call_id=placed["sid"])
    assert call.status == CallStatus.ABANDONED and call.wait_seconds >= 1
    assert Conversation.objects.get(pk=call.conversation_id).status == ConversationStatus.CLOSED


def test_a_callback_request_keeps_the_place_and_the_agent_who_takes_it_has_the_desk_call_back(live):
    placed = live.provider.place_call(from_=CALLER, digit="2", callback=True)
    assert placed["stage"] == "ended", placed
    voice_drain()
    call = Call.objects.get(provider_call_id=placed["sid"])
    assert call.status == CallStatus.CALLBACK_REQUESTED and call.ended_at is not None
    item = WorkItem.objects.get(conversation_id=call.conversation_id)
    assert item.state == ItemState.WAITING  # the place is kept

    agent = online_agent(languages=["es"])  # comes online: pulls the waiting call
    item.refresh_from_db()
    offer_accept(item_id=item.pk, user=agent.user)
    call_actions.call_actions_drain()

    callback = Call.objects.get(conversation_id=call.conversation_id, reason="callback")
    assert callback.provider_call_id  # the simulator's CallSid of the placed call
    dial = live.state.requests[-1]
    assert dial["path"].endswith("/Calls.json")
    assert (dial["params"]["To"], dial["params"]["From"]) == (CALLER, live.provider.number)
    wait_for(_received("agent-status", ParentCallSid=callback.provider_call_id, CallStatus="in-progress"))
    voice_drain()
    callback.refresh_from_db()
    call.refresh_from_db()
    assert callback.status == CallStatus.IN_PROGRESS and callback.agent_id == agent.user_id
    assert call.status == CallStatus.CALLED_BACK


def test_the_simulator_places_a_call_over_its_own_http_endpoint(live):
    import requests

    answer = requests.post(live.url + "/simulate/call", json={"from": CALLER, "digit": "1"}, timeout=30)

    assert answer.status_code == 200 and answer.json()["stage"] == "queue"
    assert [step["status"] for step in answer.json()["steps"]] == [200, 200]
    assert requests.post(live.url + "/simulate/call", json={"from": "nobody"}, timeout=5).status_code == 400
