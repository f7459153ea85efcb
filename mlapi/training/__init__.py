"""Training jobs through the API: a job store, runners (local process, Kubernetes Job) and the
service that supervises runs and activates their models through the registry's live swap."""
