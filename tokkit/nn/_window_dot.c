/* tokkit.nn._window_dot: out[t] = bias + dot(x[t * step .. t * step + n), w) for t in [0, count), float32.
 *
 * A stride-1 convolution to ONE output channel of a channels-last input is this: the window of output t (K rows of
 * C channels) is n = K * C consecutive floats starting at row t, so step = C. oneDNN runs that shape at about
 * 6 GFLOP/s on one AVX2 core (its kernels block output channels, and there is one); this loop keeps the window in
 * L1 and the weights in registers. Each output sums its n products in the same order wherever it lies and however
 * many outputs a call has (eight lanes over i, then a fixed tree, then the tail), and outputs are always computed
 * four at a time by the same code (a short last group repeats its last window), so a window of the input gives
 * bit-identical outputs to the whole (built with -ffp-contract=off: no fused multiply-adds, whose use the compiler
 * may choose per statement). Plain C and the CPython API only; pointers arrive as integers
 * (tensor.data_ptr()); the GIL is released while it runs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MULTIVERSION
#endif

typedef float v8 __attribute__((vector_size(32)));

static inline v8 load8(const float *p) {
    v8 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline float finish(v8 acc, float tail, float bias) {
    return bias + ((((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))) + tail);
}

MULTIVERSION static void run(const float *x, const float *w, float *out, int64_t count, int64_t step, int64_t n,
                             float bias) {
    const int64_t body = n - n % 8;
    for (int64_t t = 0; t < count; t += 4) {
        const float *r[4];
        for (int q = 0; q < 4; q++)
            r[q] = x + (t + q < count ? t + q : count - 1) * step;
        v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        for (int64_t i = 0; i < body; i += 8) {
            const v8 wv = load8(w + i);
            a0 += load8(r[0] + i) * wv;
            a1 += load8(r[1] + i) * wv;
            a2 += load8(r[2] + i) * wv;
            a3 += load8(r[3] + i) * wv;
        }
        float tails[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (int q = 0; q < 4; q++)
            for (int64_t i = body; i < n; i++)
                tails[q] += r[q][i] * w[i];
        const float y[4] = {finish(a0, tails[0], bias), finish(a1, tails[1], bias), finish(a2, tails[2], bias),
                            finish(a3, tails[3], bias)};
        for (int q = 0; q < 4 && t + q < count; q++)
            out[t + q] = y[q];
    }
}

static PyObject *window_dot(PyObject *self, PyObject *args) {
    unsigned long long x_p, w_p, out_p;
    Py_ssize_t count, step, n;
    double bias;
    (void)self;
    if (!PyArg_ParseTuple(args, "KKKnnnd", &x_p, &w_p, &out_p, &count, &step, &n, &bias))
        return NULL;
    if (count < 0 || step < 0 || n < 0) {
        PyErr_SetString(PyExc_ValueError, "window_dot: need count, step, n >= 0");
        return NULL;
    }
    if (count == 0)
        Py_RETURN_NONE;
    Py_BEGIN_ALLOW_THREADS
    run((const float *)(uintptr_t)x_p, (const float *)(uintptr_t)w_p, (float *)(uintptr_t)out_p, count, step, n,
        (float)bias);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"window_dot", window_dot, METH_VARARGS,
     "window_dot(x, w, out, count, step, n, bias): out[t] = bias + sum_i x[t * step + i] * w[i] (i < n) for t < count, "
     "float32 memory given by data pointers."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_window_dot",
                                    "Sliding-window dot products (float32, CPU).", -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__window_dot(void) { return PyModule_Create(&module); }
