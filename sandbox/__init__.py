"""Runs untrusted code in hardened containers. See ``base.Sandbox`` for the interface."""

from sandbox.base import Job, Mount, RunResult, Sandbox

__all__ = ["Job", "Mount", "RunResult", "Sandbox"]
