"""What the desk tells the provider to do with a call, as TwiML (the `twilio` library's
VoiceResponse): the language menu, the queue the caller waits in, the wait prompt with hold music,
the goodbye of a callback request, and the agent's leg (connect, hold, resume, back to waiting).

Every sentence a caller hears is in their language: the menu says each option in its own
language, and after the choice the language rides along in the wait and callback addresses
(`?language=es`), which the provider requests and signs as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from twilio.twiml.voice_response import VoiceResponse

# The voice each language is said in (Twilio's <Say language>); a language not here is said as is.
SAY_LANGUAGES = {"en": "en-US", "es": "es-ES", "pt": "pt-BR", "ko": "ko-KR", "fr": "fr-FR", "de": "de-DE",
                 "it": "it-IT", "ca": "ca-ES", "pl": "pl-PL", "nl": "nl-NL", "ja": "ja-JP", "zh": "cmn-CN"}
CALLBACK_DIGIT = "9"
# The TwiML statuses the agent's leg reports (Twilio's statusCallbackEvent on <Client>).
AGENT_LEG_EVENTS = "initiated ringing answered completed"


def say_language(language: str) -> str:
    return SAY_LANGUAGES.get(language, language or "en-US")


def path(name: str, **query: str) -> str:
    """A webhook's path (the provider resolves it against the address it requested)."""
    url = reverse(name)
    return f"{url}?{urlencode(query)}" if query else url


def absolute(name: str, **query: str) -> str:
    """A webhook's full address, for TwiML the desk sends by REST (it has no address of its own)."""
    base = settings.VOICE_WEBHOOK_BASE_URL or settings.DESK_PUBLIC_URL
    return base.rstrip("/") + path(name, **query)


def menu_language(digits: str) -> str:
    """The language of a menu key ("1" is the first of VOICE_LANGUAGES); "" for none or another key."""
    if len(digits) == 1 and digits.isdigit() and 1 <= int(digits) <= len(settings.VOICE_LANGUAGES):
        return settings.VOICE_LANGUAGES[int(digits) - 1]
    return ""


def _in(language: str, text: Callable[[], str]) -> str:
    """A sentence in the caller's language (gettext reads the active one)."""
    with translation.override(language or settings.CHAT_DEFAULT_LANGUAGE):
        return text()


def _language_name(language: str) -> str:
    try:
        return translation.get_language_info(language)["name_local"]
    except KeyError:
        return language


def menu() -> str:
    """The language menu: each option said in its own language; no key within the timeout goes on
    to the language webhook without one (the desk's default language)."""
    response = VoiceResponse()
    gather = response.gather(num_digits=1, action=path("voice-language"), method="POST",
                             timeout=settings.VOICE_MENU_GATHER_SECONDS)
    for digit, language in enumerate(settings.VOICE_LANGUAGES, start=1):
        text = _in(language, lambda digit=digit, language=language: _("For %(language)s, press %(digit)s.") % {
            "language": _language_name(language), "digit": digit})
        gather.say(text, language=say_language(language))
    response.redirect(path("voice-language"), method="POST")
    return str(response)


def queue_name(call_sid: str) -> str:
    """The caller's own queue: the desk, not the provider, decides who answers and when."""
    return f"call-{call_sid}"


def enqueue(call_sid: str, language: str) -> str:
    """The caller waits (the wait webhook says what they hear) until the desk connects an agent."""
    response = VoiceResponse()
    response.enqueue(queue_name(call_sid), wait_url=path("voice-wait", language=language), wait_url_method="POST",
                     action=path("voice-queue-result", language=language), method="POST")
    return str(response)


def wait(language: str) -> str:
    """What a waiting caller hears, again and again: the callback offer, then hold music."""
    response = VoiceResponse()
    gather = response.gather(num_digits=1, action=path("voice-callback", language=language), method="POST",
                             timeout=1)
    gather.say(_in(language, lambda: _("Thank you for waiting. Press %(digit)s to be called back; you keep your "
                                       "place in the queue.") % {"digit": CALLBACK_DIGIT}),
               language=say_language(language))
    response.play(settings.VOICE_HOLD_MUSIC_URL)
    return str(response)


def callback_goodbye(language: str) -> str:
    response = VoiceResponse()
    response.say(_in(language, lambda: _("We will call you back as soon as an agent is free; you keep your place. "
                                         "Goodbye.")), language=say_language(language))
    response.leave()
    return str(response)


def back_to_waiting(language: str) -> str:
    response = VoiceResponse()
    response.redirect(path("voice-wait", language=language), method="POST")
    return str(response)


# Twilio's QueueResult values after which the caller is still on the line with nothing to do.
QUEUE_LEFT = {"leave", "error", "queue-full", "system-shutdown", "hangup"}


def queue_result(result: str, language: str) -> str:
    """After the caller left the queue: a caller who asked for a callback heard the goodbye; one
    dropped by an error hears an apology; bridged or redirected, the call goes on elsewhere."""
    response = VoiceResponse()
    if result in ("error", "queue-full", "system-shutdown"):
        sorry = _in(language, lambda: _("Sorry, we cannot take your call right now. Please call again later."))
        response.say(sorry, language=say_language(language))
    if result in QUEUE_LEFT:
        response.hangup()
    return str(response)


def agent_identity(user_id: int) -> str:
    return f"agent-{user_id}"


def connect(agent_id: int) -> str:
    """The caller's leg dials the agent's browser phone (Twilio Client), recorded from the answer;
    the agent's leg reports its answer to the agent-status webhook."""
    response = VoiceResponse()
    dial = response.dial(record="record-from-answer-dual", recording_status_callback=absolute("voice-recording"),
                         recording_status_callback_method="POST")
    dial.client(agent_identity(agent_id), status_callback=absolute("voice-agent-status"),
                status_callback_event=AGENT_LEG_EVENTS, status_callback_method="POST")
    return str(response)


def hold(language: str) -> str:
    response = VoiceResponse()
    response.say(_in(language, lambda: _("Please hold; your agent will be right back.")),
                 language=say_language(language))
    response.play(settings.VOICE_HOLD_MUSIC_URL, loop=0)
    return str(response)


def requeue(call_sid: str, language: str) -> str:
    """Back to waiting: the same queue, prompt and music as before an agent took it, with absolute
    addresses (this TwiML is sent by REST)."""
    response = VoiceResponse()
    response.say(_in(language, lambda: _("Please hold; we are passing your call to another agent.")),
                 language=say_language(language))
    response.enqueue(queue_name(call_sid), wait_url=absolute("voice-wait", language=language),
                     wait_url_method="POST", action=absolute("voice-queue-result", language=language),
                     method="POST")
    return str(response)


def empty() -> str:
    """Nothing to do (an answer to a status report)."""
    return str(VoiceResponse())
