"""The process: app factory, server (uvicorn and the SIGTERM drain), start-up checks, the
lifecycle, the models file and model folders."""
