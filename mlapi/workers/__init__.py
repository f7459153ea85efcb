"""Model worker processes: the model runs outside the server process, supervised by it.

An `executor.ModelExecutor` runs a model's batches: `local.InProcess` in the server process
(`MLAPI_WORKERS=0`), or `pool.WorkerPool`, which starts the workers, feeds them batches,
restarts a worker that dies and runs its batch again, and isolates an input that kills workers
(`poison.PoisonList` remembers it).
`child` is the worker's own entry point; it imports only what running a model needs.
"""
