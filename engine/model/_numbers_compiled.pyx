# cython: language_level=3, boundscheck=False, wraparound=False
"""The compiled forms of `engine.model.numbers.fixed_levels` and `FixedParser.__missing__`: the same results, got
faster.

Decoding depth levels is most of what a replay's feed costs: every level of every diff is two strings to turn
into exact integers, and a quantity is seldom in the parser's cache (a miss is a Python call, ~0.7 us). Here the
canonical strings (`_canonical.pxd`: ASCII digits, one dot and exactly the parser's number of decimals, or digits
alone for none; at most 18 digits) are read in C: a level list's with no cache at all, a parser's misses before they
are kept. Anything else, or a parser that is not a plain `FixedParser` (a venue's own, with rules of its own), goes
to the Python forms, and a level list of any other shape to the Python `fixed_levels` itself: what they return or
raise is the answer, so the two forms cannot disagree. `tests/model/test_fixed_levels.py` holds them to that.

Built by `pip install` (setup.py) where a C compiler is at hand; `engine.model.numbers` falls back to the Python
form where it is not, or where it was built from another version of this file or of `_canonical.pxd`.
"""
from cpython.ref cimport Py_INCREF

from engine.model._canonical cimport canonical_fixed
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

cdef type _plain = None             # FixedParser and the Python forms, handed over by engine.model.numbers (which
cdef object _python_form = None     # imports this module)
cdef object _python_missing = None


def bind(parser_type, python_form, python_missing):
    """Name the plain parser class, whose canonical strings may be read here, and the Python forms, which answer
    for everything else: `fixed_levels` for every other shape of level list, `FixedParser.__missing__` for every
    other string."""
    global _plain, _python_form, _python_missing
    _plain, _python_form, _python_missing = parser_type, python_form, python_missing


cdef inline object _canonical(object text, Py_ssize_t decimals):
    """The value of `text` if it is canonical for `decimals` (`_canonical.pxd`), else None."""
    cdef long long value
    if type(text) is str and PyUnicode_IS_COMPACT_ASCII(text):
        value = canonical_fixed(<const unsigned char*>PyUnicode_DATA(text), PyUnicode_GET_LENGTH(text), decimals)
        if value >= 0:
            return value
    return None


cdef inline object _value(object text, object parser, Py_ssize_t decimals):
    value = _canonical(text, decimals)
    return parser[text] if value is None else value


def missing(parser, text):
    """`FixedParser.__missing__`: a canonical string read here and kept in the cache, any other by the Python form."""
    value = _canonical(text, parser.decimals)
    if value is None:
        return _python_missing(parser, text)
    if len(parser) >= parser._max:
        parser.clear()
    parser[text] = value
    return value


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
