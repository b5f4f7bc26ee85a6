# cython: language_level=3, boundscheck=False, wraparound=False
"""The compiled form of `engine.replay.recording._capture_records`: a capture's lines into records, in C.

Every feed message of a replayed capture is one line, `<local_ns> <json>`, to split, check and turn into a record;
in Python that is a handful of calls a line. Here a line is read in one pass: the stamp's digits, the space, the
frame's first byte, the REST and connection prefixes. What the line is made into is exactly what the Python form
makes: a REST line's record and a bad line's MALFORMED record are made by the Python helpers themselves, and
`tests/replay/test_capture_compiled.py` holds the two forms to the same records on every recorded capture and on
generated lines of every kind.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_FromStringAndSize
from libc.string cimport memcmp

cdef extern from *:
    """
    #ifndef SOURCE_SHA256
    #define SOURCE_SHA256 ""
    #endif
    """
    const char* SOURCE_SHA256

SOURCE = SOURCE_SHA256.decode()
"""The sha256 of the .pyx this module was built from (set by setup.py): a build older than its source is not used."""

cdef object _rest_record = None, _malformed = None, _websocket = None, _open = None
cdef bytes _rest_prefix = b"", _open_prefix = b""


def bind(rest_record, malformed, websocket, open_, bytes rest_prefix, bytes open_prefix):
    """The Python form's helpers, record kinds and line prefixes: `rest_record(path, line_number, ts, frame)` makes a
    REST line's record, `malformed(path, line_number, line, ts)` a bad line's; a frame that starts with `rest_prefix`
    is a REST line, one that starts with `open_prefix` a connection's opening."""
    global _rest_record, _malformed, _websocket, _open, _rest_prefix, _open_prefix
    _rest_record, _malformed, _websocket, _open = rest_record, malformed, websocket, open_
    _rest_prefix, _open_prefix = rest_prefix, open_prefix


cdef inline bint _starts(const unsigned char* s, Py_ssize_t n, bytes prefix):
    cdef Py_ssize_t size = PyBytes_GET_SIZE(prefix)
    return n >= size and memcmp(s, PyBytes_AS_STRING(prefix), size) == 0


def capture_records(path, list lines, Py_ssize_t start, ts):
    """The records of `lines` from index `start` on (`ts`: the receive time of the last record before it), as
    `engine.replay.recording._capture_records` makes them."""
    cdef Py_ssize_t index, n, space, i
    cdef const unsigned char* s
    cdef unsigned long long stamp
    cdef bytes line
    for index in range(start, len(lines)):
        line = lines[index]
        s = <const unsigned char*>PyBytes_AS_STRING(line)
        n = PyBytes_GET_SIZE(line)
        space = -1
        stamp = 0
        for i in range(n):
            if s[i] == 32:
                space = i
                break
            if s[i] < 48 or s[i] > 57:
                break
            if i < 19:
                stamp = stamp * 10 + (s[i] - 48)
        # `<digits> <json>`: digits before the first space, a frame after it that starts like JSON
        if space <= 0 or space + 1 >= n or (s[space + 1] != 123 and s[space + 1] != 91):
            if n:
                yield _malformed(path, index + 1, line, ts)
            continue
        ts = stamp if space <= 19 else int(line[:space])   # 20 digits and more: Python's exact int
        if _starts(s + space + 1, n - space - 1, _rest_prefix):
            yield _rest_record(path, index + 1, ts, line[space + 1:])
            continue
        if _starts(s + space + 1, n - space - 1, _open_prefix):
            yield ts, _open, b""
            continue
        yield ts, _websocket, PyBytes_FromStringAndSize(<const char*>s + space + 1, n - space - 1)
