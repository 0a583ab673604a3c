"""The engine's own actions and its chat channel, registered from the app's ready().

Each one is idempotent on the step's key: those that only write rows run in the engine's
transaction with the step's "done" (`external=False`); those that reach outside carry the
key to the far side. Outside actions integrations provide (OMS rebate, coupon, email) are
registered in integrations/actions.py.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.adapters
import urllib3
import urllib3.connection
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.validators import URLValidator
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from conversations import services as conversations
from conversations.models import Conversation
from supportdesk.conditions import condition_matches
from supportdesk.errors import DomainError
from timeline import events
from timeline.models import Contact
from workflows import registry
from workflows.registry import StepContext, StepFailed, StepResult, StepRetry
from workflows.subjects import Subject, subject_attributes
from workflows.templates import Rendered, template_render

MAX_WAIT_MINUTES = 60 * 24 * 30
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def _name_ok(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 64 and set(value) <= _NAME_CHARS


def _json_value_ok(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool) and "\x00" not in str(value)


# --- send_message --------------------------------------------------------------------------


def _send_errors(params: Mapping[str, Any]) -> list[str]:
    errors = []
    if registry.channel(params.get("channel", "")) is None:
        errors.append(_("channel: %(channel)r is not a channel; use one of %(known)s.")
                      % {"channel": params.get("channel"), "known": ", ".join(sorted(registry.channels()))})
    if "template" not in params:
        errors.append(_("template: give the message's text per language."))
    return errors


def message_rendered(params: Mapping[str, Any], context: StepContext) -> Rendered:
    contact = context.contact
    return template_render(params["template"], language=contact.preferred_language, country=contact.country,
                           variables=context.variables)


def _send(params: Mapping[str, Any], context: StepContext) -> StepResult:
    channel = registry.channel(params["channel"])
    if channel is None:
        raise StepFailed(_("The channel %(channel)s is no longer available.") % {"channel": params["channel"]})
    rendered = message_rendered(params, context)
    reference = channel.send(context.contact, rendered, idempotency_key=context.idempotency_key, context=context)
    return StepResult(data={"channel": channel.name, "language": rendered.language, "subject": rendered.subject,
                            "reference": reference},
                      summary=_("sent “%(subject)s” by %(channel)s") % {
                          "subject": rendered.subject or rendered.body[:60], "channel": channel.name})


def _send_describe(params: Mapping[str, Any], context: StepContext) -> str:
    rendered = message_rendered(params, context)
    return _("send “%(subject)s” by %(channel)s in %(language)s") % {
        "subject": rendered.subject or rendered.body[:60], "channel": params["channel"],
        "language": rendered.language}


def _chat_send(contact: Contact, rendered: Rendered, *, idempotency_key: str, context: StepContext) -> str:
    message = conversations.proactive_message_send(contact_id=contact.pk, body=rendered.body,
                                                   idempotency_key=idempotency_key, actor=context.actor)
    return f"message:{message.pk}"


# --- Tags and attributes -------------------------------------------------------------------


def _tags_errors(params: Mapping[str, Any]) -> list[str]:
    tags = params.get("tags")
    if not isinstance(tags, list) or not tags or not all(_name_ok(tag) for tag in tags):
        return [_("tags: a list of tags (letters, digits, - and _; at most 64 characters each).")]
    return []


def _tags_change(params: Mapping[str, Any], context: StepContext, *, add: bool) -> StepResult:
    table = connection.ops.quote_name(Contact._meta.db_table)
    tags = list(dict.fromkeys(params["tags"]))
    expression = ("ARRAY(SELECT DISTINCT unnest(tags || %s::varchar[]))" if add
                  else "ARRAY(SELECT unnest(tags) EXCEPT SELECT unnest(%s::varchar[]))")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tags FROM {table} WHERE id = %s FOR UPDATE", [context.contact.pk])
        before = cursor.fetchone()[0] or []
        cursor.execute(f"UPDATE {table} SET tags = {expression}, updated_at = now() WHERE id = %s "
                       "RETURNING tags", [tags, context.contact.pk])
        after = cursor.fetchone()[0] or []
    if sorted(before) != sorted(after):
        events.contact_updated_event(contact=context.contact, changes={"tags": sorted(after)},
                                     occurred_at=timezone.now(), actor=context.actor)
    words = ", ".join(tags)
    return StepResult(data={"tags": sorted(after)},
                      summary=(_("tagged %(tags)s") if add else _("untagged %(tags)s")) % {"tags": words})


def _attribute_errors(params: Mapping[str, Any]) -> list[str]:
    errors = []
    if not _name_ok(params.get("name")):
        errors.append(_("name: the attribute's name (letters, digits, - and _)."))
    if "value" not in params or not _json_value_ok(params.get("value")):
        errors.append(_("value: a text, a number, true or false (or null to clear it)."))
    return errors


def _contact_attribute_set(params: Mapping[str, Any], context: StepContext) -> StepResult:
    contact = Contact.objects.select_for_update().get(pk=context.contact.pk)
    name, value = params["name"], params["value"]
    if contact.attributes.get(name) != value:
        contact.attributes = {**contact.attributes, name: value}
        contact.save(update_fields=["attributes", "updated_at"])
        events.contact_updated_event(contact=contact, changes={f"attributes.{name}": value},
                                     occurred_at=timezone.now(), actor=context.actor)
    return StepResult(data={name: value}, summary=_("set %(name)s to %(value)s") % {"name": name, "value": value})


def _conversation_attribute_set(params: Mapping[str, Any], context: StepContext) -> StepResult:
    if context.conversation is None:
        raise StepFailed(_("This run is not about a conversation."))
    conversation = Conversation.objects.select_for_update().get(pk=context.conversation.pk)
    name, value = params["name"], params["value"]
    conversation.attributes = {**(conversation.attributes or {}), name: value}
    conversation.save(update_fields=["attributes", "updated_at"])
    return StepResult(data={name: value}, summary=_("set the conversation's %(name)s to %(value)s")
                      % {"name": name, "value": value})


# --- Tasks and segments --------------------------------------------------------------------


def _task_errors(params: Mapping[str, Any]) -> list[str]:
    errors = []
    if not isinstance(params.get("queue"), str) or not params["queue"]:
        errors.append(_("queue: the key of the queue the task goes to."))
    if not isinstance(params.get("subject"), str) or not params["subject"].strip():
        errors.append(_("subject: what the task is, e.g. Service audit."))
    if "body" in params and not isinstance(params["body"], str):
        errors.append(_("body: the task's instructions, as text."))
    return errors


def _task_open(params: Mapping[str, Any], context: StepContext) -> StepResult:
    from routing.models import Queue  # noqa: PLC0415

    if not Queue.objects.filter(key=params["queue"], is_active=True).exists():
        raise StepFailed(_("No active queue %(queue)s.") % {"queue": params["queue"]})
    task = conversations.task_open(
        contact_id=context.contact.pk, queue_key=params["queue"], subject=params["subject"],
        body=params.get("body") or params["subject"], idempotency_key=context.idempotency_key,
        actor=context.actor)
    return StepResult(data={"conversation": task.pk},
                      summary=_("opened the task “%(subject)s” in %(queue)s") % {
                          "subject": params["subject"], "queue": params["queue"]})


def _segment_errors(params: Mapping[str, Any]) -> list[str]:
    segment = params.get("segment")
    if not isinstance(segment, int) or isinstance(segment, bool) or segment < 1:
        return [_("segment: the segment's id.")]
    return []


def _segment_add(params: Mapping[str, Any], context: StepContext) -> StepResult:
    try:
        from workflows.segments import segment_add  # noqa: PLC0415 (the segments part may be absent)
    except ImportError:
        raise StepFailed(_("Segments are not available.")) from None
    try:
        added = segment_add(params["segment"], context.contact.pk, actor=context.actor)
    except ObjectDoesNotExist:
        raise StepFailed(_("No segment %(segment)s.") % {"segment": params["segment"]}) from None
    except DomainError as error:  # the segments part's own refusal (no such segment, ...)
        raise StepFailed(str(error)) from None
    return StepResult(data={"added": bool(added)},
                      summary=_("added to segment %(segment)s") % {"segment": params["segment"]})


# --- Outbound URL --------------------------------------------------------------------------


def _url_errors(params: Mapping[str, Any]) -> list[str]:
    url = params.get("url")
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        return [_("url: an http or https address, e.g. https://hooks.example.com/desk.")]
    if not settings.WORKFLOWS_OUTBOUND_ALLOW_PRIVATE and _private_host(urlsplit(url).hostname or ""):
        return [_("url: %(host)s is a private address; the desk posts only to public ones.")
                % {"host": urlsplit(url).hostname}]
    return []


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _not_public(address: str) -> bool:
    """Not a public unicast address: private, loopback, link-local (cloud metadata), shared
    (100.64/10, carrier NAT and some clouds' metadata), multicast, reserved, or an IPv6 form
    of one of those (mapped, 6to4, NAT64)."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (
            ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None)
        if embedded is not None:
            return _not_public(str(embedded))
    return not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified


def _private_host(host: str) -> bool:
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False  # not resolvable now: the post will fail and say so
    return any(_not_public(address) for address in addresses)


class _NotPublicPeer(Exception):
    """The address a connection reached is not public (the name resolved to a public address
    when it was checked, to another when connecting: DNS rebinding)."""


class _PublicPeerOnly:
    """urllib3 connection mix-in: refuse before a byte is sent when the peer is not public."""

    def _new_conn(self) -> Any:
        sock = super()._new_conn()  # type: ignore[misc]
        address = sock.getpeername()[0]
        if _not_public(address):
            sock.close()
            raise _NotPublicPeer(address)
        return sock


class _PublicHTTPConnection(_PublicPeerOnly, urllib3.connection.HTTPConnection):
    pass


class _PublicHTTPSConnection(_PublicPeerOnly, urllib3.connection.HTTPSConnection):
    pass


class _PublicHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _PublicHTTPConnection


class _PublicHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _PublicHTTPSConnection


class _PublicOnlyAdapter(requests.adapters.HTTPAdapter):
    """Direct connections to public addresses only (a proxy, when the environment names one,
    resolves the name itself: the check before the post is what holds then)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _PublicHTTPPool, "https": _PublicHTTPSPool}


def _outbound_session() -> requests.Session:
    session = requests.Session()
    if not settings.WORKFLOWS_OUTBOUND_ALLOW_PRIVATE:
        session.mount("http://", _PublicOnlyAdapter())
        session.mount("https://", _PublicOnlyAdapter())
    return session


def _url_post(params: Mapping[str, Any], context: StepContext) -> StepResult:
    errors = _url_errors(params)
    if errors:
        raise StepFailed(" ".join(errors))
    contact = context.contact
    payload = {"workflow": context.workflow_id, "run": context.run_id, "step": context.position,
               "contact": {"id": contact.pk, "external_id": contact.external_id, "kind": contact.kind},
               "order": context.order.external_id if context.order is not None else None,
               "conversation": context.conversation.pk if context.conversation is not None else None}
    try:
        with _outbound_session() as session:
            response = session.post(params["url"], json=payload, allow_redirects=False,
                                    timeout=settings.WORKFLOWS_OUTBOUND_TIMEOUT_SECONDS,
                                    headers={"Idempotency-Key": context.idempotency_key})
    except _NotPublicPeer as error:
        raise StepFailed(_("url: %(host)s is a private address; the desk posts only to public ones.")
                         % {"host": f"{urlsplit(params['url']).hostname} ({error})"}) from None
    except requests.RequestException as error:
        raise StepRetry(_("%(url)s: %(error)s") % {"url": params["url"], "error": error}) from error
    if response.status_code == 429 or response.status_code >= 500:
        raise StepRetry(_("%(url)s answered %(status)s.") % {"url": params["url"], "status": response.status_code})
    if response.status_code >= 300:
        raise StepFailed(_("%(url)s refused the post (%(status)s).") % {"url": params["url"],
                                                                    "status": response.status_code})
    return StepResult(data={"status": response.status_code},
                      summary=_("notified %(host)s") % {"host": urlsplit(params["url"]).hostname})


# --- Wait and stop -------------------------------------------------------------------------


def _wait_errors(params: Mapping[str, Any]) -> list[str]:
    minutes = params.get("minutes")
    if not isinstance(minutes, int | float) or isinstance(minutes, bool) or not 0 < minutes <= MAX_WAIT_MINUTES:
        return [_("minutes: how long to wait, more than 0 (seconds as a fraction: 0.5 is 30 s).")]
    return []


def _wait(params: Mapping[str, Any], context: StepContext) -> StepResult:
    return StepResult(data={"minutes": params["minutes"]}, wait_seconds=float(params["minutes"]) * 60)


def _stop_errors(params: Mapping[str, Any]) -> list[str]:
    return [] if isinstance(params.get("condition"), Mapping) and params["condition"] else [
        _("condition: what must still hold for the run to go on.")]


def _stop_unless(params: Mapping[str, Any], context: StepContext) -> StepResult:
    subject = Subject(contact=Contact.objects.get(pk=context.contact.pk), order=_fresh(context.order),
                      conversation=_fresh(context.conversation))
    holds = condition_matches(params["condition"], subject_attributes(subject, now=context.now))
    return StepResult(data={"held": holds}, stop=not holds)


def _fresh(instance: Any) -> Any:
    if instance is None:
        return None
    return type(instance).objects.filter(pk=instance.pk).first()


def actions_register() -> None:
    """Register the engine's own actions and the chat channel (from the app's ready())."""
    registry.channel_register("chat", label=gettext_lazy("Chat (the contact's open chat, or a new one)"),
                              send=_chat_send, external=False)
    builtin = [
        ("send_message", gettext_lazy("Send a message"), _send_errors, _send, True, _send_describe),
        ("add_tags", gettext_lazy("Add tags"), _tags_errors,
         lambda params, context: _tags_change(params, context, add=True), False,
         lambda params, context: _("tag %(tags)s") % {"tags": ", ".join(params["tags"])}),
        ("remove_tags", gettext_lazy("Remove tags"), _tags_errors,
         lambda params, context: _tags_change(params, context, add=False), False,
         lambda params, context: _("untag %(tags)s") % {"tags": ", ".join(params["tags"])}),
        ("set_contact_attribute", gettext_lazy("Set a contact attribute"), _attribute_errors,
         _contact_attribute_set, False,
         lambda params, context: _("set %(name)s to %(value)s") % params),
        ("set_conversation_attribute", gettext_lazy("Set a conversation attribute"), _attribute_errors,
         _conversation_attribute_set, False,
         lambda params, context: _("set the conversation's %(name)s to %(value)s") % params),
        ("open_task", gettext_lazy("Open a task in a queue"), _task_errors, _task_open, False,
         lambda params, context: _("open the task “%(subject)s” in %(queue)s") % params),
        ("add_to_segment", gettext_lazy("Add to a segment"), _segment_errors, _segment_add, False,
         lambda params, context: _("add to segment %(segment)s") % params),
        ("post_url", gettext_lazy("Post to an outbound URL"), _url_errors, _url_post, True,
         lambda params, context: _("post to %(url)s") % params),
        ("wait", gettext_lazy("Wait"), _wait_errors, _wait, False,
         lambda params, context: _("wait %(minutes)s minutes") % params),
        ("stop_unless", gettext_lazy("Stop if a condition no longer holds"), _stop_errors, _stop_unless, False,
         lambda params, context: _("go on only if the condition still holds")),
    ]
    for name, label, errors, run, external, describe in builtin:
        registry.action_register(name, label=label, params_errors=errors, run=run, external=external,
                                 describe=describe)

