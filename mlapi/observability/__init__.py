"""Every metric series, logs and Sentry."""
