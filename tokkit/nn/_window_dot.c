/* tokkit.nn._window_dot: out[t] = bias + dot(x[t * step .. t * step + n), w) for t in [0, count), float32; and
 * depthwise convolutions of channels-last inputs (below).
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

#include "_clones.h"

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

/* Depthwise convolution of a channels-last input: out[t, c] = bias[c] + sum_k w[k, c] * x[t + k * d - pad, c] over
 * the taps that fall inside [0, T) (the zero padding adds exact zeros, so they are skipped), for output rows
 * [0, count) of x (T, C) rows-contiguous, w (K, C), out (count, C). Each output adds its taps in k order after the
 * bias whatever the call's length, vectorised over channels only: a window of the input gives bit-identical outputs
 * to the whole wherever its taps lie inside it. oneDNN runs SNAC's dilated depthwise k=7 convs on rows at ~2 GFLOP/s. */
MULTIVERSION static void depthwise_run(const float *x, const float *w, const float *bias, float *out, int64_t t_in,
                                       int64_t count, int64_t c, int64_t k, int64_t dilation, int64_t pad) {
    for (int64_t t = 0; t < count; t++) {
        float *o = out + t * c;
        if (bias)
            memcpy(o, bias, (size_t)c * sizeof(float));
        else
            memset(o, 0, (size_t)c * sizeof(float));
        for (int64_t j = 0; j < k; j++) {
            const int64_t src = t + j * dilation - pad;
            if (src < 0 || src >= t_in)
                continue;
            const float *xs = x + src * c, *wj = w + j * c;
            for (int64_t ch = 0; ch < c; ch++)
                o[ch] = o[ch] + wj[ch] * xs[ch];
        }
    }
}

/* The same on rows: x (C, T), out (C, count); each output adds the bias then its taps in k order, as above. */
MULTIVERSION static void depthwise_rows_run(const float *x, const float *w, const float *bias, float *out,
                                            int64_t t_in, int64_t count, int64_t c, int64_t k, int64_t dilation,
                                            int64_t pad) {
    for (int64_t ch = 0; ch < c; ch++) {
        float *o = out + ch * count;
        const float *xc = x + ch * t_in, start = bias ? bias[ch] : 0.0f;
        for (int64_t t = 0; t < count; t++)
            o[t] = start;
        for (int64_t j = 0; j < k; j++) {
            const int64_t shift = j * dilation - pad; /* output t reads x[t + shift] */
            int64_t lo = shift < 0 ? -shift : 0, hi = t_in - shift < count ? t_in - shift : count;
            const float wj = w[j * c + ch];
            for (int64_t t = lo; t < hi; t++)
                o[t] = o[t] + wj * xc[t + shift];
        }
    }
}

static PyObject *depthwise(PyObject *self, PyObject *args) {
    unsigned long long x_p, w_p, bias_p, out_p;
    Py_ssize_t t_in, count, c, k, dilation, pad;
    int rows = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "KKKKnnnnnn|p", &x_p, &w_p, &bias_p, &out_p, &t_in, &count, &c, &k, &dilation, &pad,
                          &rows))
        return NULL;
    if (t_in < 0 || count < 0 || c < 1 || k < 1 || dilation < 1 || pad < 0) {
        PyErr_SetString(PyExc_ValueError, "depthwise: need t_in, count, pad >= 0 and c, k, dilation >= 1");
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    if (rows)
        depthwise_rows_run((const float *)(uintptr_t)x_p, (const float *)(uintptr_t)w_p,
                           (const float *)(uintptr_t)bias_p, (float *)(uintptr_t)out_p, t_in, count, c, k, dilation, pad);
    else
        depthwise_run((const float *)(uintptr_t)x_p, (const float *)(uintptr_t)w_p, (const float *)(uintptr_t)bias_p,
                      (float *)(uintptr_t)out_p, t_in, count, c, k, dilation, pad);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"window_dot", window_dot, METH_VARARGS,
     "window_dot(x, w, out, count, step, n, bias): out[t] = bias + sum_i x[t * step + i] * w[i] (i < n) for t < count, "
     "float32 memory given by data pointers."},
    {"depthwise", depthwise, METH_VARARGS,
     "depthwise(x, w, bias, out, t_in, count, c, k, dilation, pad, rows=False): depthwise convolution of channels-last "
     "(T, C) or, with rows, (C, T) float32 memory (bias 0: none)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_window_dot",
                                    "Sliding-window dot products and depthwise convolutions (float32, CPU).", -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__window_dot(void) { return PyModule_Create(&module); }
