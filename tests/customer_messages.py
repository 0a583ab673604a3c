"""The error messages a customer can be answered with, found by walking the code from the
customer's entry points (the widget's socket and its HTTP endpoints), not by a list kept by hand.

From each entry point every function of the desk's apps it names (called, or handed to
`database_sync_to_async`, or decorated with) is followed, and so on; a class it names brings its
methods, and so does a registry's provider (an instance a higher layer registered). In every
function reached, each place a message leaves for the customer is a sink: a domain error built
(`DomainError` and its subclasses: the consumers and the widget's views send their `message`),
an error frame sent (`send_error`), a JSON error body (`error_body`, `error_json`), or a dict with a
"message" built by hand (the unavailable frame). The message given there must be marked for
translation: a gettext call with a literal, formatted with `%` or not, or a lazy one named at
module level. What merely passes on another error's message (`error.message`, a parameter) is a
relay: the message it passes was itself made at a sink the walk finds.

The walk over-approximates (it follows a function named anywhere in a reached one, whether or
not a visitor's request gets there): a message the desk only ever shows an agent may be asked
to have the customer languages too. That errs on the side the customer reads.
"""

from __future__ import annotations

import ast
import contextvars
import inspect
import textwrap
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import SyncToAsync
from django.utils.functional import Promise

from supportdesk.errors import DomainError

PROJECT_APPS = ("conversations", "supportdesk", "timeline", "routing", "workflows", "integrations",
                "helpcenter", "reports")
MARKERS = {"_", "gettext", "gettext_lazy", "pgettext", "pgettext_lazy", "ngettext", "ngettext_lazy"}
# Functions (by name, called on anything) whose argument at this position (or keyword) is a
# message the customer reads.
SINK_CALLS = {"send_error": (1, "message"), "error_body": (1, "message"), "error_json": (1, "message")}


@dataclass
class Walk:
    """What the walk found: the marked messages, and the sinks given text that is not marked."""

    messages: set[str] = field(default_factory=set)
    unmarked: list[str] = field(default_factory=list)
    functions: set[Callable[..., Any]] = field(default_factory=set)
    # The exempt functions reached that hold a sink: an exemption not here is stale.
    exempt_seen: set[str] = field(default_factory=set)


_apps: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("apps", default=PROJECT_APPS)


def _in_project(obj: Any) -> bool:
    """Whether `obj` is the walked apps' own (the self-test walks tests/ too)."""
    module = getattr(obj, "__module__", None) or ""
    return module.split(".")[0] in _apps.get()


def _function(obj: Any) -> Callable[..., Any] | None:
    """The plain function behind a decorated view, a `database_sync_to_async`, a method."""
    if isinstance(obj, SyncToAsync):
        obj = obj.func
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    if isinstance(obj, property):
        obj = obj.fget
    if isinstance(obj, types.MethodType):
        obj = obj.__func__
    obj = inspect.unwrap(obj) if callable(obj) else obj
    return obj if isinstance(obj, types.FunctionType) and _in_project(obj) else None


def _class_functions(cls: type) -> list[Callable[..., Any]]:
    """The methods a project class defines itself or inherits from the project's classes."""
    found = []
    for klass in cls.__mro__:
        if not _in_project(klass):
            continue
        for value in vars(klass).values():
            function = _function(value)
            if function is not None:
                found.append(function)
    return found


def _namespace(function: Callable[..., Any]) -> dict[str, Any]:
    names = dict(function.__globals__)
    if function.__closure__:
        names.update(inspect.getclosurevars(function).nonlocals)
    return names


def _resolve(node: ast.expr, names: dict[str, Any]) -> Any:
    """The object a name or a dotted name stands for, or None."""
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _resolve(node.value, names)
        # A module's or a class's attribute, or one of a registry's (an instance of the desk's
        # classes holding what a higher layer registered, e.g. conversations.surveys' provider).
        if owner is not None and (isinstance(owner, (types.ModuleType, type)) or _in_project(type(owner))):
            return inspect.getattr_static(owner, node.attr, None)
    return None


def _is_domain_error(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, DomainError)


def _marked_text(node: ast.expr, names: dict[str, Any]) -> str | None:
    """The msgid of a marked message expression, None when it is not marked."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return _marked_text(node.left, names)
    if isinstance(node, ast.Call):
        callee = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        if callee in MARKERS and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            return node.args[0].value
        if callee == "str" and len(node.args) == 1:
            return _marked_text(node.args[0], names)
        return None
    value = _resolve(node, names)
    if isinstance(value, Promise):  # a module's gettext_lazy constant
        return value._args[0]
    return None


def _relay(node: ast.expr, function_tree: ast.AST) -> bool:
    """Passing on a message made elsewhere: another error's `.message`, or a variable the function
    never sets to text of its own."""
    if isinstance(node, ast.Attribute) and node.attr == "message":
        return True
    if isinstance(node, ast.Name):
        for assign in ast.walk(function_tree):
            if isinstance(assign, (ast.Assign, ast.AnnAssign)):
                targets = assign.targets if isinstance(assign, ast.Assign) else [assign.target]
                if any(isinstance(target, ast.Name) and target.id == node.id for target in targets) \
                        and isinstance(assign.value, (ast.Constant, ast.JoinedStr)):
                    return False
        return True
    return False


def _sink_argument(call: ast.Call, names: dict[str, Any]) -> ast.expr | None:
    """The message argument if `call` hands a message to the customer, else None."""
    target = _resolve(call.func, names)
    if _is_domain_error(target):
        position, keyword = 0, "message"
    else:
        callee = call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", "")
        if callee not in SINK_CALLS:
            return None
        position, keyword = SINK_CALLS[callee]
    for given in call.keywords:
        if given.arg == keyword:
            return given.value
    return call.args[position] if len(call.args) > position else None


def _name(function: Callable[..., Any]) -> str:
    return f"{function.__module__}.{function.__qualname__}"


def _where(function: Callable[..., Any], node: ast.AST) -> str:
    return f"{_name(function)}, line {function.__code__.co_firstlineno + node.lineno - 1}"


def walk(entry_points: Iterable[Any], *, exempt: Iterable[str] = (), apps: tuple[str, ...] = PROJECT_APPS) -> Walk:
    """Follow the code of `apps` from `entry_points` (functions, views, consumer classes). The
    sinks in the functions named in `exempt` ("module.qualname") are not asked for a marked
    message (what they call still is)."""
    reset = _apps.set(apps)
    try:
        return _walk(entry_points, exempt=set(exempt))
    finally:
        _apps.reset(reset)


def _walk(entry_points: Iterable[Any], *, exempt: set[str]) -> Walk:
    found = Walk()
    pending: list[Callable[..., Any]] = []

    def reach(obj: Any) -> None:
        if obj is not None and not isinstance(obj, (type, types.FunctionType, types.MethodType)) \
                and _in_project(type(obj)):
            obj = type(obj)  # a registered provider: what its class can do
        if isinstance(obj, type):
            if _in_project(obj) and not _is_domain_error(obj):
                pending.extend(_class_functions(obj))
            return
        function = _function(obj)
        if function is not None:
            pending.append(function)

    for entry in entry_points:
        reach(entry)
    while pending:
        function = pending.pop()
        if function in found.functions:
            continue
        found.functions.add(function)
        try:
            source = textwrap.dedent(inspect.getsource(function))
        except (OSError, TypeError):
            continue
        tree = ast.parse(source)
        names = _namespace(function)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Name, ast.Attribute)):
                reach(_resolve(node, names))
            if isinstance(node, ast.Call):
                argument = _sink_argument(node, names)
            elif isinstance(node, ast.Dict):  # an error frame or body built by hand
                argument = next((value for key, value in zip(node.keys, node.values, strict=True)
                                 if isinstance(key, ast.Constant) and key.value == "message"), None)
            else:
                continue
            if argument is None:
                continue
            if _name(function) in exempt:
                found.exempt_seen.add(_name(function))
                continue
            text = _marked_text(argument, names)
            if text is not None:
                found.messages.add(text)
            elif not _relay(argument, tree):
                found.unmarked.append(f"{_where(function, node)}: {ast.unparse(argument)[:90]}")
    return found
