"""Logic Apps ARM ids and step keys: one canonical, lower-case form wherever rows link.

ARM ids are case-insensitive, so every id is lower-cased and starts at `/subscriptions/` (a
`hostruntime/.../api/management/` or `api/management/` prefix is dropped):

- workflow_id: `/subscriptions/<sub>/resourcegroups/<rg>/providers/microsoft.logic/workflows/<wf>`
  (Consumption) or `/subscriptions/<sub>/resourcegroups/<rg>/providers/microsoft.web/sites/<site>/workflows/<wf>`
  (Standard), `.../sites/<site>/slots/<slot>/workflows/<wf>` for a workflow in a deployment slot (an ARM
  resource of its own: a staging slot's runs are not the production workflow's);
- execution_id: `<workflow_id>/runs/<run name>`;
- step_key: the lower-cased action name, plus `#<scope>:<itemIndex>/<scope>:<itemIndex>...` from
  `repetitionIndexes` (outermost loop first) for a visit inside loops; the trigger is `@<name>`.
"""

from __future__ import annotations

import functools

COLLECTIONS = frozenset({"subscriptions", "resourcegroups", "providers", "sites", "workflows", "runs", "actions",
                         "repetitions", "scoperepetitions", "requesthistories", "triggers", "histories",
                         "versions"})
"""ARM collection segments; their sequence in an id is its `shape` (what kind of record it names)."""

_SEGMENT_SLOTS: dict[str, tuple[str | None, str | None]] = {
    "subscriptions": (None, "sub"),
    "resourcegroups": (None, "rg"),
    "sites": (None, "site"),
    "slots": (None, "slot"),
    "workflows": ("workflow_name", "workflow"),
    "runs": ("run_name", "run"),
    "actions": ("action_name", "action"),
    "repetitions": (None, "repetition"),
    "scoperepetitions": (None, "scope_repetition"),
    "requesthistories": (None, "request_history"),
    "triggers": ("trigger_name", "trigger"),
    "histories": (None, "history"),
    "versions": ("version", None),
}
"""collection segment -> (slot taking the value as written, slot taking it lower-cased)."""
_SKIPPED_SEGMENTS = frozenset({"hostruntime", "runtime", "webhooks", "api", "management"})


class ArmId:
    """The parts of a Logic Apps ARM id. `canonical` ids are lower-case (see module docstring)."""

    __slots__ = ("sub", "rg", "site", "slot", "workflow", "workflow_name", "run", "run_name", "action", "action_name",
                 "repetition", "scope_repetition", "request_history", "trigger", "trigger_name",
                 "history", "version", "shape")

    sub: str | None
    rg: str | None
    site: str | None
    slot: str | None                    # a deployment slot's name; not a collection: the shape has no slot
    workflow: str | None
    workflow_name: str | None
    run: str | None
    run_name: str | None
    action: str | None
    action_name: str | None
    repetition: str | None
    scope_repetition: str | None
    request_history: str | None
    trigger: str | None
    trigger_name: str | None
    history: str | None
    version: str | None
    shape: tuple[str, ...]

    def __init__(self, raw: str) -> None:
        cut = raw.find("/runs/")
        if cut == -1:
            cut = raw.find("/triggers/")
        if cut != -1:
            head = _arm_prefix(raw[:cut])
            for slot in ArmId.__slots__:
                setattr(self, slot, getattr(head, slot))
            self._walk(raw[cut + 1:].split("/"), list(head.shape))
            return
        self._parse(raw)

    def _parse(self, raw: str) -> None:
        text = raw.strip()
        low = text.lower()
        start = low.find("subscriptions/")
        if start == -1:
            raise ValueError(f"not an ARM id: {raw!r}")
        segs = text[start:].strip("/").split("/")
        self.sub = self.rg = self.site = self.slot = self.workflow = self.workflow_name = None
        self.run = self.run_name = None
        self.action = self.action_name = self.repetition = self.scope_repetition = None
        self.request_history = self.trigger = self.trigger_name = self.history = self.version = None
        self._walk(segs, [])
        if self.sub is None or self.workflow is None:
            raise ValueError(f"not a Logic Apps workflow id: {raw!r}")
        name = self.workflow_name or ""
        if self.site and "/" in name:
            self.workflow_name = name.rsplit("/", 1)[-1]

    def _walk(self, segs: list[str], shape: list[str]) -> None:
        i = 0
        n = len(segs)
        while i < n:
            seg = segs[i].lower()
            value = segs[i + 1] if i + 1 < n else None
            if seg == "providers":                  # providers/<namespace>: one value, skip
                i += 2
                continue
            if seg in _SKIPPED_SEGMENTS or (seg == "workflow" and i > 0 and segs[i - 1].lower() == "webhooks"):
                i += 1
                continue
            if value is None:
                break
            slots = _SEGMENT_SLOTS.get(seg)
            if slots is not None:
                as_written, lowered = slots
                if as_written is not None:
                    setattr(self, as_written, value)
                if lowered is not None:
                    setattr(self, lowered, value.lower())
            if seg in COLLECTIONS:
                shape.append(seg)
            i += 2
        self.shape = tuple(shape)

    @property
    def workflow_id(self) -> str:
        rg = f"/resourcegroups/{self.rg}" if self.rg else ""
        if self.site:
            slot = f"/slots/{self.slot}" if self.slot else ""
            return (f"/subscriptions/{self.sub}{rg}/providers/microsoft.web/sites/{self.site}{slot}"
                    f"/workflows/{self.workflow}")
        return f"/subscriptions/{self.sub}{rg}/providers/microsoft.logic/workflows/{self.workflow}"

    @property
    def execution_id(self) -> str | None:
        return f"{self.workflow_id}/runs/{self.run}" if self.run else None


@functools.lru_cache(maxsize=1024)
def _arm_prefix(raw: str) -> ArmId:
    """The workflow part of an id, parsed once (every record of a workflow shares it)."""
    head = ArmId.__new__(ArmId)
    head._parse(raw)
    return head


def canonical_workflow_id(raw: str) -> str:
    return ArmId(raw).workflow_id


def canonical_execution_id(raw: str) -> str | None:
    return ArmId(raw).execution_id


def trigger_key(name: str) -> str:
    return "@" + name.lower()


def step_key(action: str, indexes: list[tuple[str, int]] | None = None) -> str:
    """`action#scope:idx/scope:idx` (lower-case, outermost loop first), or `action` outside loops."""
    if not indexes:
        return action.lower()
    return action.lower() + "#" + "/".join(f"{s.lower()}:{i}" for s, i in indexes)


def parse_step_key(key: str, name: str | None = None) -> tuple[str, list[tuple[str, int]]]:
    """Inverse of `step_key` (the row's name disambiguates names holding '#')."""
    if name is not None and key.startswith(name.lower()):
        base, rest = name.lower(), key[len(name):]
        rest = rest[1:] if rest.startswith("#") else rest
    else:
        base, _, rest = key.partition("#")
    if not rest:
        return base, []
    out = []
    for part in rest.split("/"):
        scope, _, idx = part.rpartition(":")
        try:
            out.append((scope, int(idx)))
        except ValueError:
            out.append((part, 0))
    return base, out

