"""Contact look-ups by blind index confirm the decrypted address: swapped index values find no one."""
import logging

from privacy_saas.controller.contacts import service as contacts
from privacy_saas.controller.contacts.models import Contact
from tests.helpers import swap_indexes


def test_contact_look_ups_confirm_the_address(session, make_contact, caplog):
    ada, bob = make_contact("ada@example.org"), make_contact("bob@example.org")
    assert contacts.find_by_email("ada@example.org").id == ada.id
    swap_indexes(session, Contact, ada, bob)
    caplog.set_level(logging.ERROR, logger="privacy_saas.controller.contacts.service")
    assert contacts.find_by_email("ada@example.org") is None
    assert contacts.list_contacts(email="bob@example.org") == ([], 0)
    assert any(str(ada.id) in r.getMessage() or str(bob.id) in r.getMessage() for r in caplog.records)
