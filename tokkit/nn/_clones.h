/* MULTIVERSION: compile a kernel for AVX-512 (x86-64-v4), AVX2 + FMA (x86-64-v3) and baseline x86-64, picked at load
 * time for the CPU it runs on (GCC on x86-64 Linux; a single plain build elsewhere). Shared by tokkit.nn's kernels. */
#ifndef TOKKIT_NN_CLONES_H
#define TOKKIT_NN_CLONES_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MULTIVERSION
#endif

#endif
