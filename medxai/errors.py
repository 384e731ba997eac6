"""Errors a user can cause. The CLI and the gRPC service turn them into one clear sentence."""


class UserError(Exception):
    """A problem with the user's input (path, file, option), not a bug in medxai."""
