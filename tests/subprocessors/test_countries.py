"""Countries as people name them, to the ISO 3166-1 alpha-2 codes the register keeps."""
import pytest

from privacy_saas.subprocessors.countries import country_code, country_name


@pytest.mark.parametrize("given,code", [
    ("IE", "IE"), ("ie", "IE"), ("IRL", "IE"), ("Ireland", "IE"), (" ireland ", "IE"),
    ("United States", "US"), ("United States of America", "US"), ("USA", "US"),
    ("United Kingdom", "GB"), ("UK", "GB"), ("England", "GB"), ("EL", "GR"), ("Czech Republic", "CZ"),
    ("Türkiye", "TR"), ("Turkey", "TR"), ("The Netherlands", "NL"), ("South Korea", "KR"),
])
def test_names_and_codes_give_the_alpha_2_code(given, code):
    assert country_code(given) == code


@pytest.mark.parametrize("given", ["Atlantis", "EU", "Korea", "", "I"])
def test_anything_else_is_refused_saying_what_to_give(given):
    with pytest.raises(ValueError, match="give its name .* or its ISO 3166-1 code"):
        country_code(given)


def test_a_code_reads_as_its_common_name():
    assert (country_name("IE"), country_name("TW"), country_name(None)) == ("Ireland", "Taiwan", None)
