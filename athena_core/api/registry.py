"""The API registry: every agent-callable operation, declared once.

An operation is a method (of a memory layer, or of :class:`~athena_core.Athena`
itself) or a plugin function, decorated with :func:`operation`. From that one
declaration - name, type hints, docstring, permissions, namespace - come the
host Python API (with argument checking), and the sandbox module, discovery tree
and MCP tools that are generated from :meth:`ApiRegistry.operations`.
"""

from __future__ import annotations

import functools
import inspect
import keyword
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import attrs

from athena_core import calls
from athena_core.api.limits import ARGUMENT_LIMITS, DEFAULT_LIMITS, ArgumentLimits, check_limits
from athena_core.api.validation import check_value
from athena_core.calls import ALL_PERMISSIONS as PERMISSIONS
from athena_core.errors import (
    DuplicateNameError,
    InvalidArgumentError,
    OperationDeclarationError,
)

__all__ = ["PERMISSIONS", "SANDBOX_NAMES", "ApiRegistry", "Namespace", "Operation",
           "OperationSpec", "name_problem", "operation"]

F = TypeVar("F", bound=Callable[..., Any])
_MARK = "__athena_operation__"

#: What the sandbox's ``athena`` module defines besides the operations
#: (``athena_core/sandbox_client/athena_module.py``, ``build``): no operation may take them.
SANDBOX_NAMES = frozenset({"errors", "AthenaError", "Record", "operations"})


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot name an operation, or ``None``: every dotted part must be a public
    Python identifier (``notes.pin``), since programs call it as ``athena.notes.pin``."""
    if not isinstance(name, str) or not name:
        return "an operation name must be a non-empty string"
    for part in name.split("."):
        if not part.isidentifier() or keyword.iskeyword(part) or part.startswith("_"):
            return (f"{part!r} in {name!r} is not a public Python identifier (every dotted "
                    "part of an operation name must be one)")
    return None


@attrs.define(eq=False)
class OperationSpec:
    """What :func:`operation` records about one function."""

    function: Callable[..., Any]
    name: str
    permissions: frozenset[str]
    #: This operation's own argument limits, by argument name (see :meth:`limits_for`).
    limits: Mapping[str, ArgumentLimits] = attrs.field(factory=dict)
    #: Whether placeholders in its arguments are resolved to the real values on the host
    #: (an operation that must act on a value, like sending mail to an address).
    real_values: bool = False
    _hints: dict[str, Any] | None = None
    _signature: inspect.Signature | None = None

    @property
    def signature(self) -> inspect.Signature:
        """The signature an agent sees: without the first (owner) parameter."""
        if self._signature is None:
            full = inspect.signature(self.function)
            params = list(full.parameters.values())[1:]
            hints = self.hints
            self._signature = full.replace(
                parameters=[p.replace(annotation=hints.get(p.name, p.annotation)) for p in params],
                return_annotation=hints.get("return", full.return_annotation),
            )
        return self._signature

    @property
    def hints(self) -> dict[str, Any]:
        if self._hints is None:
            self._hints = typing.get_type_hints(self.function)
        return self._hints

    def resolve(self, qualified: str) -> None:
        """Resolve the type hints and the signature now, so that an operation that could
        not be called or described fails when its plugin is checked, not on every call.
        Raises :class:`~athena_core.errors.OperationDeclarationError`."""
        try:
            params = list(inspect.signature(self.function).parameters.values())
            self.signature  # noqa: B018 - resolves every hint
        except Exception as exc:
            raise OperationDeclarationError(
                f"Operation {qualified!r}: its type hints do not resolve at run time "
                f"({type(exc).__name__}: {exc}).",
                hint="Import the names its annotations use at module level, not only under "
                     "`if TYPE_CHECKING:`.") from exc
        if not params or params[0].kind not in (params[0].POSITIONAL_ONLY,
                                                params[0].POSITIONAL_OR_KEYWORD):
            raise OperationDeclarationError(
                f"Operation {qualified!r}: its first parameter must be positional; it "
                "receives the object the operation belongs to.")

    @property
    def doc(self) -> str:
        return inspect.cleandoc(self.function.__doc__ or "")

    def limits_for(self, name: str) -> ArgumentLimits:
        """The limits of argument ``name``: the operation's own, else those declared for
        every argument of that name (:mod:`athena_core.api.limits`)."""
        return self.limits.get(name) or ARGUMENT_LIMITS.get(name, DEFAULT_LIMITS)

    def check(self, qualified: str, args: tuple[Any, ...], kwargs: dict[str, Any]
              ) -> inspect.BoundArguments:
        """Bind a call and check each argument against its limits and its type; convert
        ISO strings to datetimes where declared."""
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            names = ", ".join(self.signature.parameters)
            raise InvalidArgumentError(f"{qualified}(): {exc}. Parameters: {names}.") from None
        hints = self.hints
        for name, value in bound.arguments.items():
            check_limits(qualified, name, value, self.limits_for(name))
            if name in hints:
                bound.arguments[name] = check_value(qualified, name, value, hints[name])
        return bound

    @property
    def scoped(self) -> bool:
        """Whether the operation takes a ``scope`` (the dispatcher sets it)."""
        return "scope" in self.signature.parameters

    def invoke(self, owner: Any, qualified: str, /, *args: Any, **kwargs: Any) -> Any:
        """The dispatcher: check the call context and the arguments, then run.

        Inside a bound :class:`~athena_core.calls.CallContext` the operation's declared
        permissions are checked against it and its ``scope`` is the bound one (another
        is refused). With none bound, the caller is the host application: a host
        context is bound for the call, in the call's own ``scope``, so that everything
        the operation calls in turn stays there.
        """
        context = calls.current()
        if context is None:
            bound = self.check(qualified, args, kwargs)
            scope = bound.arguments.get("scope") if self.scoped else None
            with calls.bind(calls.CallContext(scope=scope)):
                return self.function(owner, *bound.args, **bound.kwargs)
        # The context first: a refused call learns nothing from argument checks.
        context.check(qualified, self.permissions)
        if self.scoped and kwargs.get("scope") is not None:
            context.resolve(kwargs["scope"])
        bound = self.check(qualified, args, kwargs)
        if self.scoped:
            bound.arguments["scope"] = context.resolve(bound.arguments.get("scope"))
        return self.function(owner, *bound.args, **bound.kwargs)


def operation(*, permissions: str | Iterable[str] = "read", name: str | None = None,
              limits: Mapping[str, ArgumentLimits] | None = None,
              real_values: bool = False) -> Callable[[F], F]:
    """Declare a function or method as an agent-callable operation.

    ``permissions`` is what a caller must be allowed (``read``, ``write``,
    ``delete``, ``execute``, ``reveal``). Every call is checked against the argument
    limits (:mod:`athena_core.api.limits`; ``limits`` overrides them by argument name)
    and type-checked against the function's annotations before it runs; the docstring
    is what agents read. With ``real_values``, placeholders of sensitive values in its
    arguments (``[EMAIL_k3x7q2mz]``) are resolved to the real values on the host before
    it runs, each call that resolves one on the audit log; callers never see them.
    """
    wanted = frozenset([permissions] if isinstance(permissions, str) else permissions)
    unknown = wanted - PERMISSIONS
    if unknown:
        raise ValueError(f"unknown permissions {sorted(unknown)}; valid: {sorted(PERMISSIONS)}")

    def decorate(function: F) -> F:
        spec = OperationSpec(function, name or function.__name__, wanted, dict(limits or {}),
                             real_values)

        @functools.wraps(function)
        def checked(owner: Any, /, *args: Any, **kwargs: Any) -> Any:
            qualified = _qualified(owner, spec.name)
            with calls.operation_call():
                result = spec.invoke(owner, qualified, *args, **kwargs)
                # A direct call of an owner's method (``athena.remember(...)`` in a host)
                # is announced as a call through the registry is (ApiRegistry._observed).
                registry = getattr(owner, "api", None)
                if isinstance(registry, ApiRegistry) and registry.observer is not None:
                    registry.observer(qualified)
            return result

        setattr(checked, _MARK, spec)
        return typing.cast(F, checked)

    return decorate


def _qualified(owner: Any, name: str) -> str:
    namespace = getattr(owner, "api_namespace", "")
    return f"{namespace}.{name}" if namespace else name


@attrs.frozen
class Operation:
    """One registered operation, bound to the object that implements it."""

    name: str
    namespace: str
    spec: OperationSpec
    #: The bound, argument-checking callable.
    call: Callable[..., Any] = attrs.field(repr=False)
    provider: str

    @property
    def signature(self) -> inspect.Signature:
        return self.spec.signature

    @property
    def doc(self) -> str:
        return self.spec.doc

    @property
    def summary(self) -> str:
        return self.doc.split("\n", 1)[0]

    @property
    def permissions(self) -> frozenset[str]:
        return self.spec.permissions

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.call(*args, **kwargs)


class ApiRegistry:
    """All operations of one Athena instance, by dotted name."""

    def __init__(self) -> None:
        self._operations: dict[str, Operation] = {}
        #: Values derived from the registered operations; emptied when one is added.
        self.cache: dict[object, Any] = {}
        #: ``resolve(name, args, kwargs) -> (args, kwargs)``: placeholders to real values,
        #: for the operations declared ``real_values`` (the instance's privacy pipeline).
        self.resolver: Callable[[str, tuple[Any, ...], dict[str, Any]],
                                tuple[tuple[Any, ...], dict[str, Any]]] | None = None
        #: ``observe(name)``: told after each operation called through the registry returns
        #: (the instance's prospective memory fires its operation triggers).
        self.observer: Callable[[str], None] | None = None

    def collect(self, owner: object, *, namespace: str, provider: str) -> None:
        """Register every :func:`operation`-decorated method of ``owner`` (all or none)."""
        self.add_all(self.declared(owner, namespace=namespace, provider=provider))

    def add_function(self, name: str, function: Callable[..., Any], *, owner: object,
                     provider: str) -> None:
        """Register a plugin's decorated function under its dotted ``name``."""
        self.add_all([self.function(name, function, owner=owner, provider=provider)])

    @staticmethod
    def declared(owner: object, *, namespace: str, provider: str) -> list[Operation]:
        """The operations ``owner`` (an object, or a class) declares, bound to it, not yet
        registered.

        ``owner.api_namespace`` must be ``namespace``: a direct call of the method is
        checked under the name it has here.
        """
        declared = getattr(owner, "api_namespace", "")
        cls = owner if isinstance(owner, type) else type(owner)
        if declared != namespace:
            raise OperationDeclarationError(
                f"{cls.__name__} declares api_namespace {declared!r} but is registered "
                f"as {namespace!r} (by plugin {provider!r}); they must be the same.")
        ops = []
        for attr in dir(cls):
            spec = getattr(getattr(cls, attr, None), _MARK, None)
            if isinstance(spec, OperationSpec):
                name = _join(namespace, spec.name)
                ops.append(Operation(name, namespace, spec,
                                     functools.partial(spec.invoke, owner, name), provider))
        return ops

    @staticmethod
    def function(name: str, function: Callable[..., Any], *, owner: object,
                 provider: str) -> Operation:
        """A plugin's decorated ``function`` as the operation ``name``, not yet registered."""
        spec = getattr(function, _MARK, None)
        if not isinstance(spec, OperationSpec):
            raise OperationDeclarationError(
                f"Operation {name!r}: {function!r} is not decorated with "
                "@athena_core.api.operation.")
        namespace, _, _ = name.rpartition(".")
        return Operation(name, namespace, spec, functools.partial(spec.invoke, owner, name),
                         provider)

    def add_all(self, ops: Sequence[Operation]) -> None:
        """Register ``ops`` (one plugin's) after checking every one: all or none.

        Each name must be valid (:func:`name_problem`), free (not registered, and neither
        a namespace of registered operations nor inside one that is an operation), and
        its hints must resolve. Raises ``OperationDeclarationError`` or
        ``DuplicateNameError``.
        """
        taken = set(self._operations)
        for op in ops:
            problem = name_problem(op.name)
            if problem:
                raise OperationDeclarationError(f"Operation {op.name!r} (plugin "
                                                f"{op.provider!r}): {problem}.")
            op.spec.resolve(op.name)
            if op.name in taken:
                first = self._operations[op.name].provider if op.name in self._operations \
                    else op.provider
                raise DuplicateNameError(
                    f"API operation {op.name!r} is registered twice: by plugin {first!r} "
                    f"and by plugin {op.provider!r}.")
            clash = next((name for name in taken if name.startswith(op.name + ".")
                          or op.name.startswith(name + ".")), None)
            if clash is not None:
                raise OperationDeclarationError(
                    f"Operation {op.name!r} (plugin {op.provider!r}) clashes with operation "
                    f"{clash!r}: one name cannot be both an operation and a namespace.")
            taken.add(op.name)
        for op in ops:
            op = self._observed(op)
            self._operations[op.name] = self._resolving(op) if op.spec.real_values else op
        self.cache.clear()

    def _observed(self, op: Operation) -> Operation:
        """``op`` telling :attr:`observer` once it returned."""
        inner = op.call

        def call(*args: Any, **kwargs: Any) -> Any:
            with calls.operation_call():
                result = inner(*args, **kwargs)
                if self.observer is not None:
                    self.observer(op.name)
            return result

        return attrs.evolve(op, call=call)

    def _resolving(self, op: Operation) -> Operation:
        """``op`` (declared ``real_values``) calling :attr:`resolver` on its arguments once
        the call context allows the call, before its own checks run."""
        inner = op.call

        def call(*args: Any, **kwargs: Any) -> Any:
            context = calls.current()
            if context is not None:
                context.check(op.name, op.permissions)
            if self.resolver is not None:
                args, kwargs = self.resolver(op.name, args, kwargs)
            return inner(*args, **kwargs)

        return attrs.evolve(op, call=call)

    def get(self, name: str) -> Operation:
        try:
            return self._operations[name]
        except KeyError:
            raise InvalidArgumentError(
                f"Unknown operation {name!r}.", hint="List them with `athena.api.names()`."
            ) from None

    def names(self) -> list[str]:
        return sorted(self._operations)

    def operations(self) -> list[Operation]:
        return [self._operations[n] for n in self.names()]

    def namespaces(self) -> set[str]:
        return {op.namespace.split(".", 1)[0] for op in self._operations.values() if op.namespace}

    def __iter__(self) -> Iterator[Operation]:
        return iter(self.operations())

    def __contains__(self, name: object) -> bool:
        return name in self._operations


class Namespace:
    """``athena.<namespace>``: attribute access to the operations under one prefix."""

    def __init__(self, registry: ApiRegistry, prefix: str) -> None:
        self._registry = registry
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        full = f"{self._prefix}.{name}"
        if full in self._registry:
            return self._registry.get(full)
        if full in self._registry.namespaces() or any(
                n.startswith(full + ".") for n in self._registry.names()):
            return Namespace(self._registry, full)
        raise AttributeError(f"{self._prefix!r} has no operation {name!r}; "
                             f"available: {', '.join(self._names())}")

    def _names(self) -> list[str]:
        plen = len(self._prefix) + 1
        return sorted({n[plen:].split(".", 1)[0] for n in self._registry.names()
                       if n.startswith(self._prefix + ".")})

    def __dir__(self) -> list[str]:
        return self._names()

    def __repr__(self) -> str:
        return f"<athena namespace {self._prefix}: {', '.join(self._names())}>"


def _join(namespace: str, name: str) -> str:
    return f"{namespace}.{name}" if namespace else name
