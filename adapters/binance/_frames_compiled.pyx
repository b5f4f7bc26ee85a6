# cython: language_level=3, boundscheck=False, wraparound=False
"""The compiled fast path of `BinanceMarketDataCodec.decode_raw`: a frame's bytes straight to its event.

A replay spends most of its decoding on the objects orjson makes of a frame (a dict, a list and two strings per
depth level) only for the codec to turn them into integers. Here the three frames a Binance feed is made of
(`depthUpdate`, `trade`, `bookTicker`, bare or in the combined-stream wrapper) are read from their bytes: the ids
as integers, the prices and quantities as exact integers of their instrument, nothing in between.

It reads only the plainest form of each frame: compact JSON (no whitespace), strings without escapes or non-ASCII
bytes, integers of at most 18 digits without leading zeros, the symbol before the numbers that depend on it, no
repeated key, canonical numbers (exactly the instrument's decimals), and nothing nested but the wrapper's `data` and
the level lists. Anything else, every error included, it declines (None), and the codec's Python path (orjson, then
`decode`) gives the answer: so the two cannot disagree, and `tests/adapters/test_binance_frames_compiled.py` holds
them to it on every frame of the recorded captures and on frames made to sit at the edges of that form.
"""
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from cpython.unicode cimport PyUnicode_DecodeASCII
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.string cimport memcmp

from engine.model._canonical cimport canonical_fixed

import dataclasses

cdef extern from *:
    """
    #ifndef SOURCE_SHA256
    #define SOURCE_SHA256 ""
    #endif
    """
    const char* SOURCE_SHA256

SOURCE = SOURCE_SHA256.decode()
"""The sha256 of the .pyx this module was built from (set by setup.py): a build older than its source is not used."""

cdef extern from *:
    """
    static PyObject* new_instance(PyObject* cls) {
        return ((PyTypeObject*)cls)->tp_alloc((PyTypeObject*)cls, 0);
    }
    static int set_slot(PyObject* descr, PyObject* obj, PyObject* value) {
        return Py_TYPE(descr)->tp_descr_set(descr, obj, value);
    }
    """
    object new_instance(object cls)
    int set_slot(object descr, object obj, object value) except -1

cdef object _depth = None, _trade = None, _top = None, _buy = None, _sell = None
cdef tuple _depth_slots = (), _trade_slots = (), _top_slots = ()


def bind(depth_diff, trade, top_of_book, buy, sell):
    """The event classes (frozen, slotted dataclasses) and the two sides, handed over by the codec's module. An event
    is built as `engine.messages.fast_constructor` builds it: each field stored through its slot's descriptor."""
    global _depth, _trade, _top, _buy, _sell, _depth_slots, _trade_slots, _top_slots
    _depth, _trade, _top, _buy, _sell = depth_diff, trade, top_of_book, buy, sell
    _depth_slots, _trade_slots, _top_slots = _slots(depth_diff), _slots(trade), _slots(top_of_book)


cdef tuple _slots(cls):
    """The slot descriptors of `cls`'s fields, in order."""
    slots = tuple([cls.__dict__.get(field.name) for field in dataclasses.fields(cls)])
    if not all(type(slot).__name__ == "member_descriptor" for slot in slots):
        raise TypeError(f"{cls.__name__} is not a slotted dataclass: its events cannot be built here")
    return slots


cdef object _event(object cls, tuple slots, tuple values):
    cdef Py_ssize_t i
    event = new_instance(cls)
    for i in range(len(slots)):
        set_slot(slots[i], event, values[i])
    return event


cdef struct Reader:
    const unsigned char* s
    Py_ssize_t n
    Py_ssize_t pos


cdef inline bint _string(Reader* r, Py_ssize_t* start, Py_ssize_t* end):
    """A plain string at the reader (no escape, control or non-ASCII byte): its content's span; False to decline."""
    cdef Py_ssize_t i = r.pos
    cdef unsigned char c
    if i >= r.n or r.s[i] != 34:   # '"'
        return False
    i += 1
    start[0] = i
    while i < r.n:
        c = r.s[i]
        if c == 34:
            end[0] = i
            r.pos = i + 1
            return True
        if c == 92 or c < 32 or c >= 128:   # '\\', control, non-ASCII
            return False
        i += 1
    return False


cdef inline bint _integer(Reader* r, long long* value):
    """A JSON integer of at most 18 digits (no fraction or exponent after it); False to decline."""
    cdef Py_ssize_t i = r.pos, digits = 0
    cdef long long v = 0
    cdef bint negative = False
    cdef unsigned char c
    if i < r.n and r.s[i] == 45:   # '-'
        negative = True
        i += 1
    while i < r.n:
        c = r.s[i]
        if c < 48 or c > 57:
            break
        v = v * 10 + (c - 48)
        digits += 1
        i += 1
    if digits == 0 or digits > 18 or (digits > 1 and r.s[i - digits] == 48):
        return False
    if i < r.n and (r.s[i] == 46 or r.s[i] == 101 or r.s[i] == 69):   # '.', 'e', 'E'
        return False
    value[0] = -v if negative else v
    r.pos = i
    return True


cdef inline bint _literal(Reader* r, const char* word, Py_ssize_t size):
    if r.pos + size <= r.n and memcmp(r.s + r.pos, word, size) == 0:
        r.pos += size
        return True
    return False


cdef inline Py_ssize_t _digits(Reader* r, Py_ssize_t* i):
    """How many ASCII digits stand from `i` on; `i` is moved past them."""
    cdef Py_ssize_t start = i[0]
    while i[0] < r.n and 48 <= r.s[i[0]] <= 57:
        i[0] += 1
    return i[0] - start


cdef bint _skip_scalar(Reader* r):
    """Pass a string, number, true, false or null that nobody reads, checked as JSON; False to decline (a
    container, or anything that is not plain JSON)."""
    cdef Py_ssize_t start, end, i, digits
    cdef unsigned char c
    if r.pos >= r.n:
        return False
    c = r.s[r.pos]
    if c == 34:
        return _string(r, &start, &end)
    if c == 116:
        return _literal(r, b"true", 4)
    if c == 102:
        return _literal(r, b"false", 5)
    if c == 110:
        return _literal(r, b"null", 4)
    # a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, at most 32 bytes
    i = r.pos
    if r.s[i] == 45:
        i += 1
    digits = _digits(r, &i)
    if digits == 0 or (digits > 1 and r.s[i - digits] == 48):
        return False
    if i < r.n and r.s[i] == 46:
        i += 1
        if _digits(r, &i) == 0:
            return False
    if i < r.n and (r.s[i] == 101 or r.s[i] == 69):
        i += 1
        if i < r.n and (r.s[i] == 43 or r.s[i] == 45):
            i += 1
        if _digits(r, &i) == 0:
            return False
    if i - r.pos > 32:
        return False
    r.pos = i
    return True


cdef inline object _fixed(Reader* r, Py_ssize_t decimals):
    """The string at the reader as an exact integer of `decimals` places, if it is canonical (`_canonical.pxd`); None
    to decline."""
    cdef Py_ssize_t start, end
    cdef long long value
    if not _string(r, &start, &end):
        return None
    value = canonical_fixed(r.s + start, end - start, decimals)
    return None if value < 0 else value


cdef object _levels(Reader* r, Py_ssize_t price_decimals, Py_ssize_t qty_decimals):
    """A list of [price, qty] string pairs as a tuple of exact (price, qty); None to decline."""
    cdef list out = []
    cdef object price, qty
    if r.pos >= r.n or r.s[r.pos] != 91:   # '['
        return None
    r.pos += 1
    if r.pos < r.n and r.s[r.pos] == 93:   # ']'
        r.pos += 1
        return ()
    while True:
        if r.pos >= r.n or r.s[r.pos] != 91:
            return None
        r.pos += 1
        price = _fixed(r, price_decimals)
        if price is None or r.pos >= r.n or r.s[r.pos] != 44:   # ','
            return None
        r.pos += 1
        qty = _fixed(r, qty_decimals)
        if qty is None or r.pos >= r.n or r.s[r.pos] != 93:
            return None
        r.pos += 1
        out.append((price, qty))
        if r.pos >= r.n:
            return None
        if r.s[r.pos] == 44:
            r.pos += 1
        elif r.s[r.pos] == 93:
            r.pos += 1
            return tuple(out)
        else:
            return None


cdef inline bint _spans(Reader* r, Py_ssize_t start, Py_ssize_t end, const char* name, Py_ssize_t size):
    """Whether the string read at [start, end) is `name` (of `size` bytes): a key, or a value such as a kind."""
    return end - start == size and memcmp(r.s + start, name, size) == 0


cdef enum:   # the keys read, as bits: a key seen twice declines
    K_E = 1
    K_S = 2
    K_FIRST = 4       # U
    K_LAST = 8        # u
    K_PREV = 16       # pu
    K_TRADE_ID = 32   # t
    K_PRICE = 64      # p
    K_QTY = 128       # q
    K_BID = 256       # b (a price, or a level list)
    K_BID_QTY = 512   # B
    K_ASK = 1024      # a (a price, or a level list)
    K_ASK_QTY = 2048  # A
    K_MAKER = 4096    # m


def scan(frame, long long ts_ns, dict markets):
    """The event of a plain Binance frame (bytes), or None: not plain enough to read here (the caller's Python path
    answers). `markets` maps a venue symbol to (canonical symbol, price decimals, quantity decimals)."""
    cdef Reader r
    cdef Py_ssize_t start, end, price_decimals = 0, qty_decimals = 0
    cdef long long first_id = 0, last_id = 0, prev_id = -1, trade_id = 0
    cdef int seen = 0, bit
    cdef unsigned char c
    cdef bint wrapped = False, maker = False, bid_levels = False, ask_levels = False
    cdef bint kind_depth = False, kind_trade = False, kind_ticker = False
    cdef object symbol = None, market, value, bid = None, ask = None, price = None, qty = None
    cdef object bid_qty = None, ask_qty = None
    if type(frame) is not bytes:
        return None
    r.s = <const unsigned char*>PyBytes_AS_STRING(frame)
    r.n = PyBytes_GET_SIZE(frame)
    r.pos = 0
    if r.n < 2 or r.s[0] != 123:   # '{'
        return None
    r.pos = 1
    # the wrapper: {"stream":"...","data":{...}} (its first key says which form the frame has)
    if r.n > 10 and memcmp(r.s + 1, b'"stream":', 9) == 0:
        wrapped = True
        r.pos = 10
        if not _string(&r, &start, &end) or r.pos + 9 > r.n or memcmp(r.s + r.pos, b',"data":{', 9) != 0:
            return None
        r.pos += 9
    if r.pos < r.n and r.s[r.pos] == 125:   # an empty object
        return None
    while True:
        if not _string(&r, &start, &end) or r.pos >= r.n or r.s[r.pos] != 58:   # ':'
            return None
        r.pos += 1
        bit = 0
        if end - start == 1:
            c = r.s[start]
            if c == 101:    # e
                bit = K_E
                if not _string(&r, &start, &end):
                    return None
                if _spans(&r, start, end, b"depthUpdate", 11):
                    kind_depth = True
                elif _spans(&r, start, end, b"trade", 5):
                    kind_trade = True
                elif _spans(&r, start, end, b"bookTicker", 10):
                    kind_ticker = True
                else:
                    return None   # another kind of event: the Python path says what it is
            elif c == 115:  # s
                bit = K_S
                if not _string(&r, &start, &end):
                    return None
                market = markets.get(PyUnicode_DecodeASCII(<const char*>r.s + start, end - start, NULL))
                if market is None:
                    return None
                symbol, price_decimals, qty_decimals = market
            elif c == 85:   # U
                bit = K_FIRST
                if not _integer(&r, &first_id):
                    return None
            elif c == 117:  # u
                bit = K_LAST
                if not _integer(&r, &last_id):
                    return None
            elif c == 116:  # t
                bit = K_TRADE_ID
                if not _integer(&r, &trade_id):
                    return None
            elif c == 109:  # m
                bit = K_MAKER
                if _literal(&r, b"true", 4):
                    maker = True
                elif not _literal(&r, b"false", 5):
                    return None
            elif c == 112 or c == 113 or c == 66 or c == 65:   # p, q, B, A
                bit = K_PRICE if c == 112 else K_QTY if c == 113 else K_BID_QTY if c == 66 else K_ASK_QTY
                if symbol is None:
                    return None
                value = _fixed(&r, price_decimals if c == 112 else qty_decimals)
                if value is None:
                    return None
                if c == 112:
                    price = value
                elif c == 113:
                    qty = value
                elif c == 66:
                    bid_qty = value
                else:
                    ask_qty = value
            elif c == 98 or c == 97:   # b, a: a price (bookTicker) or a level list (depthUpdate)
                bit = K_BID if c == 98 else K_ASK
                if symbol is None or r.pos >= r.n:
                    return None
                if r.s[r.pos] == 91:
                    value = _levels(&r, price_decimals, qty_decimals)
                    if c == 98:
                        bid_levels = True
                    else:
                        ask_levels = True
                elif r.s[r.pos] == 34:
                    value = _fixed(&r, price_decimals)
                elif _skip_scalar(&r):   # an order id in an older trade frame: no price (a ticker with it declines)
                    value = False
                else:
                    return None
                if value is None:
                    return None
                if c == 98:
                    bid = value
                else:
                    ask = value
            elif not _skip_scalar(&r):
                return None
        elif _spans(&r, start, end, b"pu", 2):
            bit = K_PREV
            if not _integer(&r, &prev_id):
                return None
        elif (_spans(&r, start, end, b"stream", 6) or _spans(&r, start, end, b"data", 4)
              or _spans(&r, start, end, b"lastUpdateId", 12) or _spans(&r, start, end, b"bids", 4)
              or _spans(&r, start, end, b"asks", 4)):
            return None   # a wrapper's key inside it, or a snapshot: the Python path's
        elif not _skip_scalar(&r):
            return None
        if bit:
            if seen & bit:
                return None   # a key given twice
            seen |= bit
        if r.pos >= r.n:
            return None
        if r.s[r.pos] == 44:
            r.pos += 1
            continue
        if r.s[r.pos] != 125:   # '}'
            return None
        r.pos += 1
        break
    if wrapped:   # the wrapper's object closes right after its data
        if r.pos != r.n - 1 or r.s[r.pos] != 125:
            return None
    elif r.pos != r.n:
        return None
    if kind_depth:
        if (seen & (K_S | K_FIRST | K_LAST)) != (K_S | K_FIRST | K_LAST) or not bid_levels or not ask_levels:
            return None
        return _event(_depth, _depth_slots, (symbol, ts_ns, first_id, last_id, prev_id, bid, ask, None))
    if kind_trade:
        if (seen & (K_S | K_TRADE_ID | K_PRICE | K_QTY | K_MAKER)) != (K_S | K_TRADE_ID | K_PRICE | K_QTY | K_MAKER):
            return None
        return _event(_trade, _trade_slots, (symbol, ts_ns, trade_id, price, qty, _sell if maker else _buy))
    if kind_ticker or not (seen & K_E):
        if (seen & (K_S | K_LAST | K_BID_QTY | K_ASK_QTY)) != (K_S | K_LAST | K_BID_QTY | K_ASK_QTY) \
                or bid_levels or ask_levels or type(bid) is not int or type(ask) is not int:
            return None
        return _event(_top, _top_slots, (symbol, ts_ns, last_id, bid, bid_qty, ask, ask_qty))
    return None
