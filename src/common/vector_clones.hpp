// ANCHORSWEEP_VECTOR_CLONES: compile a loop function once per vector unit (AVX-512, AVX2, plain
// x86-64); the loader picks the clone the CPU runs. Empty where the compiler or CPU family lacks
// target_clones. Used by the hand-written CPU kernels (model/fused_lstm, train/fused_adam).
#pragma once

#if defined(__x86_64__) && defined(__GNUC__)
#define ANCHORSWEEP_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ANCHORSWEEP_VECTOR_CLONES
#endif
