"""Two signed-in users of the standalone server, as the contacts tests have them."""

from tests.contact.conftest import alice, bob

__all__ = ["alice", "bob"]
