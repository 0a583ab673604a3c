"""A voice provider simulator (Twilio's REST API and webhooks) as a real local HTTP server, for the
demo and the tests.

- It answers the desk's REST calls as Twilio does (basic auth with the account sid and auth
  token when one is set; JSON answers with the call's `sid`; Twilio's error shape and codes):
  `POST /2010-04-01/Accounts/<sid>/Calls/<CallSid>.json` with `Twiml=` redirects a live call
  (a `<Dial><Client>` connects the agent: the agent's leg reports `in-progress` to its
  statusCallback; `<Enqueue>` puts the caller back in the queue; anything else, such as a word
  and hold music, is hold) or with `Status=completed` hangs it up; `POST .../Calls.json` places
  a call (status reports initiated, ringing, `in-progress` when picked up, then its TwiML runs;
  a number ending in 0000 does not answer). The same `I-Twilio-Idempotency-Token` again gets the
  same answer and does nothing more.
- A call that ends (hung up by the desk or by the caller) reports the recording of its agent's
  leg, when one was recorded, and `completed` with its CallDuration, signed.
- It places calls into the desk: `POST /simulate/call` `{"from": "+34600111222", "digit": "2",
  "callback": false, "hangup_after": 30}` posts the incoming-call webhook, then the menu's
  digit, optionally the callback key 9, and (when told) hangs up after that many seconds;
  `POST /simulate/hangup` `{"sid": ...}` hangs the caller up now. Every post is signed with
  X-Twilio-Signature as Twilio computes it (RequestValidator.compute_signature).
- `GET /calls`, `GET /requests`, `GET /webhooks`: its calls, the REST requests it took, the
  webhooks it posted (and the desk's answers), oldest first.

Simplified: one recording a call (Twilio posts one per recorded <Dial>), and a call taken out of
its queue by REST gets no queue-result post.

`manage.py fake_voice` serves it for `make run`; tests run it on a thread.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urljoin
from xml.etree import ElementTree

import requests
from twilio.request_validator import RequestValidator

from integrations.local_server import LocalHttpServer

CALLS = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Calls(?:/(?P<sid>[A-Za-z0-9]+))?\.json$")
BODY_MAX_BYTES = 64 * 1024
ENDED = ("completed", "busy", "no-answer", "canceled", "failed")


def new_sid(prefix: str = "CA") -> str:
    return prefix + uuid.uuid4().hex


def signed_post(url: str, params: dict[str, str], *, auth_token: str,
                timeout: float = 10.0) -> tuple[int | None, str]:
    """POST a webhook as Twilio does (form-encoded, X-Twilio-Signature): the status and the body
    (None and "" if unreachable)."""
    signature = RequestValidator(auth_token).compute_signature(url, params)
    try:
        response = requests.post(url, data=params, timeout=timeout, headers={"X-Twilio-Signature": signature})
    except requests.RequestException:
        return None, ""
    return response.status_code, response.text


def twiml_parse(text: str) -> ElementTree.Element | None:
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return None
    return root if root.tag == "Response" else None


@dataclass
class FakeCall:
    sid: str
    direction: str  # inbound, outbound-api
    from_: str
    to: str
    status: str = "queued"
    stage: str = ""  # menu, queue, bridged, hold, ended
    started: float = field(default_factory=time.monotonic)
    answered: float | None = None
    desk_url: str = ""  # an inbound call's webhooks (the number's configuration)
    status_callback: str = ""
    status_events: tuple[str, ...] = ("completed",)
    queue_action: str = ""
    queued_at: float | None = None
    agent: str = ""
    agent_leg: str = ""
    agent_callback: str = ""
    recorded: bool = False
    recording_callback: str = ""
    bridged_seconds: float = 0.0
    bridged_at: float | None = None

    def resource(self, account_sid: str) -> dict[str, Any]:
        duration = int(time.monotonic() - (self.answered or self.started)) if self.stage == "ended" else None
        return {"sid": self.sid, "account_sid": account_sid, "to": self.to, "from": self.from_,
                "status": self.status, "direction": self.direction, "api_version": "2010-04-01",
                "duration": None if duration is None else str(duration), "parent_call_sid": None,
                "uri": f"/2010-04-01/Accounts/{account_sid}/Calls/{self.sid}.json"}


class FakeVoiceState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.calls: dict[str, FakeCall] = {}
        self.requests: list[dict[str, Any]] = []
        self.webhooks: list[dict[str, Any]] = []
        self.by_token: dict[str, tuple[int, dict[str, Any]]] = {}


class FakeVoiceProvider:
    """What the simulator does, apart from HTTP: tests and the server's handler call it."""

    def __init__(self, *, account_sid: str, auth_token: str, number: str, desk_url: str, report_delay: float,
                 recordings_url: str = "http://127.0.0.1:9200") -> None:
        self.state = FakeVoiceState()
        self.account_sid, self.auth_token, self.number = account_sid, auth_token, number
        self.desk_url, self.report_delay, self.recordings_url = desk_url, report_delay, recordings_url

    # --- posting to the desk ---

    def _params(self, call: FakeCall, **extra: str) -> dict[str, str]:
        params = {"AccountSid": self.account_sid, "ApiVersion": "2010-04-01", "CallSid": call.sid,
                  "CallStatus": call.status, "Direction": call.direction, "From": call.from_, "To": call.to,
                  "Caller": call.from_, "Called": call.to}
        params.update({name: value for name, value in extra.items() if value is not None})
        return params

    def post(self, url: str, params: dict[str, str]) -> tuple[int | None, str]:
        status, body = signed_post(url, params, auth_token=self.auth_token)
        with self.state.lock:
            self.state.webhooks.append({"url": url, "params": params, "status": status, "answer": body})
        return status, body

    def _status_report(self, call: FakeCall, event: str) -> None:
        """The call's own status callback (an inbound call's: the number's, at the end only)."""
        url = call.status_callback if call.direction != "inbound" else urljoin(call.desk_url, "status/")
        if not url or event not in call.status_events:
            return
        extra: dict[str, str] = {"CallbackSource": "call-progress-events", "Timestamp": time.strftime(
            "%a, %d %b %Y %H:%M:%S +0000", time.gmtime()), "SequenceNumber": str(len(self.state.webhooks))}
        if call.status in ENDED:
            duration = int(time.monotonic() - call.answered) if call.answered is not None else 0
            extra.update(CallDuration=str(duration), Duration=str((duration + 59) // 60))
        self.post(url, self._params(call, **extra))

    # --- placing a call into the desk ---

    def place_call(self, *, from_: str, to: str = "", digit: str | None = "1", callback: bool = False,
                   hangup_after: float | None = None, desk_url: str = "") -> dict[str, Any]:
        """A caller rings the desk's number, chooses a language (`digit`; None: no key), optionally
        asks to be called back, and hangs up after `hangup_after` seconds when given. Returns when
        the caller waits in the queue (or has hung up)."""
        call = FakeCall(sid=new_sid(), direction="inbound", from_=from_, to=to or self.number, status="ringing",
                        stage="menu", desk_url=(desk_url or self.desk_url).rstrip("/") + "/")
        with self.state.lock:
            self.state.calls[call.sid] = call
        steps: list[dict[str, Any]] = []

        def step(url: str, **extra: str) -> ElementTree.Element | None:
            status, body = self.post(url, self._params(call, **extra))
            steps.append({"url": url, "status": status})
            return twiml_parse(body) if status == 200 else None

        incoming = urljoin(call.desk_url, "incoming/")
        menu = step(incoming)
        call.status, call.answered = "in-progress", time.monotonic()  # the menu answers the call
        gather = menu.find("Gather") if menu is not None else None
        if gather is None:
            return self._placed(call, steps, error="The desk did not answer the call with a menu.")
        if digit:
            queued = step(urljoin(incoming, gather.get("action", "")), Digits=digit)
        else:  # no key: the menu times out and the TwiML goes on to its <Redirect>
            redirect = menu.find("Redirect")
            queued = step(urljoin(incoming, (redirect.text or "") if redirect is not None else ""))
        enqueue = queued.find("Enqueue") if queued is not None else None
        if enqueue is None:
            return self._placed(call, steps, error="The desk did not put the caller in a queue.")
        with self.state.lock:
            call.stage, call.queued_at = "queue", time.monotonic()
            call.queue_action = urljoin(incoming, enqueue.get("action", ""))
        wait_url = urljoin(incoming, enqueue.get("waitUrl", ""))
        if callback:
            waiting = step(wait_url, QueueSid=new_sid("QU"), QueuePosition="1", QueueTime="0",
                           CurrentQueueSize="1", AvgQueueTime="0")
            prompt = waiting.find("Gather") if waiting is not None else None
            if prompt is None:
                return self._placed(call, steps, error="The desk's wait music offered no callback.")
            goodbye = step(urljoin(incoming, prompt.get("action", "")), Digits="9")
            if goodbye is not None and goodbye.find("Leave") is not None:
                self._leave_queue(call, "leave")
                self._end(call, "completed")
        if hangup_after is not None and call.stage != "ended":
            timer = threading.Timer(hangup_after, self.hangup, args=(call.sid,))
            timer.daemon = True
            timer.start()
        return self._placed(call, steps)

    def _placed(self, call: FakeCall, steps: list[dict[str, Any]], error: str = "") -> dict[str, Any]:
        return {"sid": call.sid, "stage": call.stage, "steps": steps, **({"error": error} if error else {})}

    def _leave_queue(self, call: FakeCall, result: str) -> None:
        waited = int(time.monotonic() - (call.queued_at or call.started))
        if call.queue_action:
            self.post(call.queue_action, self._params(call, QueueResult=result, QueueTime=str(waited),
                                                      QueueSid=new_sid("QU")))

    def hangup(self, sid: str) -> bool:
        """The caller hangs up (False: no such call, or over already)."""
        with self.state.lock:
            call = self.state.calls.get(sid)
            if call is None or call.stage == "ended":
                return False
        if call.stage == "queue":
            self._leave_queue(call, "hangup")
        self._end(call, "completed")
        return True

    # --- what a call does ---

    def _agent_leg_report(self, call: FakeCall, status: str) -> None:
        if call.agent_callback and call.agent_leg:
            self.post(call.agent_callback, self._params(call, CallSid=call.agent_leg, ParentCallSid=call.sid,
                                                        CallStatus=status, Direction="outbound-dial",
                                                        To=f"client:{call.agent}"))

    def _unbridge(self, call: FakeCall) -> None:
        if call.stage == "bridged" and call.bridged_at is not None:
            call.bridged_seconds += time.monotonic() - call.bridged_at
            call.bridged_at = None
            self._agent_leg_report(call, "completed")

    def _end(self, call: FakeCall, status: str) -> None:
        with self.state.lock:
            if call.stage == "ended":
                return
            self._unbridge(call)
            call.stage, call.status = "ended", status
        if call.recorded and call.recording_callback:
            recording = new_sid("RE")
            self.post(call.recording_callback, {
                "AccountSid": self.account_sid, "CallSid": call.sid, "RecordingSid": recording,
                "RecordingUrl": f"{self.recordings_url}/2010-04-01/Accounts/{self.account_sid}/Recordings/"
                                f"{recording}", "RecordingStatus": "completed",
                "RecordingDuration": str(int(call.bridged_seconds)), "RecordingChannels": "2",
                "RecordingSource": "DialVerb"})
        self._status_report(call, "completed")

    def execute(self, call: FakeCall, document: ElementTree.Element) -> None:
        """Run TwiML the desk sent for a live call (REST)."""
        dial, enqueue = document.find("Dial"), document.find("Enqueue")
        if document.find("Hangup") is not None:
            self._end(call, "completed")
            return
        client = dial.find("Client") if dial is not None else None
        with self.state.lock:
            self._unbridge(call)
            if dial is not None and client is not None:
                call.stage, call.bridged_at = "bridged", time.monotonic()
                call.agent, call.agent_leg = (client.text or "").strip(), new_sid()
                call.agent_callback = client.get("statusCallback", "")
                call.recorded = call.recorded or dial.get("record", "").startswith("record-from")
                call.recording_callback = dial.get("recordingStatusCallback", "") or call.recording_callback
            elif enqueue is not None:
                call.stage, call.queued_at = "queue", time.monotonic()
                call.queue_action = enqueue.get("action", "")
            else:
                call.stage = "hold"
        if client is not None and "answered" in (client.get("statusCallbackEvent") or "").split():
            self._agent_leg_report(call, "in-progress")

    def _run_outbound(self, call: FakeCall, document: ElementTree.Element | None) -> None:
        time.sleep(self.report_delay)
        for event, status in (("initiated", "queued"), ("ringing", "ringing")):
            call.status = status
            self._status_report(call, event)
        if call.to.endswith("0000"):
            self._end(call, "no-answer")
            return
        call.status, call.answered = "in-progress", time.monotonic()
        self._status_report(call, "answered")
        if document is not None:
            self.execute(call, document)

    # --- the REST API ---

    def create_call(self, params: dict[str, list[str]]) -> tuple[int, dict[str, Any], threading.Thread | None]:
        first = {name: values[0] for name, values in params.items() if values}
        if not first.get("To"):
            return 400, _error(21201, "No 'To' number is specified", 400), None
        if not first.get("From"):
            return 400, _error(21213, "No 'From' number is specified", 400), None
        document = twiml_parse(first["Twiml"]) if first.get("Twiml") else None
        if document is None and not first.get("Url"):
            return 400, _error(21205, "Url or Twiml parameter is required (and valid TwiML)", 400), None
        events = tuple(event for value in params.get("StatusCallbackEvent", []) for event in value.split())
        call = FakeCall(sid=new_sid(), direction="outbound-api", from_=first["From"], to=first["To"],
                        status_callback=first.get("StatusCallback", ""), status_events=events or ("completed",))
        with self.state.lock:
            self.state.calls[call.sid] = call
        return 201, call.resource(self.account_sid), threading.Thread(target=self._run_outbound,
                                                                     args=(call, document), daemon=True)

    def update_call(self, sid: str, params: dict[str, list[str]]) -> tuple[int, dict[str, Any],
                                                                            threading.Thread | None]:
        first = {name: values[0] for name, values in params.items() if values}
        with self.state.lock:
            call = self.state.calls.get(sid)
        if call is None:
            return 404, _error(20404, f"The requested resource /Calls/{sid}.json was not found", 404), None
        if first.get("Status") in ("completed", "canceled"):
            if call.stage == "ended":
                return 200, call.resource(self.account_sid), None
            return 200, {**call.resource(self.account_sid), "status": "completed"}, threading.Thread(
                target=self._end, args=(call, "completed"), daemon=True)
        if "Twiml" not in first:
            return 400, _error(21218, "Twiml, Url or Status is required", 400), None
        if call.stage == "ended":
            return 400, _error(21220, "Call is not in-progress. Cannot redirect.", 400), None
        document = twiml_parse(first["Twiml"])
        if document is None:
            return 400, _error(12100, "Document parse failure", 400), None

        def later() -> None:
            time.sleep(self.report_delay)
            self.execute(call, document)

        return 200, call.resource(self.account_sid), threading.Thread(target=later, daemon=True)


def _error(code: int, message: str, status: int) -> dict[str, Any]:
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's name)
        if self.server.verbose:
            super().log_message(format, *args)

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if 0 <= length <= BODY_MAX_BYTES else None

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        provider = self.server.provider
        with provider.state.lock:
            views = {"/calls": lambda: [{**asdict(call), "from": call.from_}
                                        for call in provider.state.calls.values()],
                     "/requests": lambda: list(provider.state.requests),
                     "/webhooks": lambda: list(provider.state.webhooks)}
            view = views.get(self.path.rstrip("/"))
            body = view() if view else None
        if body is None:
            self._answer(404, _error(20404, "Unknown path", 404))
        else:
            self._answer(200, {self.path.strip("/"): body})

    def do_POST(self) -> None:  # noqa: N802
        body = self._body()
        if body is None:
            self._answer(413, _error(21617, "The body is too large", 413))
        elif self.path.rstrip("/") in ("/simulate/call", "/simulate/hangup"):
            self._simulate(body)
        elif (match := CALLS.match(self.path)) is not None:
            self._rest(match, body)
        else:
            self._answer(404, _error(20404, "Unknown path", 404))

    def _simulate(self, body: bytes) -> None:
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            self._answer(400, {"error": "The body must be a JSON object"})
            return
        provider = self.server.provider
        if self.path.rstrip("/") == "/simulate/hangup":
            self._answer(200, {"hung_up": provider.hangup(str(payload.get("sid") or ""))})
            return
        if not str(payload.get("from") or "").startswith("+"):
            self._answer(400, {"error": "from: the caller's number in E.164 (+34600111222)"})
            return
        hangup_after = payload.get("hangup_after")
        placed = provider.place_call(from_=str(payload["from"]), to=str(payload.get("to") or ""),
                                     digit=str(payload["digit"]) if payload.get("digit") else None,
                                     callback=bool(payload.get("callback")),
                                     desk_url=str(payload.get("desk") or ""),
                                     hangup_after=float(hangup_after) if hangup_after is not None else None)
        self._answer(502 if "error" in placed else 200, placed)

    def _authorised(self, account: str) -> bool:
        provider = self.server.provider
        if not provider.auth_token:
            return True
        expected = base64.b64encode(f"{provider.account_sid}:{provider.auth_token}".encode()).decode()
        return account == provider.account_sid and self.headers.get("Authorization") == f"Basic {expected}"

    def _rest(self, match: re.Match[str], body: bytes) -> None:
        provider = self.server.provider
        if not self._authorised(match["account"]):
            self._answer(401, _error(20003, "Authenticate", 401))
            return
        if (self.headers.get("Content-Type") or "").split(";")[0].strip() != "application/x-www-form-urlencoded":
            self._answer(400, _error(20001, "The body must be form-encoded", 400))
            return
        params = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        token = self.headers.get("I-Twilio-Idempotency-Token") or ""
        with provider.state.lock:
            replay = provider.state.by_token.get(token) if token else None
            provider.state.requests.append({"path": self.path, "sid": match["sid"] or "", "token": token,
                                            "replayed": replay is not None,
                                            "params": {name: values[0] if len(values) == 1 else values
                                                       for name, values in params.items()}})
        if replay is not None:
            self._answer(*replay)
            return
        if match["sid"]:
            status, answer, then = provider.update_call(match["sid"], params)
        else:
            status, answer, then = provider.create_call(params)
        if token and status < 500:
            with provider.state.lock:
                provider.state.by_token[token] = (status, answer)
        self._answer(status, answer)
        if then is not None:
            then.start()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], *, provider: FakeVoiceProvider, verbose: bool) -> None:
        super().__init__(address, _Handler)
        self.provider, self.verbose = provider, verbose


class FakeVoiceServer(LocalHttpServer):
    """The simulator on host:port; `start()` serves it on a thread, `serve_forever()` in this one."""

    thread_name = "fake-voice"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 9200, account_sid: str = "AC" + "0" * 32,
                 auth_token: str = "", number: str = "+34910000000",
                 desk_url: str = "http://127.0.0.1:8000/integrations/voice/", verbose: bool = False,
                 report_delay: float = 0.3) -> None:
        self.provider = FakeVoiceProvider(account_sid=account_sid, auth_token=auth_token, number=number,
                                          desk_url=desk_url, report_delay=report_delay,
                                          recordings_url=f"http://{host}:{port}")
        self.state = self.provider.state
        self._server = _Server((host, port), provider=self.provider, verbose=verbose)
