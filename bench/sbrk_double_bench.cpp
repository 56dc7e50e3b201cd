// bench/sbrk_double_bench.cpp: the sbrk double of common/sbrk_double.cpp with
// a 16 GiB region instead of 64 GiB, for build/bench/replay.
//
// Not part of any lesson. valgrind (which bench/run.py uses to count a
// stage's instructions) cannot map more than 32 GiB at once, so the tests'
// 64 GiB reservation fails under it. The bench's largest heap is far below
// 16 GiB. Everything else is the tests' double, compiled as is: its header
// is included first, so that its include guard keeps the size set here when
// sbrk_double.cpp includes it again. If HM_DOUBLE_REGION becomes
// overridable (#ifndef) in sbrk_double.h, this file can go.
#include <unistd.h>

#include "sbrk_double.h"
#undef HM_DOUBLE_REGION
#define HM_DOUBLE_REGION ((size_t)1 << 34)
#include "sbrk_double.cpp"
