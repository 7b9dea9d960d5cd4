/* The fusion stage's per-sample loops (imu_hinge.fusion): the "up" vector of quaternions and the
 * quiet-window planner. One implementation over blocks of any length (live passes blocks of one).
 * A Python extension module: arguments are C-contiguous float64 buffers (the Python callers make
 * them so), state arrays are owned by the Python objects. Plain C99 arithmetic, built with
 * -ffp-contract=off (the same rounding on every CPU). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "_vqf_shim.h"

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

/* plan_run(gyr (N, 3), acc (N, 3), dt (N,), st, out (N, 6)) -> the number of stretches k: the first k rows of
 * the plan's column PLAN_ENDS hold their ends (last sample + 1); a stretch starts with a gap, is in a window (its
 * first row's columns) and its window closes after it (its last row's) as the plan says. */
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
        PyThreadState *ts = m > 256 ? PyEval_SaveThread() : NULL; /* a block: the other sensor's may run beside */
        int64_t k = plan_loop(gyr.buf, acc.buf, dt.buf, st.buf, out.buf, m);
        if (ts != NULL) PyEval_RestoreThread(ts);
        res = PyLong_FromLongLong((long long)k);
    }
    PyBuffer_Release(&gyr); PyBuffer_Release(&acc); PyBuffer_Release(&dt);
    PyBuffer_Release(&st); PyBuffer_Release(&out);
    return res;
}

/* Rotation matrix (row-major 3x3) of a sensor-to-earth quaternion (w, x, y, z): the same arithmetic
 * as quat_to_matrix in base.py (base + factor * (q_a q_b + sign * q_c q_d), entry by entry). */
static void quat_matrix(const double *q, double *m) {
    double w = q[0], x = q[1], y = q[2], z = q[3];
    m[0] = 1.0 + -2.0 * (y * y + z * z); m[1] = 0.0 + 2.0 * (x * y + -1.0 * (w * z));
    m[2] = 0.0 + 2.0 * (x * z + w * y);  m[3] = 0.0 + 2.0 * (x * y + w * z);
    m[4] = 1.0 + -2.0 * (x * x + z * z); m[5] = 0.0 + 2.0 * (y * z + -1.0 * (w * x));
    m[6] = 0.0 + 2.0 * (x * z + -1.0 * (w * y)); m[7] = 0.0 + 2.0 * (y * z + w * x);
    m[8] = 1.0 + -2.0 * (x * x + y * y);
}

static void matmul3(const double *a, const double *b, double *out) { /* out = a @ b */
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) out[3 * i + j] = a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j];
}

static void matvec3(const double *a, const double *v, double *out) { /* out = a @ v */
    for (int i = 0; i < 3; i++) out[i] = a[3 * i] * v[0] + a[3 * i + 1] * v[1] + a[3 * i + 2] * v[2];
}

/* The quiet-window estimator's integrals (layout declared in quiet_bias.py): Phi = integral of R dt (3x3),
 * B = integral of R bias dt (3), A = the strapdown frame <- the filter's earth frame (3x3). */
enum { E_PHI = 0, E_B = 9, E_A = 12, E_LEN = 21 };

/* THE integration of samples outside windows: R_k = A R6_k, added in sample order (any split of the
 * samples into blocks gives the same bits). */
static void integrate_loop(double *e, const double *plan, const double *quat, const double *bias, Py_ssize_t n) {
    double r6[9], r[9], rb[3];
    for (Py_ssize_t k = 0; k < n; k++) {
        quat_matrix(quat + 4 * k, r6);
        matmul3(e + E_A, r6, r);
        matvec3(r, bias + 3 * k, rb);
        double dt = plan[N_PLAN * k + PLAN_DT_INT];
        for (int i = 0; i < 9; i++) e[E_PHI + i] += r[i] * dt;
        for (int i = 0; i < 3; i++) e[E_B + i] += rb[i] * dt;
    }
}

/* Window means (layout declared in quiet_bias.py): time, gravity in the strapdown frame (3), the
 * accelerometer's direction (3), the integrals Phi (3x3) and B (3) averaged over the window, the variance of the
 * bridged gaps' turns summed up to the window (rad^2). */
enum { W_T = 0, W_G = 1, W_ADIR = 4, W_PHI = 7, W_B = 16, W_GAP_VAR = 19, W_LEN = 20 };

/* THE window flush: a window's samples (plan rows: t, dt; quat6D, bias, acc) into the window means and the integrals.
 * F (the filter's inclination frame) is read before the first sample (ends 0, 1: quat6D, quat3D) and after
 * the last (ends 2, 3) and taken linear in time between: R_k = (A0 + f_k (A1 - A0)) R6_k, f_k = (k+1)/n.
 * The window's running integrals summed over the window count sample k n - k times. */
static void flush_loop(double *e, const double *plan, const double *quat, const double *bias,
                       const double *acc, const double *ends, double *mean, Py_ssize_t n) {
    double m[4][9], a0[9], a1[9], da[9];
    for (int k = 0; k < 4; k++) quat_matrix(ends + 4 * k, m[k]);
    for (int i = 0; i < 3; i++) /* A = M3 M6^T: strapdown frame <- filter's earth frame */
        for (int j = 0; j < 3; j++) {
            a0[3 * i + j] = m[1][3 * i] * m[0][3 * j] + m[1][3 * i + 1] * m[0][3 * j + 1] + m[1][3 * i + 2] * m[0][3 * j + 2];
            a1[3 * i + j] = m[3][3 * i] * m[2][3 * j] + m[3][3 * i + 1] * m[2][3 * j + 1] + m[3][3 * i + 2] * m[2][3 * j + 2];
        }
    for (int i = 0; i < 9; i++) da[i] = a1[i] - a0[i];
    /* sums over k of R6_k weighted: mats (dt, f dt, w dt, w f dt); vec (acc, f acc, dt bias, f dt bias,
     * w dt bias, w f dt bias) */
    double mats[4][9] = {{0}}, vec[6][3] = {{0}}, t_sum = 0, acc_sum[3] = {0, 0, 0}, r6[9], ra[3], rb[3];
    for (Py_ssize_t k = 0; k < n; k++) {
        double f = (double)(k + 1) / (double)n, w = (double)(n - k);
        double dt = plan[N_PLAN * k + PLAN_DT_INT];
        double wt[4] = {dt, dt * f, dt * w, dt * w * f};
        quat_matrix(quat + 4 * k, r6);
        matvec3(r6, acc + 3 * k, ra);
        matvec3(r6, bias + 3 * k, rb);
        for (int c = 0; c < 4; c++)
            for (int i = 0; i < 9; i++) mats[c][i] += wt[c] * r6[i];
        for (int i = 0; i < 3; i++) {
            vec[0][i] += ra[i];
            vec[1][i] += f * ra[i];
            for (int c = 0; c < 4; c++) vec[2 + c][i] += wt[c] * rb[i];
        }
        t_sum += plan[N_PLAN * k + PLAN_T];
        for (int i = 0; i < 3; i++) acc_sum[i] += acc[3 * k + i];
    }
    double g[3], va[3], vd[3], phi_sum[9], phi_inc[9], b_sum[3], b_inc[3], tmp[9];
    /* A0 x + dA y for the vectors and matrices */
    #define MIX_VEC(x, y, out) do { matvec3(a0, x, va); matvec3(da, y, vd); \
        for (int i_ = 0; i_ < 3; i_++) (out)[i_] = va[i_] + vd[i_]; } while (0)
    MIX_VEC(vec[0], vec[1], g);
    MIX_VEC(vec[4], vec[5], b_sum);
    MIX_VEC(vec[2], vec[3], b_inc);
    matmul3(a0, mats[2], phi_sum); matmul3(da, mats[3], tmp);
    for (int i = 0; i < 9; i++) phi_sum[i] += tmp[i];
    matmul3(a0, mats[0], phi_inc); matmul3(da, mats[1], tmp);
    for (int i = 0; i < 9; i++) phi_inc[i] += tmp[i];
    #undef MIX_VEC
    double dn = (double)n;
    mean[W_T] = t_sum / dn;
    double an = 0;
    for (int i = 0; i < 3; i++) an += (acc_sum[i] / dn) * (acc_sum[i] / dn);
    an = sqrt(an);
    for (int i = 0; i < 3; i++) {
        mean[W_G + i] = g[i] / dn;
        mean[W_ADIR + i] = acc_sum[i] / dn / an;
        mean[W_B + i] = (dn * e[E_B + i] + b_sum[i]) / dn;
        e[E_B + i] += b_inc[i];
    }
    for (int i = 0; i < 9; i++) {
        mean[W_PHI + i] = (dn * e[E_PHI + i] + phi_sum[i]) / dn;
        e[E_PHI + i] += phi_inc[i];
        e[E_A + i] = a1[i];
    }
}

static void cross3(const double *a, const double *b, double *out) {
    out[0] = a[1] * b[2] - a[2] * b[1]; out[1] = a[2] * b[0] - a[0] * b[2]; out[2] = a[0] * b[1] - a[1] * b[0];
}

/* THE bias update from two windows' means (see QuietBiasEstimator): gravity moved by e x g between them;
 * its part perpendicular to gravity (two components) measures the bias error (e = dPhi b_true - dB).
 * cov (3x3) has already grown by the random walk; noise is the measurement variance. */
static void kalman_step(const double *prev, const double *cur, double noise, double *cov, double *bias) {
    const double *pg = prev + W_G, *cg = cur + W_G;
    double g_norm = sqrt(pg[0] * pg[0] + pg[1] * pg[1] + pg[2] * pg[2]);
    double up[3], dg[3], db[3], proj[9], z[3], h[9], dphi[9], tmp[3];
    for (int i = 0; i < 3; i++) {
        up[i] = pg[i] / g_norm;
        dg[i] = (cg[i] - pg[i]) / g_norm;
        db[i] = cur[W_B + i] - prev[W_B + i];
    }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) proj[3 * i + j] = (i == j ? 1.0 : 0.0) - up[i] * up[j];
    for (int i = 0; i < 9; i++) dphi[i] = cur[W_PHI + i] - prev[W_PHI + i];
    cross3(up, dg, z);
    matvec3(proj, db, tmp);
    for (int i = 0; i < 3; i++) z[i] += tmp[i];
    matmul3(proj, dphi, h);
    int k = 0; /* the axis most perpendicular to up (the first on ties) */
    for (int i = 1; i < 3; i++) if (fabs(up[i]) < fabs(up[k])) k = i;
    double ek[3] = {0, 0, 0}, u1[3], u2[3];
    ek[k] = 1.0;
    cross3(up, ek, u1);
    double un = sqrt(u1[0] * u1[0] + u1[1] * u1[1] + u1[2] * u1[2]);
    for (int i = 0; i < 3; i++) u1[i] /= un;
    cross3(up, u1, u2);
    double z2[2], h2[2][3];
    const double *basis[2] = {u1, u2};
    for (int r = 0; r < 2; r++) {
        z2[r] = basis[r][0] * z[0] + basis[r][1] * z[1] + basis[r][2] * z[2];
        for (int j = 0; j < 3; j++) h2[r][j] = basis[r][0] * h[j] + basis[r][1] * h[3 + j] + basis[r][2] * h[6 + j];
    }
    double ch[3][2], s[2][2]; /* cov h2^T, then s = h2 cov h2^T + noise I */
    for (int i = 0; i < 3; i++)
        for (int r = 0; r < 2; r++) ch[i][r] = cov[3 * i] * h2[r][0] + cov[3 * i + 1] * h2[r][1] + cov[3 * i + 2] * h2[r][2];
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 2; c++)
            s[r][c] = h2[r][0] * ch[0][c] + h2[r][1] * ch[1][c] + h2[r][2] * ch[2][c] + (r == c ? noise : 0.0);
    double det = s[0][0] * s[1][1] - s[0][1] * s[1][0];
    double si[2][2] = {{s[1][1] / det, -s[0][1] / det}, {-s[1][0] / det, s[0][0] / det}};
    double gain[3][2], innov[2], next[9];
    for (int i = 0; i < 3; i++)
        for (int c = 0; c < 2; c++) gain[i][c] = ch[i][0] * si[0][c] + ch[i][1] * si[1][c];
    for (int r = 0; r < 2; r++) innov[r] = z2[r] - (h2[r][0] * bias[0] + h2[r][1] * bias[1] + h2[r][2] * bias[2]);
    for (int i = 0; i < 3; i++) bias[i] += gain[i][0] * innov[0] + gain[i][1] * innov[1];
    for (int i = 0; i < 3; i++) /* (I - gain h2) cov */
        for (int j = 0; j < 3; j++) {
            double acc = 0;
            for (int m = 0; m < 3; m++)
                acc += ((i == m ? 1.0 : 0.0) - (gain[i][0] * h2[0][m] + gain[i][1] * h2[1][m])) * cov[3 * m + j];
            next[3 * i + j] = acc;
        }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) cov[3 * i + j] = 0.5 * (next[3 * i + j] + next[3 * j + i]);
}

/* The window pairing's state vector (layout declared in quiet_bias.py): its parameters (min_window_s in
 * samples, max_separation_deg in rad, the random walk's variance rate (rad/s)^2/s, the window noise's variance
 * rad^2, gyr_scale_err, history), then the time the covariance was last grown (NaN: no window yet), the
 * windows kept, and those windows' means (history x W_LEN, oldest first). */
enum { K_MIN_N = 0, K_MAX_SEP, K_WALK_VAR, K_NOISE_VAR, K_SCALE_ERR, K_HISTORY, K_T_PRED, K_COUNT, K_HIST };

/* THE close of a quiet window (see QuietBiasEstimator.close): cur, the means of the window flushed over n
 * samples (n 0: none). A window of min_n samples or more is paired with the latest kept window whose
 * accelerometer direction is within max_sep of its own, then kept itself (the oldest dropped beyond history);
 * with a partner, the covariance grows by the random walk since the last update and the bias is updated
 * (cov, bias in place). Returns 1 when it was, else 0. */
static int close_step(const double *cur, int64_t n, double *k, double *cov, double *bias) {
    if (n < (int64_t)k[K_MIN_N]) return 0;
    int64_t count = (int64_t)k[K_COUNT], kept = (int64_t)k[K_HISTORY];
    double *hist = k + K_HIST, prev[W_LEN], sep = 0.0;
    int found = 0;
    for (int64_t j = count - 1; j >= 0 && !found; j--) { /* the latest first */
        const double *p = hist + W_LEN * j;
        double d = p[W_ADIR] * cur[W_ADIR] + p[W_ADIR + 1] * cur[W_ADIR + 1] + p[W_ADIR + 2] * cur[W_ADIR + 2];
        sep = acos(d < 1.0 ? d : 1.0);
        if (sep <= k[K_MAX_SEP]) {
            memcpy(prev, p, sizeof prev);
            found = 1;
        }
    }
    if (count == kept) { /* full: the oldest goes */
        memmove(hist, hist + W_LEN, sizeof(double) * (size_t)(W_LEN * (kept - 1)));
        count--;
    }
    memcpy(hist + W_LEN * count, cur, sizeof(double) * W_LEN);
    k[K_COUNT] = (double)(count + 1);
    if (isnan(k[K_T_PRED])) k[K_T_PRED] = cur[W_T];
    if (!found) return 0;
    double grow = k[K_WALK_VAR] * (cur[W_T] - k[K_T_PRED]);
    for (int i = 0; i < 9; i++) cov[i] += i % 4 == 0 ? grow : 0.0; /* + 0.0 off the diagonal, as eye(3) * grow */
    k[K_T_PRED] = cur[W_T];
    double scale = k[K_SCALE_ERR] * sep;
    /* the turns the filter bridged across gaps between the two windows are guesses: their variance too */
    double gaps = cur[W_GAP_VAR] - prev[W_GAP_VAR];
    kalman_step(prev, cur, k[K_NOISE_VAR] + scale * scale + (gaps > 0.0 ? gaps : 0.0), cov, bias);
    return 1;
}

/* ---- VQF (C++, vendored in _vqf/, behind _vqf_shim.h) as a capsule, and the quiet-window estimator's loop ---- */

static const char *VQF_CAPSULE = "imu_hinge.fusion.vqf";

static void vqf_capsule_free(PyObject *cap) {
    void *v = PyCapsule_GetPointer(cap, VQF_CAPSULE);
    if (v != NULL) vqfc_free(v);
}

static void *vqf_of(PyObject *cap) { return PyCapsule_GetPointer(cap, VQF_CAPSULE); } /* NULL: error set */

/* vqf_new(ts_s, params (VQFC_N_PARAMS,)) -> a VQF object (capsule): the parameters of _vqf_shim.h, the rest vqf's
 * defaults. */
static PyObject *vqf_new(PyObject *self, PyObject *args) {
    double ts;
    Py_buffer p;
    if (!PyArg_ParseTuple(args, "dy*", &ts, &p)) return NULL;
    void *v = NULL;
    int ok = p.len >= VQFC_N_PARAMS * (Py_ssize_t)sizeof(double) && ts > 0;
    if (ok) v = vqfc_new(ts, p.buf);
    PyBuffer_Release(&p);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "vqf_new: needs a sample time > 0 and all the parameters");
        return NULL;
    }
    if (v == NULL) return PyErr_NoMemory();
    PyObject *cap = PyCapsule_New(v, VQF_CAPSULE, vqf_capsule_free);
    if (cap == NULL) vqfc_free(v);
    return cap;
}

/* vqf_reset(vqf): vqf's resetState. */
static PyObject *vqf_reset(PyObject *self, PyObject *args) {
    PyObject *cap;
    if (!PyArg_ParseTuple(args, "O", &cap)) return NULL;
    void *v = vqf_of(cap);
    if (v == NULL) return NULL;
    vqfc_reset(v);
    Py_RETURN_NONE;
}

/* The fixed-size exchanges with a VQF object: (name, doubles, direction: 0 read into the buffer, 1 write from it). */
enum { X_BIAS, X_STATE, X_SET_STATE, X_ACC_LP_COEFFS };

static PyObject *vqf_exchange(PyObject *args, int what) {
    PyObject *cap;
    Py_buffer b;
    if (!PyArg_ParseTuple(args, what == X_SET_STATE ? "Oy*" : "Ow*", &cap, &b)) return NULL;
    static const Py_ssize_t sizes[] = {3, 17, 17, 5};
    double sigma = 0.0;
    void *v = vqf_of(cap);
    int ok = v != NULL && b.len >= sizes[what] * (Py_ssize_t)sizeof(double);
    if (ok) {
        switch (what) {
        case X_BIAS: sigma = vqfc_bias(v, b.buf); break;
        case X_STATE: vqfc_get_state(v, b.buf); break;
        case X_SET_STATE: vqfc_set_state(v, b.buf); break;
        default: vqfc_acc_lp_coeffs(v, b.buf); break;
        }
    }
    PyBuffer_Release(&b);
    if (!ok) {
        if (v != NULL) PyErr_SetString(PyExc_ValueError, "vqf: the buffer is too small");
        return NULL;
    }
    if (what == X_BIAS) return PyFloat_FromDouble(sigma);
    Py_RETURN_NONE;
}

static PyObject *vqf_bias(PyObject *self, PyObject *args) { return vqf_exchange(args, X_BIAS); }
static PyObject *vqf_state(PyObject *self, PyObject *args) { return vqf_exchange(args, X_STATE); }
static PyObject *vqf_set_state(PyObject *self, PyObject *args) { return vqf_exchange(args, X_SET_STATE); }
static PyObject *vqf_acc_lp_coeffs(PyObject *self, PyObject *args) { return vqf_exchange(args, X_ACC_LP_COEFFS); }

/* vqf_set_bias(vqf, bias (3,), sigma): vqf's setBiasEstimate (sigma <= 0 keeps its uncertainty). */
static PyObject *vqf_set_bias(PyObject *self, PyObject *args) {
    PyObject *cap;
    Py_buffer b;
    double sigma;
    if (!PyArg_ParseTuple(args, "Oy*d", &cap, &b, &sigma)) return NULL;
    void *v = vqf_of(cap);
    int ok = v != NULL && b.len >= 3 * (Py_ssize_t)sizeof(double);
    if (ok) vqfc_set_bias(v, b.buf, sigma);
    PyBuffer_Release(&b);
    if (!ok) {
        if (v != NULL) PyErr_SetString(PyExc_ValueError, "vqf_set_bias: the bias needs 3 values");
        return NULL;
    }
    Py_RETURN_NONE;
}

/* vqf_quat_multiply(q1 (4,), q2 (4,), out (4,)): VQF's quaternion product q1 * q2. */
static PyObject *vqf_quat_multiply(PyObject *self, PyObject *args) {
    Py_buffer a, b, out;
    if (!PyArg_ParseTuple(args, "y*y*w*", &a, &b, &out)) return NULL;
    Py_ssize_t d = (Py_ssize_t)sizeof(double);
    int ok = a.len >= 4 * d && b.len >= 4 * d && out.len >= 4 * d;
    if (ok) vqfc_quat_multiply(a.buf, b.buf, out.buf);
    PyBuffer_Release(&a); PyBuffer_Release(&b); PyBuffer_Release(&out);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "vqf_quat_multiply: quaternions have 4 values");
        return NULL;
    }
    Py_RETURN_NONE;
}

/* vqf_run(vqf, gyr (N, 3), acc (N, 3), out (N, 4)): N updates (vqf's update), quat6D after each into out (the GIL
 * released for a block). */
static PyObject *vqf_run(PyObject *self, PyObject *args) {
    PyObject *cap;
    Py_buffer gyr, acc, out;
    if (!PyArg_ParseTuple(args, "Oy*y*w*", &cap, &gyr, &acc, &out)) return NULL;
    void *v = vqf_of(cap);
    Py_ssize_t d = (Py_ssize_t)sizeof(double), n = gyr.len / (3 * d);
    int ok = v != NULL && gyr.len == 3 * n * d && acc.len == 3 * n * d && out.len >= 4 * n * d;
    if (ok) {
        const double *g = gyr.buf, *a = acc.buf;
        double *o = out.buf;
        PyThreadState *ts = n > 256 ? PyEval_SaveThread() : NULL; /* a block (not live's one sample): the GIL */
        for (Py_ssize_t i = 0; i < n; i++) {
            vqfc_update(v, g + 3 * i, a + 3 * i);
            vqfc_quat6d(v, o + 4 * i);
        }
        if (ts != NULL) PyEval_RestoreThread(ts);
    }
    PyBuffer_Release(&gyr); PyBuffer_Release(&acc); PyBuffer_Release(&out);
    if (!ok) {
        if (v != NULL) PyErr_SetString(PyExc_ValueError, "vqf_run: buffer sizes do not match");
        return NULL;
    }
    Py_RETURN_NONE;
}

/* The quiet-window estimator's state vector (layout declared in quiet_bias.py): the integrals (E_LEN, layout E_*),
 * the bias covariance (3x3), F's two readings around the open window (quat6D, quat3D before its first sample, then
 * after its latest), the means of the window flushed and not yet closed, over how many
 * samples (0: none), the open window's samples kept, the updates made, the room for samples kept, the variance of
 * the bridged gaps' turns summed so far (rad^2: added by the driver at each gap), the bias's uncertainty given to
 * vqf at the last update (rad/s: the largest of the three axes' standard deviations). */
enum { Q_E = 0, Q_COV = 21, Q_ENDS = 30, Q_MEAN = 46, Q_MEAN_N = 66, Q_PEND_N, Q_UPDATES, Q_PEND_CAP, Q_GAP_VAR,
       Q_SIGMA, Q_LEN };
/* The open window's samples (pend): cap rows of the plan (6), then cap quat6D (4), cap biases (3), cap acc (3). */
enum { PEND_ROW = 16 };

/* The open window's samples into the window means (see flush_loop). */
static void flush_pending(double *st, double *pend) {
    Py_ssize_t cap = (Py_ssize_t)st[Q_PEND_CAP], n = (Py_ssize_t)st[Q_PEND_N];
    flush_loop(st + Q_E, pend, pend + 6 * cap, pend + 10 * cap, pend + 13 * cap, st + Q_ENDS, st + Q_MEAN, n);
    st[Q_MEAN + W_GAP_VAR] = st[Q_GAP_VAR];
    st[Q_MEAN_N] = (double)n;
    st[Q_PEND_N] = 0;
}

/* THE filter loop with the quiet-window estimator (VqfFilter with quiet_bias_est_enabled), over the stretches j0 ..
 * n_ends - 1 of a planned block (QuietWindowPlanner): vqf sample by sample, each sample's quat6D into out and, with
 * the bias vqf used for it, into the open window's samples (in a window) or the integrals (outside); F read where a
 * window opens and ends; a window's close updates the bias (close_step) and gives it to vqf. Stops before a stretch
 * that starts with a gap (after ending an open window) and returns its index: the caller bridges the gap and calls
 * again from there with bridged = 1. Returns -1 when the block is done, -2 on an inconsistent plan or state. */
static Py_ssize_t quiet_loop(void *v, const double *gyr, const double *acc, const double *plan, double *out,
                             Py_ssize_t m, Py_ssize_t n_ends, Py_ssize_t j0, int bridged, double *st, double *k,
                             double *pend) {
    Py_ssize_t cap = (Py_ssize_t)st[Q_PEND_CAP];
    double *pp = pend, *pq = pend + 6 * cap, *pb = pend + 10 * cap, *pa = pend + 13 * cap;
    for (Py_ssize_t j = j0; j < n_ends; j++) {
        Py_ssize_t s = j == 0 ? 0 : (Py_ssize_t)plan[N_PLAN * (j - 1) + PLAN_ENDS];
        Py_ssize_t e = (Py_ssize_t)plan[N_PLAN * j + PLAN_ENDS];
        if (s < 0 || e <= s || e > m) return -2;
        int in = plan[N_PLAN * s + PLAN_IN] != 0, gap = plan[N_PLAN * s + PLAN_GAP] != 0;
        int close = plan[N_PLAN * (e - 1) + PLAN_CLOSE] != 0;
        Py_ssize_t n_pend = (Py_ssize_t)st[Q_PEND_N];
        if (!(j == j0 && bridged)) {
            if (!in && n_pend > 0) vqfc_quats(v, st + Q_ENDS + 8); /* F after the window's last sample */
            if (gap) return j;
        }
        if (in && n_pend == 0) vqfc_quats(v, st + Q_ENDS); /* F before the window's first sample */
        if (!in && n_pend > 0) {
            flush_pending(st, pend);
            n_pend = 0;
        }
        if (in && n_pend + (e - s) > cap) return -2;
        for (Py_ssize_t i = s; i < e; i++) {
            double b[3], q[4];
            vqfc_bias_only(v, b); /* the bias a sample's integration used is the one before its update */
            vqfc_update(v, gyr + 3 * i, acc + 3 * i);
            vqfc_quat6d(v, q);
            memcpy(out + 4 * i, q, 4 * sizeof(double));
            if (in) {
                memcpy(pp + N_PLAN * n_pend, plan + N_PLAN * i, N_PLAN * sizeof(double));
                memcpy(pq + 4 * n_pend, q, 4 * sizeof(double));
                memcpy(pb + 3 * n_pend, b, 3 * sizeof(double));
                memcpy(pa + 3 * n_pend, acc + 3 * i, 3 * sizeof(double));
                n_pend++;
            } else {
                integrate_loop(st + Q_E, plan + N_PLAN * i, q, b, 1);
            }
        }
        st[Q_PEND_N] = (double)n_pend;
        if (close) {
            if (n_pend > 0) { /* split at its longest: F after its last sample is now */
                vqfc_quats(v, st + Q_ENDS + 8);
                flush_pending(st, pend);
            }
            double bias[3], *cov = st + Q_COV;
            vqfc_bias_only(v, bias); /* the bias vqf holds now (it may have moved it), updated in place */
            int64_t n = (int64_t)st[Q_MEAN_N];
            st[Q_MEAN_N] = 0;
            if (close_step(st + Q_MEAN, n, k, cov, bias)) {
                st[Q_UPDATES] += 1;
                double var = cov[0]; /* the largest standard deviation (the first of equal ones) */
                if (cov[4] > var) var = cov[4];
                if (cov[8] > var) var = cov[8];
                double sigma = sqrt(var);
                st[Q_SIGMA] = sigma;
                vqfc_set_bias(v, bias, 1e-6 > sigma ? 1e-6 : sigma);
            }
        }
    }
    return -1;
}

/* quiet_run(vqf, gyr (N, 3), acc (N, 3), plan (N, 6), out (N, 4), n_ends, j0, bridged, st (Q_LEN,),
 * k (K_HIST + history x W_LEN,), pend (cap x PEND_ROW,)) -> -1 done, or the stretch to bridge a gap before. */
static PyObject *quiet_run(PyObject *self, PyObject *args) {
    PyObject *cap;
    Py_buffer gyr, acc, plan, out, st, k, pend;
    Py_ssize_t n_ends, j0;
    int bridged;
    if (!PyArg_ParseTuple(args, "Oy*y*y*w*nnpw*w*w*", &cap, &gyr, &acc, &plan, &out, &n_ends, &j0, &bridged, &st,
                          &k, &pend))
        return NULL;
    void *v = vqf_of(cap);
    Py_ssize_t d = (Py_ssize_t)sizeof(double), m = plan.len / (N_PLAN * d), res = -2;
    int ok = v != NULL && plan.len == N_PLAN * m * d && gyr.len >= 3 * m * d && acc.len >= 3 * m * d
             && out.len >= 4 * m * d && 0 <= j0 && j0 <= n_ends && n_ends <= m && st.len >= Q_LEN * d
             && k.len >= K_HIST * d;
    if (ok) {
        const double *s = st.buf, *kk = k.buf;
        double kept = kk[K_HISTORY], count = kk[K_COUNT], room = s[Q_PEND_CAP];
        ok = kept >= 1 && k.len >= (K_HIST + (Py_ssize_t)kept * W_LEN) * d && count >= 0 && count <= kept
             && room >= 1 && pend.len >= (Py_ssize_t)room * PEND_ROW * d && s[Q_PEND_N] >= 0 && s[Q_PEND_N] <= room;
    }
    if (ok) {
        PyThreadState *ts = m > 256 ? PyEval_SaveThread() : NULL; /* a block (not live's one sample): the GIL */
        res = quiet_loop(v, gyr.buf, acc.buf, plan.buf, out.buf, m, n_ends, j0, bridged, st.buf, k.buf, pend.buf);
        if (ts != NULL) PyEval_RestoreThread(ts);
    }
    PyBuffer_Release(&gyr); PyBuffer_Release(&acc); PyBuffer_Release(&plan); PyBuffer_Release(&out);
    PyBuffer_Release(&st); PyBuffer_Release(&k); PyBuffer_Release(&pend);
    if (v == NULL) return NULL;
    if (!ok || res == -2) {
        PyErr_SetString(PyExc_ValueError, ok ? "quiet_run: the plan's stretches or a window's length do not fit"
                                             : "quiet_run: buffer sizes do not match");
        return NULL;
    }
    return PyLong_FromSsize_t(res);
}

static PyMethodDef methods[] = {
    {"up_rows", up_rows, METH_VARARGS, "up_rows(q (N, 4), out (N, 3)): earth up in the sensor frame."},
    {"plan_run", plan_run, METH_VARARGS, "plan_run(gyr, acc, dt, st, out) -> stretches: the quiet-window planner."},
    {"vqf_new", vqf_new, METH_VARARGS, "vqf_new(ts_s, params) -> a VQF object (capsule)."},
    {"vqf_reset", vqf_reset, METH_VARARGS, "vqf_reset(vqf): vqf's resetState."},
    {"vqf_bias", vqf_bias, METH_VARARGS, "vqf_bias(vqf, out (3,)) -> sigma: the bias estimate and its uncertainty, rad/s."},
    {"vqf_set_bias", vqf_set_bias, METH_VARARGS, "vqf_set_bias(vqf, bias (3,), sigma): setBiasEstimate."},
    {"vqf_state", vqf_state, METH_VARARGS, "vqf_state(vqf, out (17,)): gyrQuat, accQuat, accLpState, lastAccLp."},
    {"vqf_set_state", vqf_set_state, METH_VARARGS, "vqf_set_state(vqf, state (17,)): those fields set."},
    {"vqf_acc_lp_coeffs", vqf_acc_lp_coeffs, METH_VARARGS, "vqf_acc_lp_coeffs(vqf, out (5,)): accLpB, accLpA."},
    {"vqf_quat_multiply", vqf_quat_multiply, METH_VARARGS, "vqf_quat_multiply(q1, q2, out): VQF's q1 * q2."},
    {"vqf_run", vqf_run, METH_VARARGS, "vqf_run(vqf, gyr, acc, out): N updates, quat6D each."},
    {"quiet_run", quiet_run, METH_VARARGS, "quiet_run(vqf, gyr, acc, plan, out, n_ends, j0, bridged, st, k, pend) -> j."},
    {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fusion_loops", "The fusion stage's compiled loops.",
                                    -1, methods, NULL, NULL, NULL, NULL};
PyMODINIT_FUNC PyInit__fusion_loops(void) { return PyModule_Create(&module); }
