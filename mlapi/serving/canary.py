"""A canary: a second version of a model answering a stable share of distinct texts.

The registry's slot holds it beside the serving version; the data plane asks it for each
request that the serving version answers. Each key goes to one version by a stable hash of
the key, on every replica: the same text always gets the same version's answer.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass

from mlapi.serving.deployment import Deployment


@dataclass(frozen=True, slots=True)
class CanarySplit:
    """`deployment` answers `percent` percent of the keys, the serving version the rest.
    Replaced whole (a new canary, a new share), never changed in place."""

    deployment: Deployment
    percent: float

    def takes(self, key: str) -> bool:
        """Whether the canary answers `key` (a stable hash of the key)."""
        digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        return int.from_bytes(digest, "big") % 10_000 < self.percent * 100

    async def predict(self, stable: Deployment, keys: list[str]) -> tuple[list[bytes], str, str]:
        """One stored value per key, the cache outcome, and the version(s) that answered
        (`X-MLAPI-Model-Version`): each key hashed once."""
        canary = self.deployment
        to_canary = [self.takes(k) for k in keys]
        ours = [k for k, c in zip(keys, to_canary, strict=True) if not c]
        theirs = [k for k, c in zip(keys, to_canary, strict=True) if c]
        with canary.use():
            (mine, outcome_a), (other, outcome_b) = await asyncio.gather(
                stable.predict(ours), canary.predict(theirs)
            )
        mine_it, other_it = iter(mine), iter(other)
        rows = [next(other_it) if c else next(mine_it) for c in to_canary]
        outcomes = {o for o, part in ((outcome_a, ours), (outcome_b, theirs)) if part}
        outcome = outcomes.pop() if len(outcomes) == 1 else "Partial"
        answered = {d.version.version for d, part in ((stable, ours), (canary, theirs)) if part}
        return rows, outcome, ",".join(sorted(answered)) or stable.version.version
