"""Phone number validation and normalization (libphonenumber)."""

from __future__ import annotations

import phonenumbers


class InvalidPhoneNumber(ValueError):
    """The text is not a valid phone number."""


def normalize_phone(raw: str, default_region: str) -> str:
    """Return the number in E.164 form; `default_region` applies when there is no `+` prefix."""
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(
            f"not a valid phone number (numbers without a + country code are read as "
            f"{default_region} numbers)"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
