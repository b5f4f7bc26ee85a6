# cython: language_level=3, boundscheck=False, wraparound=False
"""The compiled form of `engine.model.numbers.fixed_levels`: the same results, got faster.

Decoding depth levels is most of what a replay's feed costs: every level of every diff is two strings to turn
into exact integers, and a quantity is seldom in the parser's cache (a miss is a Python call, ~0.7 us). Here the
canonical strings (ASCII digits, one dot, exactly the parser's number of decimals, at most 18 digits) are read in
C, with no cache. Anything else, or a parser that is not a plain `FixedParser` (a venue's own, with rules of its
own), goes to the parser's `[]`, and a level list of any other shape to the Python form itself: what they return or
raise is the answer, so the two forms cannot disagree. `tests/model/test_fixed_levels.py` holds them to that.

Built by `pip install` (setup.py) where a C compiler is at hand; `engine.model.numbers` falls back to the Python
form where it is not, or where it was built from another version of this file.
"""
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM

cdef extern from "Python.h":
    bint PyUnicode_IS_COMPACT_ASCII(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    void* PyUnicode_DATA(object)

cdef extern from *:
    """
    #ifndef SOURCE_SHA256
    #define SOURCE_SHA256 ""
    #endif
    """
    const char* SOURCE_SHA256

SOURCE = SOURCE_SHA256.decode()
"""The sha256 of the .pyx this module was built from (set by setup.py): a build older than its source is not used."""

cdef type _plain = None           # FixedParser and the Python form, handed over by engine.model.numbers (which
cdef object _python_form = None   # imports this module)


def bind(parser_type, python_form):
    """Name the plain parser class, whose canonical strings may be read here, and the Python form, which answers
    for every other shape of level list."""
    global _plain, _python_form
    _plain, _python_form = parser_type, python_form


cdef inline object _value(object text, object parser, Py_ssize_t decimals):
    cdef Py_ssize_t n, i, dot = -1
    cdef const unsigned char* s
    cdef long long value = 0
    cdef unsigned char c
    if type(text) is str and PyUnicode_IS_COMPACT_ASCII(text):
        n = PyUnicode_GET_LENGTH(text)
        if n <= 19:   # a dot and at most 18 digits: no overflow
            s = <const unsigned char*>PyUnicode_DATA(text)
            for i in range(n):
                c = s[i]
                if 48 <= c <= 57:
                    value = value * 10 + (c - 48)
                elif c == 46 and dot < 0:
                    dot = i
                else:
                    return parser[text]
            if dot > 0 and n - 1 - dot == decimals:
                return value
    return parser[text]


def fixed_levels(levels, price, qty):
    """`tuple([(price[p], qty[q]) for p, q in levels])`, for the parsers `price` and `qty`."""
    if type(levels) is not list or type(price) is not _plain or type(qty) is not _plain:
        return _python_form(levels, price, qty)
    cdef list items = <list>levels
    cdef Py_ssize_t n = len(items), i
    cdef Py_ssize_t price_decimals = price.decimals, qty_decimals = qty.decimals
    cdef object item, level
    cdef tuple out = PyTuple_New(n)
    for i in range(n):
        item = items[i]
        if type(item) is not list or len(<list>item) != 2:
            return _python_form(levels, price, qty)   # its answer, or its error
        level = (_value((<list>item)[0], price, price_decimals), _value((<list>item)[1], qty, qty_decimals))
        Py_INCREF(level)
        PyTuple_SET_ITEM(out, i, level)
    return out
