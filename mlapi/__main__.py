"""`python -m mlapi`: serve with the settings from the environment."""

from mlapi.server import run

if __name__ == "__main__":
    run()
