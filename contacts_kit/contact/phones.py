"""Phone number validation and normalization (libphonenumber)."""

from __future__ import annotations

import phonenumbers


class InvalidPhoneNumber(ValueError):
    """The text is not a valid phone number."""


def normalize_phone(raw: str, default_region: str) -> str:
    """The number in E.164 form (`+12025550143`), with its extension when it has one, written
    as RFC 3966 does (`+12025550143;ext=12`); `default_region` applies when there is no `+`
    prefix."""
    international = raw.strip().startswith("+")
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(number):
        if international:
            raise InvalidPhoneNumber("not a valid phone number for its country code")
        raise InvalidPhoneNumber(
            f"not a valid phone number (numbers without a + country code are read as "
            f"{default_region} numbers)"
        )
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if not number.extension:
        return e164
    # libphonenumber keeps an extension's digits as typed (Arabic-Indic, full-width, ...);
    # RFC 3966 and every dialler want ASCII ones.
    return f"{e164};ext={phonenumbers.normalize_digits_only(number.extension)}"
