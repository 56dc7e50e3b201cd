# tests/check/check.mk: the one suite against any allocator (tests/check/check). Included
# by the top Makefile.
#
#   make check LIB=path/to/lib.so [PREFIX=h|os_|...]
#                           every test against LIB (functions named PREFIXmalloc, PREFIXfree, ...;
#                           no PREFIX: the standard names, LIB preloaded), then its profile
#   make check-libs         the libraries the check is checked with (build/check/): glibc's
#                           malloc as a library of its own, a small os_ allocator on brk and
#                           mmap (the fixture), and four broken copies of it
#
# tests/check/selftest (a stream of make test) runs the check on those and verifies each verdict.

CHECK_BROKEN := misaligned nocopy overlap doublefree
CHECK_LIBS   := build/check/glibc.so build/check/fixture.so $(foreach b,$(CHECK_BROKEN),build/check/broken-$(b).so)
CHECK_CFLAGS := -std=c11 -O2 -g -fPIC -shared -Wall -Wextra -Werror

build/check/glibc.so: tests/check/glibc.c
	@mkdir -p $(dir $@); $(call say,CC,$@)
	$(Q)$(CC) $(CHECK_CFLAGS) -o $@ $< -ldl

# The fixture and its broken copies: one source, the bug chosen with -DBUG=N (see its header).
bug_number = $(if $(filter misaligned,$(1)),1,$(if $(filter nocopy,$(1)),2,$(if $(filter overlap,$(1)),3,$(if $(filter doublefree,$(1)),4,0))))
build/check/fixture.so: tests/check/fixture.c
	@mkdir -p $(dir $@); $(call say,CC,$@)
	$(Q)$(CC) $(CHECK_CFLAGS) -DBUG=0 -o $@ $<
build/check/broken-%.so: tests/check/fixture.c
	@mkdir -p $(dir $@); $(call say,CC,$@)
	$(Q)$(CC) $(CHECK_CFLAGS) -DBUG=$(call bug_number,$*) -o $@ $<

.PHONY: check check-libs
check-libs: $(CHECK_LIBS)
test: $(CHECK_LIBS)

check: $(SUITE) build/tests/atfork-first
	@if [ -z "$(LIB)" ]; then echo "usage: make check LIB=path/to/lib.so [PREFIX=h|os_|...]  (no PREFIX: malloc, free, ...)" >&2; exit 2; fi
	@tests/check/check "$(LIB)" $(PREFIX)
