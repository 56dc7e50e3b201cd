# tests/tests.mk: the test suite, included by the top Makefile.
#
#   make test [stage=N]    build the selected stages and the suite, run tests/run
#   make matrix            the test-by-stage table, from the limitation lists
#   make matrix-update     write that table into README.md
#   make mutants [stage=N] plant each bug of tests/mutants/ in a copy of its stage and
#                          check the suite catches it (tools/mutants; make test runs
#                          the quick ones)
#
# One suite binary tests every stage: it loads a stage with dlopen. It is
# linked with -rdynamic so that its sbrk, mmap, munmap and mremap
# (common/sbrk_double.cpp, common/mmap_double.cpp) are the ones every stage
# library calls.

SUITE      := build/tests/suite
SUITE_SRCS := tests/malloc.cpp tests/free.cpp tests/trim.cpp tests/split_coalesce.cpp \
              tests/calloc_realloc.cpp tests/random.cpp tests/heap_abi.cpp tests/preload.cpp tests/threads.cpp tests/heaps.cpp \
              tests/growth.cpp tests/pages.cpp tests/hardening.cpp tests/harness.cpp common/sbrk_double.cpp common/mmap_double.cpp
SUITE_OBJS := $(patsubst %.cpp,build/tests/obj/%.o,$(SUITE_SRCS))

SUITE_CXX      ?= g++
SUITE_CXXFLAGS := -std=c++20 -O2 -g -Wall -Wextra -Werror -Icommon -MMD -MP -pthread

build/tests/obj/%.o: %.cpp
	@mkdir -p $(dir $@); $(call say,CXX,$@)
	$(Q)$(SUITE_CXX) $(SUITE_CXXFLAGS) -c -o $@ $<

$(SUITE): $(SUITE_OBJS)
	@$(call say,LINK,$@)
	$(Q)$(SUITE_CXX) -rdynamic -pthread -o $@ $(SUITE_OBJS) -ldl

-include $(SUITE_OBJS:.o=.d)

.PHONY: test matrix matrix-update mutants
# The meta checks compare JOURNAL.md with the demo, and the committed heap
# pictures with bench/heapmap, on every stage, so a test run builds them all
# (a few seconds) whichever stages it tests.
test: $(foreach n,$(ALL_NUMS),build/$(n)/libhmalloc.so) $(SUITE) build/tests/atfork-first build/tests/stress build/tools/demo \
      build/bench/heapmap build/bench/heapmap-trace build/bench/replay build/bench/replay-system build/bench/gen build/bench/broken.so \
      build/bench/recorder.so
	CC="$(CC)" tests/run $(SEL_NUMS)

# A program whose allocating fork handler is registered before the stage's
# (thread.fork_handler_registered_first_allocates runs it).
build/tests/atfork-first: tests/atfork_first.cpp
	@mkdir -p $(dir $@)
	$(SUITE_CXX) -std=c++20 -O2 -g -Wall -Wextra -Werror -pthread -o $@ $< -ldl

build/tests/stress: tests/stress.cpp
	@mkdir -p $(dir $@); $(call say,CXX,$@)
	$(Q)$(SUITE_CXX) -std=c++20 -O2 -g -Wall -Wextra -Werror -pthread -o $@ $<

# The table goes to stdout alone: building the suite, if needed, reports on stderr.
matrix:
	@$(MAKE) -s --no-print-directory $(SUITE) >&2
	@tests/matrix

matrix-update:
	@$(MAKE) -s --no-print-directory $(SUITE) >&2
	@tests/matrix --update README.md

# Each mutant is built in build/mutants/NN-ID/ with common/build.mk's rule (CC passed on).
mutants: $(SUITE) build/tests/atfork-first build/tests/stress
	@CC="$(CC)" tools/mutants $(SEL_NUMS)
