"""Identity numbers: checksum and birth date validated, masked for display, matched by keyed hash."""

from __future__ import annotations

from datetime import date

import pytest

from aidservice.demo.province import check_char, id_number
from aidservice.identity import InvalidIdNumber, id_hmac, mask, normalise_id_number


def test_valid_number_is_normalised_to_upper_case_x() -> None:
    assert normalise_id_number(" 11010519491231002x ") == "11010519491231002X"


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("110105194912310021", "check character"),
        ("110105194913310028", "birth date is not a valid date"),
        ("11010519491231002", "18 characters"),
        ("1101051949123100AX", "17 digits"),
        (id_number("320102", date(2999, 1, 1), 901), "not plausible"),
        (12345, "18-character"),
    ],
)
def test_invalid_number_is_rejected_with_the_reason(number: object, reason: str) -> None:
    with pytest.raises(InvalidIdNumber, match=reason):
        normalise_id_number(number)


def test_division_code_is_not_checked_against_a_list() -> None:
    number = id_number("329999", date(2010, 5, 17), 901)  # no such county, still a well-formed number
    assert normalise_id_number(number) == number


def test_mask_keeps_the_region_and_the_check_character_only() -> None:
    assert mask("11010519491231002X") == "110105***********X"
    assert mask("320102200803010011") == "320102***********1"


def test_mask_hides_the_birth_date_and_the_sequence() -> None:
    number = "320102200803010011"
    masked = mask(number)
    assert len(masked) == 18 and masked[6:17] == "*" * 11
    assert "20080301" not in masked and "001" not in masked[6:]


def test_two_numbers_differing_in_birth_date_and_sequence_have_one_mask() -> None:
    """What the mask leaves to guess: every date and sequence with the same check character looks alike."""
    a = id_number("320102", date(2008, 3, 1), 1)
    b = next(
        id_number("320102", date(2009, 7, 15), seq)
        for seq in range(1000)
        if id_number("320102", date(2009, 7, 15), seq)[-1] == a[-1]
    )
    assert a != b and mask(a) == mask(b)


@pytest.mark.parametrize("short", ["", "1", "123456789", "1234567890"])
def test_a_short_value_masks_to_stars_only(short: str) -> None:
    assert mask(short) == "*" * len(short)


def test_keyed_hash_depends_on_the_key() -> None:
    number = "11010519491231002X"
    assert id_hmac("k1", number) == id_hmac("k1", number)
    assert id_hmac("k1", number) != id_hmac("k2", number)
    assert len(id_hmac("k1", number)) == 64


def test_demo_generator_check_character_matches_the_standard() -> None:
    assert check_char("11010519491231002") == "X"
