"""Model worker processes: the model runs outside the server process, supervised by it.

`WorkerPool` starts the workers, feeds them batches, restarts a worker that dies and runs its
batch again, and isolates a text that kills workers (`PoisonList` remembers it).
"""

from mlapi.workers.poison import PoisonList
from mlapi.workers.pool import WorkerPool

__all__ = ["PoisonList", "WorkerPool"]
