"""Phone number validation and normalization (libphonenumber)."""

from __future__ import annotations

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata


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


def phone_digits(stored: str) -> list[str]:
    """What search matches of a stored number: its international digits (`380501234567`)
    and, when they are not already in them, its national ones with the trunk prefix
    (`02079460958` for `+442079460958`), so that a query in either notation finds it. Read
    from libphonenumber's metadata, without parsing the number again (writes of many phones
    call it for each)."""
    e164, _, _ = stored.partition(";")
    international = e164.lstrip("+")
    for size in (1, 2, 3):
        code = international[:size]
        regions = COUNTRY_CODE_TO_REGION_CODE.get(int(code)) if code.isdigit() else None
        if regions:
            meta = PhoneMetadata.metadata_for_region_or_calling_code(int(code), regions[0])
            national = ((meta.national_prefix if meta else None) or "") + international[size:]
            return [international] if national in international else [international, national]
    return [international]
