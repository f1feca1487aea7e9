"""ISO 4217 minor-unit exponents, and amounts in minor units turned into exact major units."""

from decimal import Decimal
from typing import Any

# ISO 4217 currencies whose minor unit is not a hundredth, and the codes with hundredths
ZERO_DECIMAL = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
THREE_DECIMAL = "BHD IQD JOD KWD LYD OMR TND"
FOUR_DECIMAL = "CLF UYW"
TWO_DECIMAL = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP"
    " BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB"
    " EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IRR JMD KES KGS"
    " KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV"
    " MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG"
    " SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD"
    " USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG ZWL"
)
EXPONENTS = {
    code: exponent
    for codes, exponent in (
        (ZERO_DECIMAL, 0),
        (TWO_DECIMAL, 2),
        (THREE_DECIMAL, 3),
        (FOUR_DECIMAL, 4),
    )
    for code in codes.split()
}


def currency_exponent(code: Any) -> int:
    """The digits after the point of a currency's major unit: JPY 0, USD 2, KWD 3.

    Codes are read case-blind (Stripe writes `usd`); one that ISO 4217 does not list raises
    ValueError rather than guessing how many minor units make a major one.
    """
    if not isinstance(code, str) or code.upper() not in EXPONENTS:
        raise ValueError(f"{code!r} is not an ISO 4217 currency code")
    return EXPONENTS[code.upper()]


def whole_minor_units(value: Any) -> int:
    """Reads an amount in minor units: an integer, or a string of digits (Paddle's `"1250"`)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an amount in minor units")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit() and value.isascii():
        return int(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    raise ValueError(f"{value!r} is not a whole number of minor units")


def major_units(minor: int, currency: Any) -> Decimal:
    """`minor` units of `currency` as an exact amount of its major unit: 1250 USD is 12.50."""
    return Decimal(minor).scaleb(-currency_exponent(currency))
