"""One model version across the fleet: the desired-state records, convergence and the admin
operations, and the roots a loaded folder must lie under."""
