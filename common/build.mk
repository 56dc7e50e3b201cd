# common/build.mk: how a stage becomes build/NN/libhmalloc.so.
#
# Not part of any lesson. Every stage is compiled the same way: C++20, no
# exceptions, no RTTI, no C++ runtime at link time, and the compiler told not to
# treat malloc and friends as builtins (GCC would otherwise turn
# "malloc + memset" inside our own calloc into a call to calloc: JOURNAL.md#gcc-folds).

# The C driver (gcc or clang) compiles the .cpp files as C++ but, unlike g++,
# links no C++ runtime: a stage that needs one fails to link.
CXXFLAGS_STAGE := -std=c++20 -O2 -g -fPIC -fvisibility=hidden \
    -fno-exceptions -fno-rtti -fno-asynchronous-unwind-tables \
    -fno-threadsafe-statics -fno-builtin-malloc -fno-builtin-calloc \
    -fno-builtin-realloc -fno-builtin-free -fno-builtin-memalign \
    -fno-builtin-posix_memalign -fno-builtin-aligned_alloc \
    -Wall -Wextra -Werror -Icommon
# -z defs makes a missing symbol a link error instead of a load-time surprise.
LDFLAGS_STAGE  := -shared -Wl,-z,defs -Wl,--as-needed -pthread

# Quiet by default: one line per library or program built ("  CC  build/03/libhmalloc.so"),
# on stderr, so that `make run` and `make matrix` keep stdout for their own output.
# `make V=1` prints the full commands instead. A recipe says what it builds with
# `@$(call say,WHAT,TARGET)` and runs its command as `$(Q)command`.
ifeq ($(V),1)
  Q   :=
  say  = :
else
  Q   := @
  say  = printf '  %-5s %s\n' '$(1)' '$(2)' >&2
endif

# $(call stage_rules,NN,stages/NN-slug)
define stage_rules
build/$(1)/libhmalloc.so: $$(wildcard $(2)/*.cpp $(2)/*.hpp $(2)/*.h) common/print.hpp common/build.mk
	@mkdir -p build/$(1); $$(call say,CC,$$@)
	$$(Q)$$(CC) $$(CXXFLAGS_STAGE) -I$(2) $$(LDFLAGS_STAGE) -o $$@ $$(wildcard $(2)/*.cpp)
endef
