/* THE hinge detector loop (imu_hinge.detection.detector): rep state machine, fault rules and
 * per-rep metrics over a block of output rows of any length. Live passes blocks of one row, batch
 * the whole recording: one implementation for both. State, tables and parameters live in arrays
 * owned by the Python HingeDetector; their layouts are declared there (the indices below match).
 * Plain C99, no Python API in the loop; loaded with ctypes. */
#include <math.h>
#include <stdint.h>
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* float state fs */
enum { LAST_T, IDLE_VALLEY_T, IDLE_VALLEY_TIME, P_ABOVE, L_ABOVE = 5, C_START = 7, C_PEAK_T, C_PEAK_TIME,
       C_P_AT_PEAK, C_VALLEY_T, C_VALLEY_TIME, C_L_CROSS, C_P_CROSS = 15, C_ABOVE_SINCE = 17, IDLE_VALLEY_P,
       IDLE_VALLEY_L };
/* int state st */
enum { HAS_CAND, GAP_OPEN, C_INCOMPLETE, C_ALERTED, C_LED, C_VALLEY_INDEX, ROW0, NROWS, N_REPS, N_PEND,
       N_EV, N_REC, C_GAP_BEFORE, SEEN_T };
/* parameters par */
enum { START_DEG, END_DEG, SETTLE_DEG, STANDING_DEG, MIN_PEAK_DEG, MIN_DUR_S, MAX_DUR_S, VALLEY_FRAC,
       VALLEY_RISE_DEG, BOTTOM_BAND_DEG, THRESHOLD_DEG, HOLD_S, LOCKOUT_EXT_DEG, WIN0_S, WIN1_S, LED_DEG,
       ONSET_DEG, MAX_GAP_S, GAP_ACCEL, SEAT_P_DEG, SEAT_MAX_PEAK_DEG };
/* event kinds */
enum { EV_STARTED, EV_LUMBAR_LED, EV_LUMBAR_FLEXION, EV_REP, EV_LOCKOUT, EV_WINDOW_CLOSED };
/* rep table columns */
enum { R_INDEX, R_START, R_BOTTOM, R_END, R_PEAK_P, R_PEAK_T, R_PEAK_L, R_MIN_L, R_SHARE, R_LAG, R_DESCENT,
       R_HOLD, R_ASCENT, R_ABOVE, R_INCOMPLETE, N_REC_COLS };

typedef struct {
    double *fs; int64_t *st; double *rows; int64_t rows_cap; double *pend; int64_t pend_cap;
    double *ev; int64_t ev_cap; double *rec; int64_t rec_cap; const double *par;
} Det;

static void event(Det *d, int kind, double t, double value, double index) {
    double *e = d->ev + 4 * d->st[N_EV]++;
    e[0] = kind; e[1] = t; e[2] = value; e[3] = index;
}

/* Keep one row in the candidate; a new peak of T forgets the valley after the old peak. */
static void add_row(Det *d, double t, double p, double tr, double lum) {
    double *fs = d->fs; int64_t *st = d->st;
    double *r = d->rows + 4 * (st[ROW0] + st[NROWS]++);
    r[0] = t; r[1] = p; r[2] = tr; r[3] = lum;
    if (tr > fs[C_PEAK_T]) {
        fs[C_PEAK_T] = tr; fs[C_PEAK_TIME] = t; fs[C_P_AT_PEAK] = p;
        fs[C_VALLEY_T] = INFINITY; fs[C_VALLEY_TIME] = NAN; st[C_VALLEY_INDEX] = -1;
    }
}

/* A fresh candidate; its crossings are those already under way (P or L above a level). */
static void new_candidate(Det *d, double start_s, int64_t row0) {
    double *fs = d->fs; int64_t *st = d->st;
    st[HAS_CAND] = 1; st[ROW0] = row0; st[NROWS] = 0;
    st[C_INCOMPLETE] = 0; st[C_GAP_BEFORE] = 0; st[C_ALERTED] = 0; st[C_LED] = 0; st[C_VALLEY_INDEX] = -1;
    fs[C_START] = start_s; fs[C_PEAK_T] = -INFINITY; fs[C_PEAK_TIME] = NAN; fs[C_P_AT_PEAK] = NAN;
    fs[C_VALLEY_T] = INFINITY; fs[C_VALLEY_TIME] = NAN; fs[C_ABOVE_SINCE] = NAN;
    for (int k = 0; k < 2; k++) {
        fs[C_P_CROSS + k] = fs[P_ABOVE + k];
        fs[C_L_CROSS + k] = fs[L_ABOVE + k];
    }
}

/* The metrics of the candidate's first n_rows rows as a new row of the rep table. */
static void make_rep(Det *d, double end_s, int64_t n_rows) {
    double *fs = d->fs; int64_t *st = d->st; const double *par = d->par;
    int64_t r0 = st[ROW0];
    double peak_t = fs[C_PEAK_T];
    double peak_p = -INFINITY, peak_l = -INFINITY, min_l = INFINITY, above = 0.0, hold = 0.0;
    for (int64_t i = r0; i < r0 + n_rows; i++) {
        const double *r = d->rows + 4 * i;
        if (!isnan(r[1]) && r[1] > peak_p) peak_p = r[1];
        if (!isnan(r[3])) {
            if (r[3] > peak_l) peak_l = r[3];
            if (r[3] < min_l) min_l = r[3];
        }
        if (i > r0) {
            double dt = r[0] - r[-4];
            if (dt > par[MAX_GAP_S]) continue;
            if (r[3] > par[THRESHOLD_DEG]) above += dt;
            if (r[2] >= peak_t - par[BOTTOM_BAND_DEG]) hold += dt;
        }
    }
    /* NaN when L never crossed the onset level, or P did not (an infinite lag: none) */
    double lag = isnan(fs[C_P_CROSS + 1]) ? NAN : fs[C_L_CROSS + 1] - fs[C_P_CROSS + 1];
    double *out = d->rec + N_REC_COLS * st[N_REC]++;
    out[R_INDEX] = (double)st[N_REPS]; out[R_START] = fs[C_START]; out[R_BOTTOM] = fs[C_PEAK_TIME];
    out[R_END] = end_s;
    out[R_PEAK_P] = peak_p > -INFINITY ? peak_p : NAN;
    out[R_PEAK_T] = peak_t;
    out[R_PEAK_L] = peak_l > -INFINITY ? peak_l : NAN;
    out[R_MIN_L] = min_l < INFINITY ? min_l : NAN;
    out[R_SHARE] = peak_t > 0 ? fs[C_P_AT_PEAK] / peak_t : NAN;
    out[R_LAG] = lag;
    out[R_DESCENT] = fs[C_PEAK_TIME] - fs[C_START];
    out[R_HOLD] = hold; out[R_ASCENT] = end_s - fs[C_PEAK_TIME]; out[R_ABOVE] = above;
    out[R_INCOMPLETE] = (double)st[C_INCOMPLETE];
}

/* The highest T that a gap between two of the candidate's first n_rows rows could hide, if the trunk turns no
 * faster than GAP_ACCEL (deg/s^2) and leaves and meets the gap at the rates of the rows beside it: the most of
 * the two bounds T_b + w_b x + a x^2 / 2 (from the row before) and T_a - w_a (g - x) + a (g - x)^2 / 2 (from
 * the row after); their difference is linear in x, so the most of the lower one is at an edge or where they
 * cross. INFINITY where a gap's edge rate is unknown (no row beside it, or a gap there too): any depth. */
static double hidden_peak(const Det *d, int64_t n_rows) {
    const double *par = d->par, *rows = d->rows + 4 * d->st[ROW0];
    double most = -INFINITY, a = par[GAP_ACCEL];
    for (int64_t j = 1; j < n_rows; j++) {
        const double *b = rows + 4 * (j - 1), *f = rows + 4 * j;  /* the rows before and after */
        double g = f[0] - b[0];
        if (g <= par[MAX_GAP_S]) continue;
        if (j < 2 || j + 1 >= n_rows) return INFINITY;
        const double *b0 = b - 4, *f1 = f + 4;
        if (b[0] - b0[0] > par[MAX_GAP_S] || f1[0] - f[0] > par[MAX_GAP_S]) return INFINITY;
        double wb = (b[2] - b0[2]) / (b[0] - b0[0]), wa = (f1[2] - f[2]) / (f1[0] - f[0]);  /* the edge rates */
        double lo0 = fmin(b[2], f[2] - wa * g + 0.5 * a * g * g), lo1 = fmin(b[2] + wb * g + 0.5 * a * g * g, f[2]);
        double top = fmax(lo0, lo1);
        double c1 = wb - wa + a * g, c0 = b[2] - f[2] + wa * g - 0.5 * a * g * g;  /* from-before minus from-after */
        if (c1 != 0.0) {
            double x = -c0 / c1;
            if (x > 0.0 && x < g) top = fmax(top, b[2] + wb * x + 0.5 * a * x * x);
        }
        if (top > most) most = top;
    }
    return most;
}

/* End the candidate at end_s: a rep (its lockout window opens) or nothing; at a valley between
 * two swings a new candidate starts there with the rows after it. */
static void close_rep(Det *d, double end_s, double t_now, int restart) {
    double *fs = d->fs; int64_t *st = d->st; const double *par = d->par;
    st[HAS_CAND] = 0;
    fs[IDLE_VALLEY_T] = INFINITY; fs[IDLE_VALLEY_TIME] = NAN;
    int64_t r0 = st[ROW0], nr = st[NROWS];
    int64_t n_rows = restart ? st[C_VALLEY_INDEX] + 1 : nr;
    double duration = end_s - fs[C_START], peak_t = fs[C_PEAK_T];
    /* a gap may hide the bottom: such a candidate is reported (incomplete), never silently dropped; one that
     * began after a gap may have had its bottom in it, one with gaps inside where they could hide the depth */
    int deep_enough = peak_t >= par[MIN_PEAK_DEG]
        || (st[C_INCOMPLETE] == 1 && peak_t >= 2 * par[START_DEG]
            && (st[C_GAP_BEFORE] == 1 || hidden_peak(d, n_rows) >= par[MIN_PEAK_DEG]));
    /* the lean of rising from a seat or sitting down: seated at one end (the pelvis tipped back, the trunk
     * upright of it: the lumbar spine flexed) and the pelvis forward of that at the other; a rep starts and ends
     * standing (NaN: no test). The start: the most upright moment before it (its posture kept by the idle branch,
     * untouched while a candidate runs); the end: the last row kept (the row that ended it), where a rep's pelvis
     * is still a few degrees forward of standing (the ascent's last part): an end forward of a seated start by
     * twice seat, or an end seated by seat back of the start */
    double seat = par[SEAT_P_DEG], p0 = fs[IDLE_VALLEY_P], p1 = d->rows[4 * (r0 + nr - 1) + 1];
    /* (at the last row the trunk still leans by about end_deg: L >= seat whenever P <= -seat there) */
    int seated0 = p0 <= -seat && fs[IDLE_VALLEY_L] >= seat, seated1 = p1 <= -seat;
    int seat_lean = !restart && peak_t < par[SEAT_MAX_PEAK_DEG]
        && ((seated0 && p1 - p0 >= 2 * seat) || (seated1 && p0 - p1 >= seat));
    if (deep_enough && !seat_lean && par[MIN_DUR_S] <= duration && duration <= par[MAX_DUR_S]) {
        st[N_REPS] += 1;
        event(d, EV_REP, end_s, 0.0, (double)st[N_REC]);
        make_rep(d, end_s, n_rows);
        double lo = end_s + par[WIN0_S], min_l = INFINITY;
        for (int64_t i = r0; i < r0 + nr; i++) {  /* every row kept, past the valley too */
            const double *r = d->rows + 4 * i;
            if (r[0] >= lo && !isnan(r[3]) && r[3] < min_l) min_l = r[3];
        }
        double *q = d->pend + 4 * st[N_PEND]++;
        q[0] = end_s + par[WIN1_S]; q[1] = min_l; q[2] = 0.0; q[3] = (double)st[N_REPS];
    }
    if (restart) {
        int64_t tail = r0 + st[C_VALLEY_INDEX];
        new_candidate(d, fs[C_VALLEY_TIME], tail);
        fs[IDLE_VALLEY_P] = NAN; fs[IDLE_VALLEY_L] = NAN;  /* begun at a valley: no upright moment before it */
        for (int64_t i = tail; i < r0 + nr; i++) {  /* in place */
            const double *r = d->rows + 4 * i;
            add_row(d, r[0], r[1], r[2], r[3]);
        }
        event(d, EV_STARTED, t_now, 0.0, (double)(st[N_REPS] + 1));
    } else {
        st[ROW0] = 0; st[NROWS] = 0;
    }
}

static void update_pending(Det *d, double t, double lum) {
    int64_t *st = d->st; int64_t keep = 0;
    for (int64_t j = 0; j < st[N_PEND]; j++) {
        double *q = d->pend + 4 * j;
        if (t <= q[0]) {
            if (!isnan(lum) && lum < q[1]) q[1] = lum;
            if (q[1] < -d->par[LOCKOUT_EXT_DEG] && q[2] == 0.0) {
                q[2] = 1.0;
                event(d, EV_LOCKOUT, t, q[1], q[3]);
            }
            double *to = d->pend + 4 * keep++;
            if (to != q) { to[0] = q[0]; to[1] = q[1]; to[2] = q[2]; to[3] = q[3]; }
        } else {
            event(d, EV_WINDOW_CLOSED, t, q[1], q[3]);
        }
    }
    st[N_PEND] = keep;
}

/* Room in every table for one more row's entries? */
static int room(const Det *d) {
    const int64_t *st = d->st;
    return !(st[N_EV] + st[N_PEND] + 8 > d->ev_cap || st[N_PEND] + 2 > d->pend_cap || st[N_REC] + 2 > d->rec_cap
             || st[ROW0] + st[NROWS] + 2 > d->rows_cap);
}

/* THE loop: rows i0.. in order, until the tables need room; returns the next row. */
int64_t hinge_detect(Det *d, const double *t, const double *p, const double *tr, const double *lum, int64_t n,
                     int64_t i0) {
    double *fs = d->fs; int64_t *st = d->st; const double *par = d->par;
    const double levels[2] = {par[LED_DEG], par[ONSET_DEG]};
    int64_t i = i0;
    while (i < n) {
        if (!room(d)) return i;
        double ti = t[i], pi = p[i], tri = tr[i], li = lum[i];
        i++;
        int gap = !isnan(fs[LAST_T]) && (ti - fs[LAST_T] > par[MAX_GAP_S]);
        fs[LAST_T] = ti;
        if (st[N_PEND] > 0) update_pending(d, ti, li);
        if (isnan(tri)) {  /* (before the first T of all there is nothing a gap could have hidden) */
            if (st[HAS_CAND]) st[C_INCOMPLETE] = 1;
            else if (st[SEEN_T]) st[GAP_OPEN] = 1;
            continue;
        }
        if (gap && !st[HAS_CAND] && st[SEEN_T]) st[GAP_OPEN] = 1;
        st[SEEN_T] = 1;
        for (int k = 0; k < 2; k++) {  /* since when P and L are above each level (1 deg of hysteresis) */
            if (!isnan(pi)) {
                if (pi >= levels[k]) { if (isnan(fs[P_ABOVE + k])) fs[P_ABOVE + k] = ti; }
                else if (pi < levels[k] - 1.0) fs[P_ABOVE + k] = NAN;
            }
            if (!isnan(li)) {
                if (li >= levels[k]) { if (isnan(fs[L_ABOVE + k])) fs[L_ABOVE + k] = ti; }
                else if (li < levels[k] - 1.0) fs[L_ABOVE + k] = NAN;
            }
        }
        if (!st[HAS_CAND]) {
            if (tri <= par[STANDING_DEG]) st[GAP_OPEN] = 0;
            if (tri < fs[IDLE_VALLEY_T]) {  /* the most upright moment since the last rep: its posture */
                fs[IDLE_VALLEY_T] = tri; fs[IDLE_VALLEY_P] = pi; fs[IDLE_VALLEY_L] = li;
            }
            if (tri <= fmax(fs[IDLE_VALLEY_T] + par[SETTLE_DEG], par[STANDING_DEG])) fs[IDLE_VALLEY_TIME] = ti;
            if (tri <= par[START_DEG]) continue;
            double start = !isnan(fs[IDLE_VALLEY_TIME]) ? fs[IDLE_VALLEY_TIME] : ti;
            new_candidate(d, start, 0);
            st[C_INCOMPLETE] = st[GAP_OPEN];
            st[C_GAP_BEFORE] = st[GAP_OPEN];
            event(d, EV_STARTED, ti, 0.0, (double)(st[N_REPS] + 1));
        }
        if (gap || isnan(pi) || isnan(li)) st[C_INCOMPLETE] = 1;
        /* in a rep */
        add_row(d, ti, pi, tri, li);
        int descending = isnan(fs[C_PEAK_TIME]) || ti <= fs[C_PEAK_TIME];
        for (int k = 0; k < 2; k++) {
            if (!isnan(li) && li >= levels[k] && isnan(fs[C_L_CROSS + k])) fs[C_L_CROSS + k] = ti;
            if (!isnan(pi) && pi >= levels[k] && isnan(fs[C_P_CROSS + k])) fs[C_P_CROSS + k] = ti;
        }
        if (descending && !st[C_LED] && !isnan(fs[C_L_CROSS]) && isnan(fs[C_P_CROSS])) {
            st[C_LED] = 1;
            event(d, EV_LUMBAR_LED, ti, li, (double)(st[N_REPS] + 1));
        }
        if (!isnan(li) && li > par[THRESHOLD_DEG]) {
            if (isnan(fs[C_ABOVE_SINCE])) fs[C_ABOVE_SINCE] = ti;
            if (!st[C_ALERTED] && ti - fs[C_ABOVE_SINCE] >= par[HOLD_S] - 1e-9) {
                st[C_ALERTED] = 1;
                event(d, EV_LUMBAR_FLEXION, ti, li, (double)(st[N_REPS] + 1));
            }
        } else {
            fs[C_ABOVE_SINCE] = NAN;
        }
        /* end of the rep: back to standing, or a valley between two swings */
        if (tri < par[END_DEG]) {
            close_rep(d, ti, ti, 0);
        } else if (fs[C_PEAK_T] >= par[MIN_PEAK_DEG] && ti > fs[C_PEAK_TIME]) {
            if (tri < fs[C_VALLEY_T]) {
                fs[C_VALLEY_T] = tri; fs[C_VALLEY_TIME] = ti; st[C_VALLEY_INDEX] = st[NROWS] - 1;
            } else if (fs[C_VALLEY_T] < par[VALLEY_FRAC] * fs[C_PEAK_T]
                       && tri > fs[C_VALLEY_T] + par[VALLEY_RISE_DEG]) {
                close_rep(d, fs[C_VALLEY_TIME], ti, 1);
            }
        }
    }
    return i;
}

/* One row (the live driver's block of one, without building arrays): 0 when it raised nothing
 * and the tables have room for the next, -1 when it could not be taken yet (room first), else 1. */
int64_t hinge_detect_row(Det *d, double t, double p, double tr, double lum) {
    if (hinge_detect(d, &t, &p, &tr, &lum, 1, 0) == 0) return -1;
    return (d->st[N_EV] == 0 && room(d)) ? 0 : 1;
}

/* An (empty) extension module too, so that setuptools builds and installs it on every platform. */
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_detect", "The detector loop (called with ctypes).",
                                    -1, NULL, NULL, NULL, NULL, NULL};
PyMODINIT_FUNC PyInit__detect(void) { return PyModule_Create(&module); }
