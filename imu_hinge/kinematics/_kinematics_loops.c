/* The kinematics stage's per-sample loops (imu_hinge.kinematics): the sagittal angle of one segment
 * and the row combiner that puts the two streams on one time base. One implementation over blocks
 * of any length (live passes blocks of one). A Python extension module: arrays are C-contiguous
 * float64 buffers (the Python callers make them so), state arrays are owned by the Python objects.
 * Plain C99 arithmetic, built with -ffp-contract=off (the same rounding on every CPU). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>

#define DEG_PER_RAD (180.0 / 3.14159265358979323846)
#define F64 ((Py_ssize_t)sizeof(double))

/* SagittalAngle's state vector (layout declared in sagittal.py). */
enum { SUM = 0, FWD = 3, NSUM = 6, HAS_FWD, REFINE_N, COS_PROV, COS_GATE, PEAK_DEG, RESTART_DEG, STATE_LEN };

/* THE sagittal angle loop: up (N, 3) -> out (N,) deg, state st carried. */
static void sagittal_loop(const double *up, const double *u0, double *st, double *out, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        double x = up[3 * i], y = up[3 * i + 1], z = up[3 * i + 2];
        double c = x * u0[0] + y * u0[1] + z * u0[2];
        double vx = x - c * u0[0], vy = y - c * u0[1], vz = z - c * u0[2];
        double vn = sqrt(vx * vx + vy * vy + vz * vz);
        int beyond = c < st[COS_PROV] * sqrt(x * x + y * y + z * z);
        int inside = st[NSUM] == 0.0 || -(vx * st[FWD] + vy * st[FWD + 1] + vz * st[FWD + 2]) > st[COS_GATE] * vn;
        /* a tilt outside the gate deeper by restart_deg than any that made the direction: that was not a hinge
           (a side or back bend first); the direction starts over from this one (refined, frozen again) */
        if (beyond && !inside && atan2(vn, c) * DEG_PER_RAD > st[PEAK_DEG] + st[RESTART_DEG]) {
            st[SUM] = st[SUM + 1] = st[SUM + 2] = 0.0;
            st[NSUM] = 0.0;
            st[PEAK_DEG] = 0.0;
            inside = 1;
        }
        /* refining: a tilt beyond provisional_deg, within refine_gate_deg of the direction so far (the first
           one sets it), adds its direction */
        if (st[NSUM] < st[REFINE_N] && beyond && inside) {
            st[SUM] -= vx / vn;
            st[SUM + 1] -= vy / vn;
            st[SUM + 2] -= vz / vn;
            st[NSUM] += 1;
            double sn = sqrt(st[SUM] * st[SUM] + st[SUM + 1] * st[SUM + 1] + st[SUM + 2] * st[SUM + 2]);
            for (int k = 0; k < 3; k++) st[FWD + k] = st[SUM + k] / sn;
            st[HAS_FWD] = 1.0;
            double tilt = atan2(vn, c) * DEG_PER_RAD;
            if (tilt > st[PEAK_DEG]) st[PEAK_DEG] = tilt;
        }
        if (st[HAS_FWD] == 0.0)
            out[i] = atan2(vn, c) * DEG_PER_RAD;
        else
            out[i] = atan2(-(x * st[FWD] + y * st[FWD + 1] + z * st[FWD + 2]), c) * DEG_PER_RAD;
    }
}

/* sagittal_run(up (N, 3), u0 (3,), st, out (N,)). */
static PyObject *sagittal_run(PyObject *self, PyObject *args) {
    Py_buffer up, u0, st, out;
    if (!PyArg_ParseTuple(args, "y*y*w*w*", &up, &u0, &st, &out)) return NULL;
    Py_ssize_t n = up.len / (3 * F64);
    int ok = u0.len >= 3 * F64 && st.len >= STATE_LEN * F64 && out.len >= n * F64;
    if (ok) {
        PyThreadState *ts = n > 256 ? PyEval_SaveThread() : NULL; /* a block: the other sensor's may run beside */
        sagittal_loop(up.buf, u0.buf, st.buf, out.buf, n);
        if (ts != NULL) PyEval_RestoreThread(ts);
    }
    PyBuffer_Release(&up); PyBuffer_Release(&u0); PyBuffer_Release(&st); PyBuffer_Release(&out);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "sagittal_run: buffer sizes do not match");
        return NULL;
    }
    Py_RETURN_NONE;
}

/* sagittal_one(x, y, z, u0 (3,), st) -> deg: the same loop over a block of one given as floats. */
static PyObject *sagittal_one(PyObject *self, PyObject *args) {
    double up[3], out;
    Py_buffer u0, st;
    if (!PyArg_ParseTuple(args, "dddy*w*", &up[0], &up[1], &up[2], &u0, &st)) return NULL;
    int ok = u0.len >= 3 * F64 && st.len >= STATE_LEN * F64;
    if (ok) sagittal_loop(up, u0.buf, st.buf, &out, 1);
    PyBuffer_Release(&u0); PyBuffer_Release(&st);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "sagittal_one: buffer sizes do not match");
        return NULL;
    }
    return PyFloat_FromDouble(out);
}

/* Two other samples closer than this (s) give no rate: their angles differ by noise, and divided by a
 * glitch of a stamp (two samples 1 us apart) the extrapolation read thousands of degrees. The last angle is
 * held instead. Contract rates stop at 400 Hz (2.5 ms). */
#define MIN_SLOPE_INTERVAL_S 1e-3

/* THE combiner step. st = (t1, a1, t2, a2, max_age_s, max_slope_gap_s): the other stream's last two
 * samples and the limits. An other sample shifts them in (NaN); a base sample gets the other angle
 * extrapolated to its time. */
static double combine_step(double *st, int is_base, double t, double angle) {
    if (!is_base) {
        st[0] = st[2]; st[1] = st[3]; st[2] = t; st[3] = angle;
        return NAN;
    }
    double t1 = st[0], a1 = st[1], t2 = st[2], a2 = st[3];
    if (isnan(t2) || t - t2 > st[4]) return NAN;
    if (isnan(t1) || t2 - t1 > st[5] || t2 - t1 < MIN_SLOPE_INTERVAL_S) return a2;
    return a2 + (a2 - a1) / (t2 - t1) * (t - t2);
}

/* combine_push(st (6,), is_base, time_s, angle_deg) -> the other angle (NaN for an other sample). */
static PyObject *combine_push(PyObject *self, PyObject *args) {
    Py_buffer st;
    int is_base;
    double t, a;
    if (!PyArg_ParseTuple(args, "w*pdd", &st, &is_base, &t, &a)) return NULL;
    if (st.len < 6 * F64) {
        PyBuffer_Release(&st);
        PyErr_SetString(PyExc_ValueError, "combine_push: state too small");
        return NULL;
    }
    double r = combine_step(st.buf, is_base, t, a);
    PyBuffer_Release(&st);
    return PyFloat_FromDouble(r);
}

/* First index j in sorted x[0..m) with x[j] > v (right) or x[j] >= v (left): numpy's searchsorted. */
static Py_ssize_t search(const double *x, Py_ssize_t m, double v, int right) {
    Py_ssize_t lo = 0, hi = m;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (right ? x[mid] <= v : x[mid] < v) lo = mid + 1; else hi = mid;
    }
    return lo;
}

/* combine(base_t (N,), other_t (M,), other_angle (M,), other_first_on_tie, max_age_s, max_slope_gap_s,
 * out (N,)): both streams merged in arrival order through combine_step; the other angle at every base time. */
static PyObject *combine(PyObject *self, PyObject *args) {
    Py_buffer bt, ot, oa, out;
    int first;
    double max_age, max_slope;
    if (!PyArg_ParseTuple(args, "y*y*y*pddw*", &bt, &ot, &oa, &first, &max_age, &max_slope, &out)) return NULL;
    Py_ssize_t n = bt.len / F64, m = ot.len / F64;
    int ok = oa.len >= m * F64 && out.len >= n * F64;
    if (ok && n > 0) {
        const double *b = bt.buf, *o = ot.buf, *a = oa.buf;
        double *res = out.buf;
        double st[6] = {NAN, NAN, NAN, NAN, max_age, max_slope};
        Py_ssize_t j = search(o, m, b[0], first);
        j = j - 2 > 0 ? j - 2 : 0; /* the two other samples before the first base sample set the state */
        for (Py_ssize_t i = 0; i < n; i++) {
            double tb = b[i];
            while (j < m && (o[j] < tb || (first && o[j] == tb))) {
                combine_step(st, 0, o[j], a[j]);
                j++;
            }
            res[i] = combine_step(st, 1, tb, 0.0);
        }
    }
    PyBuffer_Release(&bt); PyBuffer_Release(&ot); PyBuffer_Release(&oa); PyBuffer_Release(&out);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "combine: buffer sizes do not match");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"sagittal_run", sagittal_run, METH_VARARGS, "sagittal_run(up, u0, st, out): the sagittal angle loop."},
    {"sagittal_one", sagittal_one, METH_VARARGS, "sagittal_one(x, y, z, u0, st) -> deg: the loop on one sample."},
    {"combine_push", combine_push, METH_VARARGS, "combine_push(st, is_base, t, angle) -> other angle: one step."},
    {"combine", combine, METH_VARARGS, "combine(base_t, other_t, other_angle, tie, max_age, max_slope, out)."},
    {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kinematics_loops",
                                    "The kinematics stage's compiled loops.", -1, methods, NULL, NULL, NULL, NULL};
PyMODINIT_FUNC PyInit__kinematics_loops(void) { return PyModule_Create(&module); }
