/* The fusion stage's per-sample loops (imu_hinge.fusion): the "up" vector of quaternions and the
 * quiet-window planner. One implementation over blocks of any length (live passes blocks of one).
 * A Python extension module: arguments are C-contiguous float64 buffers (the Python callers make
 * them so), state arrays are owned by the Python objects. Plain C99 arithmetic, built with
 * -ffp-contract=off (the same rounding on every CPU). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>

/* up_rows(q (N, 4), out (N, 3)): earth "up" in the sensor frame of sensor-to-earth quaternions. */
static PyObject *up_rows(PyObject *self, PyObject *args) {
    Py_buffer q, out;
    if (!PyArg_ParseTuple(args, "y*w*", &q, &out)) return NULL;
    Py_ssize_t n = q.len / (Py_ssize_t)(4 * sizeof(double));
    if (out.len < n * (Py_ssize_t)(3 * sizeof(double))) {
        PyBuffer_Release(&q); PyBuffer_Release(&out);
        PyErr_SetString(PyExc_ValueError, "up_rows: out is too small");
        return NULL;
    }
    const double *qq = q.buf; double *o = out.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        double w = qq[4 * i], x = qq[4 * i + 1], y = qq[4 * i + 2], z = qq[4 * i + 3];
        o[3 * i] = 2 * (x * z - w * y);
        o[3 * i + 1] = 2 * (y * z + w * x);
        o[3 * i + 2] = 1 - 2 * (x * x + y * y);
    }
    PyBuffer_Release(&q); PyBuffer_Release(&out);
    Py_RETURN_NONE;
}

/* The planner's state vector (layout declared in quiet_bias.py). */
enum { P_REF = 0, P_GRAVITY = 3, P_N, P_N_ONSET, P_MAX_N, P_QUIET, P_ONSET_GYR, P_ONSET_ACC, P_GAP_DT, P_TS,
       S_SUM, S_COUNT = 17, S_OPEN, S_POS, S_CLOCK, S_RING };
/* Plan columns. */
enum { PLAN_T, PLAN_DT_INT, PLAN_IN, PLAN_CLOSE, PLAN_GAP, PLAN_ENDS, N_PLAN };

/* THE quiet-window planner loop over a block of any length (state st carried; see QuietWindowPlanner):
 * fills the plan (columns PLAN_*) and returns the number of stretches: the filter's runs, cut at window
 * edges, after closes and around gaps (where vqf must stop for the estimator).
 * A window closes at the first sample that is not quiet, or when it reaches max_window_s (that sample
 * still in it). A gap does not end a window: the strapdown integration bridges it, and live clocks make
 * short false gaps (decisions must not hinge on them: they made live and replay differ by up to 1.8 deg
 * in a test). */
static int64_t plan_loop(const double *gyr, const double *acc, const double *dt, double *st, double *out,
                         int64_t m) {
    int64_t n = (int64_t)st[P_N], n_onset = (int64_t)st[P_N_ONSET];
    double max_n = (double)(int64_t)st[P_MAX_N];
    int64_t n_ends = 0;
    int prev_in = 0;
    for (int64_t i = 0; i < m; i++) {
        double x0 = gyr[3 * i] - st[P_REF], x1 = gyr[3 * i + 1] - st[P_REF + 1], x2 = gyr[3 * i + 2] - st[P_REF + 2];
        double a0 = acc[3 * i], a1 = acc[3 * i + 1], a2 = acc[3 * i + 2];
        double x3 = sqrt(x0 * x0 + x1 * x1 + x2 * x2);
        double x4 = fabs(sqrt(a0 * a0 + a1 * a1 + a2 * a2) - st[P_GRAVITY]);
        double s0 = st[S_SUM] + x0, s1 = st[S_SUM + 1] + x1, s2 = st[S_SUM + 2] + x2;
        double s3 = st[S_SUM + 3] + x3, s4 = st[S_SUM + 4] + x4;
        st[S_COUNT] += 1;
        double count = st[S_COUNT];
        int64_t pos = (int64_t)st[S_POS];
        int64_t old = S_RING + 5 * pos;
        int64_t onset = S_RING + 5 * ((pos + n - n_onset) % n);
        double k = (double)n < count ? (double)n : count;
        double k_fast = (double)n_onset < count ? (double)n_onset : count;
        double m0 = (s0 - st[old]) / k, m1 = (s1 - st[old + 1]) / k, m2 = (s2 - st[old + 2]) / k;
        int quiet = (sqrt(m0 * m0 + m1 * m1 + m2 * m2) < st[P_QUIET]
                     && (s3 - st[onset + 3]) / k_fast < st[P_ONSET_GYR]
                     && (s4 - st[onset + 4]) / k_fast < st[P_ONSET_ACC] && count >= (double)n);
        st[S_SUM] = s0; st[S_SUM + 1] = s1; st[S_SUM + 2] = s2; st[S_SUM + 3] = s3; st[S_SUM + 4] = s4;
        st[old] = s0; st[old + 1] = s1; st[old + 2] = s2; st[old + 3] = s3; st[old + 4] = s4;
        st[S_POS] = (double)((pos + 1) % n);
        int close = 0;
        if (!quiet) {
            close = st[S_OPEN] > 0;
            st[S_OPEN] = 0;
        } else {
            st[S_OPEN] += 1;
            if (st[S_OPEN] == max_n) { /* split at max_window_s */
                st[S_OPEN] = 0;
                close = 1;
            }
        }
        int gap = dt[i] > st[P_GAP_DT];
        st[S_CLOCK] = st[S_CLOCK] + dt[i];
        double *row = out + N_PLAN * i;
        row[PLAN_T] = st[S_CLOCK];
        row[PLAN_DT_INT] = gap ? dt[i] : st[P_TS];
        row[PLAN_IN] = quiet;
        row[PLAN_CLOSE] = close;
        row[PLAN_GAP] = gap;
        /* a stretch ends before this sample at a window edge or a gap (a gap sample is bridged first) ... */
        if (i > 0 && (gap || prev_in != quiet) && (n_ends == 0 || out[N_PLAN * (n_ends - 1) + PLAN_ENDS] != (double)i))
            out[N_PLAN * n_ends++ + PLAN_ENDS] = (double)i;
        /* ... and after it when its window closes, it ends a gap or the block ends */
        if (close || gap || i == m - 1) out[N_PLAN * n_ends++ + PLAN_ENDS] = (double)(i + 1);
        prev_in = quiet;
    }
    return n_ends;
}

/* plan_run(gyr (N, 3), acc (N, 3), dt (N,), st, out (N, 6)) -> number of stretches. */
static PyObject *plan_run(PyObject *self, PyObject *args) {
    Py_buffer gyr, acc, dt, st, out;
    if (!PyArg_ParseTuple(args, "y*y*y*w*w*", &gyr, &acc, &dt, &st, &out)) return NULL;
    Py_ssize_t m = dt.len / (Py_ssize_t)sizeof(double);
    PyObject *res = NULL;
    Py_ssize_t need_st = S_RING * (Py_ssize_t)sizeof(double);
    if (gyr.len < 3 * m * (Py_ssize_t)sizeof(double) || acc.len < 3 * m * (Py_ssize_t)sizeof(double)
        || out.len < N_PLAN * m * (Py_ssize_t)sizeof(double) || st.len < need_st
        || st.len < need_st + 5 * (Py_ssize_t)((double *)st.buf)[P_N] * (Py_ssize_t)sizeof(double)) {
        PyErr_SetString(PyExc_ValueError, "plan_run: buffer sizes do not match");
    } else {
        res = PyLong_FromLongLong(plan_loop(gyr.buf, acc.buf, dt.buf, st.buf, out.buf, m));
    }
    PyBuffer_Release(&gyr); PyBuffer_Release(&acc); PyBuffer_Release(&dt);
    PyBuffer_Release(&st); PyBuffer_Release(&out);
    return res;
}

static PyMethodDef methods[] = {
    {"up_rows", up_rows, METH_VARARGS, "up_rows(q (N, 4), out (N, 3)): earth up in the sensor frame."},
    {"plan_run", plan_run, METH_VARARGS, "plan_run(gyr, acc, dt, st, out) -> stretches: the quiet-window planner."},
    {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fusion_loops", "The fusion stage's compiled loops.",
                                    -1, methods, NULL, NULL, NULL, NULL};
PyMODINIT_FUNC PyInit__fusion_loops(void) { return PyModule_Create(&module); }
