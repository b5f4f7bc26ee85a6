# cython: language_level=3
"""The canonical form of a decimal string, read in C: the one rule the compiled parts share for exact numbers.

A string is canonical for `decimals` places when it is ASCII digits with one dot and exactly `decimals` digits after
it (digits alone where `decimals` is 0), and at most 18 digits, so that its value fits a 64-bit integer. Its value is
then what `engine.model.numbers.parse_fixed` gives; anything else is left to the Python forms.
"""


cdef inline long long canonical_fixed(const unsigned char* s, Py_ssize_t n, Py_ssize_t decimals) noexcept:
    """The value of the `n` bytes at `s` as a count of 10**-decimals, if they are canonical; -1 if not."""
    cdef Py_ssize_t i, dot = -1
    cdef long long value = 0
    cdef unsigned char c
    if n == 0 or n > 19:
        return -1
    for i in range(n):
        c = s[i]
        if 48 <= c <= 57:
            value = value * 10 + (c - 48)
        elif c == 46 and dot < 0:
            dot = i
        else:
            return -1
    if dot < 0:   # digits alone: at most 18 of them
        return value if decimals == 0 and n <= 18 else -1
    return value if dot > 0 and n - 1 - dot == decimals else -1
