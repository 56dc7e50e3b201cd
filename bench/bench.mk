# bench/bench.mk: the measurement tools (bench/README.md). Included by the
# top-level Makefile.
#
#   make bench                  every stage and glibc, jemalloc, mimalloc, tcmalloc on
#                               every workload; writes bench/results/ and prints the table
#   make bench-quick            the same, small and fast (a smoke test of the tools)
#   make bench-selftest         the replayer catches an allocator's bugs (TAP)
#   make stage=N heapmap        bench/results/heapmap-NN.svg: the heap after the demo workload
#                               (without stage=, the Makefile prints the usage before building)
#   make stage=N heapmap CMD='git log -p | head -200' [CAP=60] [OUT=x.svg] [PICK=git]
#                               a real program's heap on stage N: records CMD's malloc calls,
#                               replays the largest trace on stage N, draws it at the peak of
#                               live bytes and at the end (bench/heapmap-cmd)
#   make heapmaps               one for every stage
#   make traces                 record bench/traces/ again (python3, gcc, git, sort)
#   make bench-tools            just build the tools into build/bench/

BENCH_CXXFLAGS := -std=c++20 -O2 -g -Wall -Wextra -Werror -Icommon -Ibench
BENCH_DEPS     := bench/trace_format.hpp bench/measure.hpp

# The recorder is preloaded into other programs: built like a stage (no C++
# runtime, no exceptions, malloc not a builtin), and it must not call malloc.
build/bench/recorder.so: bench/recorder.cpp bench/trace_format.hpp common/build.mk
	@mkdir -p build/bench; $(call say,CC,$@)
	$(Q)$(CC) $(CXXFLAGS_STAGE) -Ibench $(LDFLAGS_STAGE) -o $@ bench/recorder.cpp

build/bench/replay: bench/replay.cpp $(BENCH_DEPS) bench/system_alloc.hpp \
                    common/sbrk_double.cpp common/sbrk_double.h common/mmap_double.cpp common/mmap_double.h \
                    common/hmalloc_api.h
	@mkdir -p build/bench; $(call say,CXX,$@)
	$(Q)$(CXX) $(BENCH_CXXFLAGS) -DHM_REPLAY_STAGES -DHM_DOUBLE_REGION='((size_t)1 << 34)' -o $@ bench/replay.cpp \
	   common/sbrk_double.cpp common/mmap_double.cpp -rdynamic -ldl

build/bench/replay-system: bench/replay.cpp $(BENCH_DEPS) bench/system_alloc.hpp
	@mkdir -p build/bench; $(call say,CXX,$@)
	$(Q)$(CXX) $(BENCH_CXXFLAGS) -o $@ bench/replay.cpp -ldl

build/bench/gen: bench/gen.cpp bench/trace_format.hpp
	@mkdir -p build/bench; $(call say,CXX,$@)
	$(Q)$(CXX) $(BENCH_CXXFLAGS) -o $@ bench/gen.cpp

build/bench/threads: bench/threads.cpp $(BENCH_DEPS) bench/system_alloc.hpp
	@mkdir -p build/bench; $(call say,CXX,$@)
	$(Q)$(CXX) $(BENCH_CXXFLAGS) -o $@ bench/threads.cpp -pthread

build/bench/heapmap-trace: bench/heapmap_trace.cpp bench/trace_format.hpp common/sbrk_double.cpp common/sbrk_double.h \
                      common/mmap_double.cpp common/mmap_double.h common/hmalloc_api.h
	@mkdir -p build/bench; $(call say,CXX,$@)
	$(Q)$(CXX) $(BENCH_CXXFLAGS) -o $@ bench/heapmap_trace.cpp common/sbrk_double.cpp common/mmap_double.cpp -rdynamic -ldl

build/bench/heapmap: bench/heapmap.cpp common/demo_workload.hpp common/sbrk_double.cpp common/sbrk_double.h \
                      common/mmap_double.cpp common/mmap_double.h common/hmalloc_api.h
	@mkdir -p build/bench; $(call say,CXX,$@)
	$(Q)$(CXX) $(BENCH_CXXFLAGS) -o $@ bench/heapmap.cpp common/sbrk_double.cpp common/mmap_double.cpp -rdynamic -ldl

# An allocator with bugs on purpose: the replayer must catch each one.
build/bench/broken.so: bench/selftest/broken.cpp common/build.mk
	@mkdir -p build/bench; $(call say,CC,$@)
	$(Q)$(CC) $(CXXFLAGS_STAGE) $(LDFLAGS_STAGE) -o $@ bench/selftest/broken.cpp

BENCH_TOOLS := build/bench/recorder.so build/bench/replay build/bench/replay-system \
               build/bench/gen build/bench/threads build/bench/heapmap build/bench/heapmap-trace

.PHONY: bench bench-quick bench-selftest bench-tools heapmap heapmaps traces
bench-tools: $(BENCH_TOOLS)

bench: $(foreach n,$(ALL_NUMS),build/$(n)/libhmalloc.so) $(BENCH_TOOLS)
	@python3 bench/run.py $(BENCH_ARGS)

bench-quick: $(foreach n,$(ALL_NUMS),build/$(n)/libhmalloc.so) $(BENCH_TOOLS)
	@python3 bench/run.py --quick $(BENCH_ARGS)

bench-selftest: build/bench/replay build/bench/replay-system build/bench/gen build/bench/broken.so build/bench/recorder.so
	@bash bench/selftest/run.sh

# With CMD=, a real program's heap instead (bench/heapmap-cmd). CMD reaches
# bash unchanged, as for `make run` (tools/tools.mk): through the environment.
ifeq ($(strip $(value CMD)),)
heapmap: $(SEL_LIBS) build/bench/heapmap
	@mkdir -p bench/results
	@build/bench/heapmap build/$(SEL_NUMS)/libhmalloc.so bench/results/heapmap-$(SEL_NUMS).svg \
	   "Stage $(notdir $(call stage_dir,$(SEL_NUMS)))"
else
heapmap: export HM_HEAPMAP_CMD := $(value CMD)
heapmap: export HM_HEAPMAP_CAP := $(value CAP)
heapmap: export HM_HEAPMAP_OUT := $(value OUT)
heapmap: export HM_HEAPMAP_PICK := $(value PICK)
heapmap: $(SEL_LIBS) build/bench/heapmap-trace build/bench/recorder.so
	@bench/heapmap-cmd $(SEL_NUMS) $(notdir $(call stage_dir,$(SEL_NUMS)))
endif

heapmaps: $(foreach n,$(ALL_NUMS),build/$(n)/libhmalloc.so) build/bench/heapmap
	@mkdir -p bench/results
	@for d in $(STAGE_DIRS); do n=$$(basename $$d); n=$${n%%-*}; \
	   build/bench/heapmap build/$$n/libhmalloc.so bench/results/heapmap-$$n.svg "Stage $$(basename $$d)" || exit 1; \
	 done

traces: build/bench/recorder.so build/bench/replay
	@bash bench/traces/record.sh bench/traces
