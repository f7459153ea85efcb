"""Errors a user can fix: the message says what is wrong with the input."""


class TrainerError(Exception):
    """Bad input (data file, labels, options); the CLI prints it and exits 2."""
