"""One exception hierarchy for the whole project.

Library code raises these; only the CLI turns them into messages and exit codes. A hypothesis that
crashes is *data* (an outcome in a result record), never one of these exceptions.
"""


class HypoforgeError(Exception):
    """Base class of every error hypoforge raises on purpose."""


class ConfigError(HypoforgeError):
    """Bad user input: a settings value, a file path, a command-line option."""


class InfraError(HypoforgeError):
    """The machinery failed (Docker, disk, image). Never counts against a hypothesis."""


class SandboxUnavailable(InfraError):
    """The Docker engine does not answer."""


class ImageMissing(InfraError):
    """The sandbox image has not been built on this machine."""


class LowDisk(InfraError):
    """Free disk space is below the configured floor; launching now could harm the host."""


class LifecycleError(HypoforgeError):
    """A hypothesis was asked to move to a stage that may not follow its present one: a bug in
    the campaign's code, never the hypothesis's fault."""
