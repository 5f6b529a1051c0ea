"""Offline replay of provider responses over loopback HTTP (tests, demo, examples, benchmarks)."""

from .server import Reply, ReplayServer, replay_server

__all__ = ["Reply", "ReplayServer", "replay_server"]
