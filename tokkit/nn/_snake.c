/* tokkit.nn._snake: the Snake activation y = x + sin(a x)^2 / (a + 1e-9) in one pass over float32 memory.
 * out may be x (in place).
 *
 * torch spends four passes on it (a x, sin, square, add); here each element is read once and written once.
 * sin(a x)^2 needs no sign: with k = rint(a x * 2 / pi) and r = a x - k pi / 2 (three-part Cody-Waite
 * reduction, exact for |k| < 2^13), it is sin(r)^2 for even k and cos(r)^2 for odd k, both Cephes'
 * single-precision polynomials on [-pi/4, pi/4] (about 1 ulp, torch's own sin is within 1 ulp too).
 * Past |k| = 2^13 the reduction loses bits, but by then the rounding of a x itself exceeds them; past
 * |a x| ~ 1e7 (where one float step of a x spans radians) the result is some value in [0, 1] instead
 * of libm's; NaN and infinities give NaN as sinf does.
 * Two layouts: rows (B*C rows of T samples, one alpha per row) and channels-last (B*T positions of C channels, alpha per channel). Plain C and the CPython API only; pointers arrive as
 * integers (tensor.data_ptr()); the GIL is released while it runs, so worker threads split the rows.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define MULTIVERSION
#endif

static inline float sin_squared(float y) {
    const float k = rintf(y * 0.63661977236758134f);
    float r = y - k * 1.5703125f;
    r = r - k * 4.837512969970703125e-4f;
    r = r - k * 7.54978995489188216e-8f;
    const float z = r * r;
    const float s = r + r * z * (-1.6666654611e-1f + z * (8.3321608736e-3f + z * -1.9515295891e-4f));
    const float c = 1.0f - 0.5f * z + z * z * (4.166664568298827e-2f + z * (-1.388731625493765e-3f + z * 2.443315711809948e-5f));
    const float v = ((int32_t)k & 1) ? c : s;
    const float w = v * v;
    return w > 1.0f ? 1.0f : w; /* only reached past |a x| ~ 1e7, where the reduction is lost */
}

/* rows: x, out (rows, inner), alpha/inv one value per row (index row % channels) */
MULTIVERSION static void run_rows(const float *restrict x, float *restrict out, const float *restrict alpha,
                                 const float *restrict inv, int64_t row0, int64_t row1, int64_t channels, int64_t inner) {
    for (int64_t row = row0; row < row1; row++) {
        const float a = alpha[row % channels], b = inv[row % channels];
        const float *restrict xr = x + row * inner;
        float *restrict o = out + row * inner;
        for (int64_t t = 0; t < inner; t++) {
            const float y = a * xr[t];
            o[t] = xr[t] + b * sin_squared(y);
        }
    }
}

/* channels-last: x, out (positions, channels), alpha/inv per channel */
MULTIVERSION static void run_channels_last(const float *restrict x, float *restrict out, const float *restrict alpha,
                                          const float *restrict inv, int64_t pos0, int64_t pos1, int64_t channels) {
    for (int64_t p = pos0; p < pos1; p++) {
        const float *restrict xr = x + p * channels;
        float *restrict o = out + p * channels;
        for (int64_t c = 0; c < channels; c++) {
            const float y = alpha[c] * xr[c];
            o[c] = xr[c] + inv[c] * sin_squared(y);
        }
    }
}

/* the same, writing over x (in place) */
/* rows: x (rows, inner), alpha/inv one value per row (index row % channels) */
MULTIVERSION static void run_rows_inplace(float *restrict x, const float *restrict alpha,
                                 const float *restrict inv, int64_t row0, int64_t row1, int64_t channels, int64_t inner) {
    for (int64_t row = row0; row < row1; row++) {
        const float a = alpha[row % channels], b = inv[row % channels];
        float *restrict xr = x + row * inner;
        for (int64_t t = 0; t < inner; t++) {
            const float y = a * xr[t];
            xr[t] = xr[t] + b * sin_squared(y);
        }
    }
}

/* channels-last: x (positions, channels), alpha/inv per channel */
MULTIVERSION static void run_channels_last_inplace(float *restrict x, const float *restrict alpha,
                                          const float *restrict inv, int64_t pos0, int64_t pos1, int64_t channels) {
    for (int64_t p = pos0; p < pos1; p++) {
        float *restrict xr = x + p * channels;
        for (int64_t c = 0; c < channels; c++) {
            const float y = alpha[c] * xr[c];
            xr[c] = xr[c] + inv[c] * sin_squared(y);
        }
    }
}

static PyObject *snake(PyObject *self, PyObject *args) {
    unsigned long long x_p, out_p, alpha_p, inv_p;
    Py_ssize_t start, stop, channels, inner;
    int channels_last;
    (void)self;
    if (!PyArg_ParseTuple(args, "KKKKnnnnp", &x_p, &out_p, &alpha_p, &inv_p, &start, &stop, &channels, &inner,
                          &channels_last))
        return NULL;
    const float *x = (const float *)(uintptr_t)x_p, *alpha = (const float *)(uintptr_t)alpha_p;
    const float *inv = (const float *)(uintptr_t)inv_p;
    float *out = (float *)(uintptr_t)out_p;
    Py_BEGIN_ALLOW_THREADS
    if ((const float *)out == x && channels_last)  /* in place */
        run_channels_last_inplace(out, alpha, inv, start, stop, channels);
    else if ((const float *)out == x)
        run_rows_inplace(out, alpha, inv, start, stop, channels, inner);
    else if (channels_last)
        run_channels_last(x, out, alpha, inv, start, stop, channels);
    else
        run_rows(x, out, alpha, inv, start, stop, channels, inner);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"snake", snake, METH_VARARGS,
     "snake(x, out, alpha, inv, start, stop, channels, inner, channels_last): out = x + inv * sin(alpha * x)^2 "
     "over rows (or channels-last positions) [start, stop) of float32 memory given by data pointers."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_snake", "Fused Snake activation (float32, CPU).", -1,
                                    methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__snake(void) { return PyModule_Create(&module); }
