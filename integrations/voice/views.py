"""The voice provider's webhooks: thin; the provider's signature is the access (inbound.py), and
each answers TwiML (twiml.py) or a clear 4xx with the reason as JSON."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations.voice import inbound, twiml

BODY_MAX_BYTES = 64 * 1024  # Twilio's posts are a couple of KB
FORM = "application/x-www-form-urlencoded"


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _signed_url(request: HttpRequest) -> str:
    """The address the provider requested, as it signed it (behind a proxy: the public one)."""
    base = settings.VOICE_WEBHOOK_BASE_URL
    return base + request.get_full_path() if base else request.build_absolute_uri()


def _language(request: HttpRequest) -> str:
    language = request.GET.get("language", "")
    return language if language in settings.VOICE_LANGUAGES else settings.CHAT_DEFAULT_LANGUAGE


def _webhook(kind: str, answer: Callable[[HttpRequest, dict[str, str]], str], *, store: bool = True):
    @csrf_exempt
    @require_POST
    def view(request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if length > BODY_MAX_BYTES:
            return _error(_("The body is over %(limit)s bytes.") % {"limit": BODY_MAX_BYTES}, 413)
        form = request.POST if request.content_type == FORM else {}
        try:
            # Signed first: whoever cannot sign learns nothing more about what the desk takes.
            inbound.signature_check(url=_signed_url(request), params=form,
                                    signature=request.headers.get("X-Twilio-Signature"))
        except inbound.SignatureError as error:
            return _error(str(error), 401)
        if request.content_type != FORM:
            return _error(_("The body must be form-encoded (%(type)s), as the provider posts.") % {"type": FORM},
                          415)
        try:
            params = inbound.webhook_params(kind=kind, params=form)
        except inbound.PayloadError as error:
            return _error(str(error), 400)
        if store:
            inbound.webhook_receive(kind=kind, path=request.get_full_path(), params=params)
        return HttpResponse(answer(request, params), content_type="text/xml; charset=utf-8")

    view.__name__ = f"voice_{kind.replace('-', '_')}"
    return view


def _language_answer(request: HttpRequest, params: dict[str, str]) -> str:
    language = twiml.menu_language(params.get("Digits", "")) or settings.CHAT_DEFAULT_LANGUAGE
    return twiml.enqueue(params["CallSid"], language)


def _callback_answer(request: HttpRequest, params: dict[str, str]) -> str:
    if params.get("Digits") == twiml.CALLBACK_DIGIT:
        return twiml.callback_goodbye(_language(request))
    return twiml.back_to_waiting(_language(request))


def _empty(request: HttpRequest, params: dict[str, str]) -> str:
    return twiml.empty()


incoming = _webhook("incoming", lambda request, params: twiml.menu())
language = _webhook("language", _language_answer)
wait = _webhook("wait", lambda request, params: twiml.wait(_language(request)), store=False)
callback = _webhook("callback", _callback_answer)
queue_result = _webhook("queue-result", lambda request, params: twiml.queue_result(params["QueueResult"],
                                                                                   _language(request)))
status = _webhook("status", _empty)
agent_status = _webhook("agent-status", _empty)
recording = _webhook("recording", _empty)
