"""The command line composes the components: its tests reuse the service tests' exported repository."""

from tests.explain_service.conftest import repository  # noqa: F401
