/* tokkit.quant._kernels: the one pass after the nearest-code GEMM (and the FSQ / LFQ passes below).
 *
 * For each row i of a (n, k) block of products p = x . c (float32, float64 or bfloat16, row stride ld),
 * the score of code j is s_j = bias_j + alpha * p_ij, rounded once to the work precision (alpha is -2
 * or -1, so alpha * p is exact). One read of the row keeps the index of the smallest score (the
 * smallest index on ties), its value and the second-smallest value, then flags the row when the
 * runner-up lies inside the certified window best + 2 * (cross * |x_i| + constant), or when a score
 * was not finite (overflow: every code is then a candidate). Flagged rows get their window written
 * (NaN for overflow) and are re-decided in float64 by the caller.
 *
 * Plain C and the CPython API only (no numpy or torch headers): it builds with the system compiler
 * at `pip install .`; when it cannot, tokkit runs the same search in torch. Pointers arrive as
 * integers (tensor.data_ptr()); the GIL is released while it runs, so worker threads scan in parallel.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

enum { F32 = 0, F64 = 1, BF16 = 2 };

static inline float bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define MULTIVERSION
#endif

#define BLOCK 32

/* One row: best index, best value, runner-up value, whether any score was NaN. Blocks of BLOCK
 * scores are computed and tested together ("is any below the runner-up, or NaN?"), a loop the
 * compiler vectorises; only the rare blocks that pass are walked one score at a time. Scores are
 * float for float32/bfloat16 products (float32 bias), double for float64 products. */
#define DEFINE_ROW(NAME, T_IN, T_SCORE, LOAD)                                                       \
    MULTIVERSION static void NAME(const T_IN *restrict p, const T_SCORE *restrict bias, T_SCORE a,  \
                                  int64_t k, double *best, double *second, int64_t *index, int *bad) { \
        T_SCORE b1 = (T_SCORE)INFINITY, b2 = (T_SCORE)INFINITY;                                      \
        int64_t at = 0;                                                                              \
        int nan_seen = 0;                                                                            \
        T_SCORE s[BLOCK];                                                                            \
        for (int64_t start = 0; start < k; start += BLOCK) {                                         \
            int64_t m = k - start < BLOCK ? k - start : BLOCK;                                       \
            int hit = 0;                                                                             \
            for (int64_t j = 0; j < m; j++) {                                                        \
                T_SCORE v = bias[start + j] + a * (T_SCORE)(LOAD(p[start + j]));                     \
                s[j] = v;                                                                            \
                hit |= (v < b2) | (v != v);                                                          \
            }                                                                                        \
            if (!hit) continue;                                                                      \
            for (int64_t j = 0; j < m; j++) {                                                        \
                T_SCORE v = s[j];                                                                    \
                if (v < b2) {                                                                        \
                    if (v < b1) {                                                                    \
                        b2 = b1;                                                                     \
                        b1 = v;                                                                      \
                        at = start + j;                                                              \
                    } else {                                                                         \
                        b2 = v;                                                                      \
                    }                                                                                \
                } else if (v != v) {                                                                 \
                    nan_seen = 1;                                                                    \
                }                                                                                    \
            }                                                                                        \
        }                                                                                            \
        *best = (double)b1;                                                                          \
        *second = (double)b2;                                                                        \
        *index = at;                                                                                 \
        *bad = nan_seen;                                                                             \
    }

#define LOAD_PLAIN(x) (x)
#define LOAD_BF16(x) bf16_to_f32(x)
DEFINE_ROW(row_f32, float, float, LOAD_PLAIN)
DEFINE_ROW(row_f64, double, double, LOAD_PLAIN)
DEFINE_ROW(row_bf16, uint16_t, float, LOAD_BF16)

static PyObject *scan(PyObject *self, PyObject *args) {
    unsigned long long products_p, bias_p, norms_p, index_p, flag_p, window_p;
    int dtype;
    Py_ssize_t n, k, ld;
    double alpha, cross, constant;
    if (!PyArg_ParseTuple(args, "KinnnKdKddKKK", &products_p, &dtype, &n, &k, &ld, &bias_p, &alpha, &norms_p,
                          &cross, &constant, &index_p, &flag_p, &window_p))
        return NULL;
    if (dtype != F32 && dtype != F64 && dtype != BF16) {
        PyErr_SetString(PyExc_ValueError, "scan: dtype must be 0 (float32), 1 (float64) or 2 (bfloat16)");
        return NULL;
    }
    if (n < 0 || k < 1 || ld < k) {
        PyErr_SetString(PyExc_ValueError, "scan: need n >= 0, k >= 1 and ld >= k");
        return NULL;
    }
    int64_t *index_out = (int64_t *)(uintptr_t)index_p;
    uint8_t *flag_out = (uint8_t *)(uintptr_t)flag_p;
    double *window_out = (double *)(uintptr_t)window_p;
    Py_ssize_t flagged = 0;

    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        double best, second, norm;
        int64_t index;
        int bad;
        if (dtype == F64) {
            row_f64((const double *)(uintptr_t)products_p + i * ld, (const double *)(uintptr_t)bias_p, alpha, k,
                    &best, &second, &index, &bad);
            norm = ((const double *)(uintptr_t)norms_p)[i];
        } else if (dtype == F32) {
            row_f32((const float *)(uintptr_t)products_p + i * ld, (const float *)(uintptr_t)bias_p, (float)alpha, k,
                    &best, &second, &index, &bad);
            norm = ((const float *)(uintptr_t)norms_p)[i];
        } else {
            row_bf16((const uint16_t *)(uintptr_t)products_p + i * ld, (const float *)(uintptr_t)bias_p,
                     (float)alpha, k, &best, &second, &index, &bad);
            norm = ((const float *)(uintptr_t)norms_p)[i];
        }
        double window = best + 2.0 * (cross * norm + constant);
        index_out[i] = index;
        if (bad || !isfinite(window)) {
            flag_out[i] = 1;
            window_out[i] = NAN;
            flagged++;
        } else if (second <= window) {
            flag_out[i] = 1;
            window_out[i] = window;
            flagged++;
        } else {
            flag_out[i] = 0;
        }
    }
    Py_END_ALLOW_THREADS

    return PyLong_FromSsize_t(flagged);
}

/* The candidates of the rows a scan flagged: for the f-th flagged row i (flags[i] != 0, in row order) every
 * code j whose score, computed exactly as in scan, is <= window[i] (every code where the window is NaN),
 * written as the pairs (f, j) in that order, at most `capacity` of them. Returns the number of pairs there
 * are: the caller calls again with a larger buffer when it exceeds `capacity`. */
#define DEFINE_CANDIDATES(NAME, T_IN, T_SCORE, LOAD)                                                  \
    MULTIVERSION static int64_t NAME(const T_IN *restrict products, int64_t n, int64_t k, int64_t ld,  \
                                     const T_SCORE *restrict bias, T_SCORE a, const uint8_t *flags,     \
                                     const double *window, int64_t *rows_out, int64_t *codes_out,       \
                                     int64_t capacity) {                                                \
        int64_t count = 0, f = 0;                                                                      \
        for (int64_t i = 0; i < n; i++) {                                                              \
            if (!flags[i])                                                                             \
                continue;                                                                              \
            const T_IN *p = products + i * ld;                                                         \
            double limit = window[i];                                                                  \
            int every = limit != limit;                                                                \
            for (int64_t j = 0; j < k; j++) {                                                          \
                T_SCORE v = bias[j] + a * (T_SCORE)(LOAD(p[j]));                                       \
                if (every || (double)v <= limit) {                                                     \
                    if (count < capacity) {                                                            \
                        rows_out[count] = f;                                                           \
                        codes_out[count] = j;                                                          \
                    }                                                                                  \
                    count++;                                                                           \
                }                                                                                      \
            }                                                                                          \
            f++;                                                                                       \
        }                                                                                              \
        return count;                                                                                  \
    }

DEFINE_CANDIDATES(candidates_f32, float, float, LOAD_PLAIN)
DEFINE_CANDIDATES(candidates_f64, double, double, LOAD_PLAIN)
DEFINE_CANDIDATES(candidates_bf16, uint16_t, float, LOAD_BF16)

static PyObject *candidates(PyObject *self, PyObject *args) {
    unsigned long long products_p, bias_p, flag_p, window_p, rows_p, codes_p;
    int dtype;
    Py_ssize_t n, k, ld, capacity;
    double alpha;
    if (!PyArg_ParseTuple(args, "KinnnKdKKKKn", &products_p, &dtype, &n, &k, &ld, &bias_p, &alpha, &flag_p,
                          &window_p, &rows_p, &codes_p, &capacity))
        return NULL;
    if (dtype != F32 && dtype != F64 && dtype != BF16) {
        PyErr_SetString(PyExc_ValueError, "candidates: dtype must be 0 (float32), 1 (float64) or 2 (bfloat16)");
        return NULL;
    }
    if (n < 0 || k < 1 || ld < k || capacity < 0) {
        PyErr_SetString(PyExc_ValueError, "candidates: need n >= 0, k >= 1, ld >= k and capacity >= 0");
        return NULL;
    }
    const uint8_t *flags = (const uint8_t *)(uintptr_t)flag_p;
    const double *window = (const double *)(uintptr_t)window_p;
    int64_t *rows_out = (int64_t *)(uintptr_t)rows_p, *codes_out = (int64_t *)(uintptr_t)codes_p;
    int64_t count;
    Py_BEGIN_ALLOW_THREADS
    if (dtype == F64)
        count = candidates_f64((const double *)(uintptr_t)products_p, n, k, ld, (const double *)(uintptr_t)bias_p,
                               alpha, flags, window, rows_out, codes_out, capacity);
    else if (dtype == F32)
        count = candidates_f32((const float *)(uintptr_t)products_p, n, k, ld, (const float *)(uintptr_t)bias_p,
                               (float)alpha, flags, window, rows_out, codes_out, capacity);
    else
        count = candidates_bf16((const uint16_t *)(uintptr_t)products_p, n, k, ld, (const float *)(uintptr_t)bias_p,
                                (float)alpha, flags, window, rows_out, codes_out, capacity);
    Py_END_ALLOW_THREADS
    return PyLong_FromLongLong(count);
}

/* The float64 re-check of flagged rows (L2): for each (row, code) pair, ||x_row - c_code||^2 summed in
 * float64 from float32 or float64 inputs; each row keeps its least distance, the smallest code on ties.
 * rows (m, d) row stride ld_rows, codes (K, d) row stride ld_codes; best_out (m,) starts at K for rows
 * without pairs. */
#define DEFINE_RECHECK(NAME, T_ROW, T_CODE)                                                          \
    MULTIVERSION static void NAME(const T_ROW *restrict x, int64_t ld_x, const T_CODE *restrict c,     \
                                  int64_t ld_c, int64_t d, const int64_t *pair_rows,                   \
                                  const int64_t *pair_codes, int64_t pairs, int64_t m, int64_t k,      \
                                  double *least, int64_t *best_out) {                                  \
        for (int64_t i = 0; i < m; i++) {                                                            \
            least[i] = INFINITY;                                                                     \
            best_out[i] = k;                                                                         \
        }                                                                                            \
        for (int64_t q = 0; q < pairs; q++) {                                                        \
            int64_t r = pair_rows[q], j = pair_codes[q];                                             \
            const T_ROW *xr = x + r * ld_x;                                                          \
            const T_CODE *cj = c + j * ld_c;                                                         \
            double acc[4] = {0.0, 0.0, 0.0, 0.0};                                                    \
            int64_t t = 0;                                                                           \
            for (; t + 4 <= d; t += 4)                                                               \
                for (int u = 0; u < 4; u++) {                                                        \
                    double diff = (double)xr[t + u] - (double)cj[t + u];                             \
                    acc[u] += diff * diff;                                                           \
                }                                                                                    \
            for (; t < d; t++) {                                                                     \
                double diff = (double)xr[t] - (double)cj[t];                                         \
                acc[0] += diff * diff;                                                               \
            }                                                                                        \
            double dist = (acc[0] + acc[1]) + (acc[2] + acc[3]);                                     \
            if (dist < least[r] || (dist == least[r] && j < best_out[r])) {                          \
                least[r] = dist;                                                                     \
                best_out[r] = j;                                                                     \
            }                                                                                        \
        }                                                                                            \
    }

DEFINE_RECHECK(recheck_ff, float, float)
DEFINE_RECHECK(recheck_fd, float, double)
DEFINE_RECHECK(recheck_df, double, float)
DEFINE_RECHECK(recheck_dd, double, double)

static PyObject *recheck(PyObject *self, PyObject *args) {
    unsigned long long x_p, c_p, rows_p, codes_p, least_p, best_p;
    int x_dtype, c_dtype;
    Py_ssize_t ld_x, ld_c, d, pairs, m, k;
    if (!PyArg_ParseTuple(args, "KinKinnKKnnnKK", &x_p, &x_dtype, &ld_x, &c_p, &c_dtype, &ld_c, &d, &rows_p,
                          &codes_p, &pairs, &m, &k, &least_p, &best_p))
        return NULL;
    if ((x_dtype != F32 && x_dtype != F64) || (c_dtype != F32 && c_dtype != F64)) {
        PyErr_SetString(PyExc_ValueError, "recheck: dtypes must be 0 (float32) or 1 (float64)");
        return NULL;
    }
    if (d < 1 || ld_x < d || ld_c < d || pairs < 0 || m < 0 || k < 1) {
        PyErr_SetString(PyExc_ValueError, "recheck: need d >= 1, ld >= d, pairs >= 0, m >= 0, k >= 1");
        return NULL;
    }
    const int64_t *pr = (const int64_t *)(uintptr_t)rows_p, *pc = (const int64_t *)(uintptr_t)codes_p;
    double *least = (double *)(uintptr_t)least_p;
    int64_t *best = (int64_t *)(uintptr_t)best_p;
    Py_BEGIN_ALLOW_THREADS
    if (x_dtype == F32 && c_dtype == F32)
        recheck_ff((const float *)(uintptr_t)x_p, ld_x, (const float *)(uintptr_t)c_p, ld_c, d, pr, pc, pairs, m, k, least, best);
    else if (x_dtype == F32)
        recheck_fd((const float *)(uintptr_t)x_p, ld_x, (const double *)(uintptr_t)c_p, ld_c, d, pr, pc, pairs, m, k, least, best);
    else if (c_dtype == F32)
        recheck_df((const double *)(uintptr_t)x_p, ld_x, (const float *)(uintptr_t)c_p, ld_c, d, pr, pc, pairs, m, k, least, best);
    else
        recheck_dd((const double *)(uintptr_t)x_p, ld_x, (const double *)(uintptr_t)c_p, ld_c, d, pr, pc, pairs, m, k, least, best);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

/* FSQ: one pass from projected latents (n, c) (float32, row stride ld) to mixed-radix indices.
 * Channel ch has levels[ch] bins; its bin is the number of thresholds it lies above, where threshold j
 * of channel ch is the open interval (lo, hi) = thresholds[(ch * stride + j) * 2 + {0, 1}] around the
 * latent at which tanh-bounding and rounding in float32 change bin. A latent inside an interval is too
 * close to call without torch's own float32 arithmetic: its row is flagged and the caller re-runs the
 * torch path on it, so the result equals that path exactly. No transcendental function runs here. */
static PyObject *fsq_bins(PyObject *self, PyObject *args) {
    unsigned long long z_p, levels_p, basis_p, thresholds_p, index_p, flag_p;
    Py_ssize_t n, c, ld, stride;
    if (!PyArg_ParseTuple(args, "KnnnKKKnKK", &z_p, &n, &c, &ld, &levels_p, &basis_p, &thresholds_p, &stride,
                          &index_p, &flag_p))
        return NULL;
    if (n < 0 || c < 1 || ld < c || stride < 1) {
        PyErr_SetString(PyExc_ValueError, "fsq_bins: need n >= 0, c >= 1, ld >= c, stride >= 1");
        return NULL;
    }
    const float *z = (const float *)(uintptr_t)z_p;
    const int64_t *levels = (const int64_t *)(uintptr_t)levels_p;
    const int64_t *basis = (const int64_t *)(uintptr_t)basis_p;
    const double *thresholds = (const double *)(uintptr_t)thresholds_p;
    int64_t *index_out = (int64_t *)(uintptr_t)index_p;
    uint8_t *flag_out = (uint8_t *)(uintptr_t)flag_p;
    Py_ssize_t flagged = 0;

    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t index = 0;
        int flag = 0;
        for (Py_ssize_t ch = 0; ch < c; ch++) {
            double v = (double)z[i * ld + ch];
            const double *t = thresholds + ch * stride * 2;
            int64_t bin = 0, cuts = levels[ch] - 1;
            if (cuts <= 16) {
                for (int64_t j = 0; j < cuts; j++) {
                    bin += v >= t[2 * j + 1];
                    flag |= (v > t[2 * j]) & (v < t[2 * j + 1]);
                }
            } else { /* many bins: binary search for the first threshold with hi > v (intervals are
                        disjoint and increasing); only it and its predecessor can contain v */
                int64_t low = 0, high = cuts;
                while (low < high) {
                    int64_t mid = low + (high - low) / 2;
                    if (v >= t[2 * mid + 1])
                        low = mid + 1;
                    else
                        high = mid;
                }
                bin = low;
                if (low < cuts)
                    flag |= (v > t[2 * low]) & (v < t[2 * low + 1]);
            }
            index += bin * basis[ch];
        }
        index_out[i] = index;
        flag_out[i] = (uint8_t)flag;
        flagged += flag;
    }
    Py_END_ALLOW_THREADS

    return PyLong_FromSsize_t(flagged);
}

/* LFQ: one pass from latents (n, b) (float32 or float64, row stride ld) to indices: bit j is set where
 * channel j is > 0. Exact (the same comparison torch makes). */
static PyObject *lfq_bits(PyObject *self, PyObject *args) {
    unsigned long long z_p, index_p;
    int dtype;
    Py_ssize_t n, b, ld;
    if (!PyArg_ParseTuple(args, "KinnnK", &z_p, &dtype, &n, &b, &ld, &index_p))
        return NULL;
    if (n < 0 || b < 1 || b > 62 || ld < b || (dtype != F32 && dtype != F64)) {
        PyErr_SetString(PyExc_ValueError, "lfq_bits: need n >= 0, 1 <= b <= 62, ld >= b, dtype 0 or 1");
        return NULL;
    }
    int64_t *index_out = (int64_t *)(uintptr_t)index_p;
#define SIGN_BITS(T)                                                                                 \
    do {                                                                                             \
        const T *z = (const T *)(uintptr_t)z_p;                                                      \
        for (Py_ssize_t i = 0; i < n; i++) {                                                         \
            int64_t index = 0;                                                                       \
            for (Py_ssize_t j = 0; j < b; j++)                                                       \
                index |= (int64_t)(z[i * ld + j] > (T)0) << j;                                       \
            index_out[i] = index;                                                                    \
        }                                                                                            \
    } while (0)
    Py_BEGIN_ALLOW_THREADS
    if (dtype == F32)
        SIGN_BITS(float);
    else
        SIGN_BITS(double);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(products, dtype, n, k, ld, bias, alpha, norms, cross, constant, index_out, flag_out, window_out)"
     " -> number of flagged rows. Pointers are integer addresses."},
    {"candidates", candidates, METH_VARARGS,
     "candidates(products, dtype, n, k, ld, bias, alpha, flags, window, rows_out, codes_out, capacity)"
     " -> number of (flagged row ordinal, code) pairs (written up to capacity)."},
    {"recheck", recheck, METH_VARARGS,
     "recheck(x, x_dtype, ld_x, codes, codes_dtype, ld_codes, d, pair_rows, pair_codes, pairs, m, k, least_out,"
     " best_out) -> None: each of m rows' nearest code among its pairs, in float64 (L2)."},
    {"fsq_bins", fsq_bins, METH_VARARGS,
     "fsq_bins(z, n, c, ld, levels, basis, thresholds, stride, index_out, flag_out) -> number of flagged rows."},
    {"lfq_bits", lfq_bits, METH_VARARGS, "lfq_bits(z, dtype, n, b, ld, index_out) -> None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels", "Fused passes of tokkit.quant: the best-two scan of nearest, its candidates and their float64 re-check, FSQ bins, LFQ bits.",
                                    -1, methods};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
