"""The data map's words: everyday category words read as its categories, the others kept as given."""
import pytest

from privacy_saas.datamap.vocabulary import CATEGORIES, classify


@pytest.mark.parametrize("word,category", [
    ("contact_details", "contact_details"), ("Contact details", "contact_details"),
    ("E-mail addresses", "contact_details"), ("email", "contact_details"), ("Phone numbers", "contact_details"),
    ("Names", "identity"), ("job titles", "identity"), ("Passwords", "credentials"),
    ("usage data", "usage"), ("Support tickets", "support"), ("marketing preferences", "consent"),
    ("Invoices", "billing"), ("billing address", "billing"), ("IP addresses", "technical_ids"),
    ("Cookies", "technical_ids"), ("Technical identifiers (ids, cookie ids, keyed hashes, IP addresses)", "technical_ids"),
    ("Technical identifiers", "technical_ids"),
])
def test_everyday_words_name_their_category(word, category):
    assert classify([word]) == ([category], [])


def test_the_rest_is_kept_as_given_once_in_order_and_nothing_names_none():
    categories, labels = classify(["Voice recordings", "names", "  Health   data ", "voice recordings",
                                   "Not personal data", "none", "E-mail"])
    assert categories == ["contact_details", "identity"]
    assert labels == ["Voice recordings", "Health data"]
    assert set(categories) <= set(CATEGORIES)
