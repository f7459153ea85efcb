"""State shared between replicas: the Redis client, signing, and the signed stores (desired
state, training jobs, poison list), each in Redis or in this process as `stores` decides."""
