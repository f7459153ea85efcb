"""State shared between replicas: the Redis client, signing, and the signed stores."""
