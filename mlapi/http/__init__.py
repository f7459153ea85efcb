"""What only the HTTP side knows: limits on what a client may send before it is read."""
