"""What a codec is given and gives back; the capability check every codec uses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from mlapi.errors import NotSupportedByModel
from mlapi.kinds import Capability
from mlapi.serving.dataplane import DataPlane
from mlapi.serving.deployment import Deployment

JSON = "application/json"


@dataclass(slots=True)
class Call:
    """One inference request, as the endpoint read it: body, headers (lower-case names) and
    the route's path parameters."""

    body: bytes
    headers: Mapping[str, str]
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Answer:
    body: bytes
    media_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)


class Codec(Protocol):
    """One protocol: a body in, an answer out (its errors are `MLAPIError`s)."""

    name: str

    async def handle(self, call: Call, plane: DataPlane) -> Answer: ...


def require(deployment: Deployment, *capabilities: Capability) -> None:
    if deployment.kind.capability not in capabilities:
        wanted = " or ".join(c.value for c in capabilities)
        raise NotSupportedByModel(
            f"model {deployment.version.name!r} is a {deployment.kind.name} model "
            f"({deployment.kind.capability.value}); this route needs one that can {wanted}"
        )


def served_by(result_version: str, outcome: str) -> dict[str, str]:
    """The headers every inference answer carries."""
    return {"X-MLAPI-Cache": outcome, "X-MLAPI-Model-Version": result_version}
