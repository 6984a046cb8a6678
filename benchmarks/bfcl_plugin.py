"""The eight stateful APIs of the ``bfcl-eval`` multi-turn tasks as Athena operations.

A benchmark plugin (``athena_register_api``): every public method of GorillaFileSystem,
MathAPI, MessageAPI, TwitterAPI, TicketAPI, TradingBot, TravelAPI and VehicleControlAPI
becomes the operation ``bfcl.<api>.<method>`` (``bfcl.fs.cd``, ``bfcl.vehicle.startEngine``),
with the method's own signature, type hints and docstring, so a sandboxed program calls
``athena.bfcl.fs.cd(folder="document")`` through the bridge.

The APIs' state lives on the host, in a :class:`World`, one set of API instances per
scope: the bridge binds each program to its scope, so each task runs in a scope of its
own, initialised from the task's ``initial_config`` with :meth:`World.load`. A scope
nobody loaded (a procedure gate's scratch scope, ``_verify/...``) gets the APIs'
default state on its first call. Every call is logged per scope (operation, arguments,
result) so that two replays can be compared call by call.

``bfcl-eval`` is read from its installed package (``pip install --no-deps bfcl-eval
mpmath``); none of its other dependencies are imported.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import json
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs

__all__ = ["APIS", "DATA", "WIDER", "Call", "World", "api_classes", "plugin", "public_methods",
           "task_data"]

#: class name -> (module under ``func_source_code``, short name in ``bfcl.<short>.<method>``).
APIS: dict[str, tuple[str, str]] = {
    "GorillaFileSystem": ("gorilla_file_system", "fs"),
    "MathAPI": ("math_api", "math"),
    "MessageAPI": ("message_api", "message"),
    "TwitterAPI": ("posting_api", "twitter"),
    "TicketAPI": ("ticket_api", "ticket"),
    "TradingBot": ("trading_bot", "trading"),
    "TravelAPI": ("travel_booking", "travel"),
    "VehicleControlAPI": ("vehicle_control", "vehicle"),
}
#: Parameters declared wider than the method's hint, and why.
WIDER: dict[tuple[str, str], tuple[Any, str]] = {
    ("TicketAPI", "ticket_id"): (int | str, "the hint says int, but an initial config may "
                                 "hold string ids (multi_turn_base_90 closes 'ticket_001')"),
}
_SOURCE = "bfcl_eval.eval_checker.multi_turn_eval.func_source_code"
#: The data files of the multi-turn base category, relative to the ``bfcl_eval`` package.
DATA = {"questions": "data/BFCL_v4_multi_turn_base.json",
        "answers": "data/possible_answer/BFCL_v4_multi_turn_base.json"}


def _package_dir() -> Path:
    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the bfcl benchmark needs bfcl-eval, installed without its "
                         "dependencies: pip install --no-deps bfcl-eval mpmath")
    return Path(next(iter(spec.submodule_search_locations)))


def task_data() -> list[dict[str, Any]]:
    """The multi-turn base tasks: each question entry merged with its ``ground_truth``."""
    root = _package_dir()

    def lines(name: str) -> list[dict[str, Any]]:
        text = (root / DATA[name]).read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    answers = {entry["id"]: entry["ground_truth"] for entry in lines("answers")}
    return [{**entry, "ground_truth": answers[entry["id"]]} for entry in lines("questions")]


def api_classes() -> dict[str, type]:
    """The API classes by name (imports their modules: the standard library and mpmath)."""
    _package_dir()
    return {name: getattr(importlib.import_module(f"{_SOURCE}.{module}"), name)
            for name, (module, _) in APIS.items()}


def public_methods(cls: type) -> dict[str, Callable[..., Any]]:
    """The methods an agent may call: the public functions the class defines."""
    return {name: function for name, function in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_")}


@attrs.frozen
class Call:
    """One call made in a scope: the operation, its arguments and what it returned."""

    operation: str
    arguments: Mapping[str, Any]
    result: Any


def _plain(value: Any) -> Any:
    """A result as JSON data (the bridge's view of it), so that logs compare as values."""
    return json.loads(json.dumps(value, default=str))


@attrs.define
class World:
    """The APIs' state, one set of instances per scope, and the calls made in each.

    ``classes`` are the API classes by name; ``shorts`` their names in operation names
    (default: those of :data:`APIS`)."""

    classes: dict[str, type]
    shorts: dict[str, str] = attrs.field(
        factory=lambda: {name: short for name, (_, short) in APIS.items()})
    _instances: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    _log: dict[str, list[Call]] = attrs.field(factory=dict)

    def load(self, scope: str, initial_config: Mapping[str, Any],
             involved: Iterable[str]) -> None:
        """(Re)start ``scope`` with the ``involved`` APIs in the state a task describes."""
        instances = {}
        for name in involved:
            instance = self.classes[name]()
            if hasattr(instance, "_load_scenario"):
                instance._load_scenario(copy.deepcopy(dict(initial_config.get(name, {}))))
            instances[name] = instance
        self._instances[scope] = instances
        self._log[scope] = []

    def instance(self, scope: str, class_name: str) -> Any:
        """The instance of ``class_name`` in ``scope``; an API the scope was not loaded
        with starts from its default state."""
        instances = self._instances.setdefault(scope, {})
        if class_name not in instances:
            instance = self.classes[class_name]()
            if hasattr(instance, "_load_scenario"):
                instance._load_scenario({})
            instances[class_name] = instance
        return instances[class_name]

    def call(self, scope: str, class_name: str, method: str, arguments: Mapping[str, Any]
             ) -> Any:
        """Call ``method`` in ``scope``; log it and return its result as JSON data.

        The method gets its own copy of the arguments, as a call over the bridge does (the
        APIs keep and later change lists they were given)."""
        result = _plain(getattr(self.instance(scope, class_name), method)(
            **copy.deepcopy(dict(arguments))))
        self._log.setdefault(scope, []).append(
            Call(self.operation(class_name, method), _plain(dict(arguments)), result))
        return result

    def operation(self, class_name: str, method: str) -> str:
        """``bfcl.<short>.<method>``: the operation that calls ``method`` of ``class_name``."""
        return f"bfcl.{self.shorts[class_name]}.{method}"

    def call_operation(self, scope: str, operation: str, arguments: Mapping[str, Any]
                       ) -> Any:
        """:meth:`call` by operation name (``bfcl.fs.cd``)."""
        _, short, method = operation.split(".")
        class_name = next(name for name, s in self.shorts.items() if s == short)
        return self.call(scope, class_name, method, arguments)

    def calls(self, scope: str) -> list[Call]:
        """The calls made in ``scope`` since it was loaded, in order."""
        return list(self._log.get(scope, ()))

    def state(self, scope: str) -> dict[str, dict[str, Any]]:
        """Each API's public attributes in ``scope`` (what BFCL's state checker compares)."""
        return {name: {key: value for key, value in vars(instance).items()
                       if not key.startswith("_")}
                for name, instance in sorted(self._instances.get(scope, {}).items())}

    def scopes(self) -> list[str]:
        return sorted(self._instances)


def _operation(world: World, class_name: str, method: str,
               function: Callable[..., Any]) -> Callable[..., Any]:
    """An operation calling ``method`` in the caller's scope, declared with its signature."""
    from athena_core import calls
    from athena_core.api import operation
    from athena_core.api.limits import DEFAULT_LIMITS

    signature = inspect.signature(function)
    params = list(signature.parameters.values())[1:]  # without self
    hints = typing.get_type_hints(function)
    hints.update({name: wider for (owner, name), (wider, _) in WIDER.items()
                  if owner == class_name and name in hints})

    def call(athena: Any, /, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(None, *args, **kwargs)
        arguments = {k: v for k, v in bound.arguments.items() if k != "self"}
        context = calls.current()
        scope = (context.scope if context is not None else None) \
            or athena.config.memory.default_scope
        return world.call(scope, class_name, method, arguments)

    owner = inspect.Parameter("athena", inspect.Parameter.POSITIONAL_ONLY)
    call.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[owner, *params], return_annotation=Any)
    call.__annotations__ = {**{p.name: hints[p.name] for p in params if p.name in hints},
                            "return": Any}
    call.__name__ = call.__qualname__ = method
    call.__doc__ = inspect.cleandoc(function.__doc__ or f"{class_name}.{method}")
    # The APIs' own argument names (``id``, ``limit``, ...) are not Athena's: plain limits.
    limits = {p.name: DEFAULT_LIMITS for p in params}
    return operation(permissions="write", limits=limits)(call)


def plugin(world: World) -> ModuleType:
    """A plugin module registering every method of ``world``'s APIs as an operation."""
    from athena_core.hookspecs import hookimpl

    operations = {world.operation(class_name, method): _operation(world, class_name, method,
                                                                 function)
                  for class_name, cls in world.classes.items()
                  for method, function in public_methods(cls).items()}

    @hookimpl
    def athena_register_api(register: Any) -> None:
        for name, function in operations.items():
            register(name, function)

    module = ModuleType("athena_benchmark_bfcl")
    module.athena_register_api = athena_register_api  # type: ignore[attr-defined]
    return module
