"""Real servers for tests, started by fixtures on free loopback ports (never the network)."""
