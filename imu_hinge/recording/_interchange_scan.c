/* The interchange CSV's data rows, parsed without pandas (imu_hinge.recording.interchange's fast path).
 *
 * Takes only plain files: every line is blank, a comment (starting with '#'), or exactly as many
 * comma-separated fields as the header, with the eight required columns plain decimal numbers
 * ([-]digits[.digits][e[+-]digits]) and a sensor name of "sacrum" or "thoracic" (any case);
 * lines end in "\n" or "\r\n". Anything else (quotes, missing values, spaces, a '#' inside a line,
 * other names, NUL bytes, a lone '\r') makes it stop with status 1: the caller then reads the file
 * with pandas, which gives every such file its meaning and its errors. Numbers are correctly rounded
 * (exact powers of ten for short ones, Python's own dtoa otherwise), as pandas 3 reads them.
 *
 * scan(buf, pos, final, cols, ncols, t0, acc0, gyr0, t1, acc1, gyr1, n0, n1[, only]) -> (status, pos, n0, n1):
 *   parses whole lines of buf from pos into each role's arrays (0 sacrum, 1 thoracic: time (cap,),
 *   acc and gyr (cap, 3) float64, already holding n0 / n1 rows); ``cols`` (8 ints) are the field
 *   indices of time_s, sensor, acc_x..z, gyr_x..z; ``final`` says buf ends the file (its last line
 *   may lack a newline). Stops at the first incomplete line (pos = its start), when a role's arrays
 *   are full (status 2: grow them and call again from pos), or at a line it does not take
 *   (status 1). ``only`` 0 or 1: that role's lines only; the other role's are passed over once their sensor
 *   field is read (the other role's call checks them): two calls, one per role, on two threads, give the same
 *   arrays, the same end and between them the same status as one call. The GIL is released while it parses. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

enum { OK = 0, FALLBACK = 1, FULL = 2 };

static const double POW10[23] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* The plain decimal number starting at p (before end): its end, and the value in *out; NULL if there
 * is none or it is malformed ("-", ".5", "5.", "1e", ...). What follows it is the caller's to check. */
static const char *parse_number(const char *p, const char *end, double *out, PyThreadState **released) {
    const char *s = p;
    int neg = 0;
    if (s < end && *s == '-') { neg = 1; s++; }
    uint64_t mant = 0;
    int sig = 0, frac = 0;
    const char *d0 = s;
    while (s < end && (unsigned)(*s - '0') < 10) {
        if (sig || *s != '0') { sig++; if (sig <= 19) mant = mant * 10 + (uint64_t)(*s - '0'); }
        s++;
    }
    if (s == d0) return NULL;  /* a digit first (".5", "+1": pandas' business) */
    if (s < end && *s == '.') {
        s++;
        const char *f0 = s;
        while (s < end && (unsigned)(*s - '0') < 10) {
            if (sig || *s != '0') { sig++; if (sig <= 19) mant = mant * 10 + (uint64_t)(*s - '0'); }
            s++; frac++;
        }
        if (s == f0) return NULL;  /* "5." */
    }
    long exp10 = 0;
    if (s < end && (*s == 'e' || *s == 'E')) {
        s++;
        int eneg = 0;
        if (s < end && (*s == '+' || *s == '-')) { eneg = *s == '-'; s++; }
        const char *e0 = s;
        while (s < end && (unsigned)(*s - '0') < 10) { if (exp10 < 100000) exp10 = exp10 * 10 + (*s - '0'); s++; }
        if (s == e0) return NULL;
        if (eneg) exp10 = -exp10;
    }
    /* the value is mant * 10^(exp10 - frac) while sig <= 19 */
    long e = exp10 - frac;
    if (sig <= 15 && e >= -22 && e <= 22) {
        double v = (double)mant;  /* exact: below 10^15 */
        v = e < 0 ? v / POW10[-e] : v * POW10[e];  /* one correctly rounded operation on exact values */
        *out = neg ? -v : v;
        return s;
    }
    char tmp[128];
    if (s - p >= (Py_ssize_t)sizeof tmp) return NULL;
    memcpy(tmp, p, (size_t)(s - p));
    tmp[s - p] = '\0';
    char *stop = NULL;
    if (*released != NULL) PyEval_RestoreThread(*released);  /* the GIL for Python's dtoa (it may set an error) */
    double v = PyOS_string_to_double(tmp, &stop, NULL);  /* correctly rounded, locale-independent */
    int failed = v == -1.0 && PyErr_Occurred();
    if (failed) PyErr_Clear();
    if (*released != NULL) *released = PyEval_SaveThread();
    if (failed) return NULL;
    if (stop != tmp + (s - p) || !isfinite(v)) return NULL;  /* an overflow: pandas' business */
    *out = v;
    return s;
}

/* Bytes that end a field the scanner does not parse (or make it give the file to pandas). */
static unsigned char STOP[256];

/* 0 sacrum, 1 thoracic, -1 anything else. */
static int sensor_role(const char *p, const char *q) {
    static const char *names[2] = {"sacrum", "thoracic"};
    for (int r = 0; r < 2; r++) {
        size_t n = strlen(names[r]);
        if ((size_t)(q - p) != n) continue;
        size_t i = 0;
        while (i < n && (p[i] | 0x20) == names[r][i]) i++;
        if (i == n) return r;
    }
    return -1;
}

static PyObject *scan(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer buf, arr[6];
    Py_ssize_t pos, n[2];
    int final, ncols;
    PyObject *cols_obj;
    int only = -1;
    if (!PyArg_ParseTuple(args, "y*npOiw*w*w*w*w*w*nn|i", &buf, &pos, &final, &cols_obj, &ncols, &arr[0], &arr[1],
                          &arr[2], &arr[3], &arr[4], &arr[5], &n[0], &n[1], &only))
        return NULL;
    /* which output each field feeds: -1 ignored, 0 time, 1..3 acc, 4..6 gyr, 7 the sensor */
    int slot_of[1024];
    PyObject *result = NULL;
    double *t_out[2] = {arr[0].buf, arr[3].buf}, *acc_out[2] = {arr[1].buf, arr[4].buf};
    double *gyr_out[2] = {arr[2].buf, arr[5].buf};
    Py_ssize_t cap[2] = {arr[0].len / (Py_ssize_t)sizeof(double), arr[3].len / (Py_ssize_t)sizeof(double)};
    if (ncols < 8 || ncols > 1024 || !PyTuple_Check(cols_obj) || PyTuple_GET_SIZE(cols_obj) != 8) {
        PyErr_SetString(PyExc_ValueError, "scan: bad column layout");
        goto done;
    }
    for (int r = 0; r < 2; r++) {
        if (arr[3 * r + 1].len < 3 * arr[3 * r].len || arr[3 * r + 2].len < 3 * arr[3 * r].len || n[r] < 0
                || n[r] > cap[r]) {
            PyErr_SetString(PyExc_ValueError, "scan: acc/gyr must hold 3 values per time, n within the arrays");
            goto done;
        }
    }
    for (int f = 0; f < ncols; f++) slot_of[f] = -1;
    static const int slot_for_col[8] = {0, 7, 1, 2, 3, 4, 5, 6};  /* cols order: time, sensor, acc, gyr */
    for (int k = 0; k < 8; k++) {
        long c = PyLong_AsLong(PyTuple_GET_ITEM(cols_obj, k));
        if (c < 0 || c >= ncols) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "scan: column index out of range");
            goto done;
        }
        slot_of[c] = slot_for_col[k];
    }
    if (only < -1 || only > 1 || pos < 0 || pos > buf.len) {
        PyErr_SetString(PyExc_ValueError, "scan: only must be -1, 0 or 1 and pos within the buffer");
        goto done;
    }
    const char *b = buf.buf, *end = b + buf.len;
    int status = OK;
    const char *p = b + pos;
    PyThreadState *released = PyEval_SaveThread();
    while (p < end) {
        const char *line = p;
        if (*p == '\n') { p++; continue; }  /* blank line */
        if (*p == '\r') {
            if (p + 1 < end) { if (p[1] == '\n') { p += 2; continue; } status = FALLBACK; break; }
            if (final) status = FALLBACK;
            break;
        }
        if (*p == '#') {  /* a comment line */
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (nl == NULL) { if (final) p = end; break; }
            p = nl + 1;
            continue;
        }
        if ((only != 1 && n[0] == cap[0]) || (only != 0 && n[1] == cap[1])) { status = FULL; break; }
        double row[7];
        int role = -1, f = 0, incomplete = 0, skip = 0;
        for (;;) {  /* one field per pass: [p, q) */
            int slot = slot_of[f];
            const char *q;
            if (slot >= 0 && slot < 7) {
                q = parse_number(p, end, &row[slot], &released);
                if (q == NULL) {
                    if (!final && memchr(p, '\n', (size_t)(end - p)) == NULL) { incomplete = 1; break; }
                    status = FALLBACK; break;
                }
            } else {
                q = p;
                while (q < end && !STOP[(unsigned char)*q]) q++;
            }
            if (q == end && !final) { incomplete = 1; break; }
            if (q < end && *q != ',' && *q != '\n' && *q != '\r') { status = FALLBACK; break; }
            if (slot == 7 && (role = sensor_role(p, q)) < 0) { status = FALLBACK; break; }
            if (slot == 7 && only >= 0 && role != only) {  /* the other role's line: its end, nothing more */
                const char *nl = memchr(q, '\n', (size_t)(end - q));
                if (nl == NULL && !final) { incomplete = 1; break; }
                p = nl == NULL ? end : nl + 1;
                skip = 1;
                break;
            }
            f++;
            if (q < end && *q == ',') {
                if (f == ncols) { status = FALLBACK; break; }  /* more fields than the header */
                p = q + 1;
                continue;
            }
            if (f != ncols) { status = FALLBACK; break; }  /* fewer fields than the header */
            if (q == end) { p = q; break; }  /* the file's last line, without a newline */
            if (*q == '\r') {
                if (q + 1 == end && !final) { incomplete = 1; break; }
                if (q + 1 == end || q[1] != '\n') { status = FALLBACK; break; }
                q++;
            }
            p = q + 1;
            break;
        }
        if (status != OK) break;
        if (incomplete) { p = line; break; }
        if (skip) continue;
        Py_ssize_t i = n[role]++;
        t_out[role][i] = row[0];
        memcpy(acc_out[role] + 3 * i, row + 1, 3 * sizeof(double));
        memcpy(gyr_out[role] + 3 * i, row + 4, 3 * sizeof(double));
    }
    PyEval_RestoreThread(released);
    result = Py_BuildValue("innn", status, (Py_ssize_t)(p - b), n[0], n[1]);
done:
    PyBuffer_Release(&buf);
    for (int k = 0; k < 6; k++) PyBuffer_Release(&arr[k]);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, "scan(buf, pos, final, cols, ncols, t0, acc0, gyr0, t1, acc1, gyr1, n0, n1) -> (status, pos, n0, n1)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_interchange_scan",
    .m_doc = "The interchange CSV's data rows, parsed without pandas.", .m_size = -1, .m_methods = methods,
};

PyMODINIT_FUNC PyInit__interchange_scan(void) {
    STOP[(unsigned char)','] = STOP[(unsigned char)'\n'] = STOP[(unsigned char)'\r'] = 1;
    STOP[(unsigned char)'"'] = STOP[(unsigned char)'#'] = STOP[0] = 1;
    return PyModule_Create(&module);
}
