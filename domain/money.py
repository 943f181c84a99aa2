"""Money is an integer amount of minor units plus an ISO-4217 currency. Never a float."""

# Minor-unit exponents of the active ISO-4217 currencies. Absent means "not a currency we accept".
# Zero-decimal (JPY, KRW, ...) and three-decimal (BHD, KWD, ...) currencies matter for formatting and
# for gateways, which all take amounts in minor units.
_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(
        "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD "
        "CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ "
        "GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA "
        "MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR "
        "RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD "
        "TWD TZS UAH USD UYU UZS VES WST XCD YER ZAR ZMW ZWL".split(),
        2,
    ),
    **dict.fromkeys("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split(), 0),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
}


def is_currency(code: str) -> bool:
    return code in _EXPONENTS


def exponent(currency: str) -> int:
    return _EXPONENTS[currency]


def format_money(amount: int, currency: str) -> str:
    """`4820000, "GBP"` -> `"48,200.00 GBP"`; `120000, "JPY"` -> `"120,000 JPY"`."""
    exp = _EXPONENTS.get(currency, 2)
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), 10**exp) if exp else (abs(amount), 0)
    text = f"{major:,}" + (f".{minor:0{exp}d}" if exp else "")
    return f"{sign}{text} {currency}"
