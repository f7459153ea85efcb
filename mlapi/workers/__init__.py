"""Model worker processes: the model runs outside the server process, supervised by it.

`pool.WorkerPool` starts the workers, feeds them batches, restarts a worker that dies and runs
its batch again, and isolates a text that kills workers (`poison.PoisonList` remembers it).
`child` is the worker's own entry point; it imports only what running a model needs.
"""
