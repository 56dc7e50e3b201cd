// api.cpp: the names the library exports, and nothing else.
//
// Thin C wrappers over namespace hm. The library is compiled with hidden
// visibility, so these are its only dynamic symbols.
#include "heap.hpp"
#include "hmalloc.h"

#define HM_EXPORT extern "C" __attribute__((visibility("default")))

HM_EXPORT void* hmalloc(size_t size) { return hm::allocate(size); }
HM_EXPORT void hfree(void* ptr) { hm::release(ptr); }
HM_EXPORT void hwalk(hm_visit_fn visit, void* ctx) { hm::walk(visit, ctx); }
