"""One model version across the fleet: the desired state, convergence, and the admission of
names, versions and paths."""
